//! One AudioHook session to a monitor: the client state machine between the stream's queue and
//! the socket. Writes wait for the socket (that is the backpressure); the call never does.

use std::time::Instant;

use futures_util::{FutureExt, SinkExt, StreamExt};
use hark_audiohook::net::{CLOSE_HANDSHAKE_TIMEOUT, answer_close, close_frame, close_handshake};
use hark_audiohook::proto::client::{
    AudioOutcome, ClientAction, ClientConfig, ClientEvent, ClientSession, ClientState,
};
use hark_audiohook::proto::message::{CloseReason, DisconnectReason};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::handle::Shared;
use super::{StreamEvent, StreamObserver};
use crate::delivery::{Applied, Delivery};
use crate::stream::Ending;

/// Items handed to the session between two looks at the socket.
const BATCH: usize = 16;

/// How a session ended.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    /// We closed it because the stream is ending, or the monitor completed it.
    Done {
        /// Whether it had opened.
        opened: bool,
    },
    /// It failed; `opened` tells whether the monitor had answered `open`.
    Failed {
        /// Whether it had opened.
        opened: bool,
        /// Why.
        reason: String,
    },
}

impl SessionEnd {
    /// A reason for logs, and whether it is a failure (to be retried).
    pub(crate) fn describe(&self) -> (String, bool) {
        match self {
            SessionEnd::Done { .. } => ("closed".into(), false),
            SessionEnd::Failed { reason, .. } => (reason.clone(), true),
        }
    }

    /// Whether the monitor had answered `open`.
    pub(crate) fn opened(&self) -> bool {
        match self {
            SessionEnd::Done { opened } | SessionEnd::Failed { opened, .. } => *opened,
        }
    }
}

/// What the loop learns from the session's events.
#[derive(Default)]
struct Progress {
    opened: bool,
    closing_by_us: bool,
    completed_by_monitor: bool,
    failure: Option<String>,
}

/// Runs one session on a connected socket until it closes.
pub(crate) async fn run<S>(
    mut ws: WebSocketStream<S>,
    config: ClientConfig,
    session_id: &str,
    shared: &Shared,
    observer: &dyn StreamObserver,
    delivery: &mut Delivery,
) -> SessionEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut session = ClientSession::new(config);
    let mut progress = Progress::default();
    let mut ending = shared.ending.subscribe();
    let ctx = Context {
        session_id,
        shared,
        observer,
    };
    session.start(Instant::now());
    loop {
        if session.poll_timeout().is_some_and(|t| t <= Instant::now()) {
            session.handle_timeout(Instant::now());
        }
        match carry_out(&mut ws, &mut session, &mut progress, &ctx, delivery).await {
            Ok(false) => {}
            Ok(true) => return finish(progress),
            Err(e) => return failed(&progress, e),
        }
        if !progress.closing_by_us && should_close(shared, &session) {
            progress.closing_by_us = true;
            session.close(Instant::now(), CloseReason::End);
            continue;
        }
        if feed(&mut session, &ctx, delivery) > 0 {
            // Look at what the monitor said without waiting, then send what was fed.
            while let Some(Some(frame)) = ws.next().now_or_never() {
                if let Err(e) = receive(&mut ws, &mut session, frame).await {
                    return failed(&progress, e);
                }
            }
            continue;
        }
        let deadline = session.poll_timeout();
        let wants_work = session.state() == ClientState::Open && !progress.closing_by_us;
        tokio::select! {
            frame = ws.next() => match frame {
                Some(frame) => {
                    if let Err(e) = receive(&mut ws, &mut session, frame).await {
                        return failed(&progress, e);
                    }
                }
                None => return failed(&progress, "the monitor closed the connection".into()),
            },
            () = shared.work.notified(), if wants_work => {}
            _ = ending.changed(), if !progress.closing_by_us => {}
            () = sleep_until(deadline) => session.handle_timeout(Instant::now()),
        }
    }
}

/// Who the session reports to.
struct Context<'a> {
    session_id: &'a str,
    shared: &'a Shared,
    observer: &'a dyn StreamObserver,
}

/// Sends what the session wants sent; true once the socket is to be closed.
async fn carry_out<S>(
    ws: &mut WebSocketStream<S>,
    session: &mut ClientSession,
    progress: &mut Progress,
    ctx: &Context<'_>,
    delivery: &Delivery,
) -> Result<bool, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let write = |e: tokio_tungstenite::tungstenite::Error| format!("write failed: {e}");
    // One instant for the batch: `opened` with `startPaused` opens and pauses at the same time.
    let now = Instant::now();
    while let Some(action) = session.poll_action() {
        match action {
            ClientAction::SendText(text) => ws.feed(Message::text(text)).await.map_err(write)?,
            ClientAction::SendBinary(bytes) => {
                let n = bytes.len();
                ws.feed(Message::binary(bytes)).await.map_err(write)?;
                ctx.shared.lock().wrote(n);
                ctx.observer.on_event(StreamEvent::Wrote { bytes: n });
            }
            ClientAction::Event(event) => on_event(now, event, session, progress, ctx, delivery),
            ClientAction::CloseSocket => {
                let frame = close_frame(CloseCode::Normal);
                close_handshake(ws, Some(frame), CLOSE_HANDSHAKE_TIMEOUT).await;
                return Ok(true);
            }
        }
    }
    ws.flush().await.map_err(write)?;
    Ok(false)
}

