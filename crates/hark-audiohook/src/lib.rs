//! Genesys AudioHook protocol v2, both the server and the client side.
//!
//! [`proto`] is the sans-IO core: typed messages, positions, media negotiation, HTTP message
//! signatures and the session state machines. It does no I/O and reads no clock, so every rule
//! of the protocol is tested deterministically. The `tokio` feature adds the WebSocket server and
//! client around it.

// docs.rs builds with every feature and marks what each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod proto;

#[cfg(feature = "tokio")]
pub mod net;

/// The JSON library of the free-form maps in public types (`custom_config`, `inputVariables`),
/// re-exported so that callers build them with the same version as hark.
pub use serde_json;
