//! A call fanned out to two monitors: each is an AudioHook server (here hark-audiohook's
//! `SessionCapture`, which keeps what it receives); `Monitoring` opens one client stream per
//! monitor when the call opens, sends each 200 ms block once encoded, carries a secure pause to
//! every monitor as a gap, and closes the streams when the call ends.
//!
//!   cargo run -p hark-monitor --features tokio --example fan_out

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hark_audio::{AudioFrame, ChannelLayout, Encoding};
use hark_audiohook::net::{Acceptor, AudioHookServer, SessionCapture, serve};
use hark_audiohook::proto::Position;
use hark_audiohook::proto::media::MediaFormat;
use hark_audiohook::proto::message::{Gap, Participant};
use hark_audiohook::proto::server::{AudioChunk, ServerConfig};
use hark_audiohook::proto::signature::ApiKeys;
use hark_monitor::net::{IgnoreEvents, Monitoring, StreamSettings};
use hark_monitor::{
    CallIdentity, CallInfo, MemoryMonitorStore, MonitorIntegration, MonitorRegistry,
};

const API_KEY: &str = "monitor-key";
/// Base64, as a monitor integration's client secret is configured.
const CLIENT_SECRET: &str = "c2VjcmV0LWZvci10aGUtbW9uaXRvcg==";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Two third-party monitors, each an AudioHook server on its own port.
    let mut monitors = Vec::new();
    for name in ["quality", "analytics"] {
        let (addr, capture) = monitor_server().await?;
        monitors.push((name, addr, capture));
    }

    // The integrations, in a registry (memory here; hark-store keeps them in SQLite/PostgreSQL).
    let registry = Arc::new(MonitorRegistry::new(Arc::new(
        MemoryMonitorStore::default(),
    ))?);
    for (name, addr, _) in &monitors {
        registry.create(MonitorIntegration {
            name: (*name).into(),
            uri: format!("ws://{addr}/ws"),
            api_key: API_KEY.into(),
            client_secret: Some(CLIENT_SECRET.into()),
            enabled: true,
            calls: Default::default(),
            custom_config: None,
        })?;
    }
    let monitoring = Monitoring::new(
        registry,
        StreamSettings::default(),
        true, // every call goes to every enabled monitor whose filter matches
        Arc::new(IgnoreEvents),
    );

    // A 4 s call with a secure pause from 1 s to 2 s: the monitors get 3 s of audio.
    let fanout = monitoring.call_opened(call(), CallInfo::new(ORGANIZATION, Default::default()));
    for block in 0..20u64 {
        let start = Duration::from_millis(block * 200);
        if start == Duration::from_secs(1) {
            fanout.paused(Position::from(start));
        }
        if start == Duration::from_secs(2) {
            fanout.resumed(Gap {
                start: Position::from(Duration::from_secs(1)),
                discarded: Position::from(Duration::from_secs(1)),
            });
        }
        if (5..10).contains(&block) {
            continue; // paused: nothing reaches hark, so nothing is sent on
        }
        fanout.audio(&block_of_audio(start)?);
    }
    monitoring.call_ended(CALL_ID);

    for (name, _, capture) in &monitors {
        let sessions = capture
            .wait_for(Duration::from_secs(10), |s| s.len() == 1 && s[0].ended)
            .await
            .ok_or("a monitor's stream did not end")?;
        let samples = sessions[0].samples().len();
        println!(
            "{name}: {samples} samples, {} events",
            sessions[0].events.len()
        );
        assert_eq!(samples, 3 * 8000 * 2, "3 s of stereo at 8 kHz");
    }
    Ok(())
}

const ORGANIZATION: &str = "34e80ec9-a57e-4a06-be8b-b1f2567df796";
const CALL_ID: &str = "call-1";

/// An AudioHook server that keeps every session it receives.
async fn monitor_server() -> std::io::Result<(SocketAddr, SessionCapture)> {
    let mut keys = ApiKeys::default();
    keys.insert(API_KEY, Some(CLIENT_SECRET))
        .map_err(std::io::Error::other)?;
    let capture = SessionCapture::new();
    let server = Arc::new(AudioHookServer::new(
        Acceptor::new(keys),
        ServerConfig::default(),
        Arc::new(capture.clone()),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener, "/ws", server, std::future::pending()));
    Ok((addr, capture))
}

/// The call as its AudioHook session described it.
fn call() -> CallIdentity {
    let participant = Participant {
        id: "d1a2c3b4-0000-4000-8000-000000000001".into(),
        ..Participant::default()
    };
    CallIdentity {
        call_id: CALL_ID.into(),
        organization_id: ORGANIZATION.into(),
        conversation_id: "75b48018-1edd-4484-be2f-be322c0a1750".into(),
        participant,
        language: None,
        media: stereo(),
    }
}

fn stereo() -> MediaFormat {
    MediaFormat {
        encoding: Encoding::Pcmu,
        layout: ChannelLayout::CUSTOMER_LEFT,
        rate: 8000,
    }
}

/// 200 ms of stereo PCMU starting at `start` on the call's timeline.
fn block_of_audio(start: Duration) -> Result<AudioChunk, hark_audio::AudioError> {
    let frame = AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 8000, vec![1000; 3200])?;
    Ok(AudioChunk {
        payload: frame.encode(Encoding::Pcmu),
        format: stereo(),
        received_before: start.as_millis() as u64 * 8,
        timeline_start: Position::from(start),
    })
}
