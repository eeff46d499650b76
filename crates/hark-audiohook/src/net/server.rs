//! The server shell: the upgrade handler, the per-session task, and a standalone listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::accept::{Acceptor, Admission, Rejection, signed_request};
use super::close::{CLOSE_HANDSHAKE_TIMEOUT, answer_close, close_frame, close_handshake};
use super::websocket_config;
use crate::proto::Entity;
use crate::proto::message::DisconnectReason;
use crate::proto::server::{
    AudioChunk, ServerAction, ServerConfig, ServerSession, SessionEvent, SessionStats,
};

/// Receives what one session delivers. Called on the session's task: return quickly and never
/// block, or the session stops reading from its socket.
pub trait SessionHandler: Send + 'static {
    /// Session news (opened, paused, closing, ...).
    fn on_event(&mut self, event: &SessionEvent);
    /// A block of audio.
    fn on_audio(&mut self, chunk: AudioChunk);
    /// The session is over (socket closed); final totals.
    fn on_end(&mut self, stats: &SessionStats);
}

/// Makes a handler for each admitted session.
pub trait HandlerFactory: Send + Sync + 'static {
    /// A handler for this session; `control` lets the application steer it later.
    fn handler(&self, admission: &Admission, control: SessionControl) -> Box<dyn SessionHandler>;
}

/// Something the application asks a running session to do.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerCommand {
    /// Send `pause`.
    Pause,
    /// Send `resume`.
    Resume,
    /// Send events.
    Event(Vec<Entity>),
    /// Send `reconnect` (a draining server; the session goes on).
    Reconnect {
        /// Explanation.
        info: Option<String>,
    },
    /// Send `disconnect`.
    Disconnect {
        /// Why.
        reason: DisconnectReason,
        /// Explanation.
        info: Option<String>,
        /// Audio Connector output variables.
        output_variables: Option<Map<String, Value>>,
    },
}

/// A handle to steer a running session from elsewhere.
#[derive(Clone, Debug)]
pub struct SessionControl {
    // Boxed: the channel allocates its first block of slots up front, for every session, and
    // commands are rare; a pointer per slot keeps that block at 32 × 8 bytes.
    tx: mpsc::Sender<Box<ServerCommand>>,
}

impl SessionControl {
    /// Queues a command; false if the session has ended or is flooded with commands.
    pub fn send(&self, command: ServerCommand) -> bool {
        self.tx.try_send(Box::new(command)).is_ok()
    }
}

/// Accepts AudioHook sessions on upgrade requests and runs each in its own task.
pub struct AudioHookServer {
    acceptor: Acceptor,
    config: ServerConfig,
    factory: Arc<dyn HandlerFactory>,
}

impl std::fmt::Debug for AudioHookServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioHookServer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AudioHookServer {
    /// A server admitting with `acceptor`, running sessions with `config`.
    pub fn new(acceptor: Acceptor, config: ServerConfig, factory: Arc<dyn HandlerFactory>) -> Self {
        AudioHookServer {
            acceptor,
            config,
            factory,
        }
    }

    /// Handles one HTTP request to the AudioHook endpoint: checks it is a WebSocket upgrade,
    /// admits it, and answers `101` (the session then runs on its own task), `400` or `401`.
    pub async fn handle<B>(
        self: &Arc<Self>,
        mut request: Request<B>,
        scheme: &str,
    ) -> Response<String> {
        let key = match websocket_key(&request) {
            Ok(key) => key,
            Err(message) => return json_error(StatusCode::BAD_REQUEST, "BadRequest", &message),
        };
        let signed = signed_request(request.method(), request.uri(), request.headers(), scheme);
        let admission = match self.acceptor.admit(&signed).await {
            Ok(a) => a,
            Err(Rejection::BadRequest(message)) => {
                return json_error(StatusCode::BAD_REQUEST, "BadRequest", &message);
            }
            Err(Rejection::Unauthorized(reason)) => {
                tracing::warn!(%reason, "AudioHook authentication failed");
                return json_error(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "authentication failed",
                );
            }
        };
        let on_upgrade = hyper::upgrade::on(&mut request);
        let server = Arc::clone(self);
        // Everything logged while the call runs carries its session id.
        let span = tracing::info_span!("call", session = %admission.session_id);
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                match on_upgrade.await {
                    Ok(upgraded) => {
                        let ws = WebSocketStream::from_raw_socket(
                            TokioIo::new(upgraded),
                            Role::Server,
                            Some(websocket_config()),
                        )
                        .await;
                        server.run(ws, admission).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "AudioHook upgrade failed"),
                }
            },
            span,
        ));
        let mut response = Response::new(String::new());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }

    /// Runs one admitted session on an established WebSocket until the socket closes.
    pub async fn run<S>(&self, ws: WebSocketStream<S>, admission: Admission)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let (tx, commands) = mpsc::channel(64);
        let handler = self.factory.handler(&admission, SessionControl { tx });
        let session = ServerSession::new(
            self.config.clone(),
            &admission.session_id,
            &admission.organization_id,
            Instant::now(),
        );
        tracing::debug!(session = %admission.session_id, correlation = %admission.correlation_id, "AudioHook session started");
        run_session(ws, session, handler, commands).await;
    }
}

