//! A Voice ID endpoint inside your own axum app: the engine over a store, the access key your
//! AWS SDK clients sign with, and `VoiceIdEndpoint::router` merged beside your routes. Here the
//! router is driven as a tower `Service` with one SigV4-signed `CreateDomain` and one forged
//! request; with `--serve` it listens on 127.0.0.1:8400 for real clients, e.g.
//!
//!   cargo run -p hark-voiceid --features http --example voiceid_endpoint -- --serve
//!   AWS_ACCESS_KEY_ID=example-key AWS_SECRET_ACCESS_KEY=example-secret \
//!     aws voice-id list-domains --endpoint-url http://127.0.0.1:8400 --region us-east-1

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use hark_voiceid::http::{CONTENT_TYPE, VoiceIdEndpoint};
use hark_voiceid::sigv4::{self, SignedRequest};
use hark_voiceid::{Clock, Keyring, MemoryStore, Settings, SystemClock, VoiceId};
use tower::ServiceExt;

const ACCESS_KEY_ID: &str = "example-key";
const SECRET_ACCESS_KEY: &str = "example-secret";
const HOST: &str = "127.0.0.1:8400";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The engine: a store (memory here; `hark-store` has SQLite and PostgreSQL ones), the key
    // that seals voiceprints at rest, the secret that signs page tokens.
    let mut keyring = Keyring::default();
    keyring.insert("example", Keyring::generate_key()?);
    let engine = Arc::new(VoiceId::new(
        Arc::new(MemoryStore::default()),
        Arc::new(SystemClock),
        keyring,
        &Keyring::generate_key()?,
        Settings::default(),
    ));
    let endpoint =
        Arc::new(VoiceIdEndpoint::new(engine).with_access_key(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
    let app: Router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(endpoint.router());

    if std::env::args().any(|a| a == "--serve") {
        let listener = tokio::net::TcpListener::bind(HOST).await?;
        println!("Voice ID endpoint: http://{HOST} (access key {ACCESS_KEY_ID})");
        axum::serve(listener, app).await?;
        return Ok(());
    }

    // What an AWS SDK sends: the JSON input, signed over exactly these bytes.
    let body = r#"{"Name":"example","ServerSideEncryptionConfiguration":{"KmsKeyId":"example"}}"#;
    let signed = signed_request("VoiceID.CreateDomain", body)?;
    let response = app.clone().oneshot(signed).await?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024).await?;
    println!("CreateDomain: {status} {}", String::from_utf8_lossy(&bytes));
    assert_eq!(status, StatusCode::OK);

    // The same request with one byte of the body changed after signing is refused.
    let mut forged = signed_request("VoiceID.CreateDomain", body)?;
    *forged.body_mut() = Body::from(body.replace("example\"", "exampl3\""));
    let response = app.oneshot(forged).await?;
    let error_type = response.headers()["x-amzn-errortype"].to_str()?.to_owned();
    println!("forged CreateDomain: {} {error_type}", response.status());
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    Ok(())
}

/// A `POST /` for `target`, signed with the example access key as the AWS SDKs sign it.
fn signed_request(target: &str, body: &str) -> Result<Request<Body>, axum::http::Error> {
    let date = sigv4::amz_date(SystemClock.now());
    let headers = vec![
        ("host".to_owned(), HOST.to_owned()),
        ("x-amz-date".to_owned(), date.clone()),
        ("x-amz-target".to_owned(), target.to_owned()),
        ("content-type".to_owned(), CONTENT_TYPE.to_owned()),
    ];
    let request = SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    let authorization = sigv4::sign(
        &request,
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        "us-east-1",
        &date,
    );
    let mut builder = Request::post("/").header("authorization", authorization);
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body.to_owned()))
}