fn on_event(
    now: Instant,
    event: ClientEvent,
    session: &mut ClientSession,
    progress: &mut Progress,
    ctx: &Context<'_>,
    delivery: &Delivery,
) {
    match event {
        ClientEvent::Opened { media, .. } => {
            progress.opened = true;
            ctx.shared.lock().opened(now, ctx.session_id);
            ctx.observer.on_event(StreamEvent::Opened {
                session_id: ctx.session_id,
                media,
            });
            delivery.session_opened(session);
        }
        ClientEvent::PausedByServer | ClientEvent::ResumedByServer => {
            let paused = matches!(event, ClientEvent::PausedByServer);
            ctx.shared.lock().monitor_paused(now, paused);
            ctx.observer.on_event(StreamEvent::MonitorPaused(paused));
        }
        ClientEvent::Disconnected(d) => {
            if d.reason == DisconnectReason::Completed {
                progress.completed_by_monitor = true;
            } else {
                progress.failure = Some(format!(
                    "the monitor disconnected: {:?}{}",
                    d.reason,
                    d.info.map(|i| format!(" ({i})")).unwrap_or_default()
                ));
            }
        }
        ClientEvent::ErrorSent(e) => {
            progress
                .failure
                .get_or_insert_with(|| format!("protocol error {}: {}", e.code, e.message));
        }
        ClientEvent::Closed { .. }
        | ClientEvent::Entities(_)
        | ClientEvent::ReconnectRequested(_)
        | ClientEvent::Updated
        | ClientEvent::RoundTrip(_) => {}
    }
}

/// Hands up to [`BATCH`] queued items to an open session; returns how many.
fn feed(session: &mut ClientSession, ctx: &Context<'_>, delivery: &mut Delivery) -> usize {
    if session.state() != ClientState::Open {
        return 0;
    }
    let mut fed = 0;
    while fed < BATCH {
        let Some(item) = ctx.shared.lock().next_item() else {
            break;
        };
        // Offers are built from the call's own format, so conversion cannot fail; if it ever
        // did, the block is skipped and shows up on the monitor's timeline as discarded.
        if let Ok(Applied::Audio(AudioOutcome::Sent)) = delivery.apply(session, item) {
            ctx.shared.lock().sent_frame();
            ctx.observer.on_event(StreamEvent::FrameSent);
        }
        fed += 1;
    }
    fed
}

fn should_close(shared: &Shared, session: &ClientSession) -> bool {
    if !matches!(session.state(), ClientState::Opening | ClientState::Open) {
        return false;
    }
    let stream = shared.lock();
    match stream.ending() {
        Some(Ending::Stopped) => true,
        Some(Ending::CallEnded) => stream.is_drained(),
        None => false,
    }
}

/// Hands a frame from the monitor to the session; a Close from the monitor is answered (same
/// status code) and ends the session.
async fn receive<S>(
    ws: &mut WebSocketStream<S>,
    session: &mut ClientSession,
    frame: Result<Message, tokio_tungstenite::tungstenite::Error>,
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match frame {
        Ok(Message::Text(text)) => session.handle_text(Instant::now(), text.as_str()),
        Ok(Message::Binary(bytes)) => session.handle_binary(Instant::now(), &bytes),
        Ok(Message::Close(_)) => {
            answer_close(ws, CLOSE_HANDSHAKE_TIMEOUT).await;
            return Err("the monitor closed the connection".into());
        }
        Ok(_) => {}
        Err(e) => return Err(format!("read failed: {e}")),
    }
    Ok(())
}

fn finish(progress: Progress) -> SessionEnd {
    match progress.failure {
        Some(reason) if !progress.closing_by_us || !progress.opened => SessionEnd::Failed {
            opened: progress.opened,
            reason,
        },
        _ if progress.opened || progress.completed_by_monitor || progress.closing_by_us => {
            SessionEnd::Done {
                opened: progress.opened,
            }
        }
        _ => SessionEnd::Failed {
            opened: false,
            reason: "closed before opened".into(),
        },
    }
}

fn failed(progress: &Progress, reason: String) -> SessionEnd {
    SessionEnd::Failed {
        opened: progress.opened,
        reason,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
