//! A private PostgreSQL server for tests: `initdb` in a temporary directory, `postgres` on a
//! free 127.0.0.1 port with its unix socket in that directory, stopped (immediately) on drop.
//!
//! The binaries come from `pg_config --bindir` or `/usr/lib/postgresql/*/bin` (Debian's
//! `postgresql` package; CI installs it). PostgreSQL refuses to run as root, so as root the
//! server runs as the `postgres` user (`setpriv`), otherwise as the current user. When
//! PostgreSQL is missing, [`PgServer::start`] panics with what to install: the tests that need
//! it fail rather than skip.

// A test harness reports what went wrong by panicking, like an assertion.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running private PostgreSQL server; stopped and deleted on drop.
#[derive(Debug)]
pub struct PgServer {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    port: u16,
    user: Option<String>,
    /// The CA certificate (PEM) of the server's TLS certificate, when TLS is on.
    tls_ca: Option<Vec<u8>>,
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
fn find_bindir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").is_file() {
            return dir;
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|b| b.join("initdb").is_file());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed: these tests start a private server with initdb and \
             pg_ctl. Install Debian's `postgresql` package (apt-get install postgresql); \
             .ci/run does this on CI."
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgServer {
    /// Initialises and starts a server; returns once it accepts connections.
    pub fn start() -> PgServer {
        Self::start_with(false)
    }

    /// [`PgServer::start`] with TLS on (`ssl=on`): a certificate for 127.0.0.1 signed by a
    /// test CA made with `openssl`, whose PEM [`PgServer::tls_ca`] returns.
    pub fn start_tls() -> PgServer {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> PgServer {
        let bindir = find_bindir();
        let dir = tempfile::Builder::new()
            .prefix("hark-pg-")
            .tempdir()
            .expect("temporary directory");
        let user = is_root().then(|| "postgres".to_owned());
        if let Some(user) = &user {
            let status = Command::new("chown")
                .args(["-R", &format!("{user}:"), &dir.path().display().to_string()])
                .status()
                .expect("chown");
            assert!(status.success(), "cannot chown the PostgreSQL directory");
        }
        let mut server = PgServer {
            bindir,
            port: free_port(),
            user,
            dir,
            tls_ca: None,
        };
        server.run(
            "initdb",
            &[
                "-D",
                &server.data().display().to_string(),
                "-U",
                "hark",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        if tls {
            server.tls_ca = Some(server.make_certificate());
        }
        server.resume();
        server
    }

    /// Makes a test CA and a certificate for 127.0.0.1 it signs: `server.crt` and `server.key`
    /// (0600, the server's user's) in the data directory. Returns the CA's certificate.
    fn make_certificate(&self) -> Vec<u8> {
        let dir = self.dir.path();
        let (ca_crt, ca_key) = (dir.join("ca.crt"), dir.join("ca.key"));
        let (crt, key) = (
            self.data().join("server.crt"),
            self.data().join("server.key"),
        );
        let (csr, ext) = (dir.join("server.csr"), dir.join("server.ext"));
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .expect("extensions file");
        let openssl = |args: &[&std::ffi::OsStr]| {
            let out = Command::new("openssl")
                .args(args)
                .output()
                .expect("openssl (Debian's openssl package) makes the test certificates");
            assert!(
                out.status.success(),
                "openssl: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let os = |s: &'static str| std::ffi::OsStr::new(s);
        openssl(&[
            os("req"),
            os("-x509"),
            os("-newkey"),
            os("rsa:2048"),
            os("-nodes"),
            os("-days"),
            os("2"),
            os("-subj"),
            os("/CN=hark test CA"),
            os("-keyout"),
            ca_key.as_os_str(),
            os("-out"),
            ca_crt.as_os_str(),
        ]);
        openssl(&[
            os("req"),
            os("-newkey"),
            os("rsa:2048"),
            os("-nodes"),
            os("-subj"),
            os("/CN=127.0.0.1"),
            os("-keyout"),
            key.as_os_str(),
            os("-out"),
            csr.as_os_str(),
        ]);
        openssl(&[
            os("x509"),
            os("-req"),
            os("-in"),
            csr.as_os_str(),
            os("-CA"),
            ca_crt.as_os_str(),
            os("-CAkey"),
            ca_key.as_os_str(),
            os("-CAcreateserial"),
            os("-days"),
            os("2"),
            os("-extfile"),
            ext.as_os_str(),
            os("-out"),
            crt.as_os_str(),
        ]);
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(&key, private).expect("the key made private");
        if let Some(user) = &self.user {
            Command::new("chown")
                .arg(format!("{user}:"))
                .args([&crt, &key])
                .status()
                .expect("chown");
        }
        std::fs::read(&ca_crt).expect("the CA certificate")
    }

    /// The PEM certificate to trust for this server's TLS, when started with
    /// [`PgServer::start_tls`].
    pub fn tls_ca(&self) -> Option<&[u8]> {
        self.tls_ca.as_deref()
    }

    /// Starts the (stopped) server again on the same port and data; returns once it accepts
    /// connections.
    pub fn resume(&self) {
        let mut options = format!(
            "-h 127.0.0.1 -p {} -k {} -F -c max_connections=200 -c shared_buffers=32MB",
            self.port,
            self.dir.path().display()
        );
        if self.tls_ca.is_some() {
            options.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-o",
                &options,
                "-l",
                &self.dir.path().join("log").display().to_string(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        self.wait_until_ready();
    }

    /// Stops the server (fast shutdown: clients are disconnected), as an outage would.
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let binary = self.bindir.join(program);
        match &self.user {
            Some(user) => {
                let mut c = Command::new("setpriv");
                c.args([
                    &format!("--reuid={user}"),
                    &format!("--regid={user}"),
                    "--init-groups",
                    "--",
                ])
                .arg(binary);
                c
            }
            None => Command::new(binary),
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
            panic!(
                "{program} failed: {}\n{}\n{}\nlog: {log}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "PostgreSQL did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Creates a new empty database and returns its URL (one per test keeps tests apart).
    pub fn database(&self, name: &str) -> String {
        self.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "hark",
                name,
            ],
        );
        self.url(name)
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://hark@127.0.0.1:{}/{name}", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory (data, socket, log).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                &self.data().display().to_string(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
