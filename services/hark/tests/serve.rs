//! `hark serve` as a real process: first start, credentials, health, metrics, configuration
//! precedence and graceful shutdown on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// A running `hark serve` child with its bound address and log lines.
struct Hark {
    child: Child,
    addr: SocketAddr,
    logs: mpsc::Receiver<serde_json::Value>,
    all_logs: Arc<Mutex<Vec<String>>>,
    stderr: std::process::ChildStderr,
}

/// What a stopped `hark serve` left behind.
struct Stopped {
    exit: ExitStatus,
    stderr: String,
    logs: Vec<String>,
}

impl Hark {
    /// Starts `hark serve` in `cwd` with JSON logs and waits for its "listening" line.
    fn start(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Hark {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hark"));
        cmd.current_dir(cwd)
            .arg("serve")
            .args(["--log-format", "json"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, logs) = mpsc::channel();
        let all_logs = Arc::new(Mutex::new(Vec::new()));
        let keep = all_logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line.clone());
                let json: serde_json::Value =
                    serde_json::from_str(&line).expect("every log line is JSON");
                if tx.send(json).is_err() {
                    break;
                }
            }
        });
        let mut hark = Hark {
            child,
            addr: ([0, 0, 0, 0], 0).into(),
            logs,
            all_logs,
            stderr,
        };
        let listening = hark.wait_for("listening");
        hark.addr = listening["addr"].as_str().unwrap().parse().unwrap();
        hark
    }

    /// Waits (bounded) for the log line whose message is `message`; if the process ends first,
    /// fails with what it printed.
    fn wait_for(&mut self, message: &str) -> serde_json::Value {
        loop {
            match self.logs.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line["message"] == message => return line,
                Ok(_) => {}
                Err(e) => {
                    let _ = self.child.kill();
                    let status = self.child.wait().unwrap();
                    let mut stderr = String::new();
                    let _ = self.stderr.read_to_string(&mut stderr);
                    let logs = self.all_logs.lock().unwrap().join("\n");
                    panic!(
                        "no {message:?} log line ({e}); hark {status}\nstderr: {stderr}\nlogs: {logs}"
                    );
                }
            }
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        request(self.addr, "GET", path)
    }

    /// Sends SIGTERM and returns the exit status once the process has stopped.
    fn terminate(mut self) -> Stopped {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.wait_for("stopped");
        let exit = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.stderr.read_to_string(&mut stderr).unwrap();
        let logs = self.all_logs.lock().unwrap().clone();
        Stopped { exit, stderr, logs }
    }
}

impl Drop for Hark {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 request; returns status and body.
fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn first_start_serves_health_and_metrics_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let hark = Hark::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]);

    let (status, body) = hark.get("/healthz");
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");

    let (status, body) = hark.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        body.contains(
            "hark_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"
        ),
        "{body}"
    );
    assert!(body.contains("hark_build_info"));

    let (status, body) = hark.get("/no/such/route");
    assert_eq!(status, 404);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"], "NotFound");

    // The default data directory is ./hark-data, created on first start, private.
    let data = dir.path().join("hark-data");
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let credentials = data.join("credentials.toml");
    assert_eq!(
        std::fs::metadata(&credentials)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let stored: toml::Table = std::fs::read_to_string(&credentials)
        .unwrap()
        .parse()
        .unwrap();
    let token = stored["recording"]["token"].as_str().unwrap().to_owned();
    let secret = stored["voiceid"]["secret_access_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        stored["audiohook"]["api_key"].is_str() && stored["audiohook"]["client_secret"].is_str()
    );

    let stopped = hark.terminate();
    assert!(
        stopped.exit.success(),
        "graceful shutdown exits 0, got {}",
        stopped.exit
    );
    // Printed once on the console...
    assert!(
        stopped.stderr.contains(&token),
        "first start prints the new credentials"
    );
    assert!(stopped.logs.iter().any(|l| l.contains("SIGTERM")));

    // ...and not again, nor ever in the logs.
    let hark = Hark::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]);
    let stopped = hark.terminate();
    assert!(stopped.exit.success());
    let again = &stopped.stderr;
    assert!(
        !again.contains(&token) && !again.contains(&secret),
        "second start printed credentials: {again}"
    );
    let stored_again: toml::Table = std::fs::read_to_string(&credentials)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        stored_again["recording"]["token"].as_str(),
        Some(token.as_str())
    );
}

#[test]
fn logs_never_contain_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let hark = Hark::start(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    hark.get("/healthz");
    let stored = std::fs::read_to_string(data.join("credentials.toml")).unwrap();
    let all_logs = hark.terminate().logs;
    assert!(all_logs.len() >= 3);
    let table: toml::Table = stored.parse().unwrap();
    for (_, section) in table {
        for (_, value) in section.as_table().unwrap() {
            let value = value.as_str().unwrap();
            assert!(
                all_logs.iter().all(|l| !l.contains(value)),
                "a credential appeared in the logs"
            );
        }
    }
}

#[test]
fn flags_beat_environment_beat_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hark.toml"),
        "data_dir = \"from-file\"\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();

    // The file alone.
    let hark = Hark::start(dir.path(), &[], &[]);
    assert!(dir.path().join("from-file/credentials.toml").exists());
    hark.terminate();

    // The environment beats the file.
    let hark = Hark::start(dir.path(), &[], &[("HARK_DATA_DIR", "from-env")]);
    assert!(dir.path().join("from-env/credentials.toml").exists());
    hark.terminate();

    // A flag beats the environment.
    let hark = Hark::start(
        dir.path(),
        &["--data-dir", "from-flag"],
        &[("HARK_DATA_DIR", "from-env-2")],
    );
    assert!(dir.path().join("from-flag/credentials.toml").exists());
    assert!(!dir.path().join("from-env-2").exists());
    hark.terminate();
}

#[test]
fn bad_configuration_exits_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hark.toml"),
        "listen = \"127.0.0.1:0\"\nport = 1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid config file") && stderr.contains("port"),
        "{stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .args(["serve", "--config", "/dev/null", "--listen", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid listen address"));

    // A port already taken is reported, not a panic.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .args(["serve", "--config", "/dev/null", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on"));
}
