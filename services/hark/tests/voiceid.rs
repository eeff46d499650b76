//! The Voice ID API through unmodified AWS clients: the boto3 suite in `tests/voiceid/` (every
//! operation and error code, pagination, idempotency, soft delete and restore, SigV4 failures,
//! an AWS CLI smoke test) against a real `hark serve`, then a restart without one keyring key.
//!
//! Python comes from `HARK_TEST_PYTHON`, else a `python3` that already has boto3 and awscli,
//! else a venv this test creates under the target directory with pip (once; later runs reuse
//! it), so `cargo test --workspace` needs nothing installed by hand.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use base64::Engine;
use common::Hark;

fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Ok(p) = std::env::var("HARK_TEST_PYTHON") {
            return PathBuf::from(p);
        }
        let has_clients = |python: &Path| {
            Command::new(python)
                .args(["-c", "import boto3, awscli, moto.server"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if has_clients(Path::new("python3")) {
            return PathBuf::from("python3");
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("voiceid-venv");
        let python = venv.join("bin/python");
        if !has_clients(&python) {
            let created = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .unwrap();
            assert!(created.success(), "python3 -m venv failed");
            let installed = Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "boto3",
                    "awscli",
                    "moto[server]",
                ])
                .status()
                .unwrap();
            assert!(
                installed.success(),
                "pip install boto3 awscli moto[server] failed"
            );
        }
        python
    })
}

fn write_config(dir: &Path, with_revocable: bool) {
    let key = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
    let revocable = if with_revocable {
        format!("\"alias/revocable\" = \"{}\"\n", key(2))
    } else {
        String::new()
    };
    std::fs::write(
        dir.join("hark.toml"),
        format!(
            "listen = \"127.0.0.1:0\"\n\
             [voiceid]\nmaintenance_interval_seconds = 1\n\
             [voiceid.keys]\n\"alias/second\" = \"{}\"\n{revocable}\
             [voiceid.quotas]\nfraudsters_per_watchlist = 2\n\
             [voiceid.rate_limits]\nDescribeFraudsterRegistrationJob = 1\n",
            key(1)
        ),
    )
    .unwrap();
}

fn run_suite(dir: &Path, hark: &Hark, module: &str) {
    run_suite_with(dir, hark, module, &[]);
}

fn run_suite_with(dir: &Path, hark: &Hark, module: &str, env: &[(&str, String)]) {
    let stored: toml::Table = std::fs::read_to_string(dir.join("hark-data/credentials.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/voiceid");
    let out = Command::new(python())
        .current_dir(&suite)
        .args(["-m", "unittest", "-v", module])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("HARK_ENDPOINT", format!("http://{}", hark.addr))
        .env(
            "HARK_ACCESS_KEY_ID",
            stored["voiceid"]["access_key_id"].as_str().unwrap(),
        )
        .env(
            "HARK_SECRET_ACCESS_KEY",
            stored["voiceid"]["secret_access_key"].as_str().unwrap(),
        )
        .env("HARK_BIN", env!("CARGO_BIN_EXE_hark"))
        .env("HARK_DATA_DIR", dir.join("hark-data"))
        .env("HARK_WORK_DIR", dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{module} failed:\n{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // unittest's closing line, e.g. "Ran 24 tests in 5.1s" then "OK".
    let ran = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("Ran ")?
                .split(' ')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .unwrap_or(0);
    assert!(ran > 0, "{module} ran no test:\n{stderr}");
    eprintln!("{module}: {ran} Python tests passed");
}

#[test]
fn boto3_and_the_aws_cli_drive_every_operation() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), true);
    let hark = Hark::start(dir.path(), &[], &[]);
    run_suite(dir.path(), &hark, "test_voiceid");
    let stopped = hark.terminate();
    assert!(stopped.exit.success());
    assert!(
        stopped
            .stderr
            .contains("aws voice-id list-domains --endpoint-url"),
        "the first-start notice has a ready-to-paste hint: {}",
        stopped.stderr
    );
    let keyring = dir.path().join("hark-data/voiceid-keyring.toml");
    assert!(
        keyring.is_file(),
        "alias/hark-default generated on first start"
    );

    // Restart without alias/revocable: everything persisted; that domain is suspended.
    write_config(dir.path(), false);
    let hark = Hark::start(dir.path(), &[], &[]);
    run_suite(dir.path(), &hark, "test_voiceid_phase2");
    assert!(hark.terminate().exit.success());
}

/// moto_server (from the test Python) on a free loopback port, stopped on drop.
struct MotoServer {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl MotoServer {
    fn start() -> MotoServer {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let child = Command::new(python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &addr.port().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        MotoServer { child, addr }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn boto3_runs_batch_jobs_on_an_s3_compatible_server() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hark.toml"),
        format!(
            "listen = \"127.0.0.1:0\"\n[voiceid.s3]\nendpoint = \"http://{}\"\naccess_key_id = \"test\"\nsecret_access_key = \"test\"\nallow_http = true\n",
            moto.addr
        ),
    )
    .unwrap();
    let hark = Hark::start(dir.path(), &[], &[]);
    run_suite_with(
        dir.path(),
        &hark,
        "test_voiceid_jobs",
        &[
            ("HARK_S3_ENDPOINT", format!("http://{}", moto.addr)),
            (
                "HARK_CORPUS",
                hark_tests::speech::speech_corpus(env!("CARGO_TARGET_TMPDIR"))
                    .display()
                    .to_string(),
            ),
        ],
    );
    assert!(hark.terminate().exit.success());
}
