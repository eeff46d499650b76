//! Streams an audio file as one AudioHook call to any AudioHook server (hark, your own, a
//! Genesys-compatible service), in real time as Genesys does, and prints what happened.
//!
//!   cargo run -p hark-audiohook --features tokio --example stream_file -- \
//!       ws://127.0.0.1:8080/audiohook/ws API_KEY CLIENT_SECRET call.wav
//!
//! The file's left (or only) channel is the customer, its right the agent; any rate.

use std::sync::Arc;

use hark_audio::{ChannelLayout, Encoding};
use hark_audiohook::net::load::telephone_stereo;
use hark_audiohook::net::{AudioLoop, ClientOptions, LoopedAudio, StreamScript, run_client};
use hark_audiohook::proto::client::ClientConfig;
use hark_audiohook::proto::media::MediaFormat;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, api_key, client_secret, file] = args.as_slice() else {
        return Err("usage: stream_file URL API_KEY CLIENT_SECRET FILE".into());
    };
    let audio = Arc::new(AudioLoop::new(telephone_stereo(file.as_ref())?));
    let frames = audio.frames() as u64;
    let id = || uuid::Uuid::new_v4().to_string();
    let options = ClientOptions::new(
        url.clone(),
        api_key.clone(),
        Some(client_secret.clone()),
        ClientConfig::new(
            &id(),
            &id(),
            &id(),
            vec![MediaFormat {
                encoding: Encoding::Pcmu,
                layout: ChannelLayout::CUSTOMER_LEFT,
                rate: 8000,
            }],
        ),
    );
    let mut source = LoopedAudio::new(audio, frames);
    let report = run_client(&options, &mut source, &StreamScript::default()).await?;
    println!(
        "{} frames sent; opened in {:?}; closed {:?}; clean: {}",
        report.frames_sent,
        report.open_latency,
        report.closed,
        report.is_clean()
    );
    Ok(())
}
