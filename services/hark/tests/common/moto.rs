//! An S3-compatible server for tests: moto_server (PyPI) on a free 127.0.0.1 port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::send;

/// A moto_server child on a free loopback port.
pub struct Moto {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Moto {
    /// Starts moto_server on `addr` and creates the `recordings` bucket.
    pub fn start_on(addr: SocketAddr) -> Moto {
        let program = moto_server();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &addr.port().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::yield_now();
        }
        let moto = Moto { child, addr };
        let (status, body) = send(addr, "PUT", "/recordings", &[], "");
        assert_eq!(status, 200, "create bucket: {body}");
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The moto_server to run: `HARK_TEST_MOTO_SERVER`, else one on the PATH, else one this test
/// installs from PyPI into a venv under the target directory (once; later runs reuse it), so
/// `cargo test --workspace` needs nothing installed by hand.
fn moto_server() -> &'static PathBuf {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        if let Ok(p) = std::env::var("HARK_TEST_MOTO_SERVER") {
            return PathBuf::from(p);
        }
        let on_path = Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if on_path.is_ok_and(|s| s.success()) {
            return PathBuf::from("moto_server");
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("moto-venv");
        let program = venv.join("bin/moto_server");
        if !program.exists() {
            let created = Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(&venv)
                .status()
                .unwrap();
            assert!(created.success(), "python3 -m venv failed");
            let installed = Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "moto[server]"])
                .status()
                .unwrap();
            assert!(installed.success(), "pip install moto[server] failed");
        }
        program
    })
}

/// A free loopback address (nothing listens there yet).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// An object of the `recordings` bucket: its bytes and attributes (metadata).
pub fn get_object(moto: SocketAddr, key: &str) -> (Vec<u8>, object_store::Attributes) {
    use object_store::ObjectStoreExt;
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(format!("http://{moto}"))
        .with_allow_http(true)
        .with_bucket_name("recordings")
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_virtual_hosted_style_request(false)
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let got = s3.get(&object_store::path::Path::from(key)).await.unwrap();
        let attributes = got.attributes.clone();
        (got.bytes().await.unwrap().to_vec(), attributes)
    })
}
