//! The tokio shell around the sans-IO core: WebSocket server and client.
//!
//! Both sides use tokio-tungstenite. The server side is an HTTP upgrade handler
//! ([`AudioHookServer::handle`]) that any hyper-based server (axum included) can mount, plus a
//! small standalone listener ([`serve`]); each accepted session runs in its own task. The client
//! side connects, signs, and streams paced audio from an [`AudioSource`]; [`load`] runs many clients at once.

mod accept;
mod client;
mod client_error;
mod close;
pub mod load;
mod recorder;
mod server;
mod source;
#[cfg(feature = "tls")]
mod tls;
mod transport;

pub use accept::{Acceptor, Admission, Rejection, signed_request};
pub use client::{
    ClientOptions, ClientReport, StreamScript, connect, run_client, signed_upgrade_request,
};
pub use client_error::ClientError;
pub use close::{
    CLOSE_HANDSHAKE_TIMEOUT, CloseHandshake, answer_close, close_frame, close_handshake,
};
pub use recorder::{RecordedChunk, RecordedSession, SessionCapture};
pub use server::{
    AudioHookServer, HandlerFactory, ServerCommand, SessionControl, SessionHandler, serve,
};
pub use source::{AudioLoop, AudioSource, LoopedAudio, ToneSource};
#[cfg(feature = "tls")]
pub use tls::TlsConnector;
pub use transport::{ClientIo, Transport};

/// The WebSocket library in this module's signatures (`WebSocketStream` in
/// [`AudioHookServer::run`] and the close helpers), re-exported so that callers use the same
/// version as hark.
pub use tokio_tungstenite;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// WebSocket limits: messages up to 128 KiB reach the session, which answers anything over the
/// protocol's 64 KiB with a proper `disconnect`/`error`; larger ones drop the connection. The
/// write buffer is bounded so a peer that stops reading cannot grow our memory, and the read
/// buffer is sized for a 200 ms stereo frame (3.2 KB) rather than tungstenite's 128 KiB default,
/// because it is held by every idle session.
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .max_message_size(Some(128 * 1024))
        .max_frame_size(Some(128 * 1024))
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
}
