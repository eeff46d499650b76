//! Genesys AudioHook protocol v2, both the server and the client side.
//!
//! [`proto`] is the sans-IO core: typed messages, positions, media negotiation, HTTP message
//! signatures and the session state machines. It does no I/O and reads no clock, so every rule
//! of the protocol is tested deterministically. The `tokio` feature adds the WebSocket server and
//! client around it.
//!
//! The two sessions talking in memory — what the `tokio` shell does over a WebSocket:
//!
//! ```
//! use std::time::Instant;
//! use hark_audio::{AudioFrame, ChannelLayout, Encoding};
//! use hark_audiohook::proto::client::{ClientAction, ClientConfig, ClientSession, ClientState};
//! use hark_audiohook::proto::media::MediaFormat;
//! use hark_audiohook::proto::server::{ServerAction, ServerConfig, ServerSession, ServerState};
//!
//! let now = Instant::now();
//! let stereo = MediaFormat { encoding: Encoding::Pcmu, layout: ChannelLayout::CUSTOMER_LEFT, rate: 8000 };
//! let session_id = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";
//! let organization = "3c2b1a09-8f7e-4d6c-9b4a-392817161514";
//! let conversation = "0d5c8a3e-2f4b-4c1d-9e7a-6b3f2a1c0e9d";
//! let mut client = ClientSession::new(ClientConfig::new(session_id, organization, conversation, vec![stereo]));
//! let mut server = ServerSession::new(ServerConfig::default(), session_id, organization, now);
//!
//! // Every text the client sends reaches the server, and the other way round.
//! client.start(now);
//! let mut chunks = Vec::new();
//! for _ in 0..2 {
//!     while let Some(action) = client.poll_action() {
//!         match action {
//!             ClientAction::SendText(open) => server.handle_text(now, &open),
//!             ClientAction::SendBinary(audio) => server.handle_binary(now, &audio),
//!             _ => {}
//!         }
//!     }
//!     while let Some(action) = server.poll_action() {
//!         match action {
//!             ServerAction::SendText(opened) => client.handle_text(now, &opened),
//!             ServerAction::Audio(chunk) => chunks.push(chunk),
//!             _ => {}
//!         }
//!     }
//!     if client.state() == ClientState::Open && chunks.is_empty() {
//!         // 200 ms of stereo audio, as Genesys sends it.
//!         let frame = AudioFrame::silence(ChannelLayout::CUSTOMER_LEFT, 8000, 1600)?;
//!         client.send_audio(&frame)?;
//!     }
//! }
//! assert_eq!(server.state(), ServerState::Active);
//! assert_eq!(chunks.len(), 1);
//! assert_eq!(chunks[0].frames(), 1600);
//! # Ok::<(), hark_audio::AudioError>(())
//! ```

// docs.rs builds with every feature and marks what each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod proto;

#[cfg(feature = "tokio")]
pub mod net;

/// The JSON library of the free-form maps in public types (`custom_config`, `inputVariables`),
/// re-exported so that callers build them with the same version as hark.
pub use serde_json;
