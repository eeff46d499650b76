//! hark embedded as a library: bind, serve, and stop through the caller's own shutdown future.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use hark::config::{Config, LogFormat};
use hark::server::Server;

fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_server_serves_until_its_shutdown_future_completes() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        log_format: LogFormat::Text,
        log_level: "info".into(),
        audiohook_credentials: vec![],
        recording: Default::default(),
        monitor: Default::default(),
        voiceid: Default::default(),
        database_url: None,
        database_ca_file: None,
        http: Default::default(),
        admin: Default::default(),
        drain_seconds: 300,
    };
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    assert_eq!(
        server.credentials().recording.token.expose().len(),
        "hark_rec_".len() + 40
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let response = tokio::task::spawn_blocking(move || get(addr, "/healthz"))
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"status\":\"ok\""));

    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    assert!(
        TcpStream::connect(addr).is_err(),
        "the listener is closed after shutdown"
    );
}