/// The per-session loop: socket frames, application commands and timers in; actions out.
async fn run_session<S>(
    mut ws: WebSocketStream<S>,
    mut session: ServerSession,
    mut handler: Box<dyn SessionHandler>,
    mut commands: mpsc::Receiver<Box<ServerCommand>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // One timer for the whole session. The idle deadline moves with every frame; re-arming the
    // timer each time costs more than the frame itself, so the timer is only moved earlier, and
    // when it fires early the session simply finds nothing due and it is re-armed.
    let timer = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    'session: loop {
        while let Some(action) = session.poll_action() {
            match action {
                ServerAction::SendText(text) => {
                    if ws.send(Message::text(text)).await.is_err() {
                        break 'session;
                    }
                }
                ServerAction::Audio(chunk) => handler.on_audio(chunk),
                ServerAction::Event(event) => handler.on_event(&event),
                ServerAction::CloseSocket => {
                    let frame = close_frame(CloseCode::Normal);
                    close_handshake(&mut ws, Some(frame), CLOSE_HANDSHAKE_TIMEOUT).await;
                    break 'session;
                }
            }
        }
        match (session.poll_timeout(), armed) {
            (Some(due), Some(at)) if at <= due => {}
            (Some(due), _) => {
                timer.as_mut().reset(tokio::time::Instant::from_std(due));
                armed = Some(due);
            }
            (None, _) => armed = None,
        }
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => session.handle_text(Instant::now(), text.as_str()),
                Some(Ok(Message::Binary(bytes))) => session.handle_binary(Instant::now(), &bytes),
                // WebSocket pings are answered by tungstenite itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) => {
                    // The client closed (after `closed`, or unexpectedly): answer with the same
                    // status code before the socket is dropped, or the client sees 1006.
                    answer_close(&mut ws, CLOSE_HANDSHAKE_TIMEOUT).await;
                    break 'session;
                }
                None => break 'session,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, session = %session.id(), "AudioHook socket error");
                    break 'session;
                }
            },
            Some(command) = commands.recv() => apply(&mut session, *command),
            () = &mut timer, if armed.is_some() => {
                armed = None;
                session.handle_timeout(Instant::now());
            }
        }
    }
    handler.on_end(session.stats());
}

fn apply(session: &mut ServerSession, command: ServerCommand) {
    match command {
        ServerCommand::Pause => session.pause(),
        ServerCommand::Resume => session.resume(),
        ServerCommand::Event(entities) => {
            session.send_event(entities);
        }
        ServerCommand::Reconnect { info } => {
            session.reconnect(info);
        }
        ServerCommand::Disconnect {
            reason,
            info,
            output_variables,
        } => session.disconnect(Instant::now(), reason, info, output_variables),
    }
}

/// The `Sec-WebSocket-Key` of a valid WebSocket upgrade request (no subprotocol is required).
fn websocket_key<B>(request: &Request<B>) -> Result<String, String> {
    let h = request.headers();
    let has = |name: header::HeaderName, token: &str| {
        h.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(token))
    };
    if request.method() != http::Method::GET
        || !has(header::UPGRADE, "websocket")
        || !has(header::CONNECTION, "upgrade")
    {
        return Err("expected a WebSocket upgrade (GET with Upgrade: websocket)".into());
    }
    if h.get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        return Err("Sec-WebSocket-Version must be 13".into());
    }
    h.get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| "Sec-WebSocket-Key missing".into())
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response<String> {
    let body = serde_json::json!({"error": code, "message": message}).to_string();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Serves AudioHook on `path` of a plain TCP listener until `shutdown` completes; other paths
/// answer 404. For embedding without a web framework (and for tests).
pub async fn serve(
    listener: TcpListener,
    path: &str,
    server: Arc<AudioHookServer>,
    shutdown: impl Future<Output = ()>,
) {
    let path: Arc<str> = path.into();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer): (_, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let _ = stream.set_nodelay(true);
        let (server, path) = (Arc::clone(&server), Arc::clone(&path));
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (server, path) = (Arc::clone(&server), Arc::clone(&path));
                    async move {
                        if request.uri().path() != &*path {
                            return Ok::<_, std::convert::Infallible>(json_error(
                                StatusCode::NOT_FOUND,
                                "NotFound",
                                "no AudioHook endpoint here",
                            ));
                        }
                        Ok(server.handle(request, "http").await)
                    }
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
}
