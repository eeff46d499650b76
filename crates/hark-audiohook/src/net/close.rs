//! The WebSocket close handshake (RFC 6455 §5.5.1, §7.1.2), for both ends.
//!
//! An endpoint that receives a Close frame must answer with a Close frame; one that sends a
//! Close waits for the answer before it drops the connection. tungstenite queues the answer
//! itself when it reads a Close, but only writes it on the next read or flush, so a shell that
//! drops the socket right after reading a Close leaves the peer with an abnormal closure (1006).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// How long an endpoint waits for the peer during the close handshake: for the answer to its
/// own Close, or for its answer to the peer's Close to be written.
pub const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// How a close handshake that we started ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseHandshake {
    /// The peer answered our Close with its own (its status code, if it sent one).
    Completed(Option<u16>),
    /// The peer did not answer within the timeout.
    TimedOut,
    /// The connection broke, or the peer hung up without answering.
    Dropped,
}

/// A Close frame with `code` and no reason.
pub fn close_frame(code: CloseCode) -> CloseFrame {
    CloseFrame {
        code,
        reason: "".into(),
    }
}

/// Starts the close handshake: sends a Close with `frame`, then reads (discarding anything
/// still in flight) until the peer's Close arrives or `timeout` passes. The socket may be
/// dropped afterwards.
pub async fn close_handshake<S>(
    ws: &mut WebSocketStream<S>,
    frame: Option<CloseFrame>,
    timeout: Duration,
) -> CloseHandshake
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handshake = async {
        if ws.close(frame).await.is_err() {
            return CloseHandshake::Dropped;
        }
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(answer))) => {
                    // Lets tungstenite finish its side (a server drops the connection now).
                    let _ = ws.flush().await;
                    return CloseHandshake::Completed(answer.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return CloseHandshake::Dropped,
            }
        }
    };
    tokio::time::timeout(timeout, handshake)
        .await
        .unwrap_or(CloseHandshake::TimedOut)
}

/// Completes a close handshake the peer started: call after reading its Close frame. Writes the
/// answer tungstenite queued (the same status code), bounded by `timeout`; true if it went out.
pub async fn answer_close<S>(ws: &mut WebSocketStream<S>, timeout: Duration) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    matches!(tokio::time::timeout(timeout, ws.flush()).await, Ok(Ok(())))
}
