//! Shared helpers: a `hark serve` child process and a minimal HTTP client.
#![allow(dead_code)] // each test file uses a different subset

pub mod moto;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// A running `hark serve` child with its bound address and log lines.
pub struct Hark {
    pub child: Child,
    pub addr: SocketAddr,
    /// The data directory it was started with.
    pub data_dir: std::path::PathBuf,
    logs: mpsc::Receiver<serde_json::Value>,
    all_logs: Arc<Mutex<Vec<String>>>,
    stderr: std::process::ChildStderr,
}

/// What a stopped `hark serve` left behind.
pub struct Stopped {
    pub exit: ExitStatus,
    pub stderr: String,
    pub logs: Vec<String>,
}

impl Hark {
    /// Starts `hark serve` in `cwd` with JSON logs and waits for its "listening" line.
    pub fn start(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Hark {
        Hark::start_with_descriptors(cwd, args, env, None)
    }

    /// [`Hark::start`] with the process's descriptor limit (soft and hard) set to `limit`.
    pub fn start_with_descriptors(
        cwd: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        limit: Option<u64>,
    ) -> Hark {
        let mut cmd = match limit {
            // prlimit execs hark: the child's pid is hark's.
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}"))
                    .arg("--")
                    .arg(env!("CARGO_BIN_EXE_hark"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_hark")),
        };
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
        let data_dir = args
            .iter()
            .position(|a| *a == "--data-dir")
            .and_then(|i| args.get(i + 1))
            .map(|d| cwd.join(d))
            .or_else(|| {
                env.iter()
                    .find(|(k, _)| *k == "HARK_DATA_DIR")
                    .map(|(_, v)| cwd.join(v))
            })
            .unwrap_or_else(|| cwd.join("hark-data"));
        let mut hark = Hark {
            child,
            addr: ([0, 0, 0, 0], 0).into(),
            data_dir,
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
    pub fn wait_for(&mut self, message: &str) -> serde_json::Value {
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

    /// A GET; the operational routes (`/metrics`, `/v1/interactions`, `/v1/cluster`) carry the
    /// admin token.
    pub fn get(&self, path: &str) -> (u16, String) {
        let admin = ["/metrics", "/v1/interactions", "/v1/cluster"]
            .iter()
            .any(|p| path.starts_with(p));
        if admin {
            let bearer = format!("Bearer {}", self.admin_token());
            send(self.addr, "GET", path, &[("Authorization", &bearer)], "")
        } else {
            request(self.addr, "GET", path)
        }
    }

    /// The generated admin token.
    pub fn admin_token(&self) -> String {
        admin_token(&self.data_dir)
    }

    /// Sends SIGTERM and returns the exit status once the process has stopped.
    pub fn terminate(self) -> Stopped {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.terminate_wait()
    }

    /// Waits for a process already signalled to stop; returns how it ended.
    pub fn terminate_wait(mut self) -> Stopped {
        self.wait_for("stopped");
        let exit = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.stderr.read_to_string(&mut stderr).unwrap();
        let logs = self.all_logs.lock().unwrap().clone();
        Stopped { exit, stderr, logs }
    }
}

impl Hark {
    /// SIGKILL: no shutdown, no flushing; returns once the process is gone.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Hark {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 request; returns status and body.
pub fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    send(addr, method, path, &[], "")
}

/// An HTTP/1.1 GET returning status, raw head and raw body bytes (for binary answers).
pub fn get_raw(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    (status, head, response[split + 4..].to_vec())
}

/// An HTTP/1.1 request with headers and a body; returns status and body.
pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
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

/// The generated admin token in a data directory's credentials file.
pub fn admin_token(data_dir: &Path) -> String {
    let text = std::fs::read_to_string(data_dir.join("credentials.toml")).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    file["admin"]["token"].as_str().unwrap().to_owned()
}

/// The generated Voice ID access key pair in a data directory's credentials file.
pub fn voiceid_keys(data_dir: &Path) -> (String, String) {
    let text = std::fs::read_to_string(data_dir.join("credentials.toml")).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    let key = |k: &str| file["voiceid"][k].as_str().unwrap().to_owned();
    (key("access_key_id"), key("secret_access_key"))
}

/// The SigV4 headers (host, x-amz-date, any `extra`, authorization) for a Voice ID request.
pub fn voiceid_signature(
    addr: SocketAddr,
    keys: &(String, String),
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> Vec<(String, String)> {
    use hark_voiceid::sigv4::{self, SignedRequest};
    let date = sigv4::amz_date(chrono::Utc::now());
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut headers = vec![
        ("host".to_owned(), addr.to_string()),
        ("x-amz-date".to_owned(), date.clone()),
    ];
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let request = SignedRequest {
        method,
        path,
        query,
        headers: &headers,
        body: body.as_bytes(),
    };
    let auth = sigv4::sign(&request, &keys.0, &keys.1, "us-east-1", &date);
    headers.push(("authorization".to_owned(), auth));
    headers.retain(|(k, _)| k != "host");
    headers
}

/// One Voice ID API call (`VoiceID.Op` or `HarkVoiceID.Op`), SigV4-signed; status and body.
pub fn voiceid(
    addr: SocketAddr,
    keys: &(String, String),
    target: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let body = body.to_string();
    let headers = voiceid_signature(addr, keys, "POST", "/", &[("x-amz-target", target)], &body);
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, text) = send(addr, "POST", "/", &headers, &body);
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// `hark stream` playing the built-in two-tone call (customer 440 Hz, agent 1000 Hz) into
/// `addr` for `seconds`, with `agent` in `customConfig` and optionally a given conversation.
pub fn stream_call(
    dir: &Path,
    addr: SocketAddr,
    seconds: u32,
    agent: &str,
    conversation: Option<&str>,
) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hark"));
    cmd.current_dir(dir).arg("stream");
    if let Some(c) = conversation {
        cmd.args(["--conversation-id", c]);
    }
    cmd.args([
        &format!("ws://{addr}/audiohook/ws"),
        "--duration",
        &format!("{seconds}s"),
    ])
    .args(["--custom-config", &format!(r#"{{"agentId": "{agent}"}}"#)])
    .stdout(Stdio::null())
    .spawn()
    .unwrap()
}
