//! Raw bytes into hark's HTTP front: hyper's HTTP/1 parser with the listener's limits, then the
//! boundary's rules (head limits, health-only connections, bodies read under a cap, JSON errors)
//! in front of a small router. Whatever arrives, the connection ends (no hang, no panic), every
//! answer is a well-formed status line, and every error the router wrote is JSON.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use hark_http::boundary::{self, BodyLimits};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    })
}

fn router() -> Router {
    let limits = BodyLimits { max_bytes: 1024, timeout: Duration::from_secs(1) };
    let routes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/echo",
            post(|body: axum::body::Bytes| async move { body })
                .route_layer(from_fn_with_state(limits, boundary::read_body)),
        );
    boundary::guard(routes)
}

fuzz_target!(|data: &[u8]| {
    let response = runtime().block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let serving = tokio::spawn(hark_http::listener::serve_stream(
            server,
            router(),
            Duration::from_secs(1),
        ));
        let _ = client.write_all(data).await;
        let _ = client.shutdown().await;
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut out)).await;
        assert!(read.is_ok(), "the connection never ended");
        drop(client);
        let _ = serving.await;
        out
    });
    let text = String::from_utf8_lossy(&response);
    for answer in text.split("HTTP/1.1 ").skip(1) {
        let status: u16 = answer.get(..3).and_then(|s| s.parse().ok()).unwrap_or(0);
        assert!((100..600).contains(&status), "{answer:?}");
        let head = answer.split("\r\n\r\n").next().unwrap_or_default().to_ascii_lowercase();
        if status >= 400 && head.contains("content-type:") {
            assert!(head.contains("content-type: application/json"), "{answer:?}");
        }
    }
});
