//! AudioHook ingest inside your own axum app: mount the endpoint next to your routes, get each
//! call's audio and events through a handler factory. Here the factory is [`SessionCapture`],
//! which keeps everything; then a client streams a two-tone call into the app.
//!
//!   cargo run -p hark-audiohook --example axum_ingest

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use axum::routing::get;
use hark_audio::{ChannelLayout, Encoding};
use hark_audiohook::net::{
    Acceptor, AudioHookServer, ClientOptions, SessionCapture, StreamScript, ToneSource, run_client,
};
use hark_audiohook::proto::client::ClientConfig;
use hark_audiohook::proto::media::MediaFormat;
use hark_audiohook::proto::server::ServerConfig;
use hark_audiohook::proto::signature::ApiKeys;

const API_KEY: &str = "example-key";
/// Base64, as configured in Genesys Cloud's AudioHook integration.
const CLIENT_SECRET: &str = "c2VjcmV0LXNoYXJlZC13aXRoLWdlbmVzeXM=";

/// `GET /audiohook/ws`: admits (signature, API key) and upgrades; the session runs on its own task.
async fn audiohook(
    State(server): State<Arc<AudioHookServer>>,
    request: Request,
) -> impl IntoResponse {
    server.handle(request, "http").await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut keys = ApiKeys::default();
    keys.insert(API_KEY, Some(CLIENT_SECRET))?;
    let capture = SessionCapture::new();
    let server = Arc::new(AudioHookServer::new(
        Acceptor::new(keys),
        ServerConfig::default(),
        Arc::new(capture.clone()),
    ));
    let app = Router::new()
        .route("/audiohook/ws", get(audiohook))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("AudioHook endpoint: ws://{addr}/audiohook/ws");

    // A Genesys-like client: signed upgrade, stereo PCMU, 200 ms frames, here 10× real time.
    let conversation = "0d5c8a3e-2f4b-4c1d-9e7a-6b3f2a1c0e9d";
    let options = ClientOptions::new(
        format!("ws://{addr}/audiohook/ws"),
        API_KEY,
        Some(CLIENT_SECRET.into()),
        ClientConfig::new(
            "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
            "3c2b1a09-8f7e-4d6c-9b4a-392817161514",
            conversation,
            vec![MediaFormat {
                encoding: Encoding::Pcmu,
                layout: ChannelLayout::CUSTOMER_LEFT,
                rate: 8000,
            }],
        ),
    );
    let mut script = StreamScript::default();
    script.speed = 10.0;
    let report = run_client(
        &options,
        &mut ToneSource::new(Duration::from_secs(2)),
        &script,
    )
    .await?;
    println!(
        "client: {} frames sent, clean: {}",
        report.frames_sent,
        report.is_clean()
    );

    let sessions = capture
        .wait_for(Duration::from_secs(5), |s| s.len() == 1 && s[0].ended)
        .await
        .ok_or("the session did not end")?;
    let call = &sessions[0];
    println!(
        "server: conversation {}, {:?}, {} samples, {} events",
        call.open
            .as_ref()
            .map_or("?", |o| o.conversation_id.as_str()),
        call.media.map(|m| m.encoding),
        call.samples().len(),
        call.events.len()
    );
    assert_eq!(call.samples().len(), 2 * 8000 * 2, "2 s of stereo at 8 kHz");
    Ok(())
}
