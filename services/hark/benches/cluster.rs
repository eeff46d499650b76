//! Control requests across instances: the latency of a do-not-record that lands on instance A
//! and must take effect on instance B (A answers once B has applied it and replied, through
//! PostgreSQL LISTEN/NOTIFY), against the same request on an instance alone on PostgreSQL.
//! Both instances run in this process on a private PostgreSQL (`hark-pgtest`).
//!
//! `cargo bench -p hark --bench cluster [-- REQUESTS]` (default 2000).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use hark::config::{Config, LogFormat};
use hark::server::Server;

fn config(data_dir: &Path, database_url: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_owned(),
        log_format: LogFormat::Text,
        log_level: "warn".into(),
        audiohook_credentials: vec![],
        recording: Default::default(),
        monitor: Default::default(),
        voiceid: Default::default(),
        database_url: Some(database_url.to_owned()),
        database_ca_file: None,
        http: Default::default(),
        admin: Default::default(),
        drain_seconds: 300,
    }
}

/// Starts an instance; returns its address, recording token and admin token.
fn start(
    runtime: &tokio::runtime::Runtime,
    data_dir: &Path,
    url: &str,
) -> (SocketAddr, String, String) {
    let server = runtime
        .block_on(Server::bind(config(data_dir, url)))
        .unwrap();
    let addr = server.local_addr();
    let token = server.credentials().recording.token.expose().to_owned();
    let admin = server.credentials().admin.token.expose().to_owned();
    runtime.spawn(server.run(std::future::pending()));
    (addr, token, admin)
}

/// One HTTP/1.1 request on a new connection; returns status and body.
fn request(addr: SocketAddr, method: &str, path: &str, token: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (response[9..12].parse().unwrap(), body.unwrap_or_default())
}

/// Waits until the instance at `addr` counts `peers` other live instances.
fn wait_for_peers(addr: SocketAddr, token: &str, peers: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = request(addr, "GET", "/v1/cluster", token);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["peers"].as_array().is_some_and(|p| p.len() == peers) {
            return;
        }
        assert!(Instant::now() < deadline, "peers never {peers}: {body}");
        std::thread::yield_now();
    }
}

fn measure(name: &str, addr: SocketAddr, token: &str, requests: usize) {
    let mut latencies = Vec::with_capacity(requests);
    let run = uuid::Uuid::new_v4().simple().to_string();
    for i in 0..requests {
        let path = format!("/v1/contacts/bench-{run}-{i}/do-not-record");
        let started = Instant::now();
        let (status, body) = request(addr, "POST", &path, token);
        latencies.push(started.elapsed());
        assert_eq!(status, 200, "{path}: {body}");
    }
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    println!(
        "{name:<44} p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms   ({requests} requests)",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
}

fn main() {
    let requests: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let pg = hark_pgtest::PgServer::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let root = tempfile::tempdir().unwrap();

    let alone_url = pg.database("alone");
    let (alone, alone_token, _) = start(&runtime, &root.path().join("alone"), &alone_url);
    measure(
        "one instance alone (applied locally)",
        alone,
        &alone_token,
        requests,
    );

    let url = pg.database("fleet");
    let (a, token, admin) = start(&runtime, &root.path().join("a"), &url);
    let b_dir = root.path().join("b");
    std::fs::create_dir_all(&b_dir).unwrap();
    for file in ["credentials.toml", "voiceid-keyring.toml"] {
        std::fs::copy(root.path().join("a").join(file), b_dir.join(file)).unwrap();
    }
    let (b, _, _) = start(&runtime, &b_dir, &url);
    wait_for_peers(a, &admin, 1);
    wait_for_peers(b, &admin, 1);
    measure(
        "sent to A, applied by A and B (NOTIFY)",
        a,
        &token,
        requests,
    );
}
