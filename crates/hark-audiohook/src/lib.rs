//! Genesys AudioHook protocol v2, both the server and the client side.
//!
//! Planned shape (issue 3): `proto` holds the sans-IO core — typed messages, sequence rules,
//! positions, media negotiation, server and client session state machines, and HTTP message
//! signatures. A `tokio` feature adds the WebSocket server and client on top of that core.
//! Nothing is implemented yet; this crate only reserves its place in the workspace.
