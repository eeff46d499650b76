//! The client shell: connect with AudioHook headers and a signature, then stream paced audio.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use http::HeaderValue;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::AudioSource;
use super::client_error::ClientError;
use super::close::{
    CLOSE_HANDSHAKE_TIMEOUT, CloseHandshake, answer_close, close_frame, close_handshake,
};
use super::transport::{ClientIo, Transport};
use super::websocket_config;
use crate::proto::client::{ClientAction, ClientConfig, ClientEvent, ClientSession};
use crate::proto::message::{CloseReason, DisconnectParameters};
use crate::proto::position::Position;
use crate::proto::signature::{CoveredRequest, SignatureParams, sign};

/// Where and how to connect.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientOptions {
    /// `ws://host:port/path` of the AudioHook server.
    pub url: String,
    /// `X-API-KEY`.
    pub api_key: String,
    /// Base64 client secret; when set, the upgrade request is signed.
    pub client_secret: Option<String>,
    /// `Audiohook-Correlation-Id`.
    pub correlation_id: String,
    /// What `open` says, and the timers.
    pub session: ClientConfig,
}

impl ClientOptions {
    /// Options for one session to `url`, under a fresh correlation id.
    pub fn new(
        url: impl Into<String>,
        api_key: impl Into<String>,
        client_secret: Option<String>,
        session: ClientConfig,
    ) -> Self {
        ClientOptions {
            url: url.into(),
            api_key: api_key.into(),
            client_secret,
            correlation_id: uuid::Uuid::new_v4().to_string(),
            session,
        }
    }
}

/// Frame pacing and scripted pauses.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StreamScript {
    /// Audio per binary message (Genesys: 200 ms).
    pub frame: Duration,
    /// Stream positions at which the client pauses (a secure pause).
    pub pause_at: Vec<Position>,
    /// Stream positions at which the client resumes.
    pub resume_at: Vec<Position>,
    /// Audio seconds sent per wall-clock second: 1 is real time (as Genesys streams); more
    /// replays recordings faster (tests, load).
    pub speed: f64,
}

impl Default for StreamScript {
    fn default() -> Self {
        StreamScript {
            frame: Duration::from_millis(200),
            pause_at: Vec::new(),
            resume_at: Vec::new(),
            speed: 1.0,
        }
    }
}

/// What happened during one client session.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ClientReport {
    /// Time from sending `open` to receiving `opened`.
    pub open_latency: Option<Duration>,
    /// Ping round trips measured.
    pub rtts: Vec<Duration>,
    /// Binary messages sent.
    pub frames_sent: u64,
    /// Audio bytes sent.
    pub bytes_sent: u64,
    /// Frames sent later than their schedule by more than one frame length.
    pub late_frames: u64,
    /// The largest delay of a frame behind its schedule.
    pub max_lateness: Duration,
    /// Error codes the client sent to the server.
    pub errors_sent: Vec<u16>,
    /// The server's `disconnect`, if any.
    pub disconnect: Option<DisconnectParameters>,
    /// How the session closed, and whether `closed` arrived.
    pub closed: Option<(CloseReason, bool)>,
    /// Event entities received.
    pub entities: usize,
    /// Times the server paused the stream.
    pub server_pauses: u64,
    /// How the WebSocket close handshake we started at the end went.
    pub socket_close: Option<CloseHandshake>,
}

impl ClientReport {
    /// True when the session opened, ended with `closed`, and no error was exchanged.
    pub fn is_clean(&self) -> bool {
        self.open_latency.is_some()
            && self.errors_sent.is_empty()
            && matches!(self.closed, Some((_, true)))
    }
}

/// Connects, runs one session streaming `source` as `script` says, and reports.
pub async fn run_client(
    options: &ClientOptions,
    source: &mut dyn AudioSource,
    script: &StreamScript,
) -> Result<ClientReport, ClientError> {
    let mut ws = connect(options, &Transport::default()).await?;

    let mut session = ClientSession::new(options.session.clone());
    let mut report = ClientReport::default();
    let frames_per_block = hark_audio::frame::duration_to_frames(script.frame, 8000) as usize;
    let mut next_frame: Option<Instant> = None;
    let (mut pauses, mut resumes) = (
        script.pause_at.iter().peekable(),
        script.resume_at.iter().peekable(),
    );
    let started = Instant::now();
    session.start(started);

    loop {
        let mut socket_done = false;
        while let Some(action) = session.poll_action() {
            match action {
                ClientAction::SendText(text) => feed(&mut ws, Message::text(text)).await?,
                ClientAction::SendBinary(bytes) => {
                    report.frames_sent += 1;
                    report.bytes_sent += bytes.len() as u64;
                    feed(&mut ws, Message::binary(bytes)).await?;
                }
                ClientAction::Event(event) => record(&mut report, event, started, &mut next_frame),
                ClientAction::CloseSocket => socket_done = true,
            }
        }
        ws.flush()
            .await
            .map_err(|e| ClientError::Connection(e.to_string()))?;
        if socket_done {
            let frame = close_frame(CloseCode::Normal);
            report.socket_close =
                Some(close_handshake(&mut ws, Some(frame), CLOSE_HANDSHAKE_TIMEOUT).await);
            return Ok(report);
        }
        let deadline = [session.poll_timeout(), next_frame]
            .into_iter()
            .flatten()
            .min();
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => session.handle_text(Instant::now(), text.as_str()),
                Some(Ok(Message::Binary(bytes))) => session.handle_binary(Instant::now(), &bytes),
                Some(Ok(Message::Close(_))) => {
                    answer_close(&mut ws, CLOSE_HANDSHAKE_TIMEOUT).await;
                    return Err(ClientError::Connection("server closed the connection".into()));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(ClientError::Connection(e.to_string())),
                None => return Err(ClientError::Connection("server closed the connection".into())),
            },
            () = sleep_until(deadline) => {
                let now = Instant::now();
                session.handle_timeout(now);
                if let Some(due) = next_frame.filter(|due| *due <= now) {
                    let lateness = now - due;
                    report.max_lateness = report.max_lateness.max(lateness);
                    if lateness > script.frame {
                        report.late_frames += 1;
                    }
                    let position = session.position();
                    if pauses.next_if(|p| **p <= position).is_some() {
                        session.pause();
                    }
                    if resumes.next_if(|p| **p <= position).is_some() {
                        session.resume();
                    }
                    match source.read_block(frames_per_block) {
                        Some(block) => {
                            session.send_audio(block.as_ref()).map_err(|e| ClientError::Request(e.to_string()))?;
                            next_frame = Some(due + script.frame.div_f64(script.speed.max(0.01)));
                        }
                        None => {
                            next_frame = None;
                            session.close(now, CloseReason::End);
                        }
                    }
                }
            }
        }
    }
}

/// Opens an AudioHook WebSocket to `options.url` (`ws://`, or `wss://` with the `tls`
/// feature) with the AudioHook headers, signed with a fresh nonce when a client secret is given.
pub async fn connect(
    options: &ClientOptions,
    transport: &Transport,
) -> Result<WebSocketStream<ClientIo>, ClientError> {
    let request = upgrade_request(options)?;
    let uri = request.uri();
    let secure = uri.scheme_str() == Some("wss");
    let host = uri
        .host()
        .ok_or_else(|| ClientError::Request("URL has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = connect_tcp(&host, port, transport.send_buffer).await?;
    let io = if secure {
        secure_io(&host, tcp, transport).await?
    } else {
        ClientIo::Plain(tcp)
    };
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(request, io, Some(websocket_config()))
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(response) => ClientError::Http {
                    status: response.status().as_u16(),
                    message: response
                        .body()
                        .as_deref()
                        .map(super::client_error::refusal_message)
                        .unwrap_or_default(),
                },
                other => ClientError::Connection(other.to_string()),
            })?;
    Ok(ws)
}

#[cfg(feature = "tls")]
async fn secure_io(
    host: &str,
    tcp: TcpStream,
    transport: &Transport,
) -> Result<ClientIo, ClientError> {
    let tls = match &transport.tls {
        Some(tls) => tls.clone(),
        None => super::tls::TlsConnector::new(None)?,
    };
    Ok(ClientIo::Tls(Box::new(tls.connect(host, tcp).await?)))
}

#[cfg(not(feature = "tls"))]
async fn secure_io(
    _host: &str,
    _tcp: TcpStream,
    _transport: &Transport,
) -> Result<ClientIo, ClientError> {
    Err(ClientError::Request(
        "wss:// needs the `tls` feature of hark-audiohook".into(),
    ))
}

/// Connects to the first address of `host` that answers.
async fn connect_tcp(
    host: &str,
    port: u16,
    send_buffer: Option<u32>,
) -> Result<TcpStream, ClientError> {
    let failed = |e: std::io::Error| ClientError::Connection(format!("{host}:{port}: {e}"));
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port))
        .await
        .map_err(failed)?
    {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(failed)?;
        if let Some(bytes) = send_buffer {
            socket.set_send_buffer_size(bytes).map_err(failed)?;
        }
        match socket.connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(failed(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "no address")
    })))
}

fn record(
    report: &mut ClientReport,
    event: ClientEvent,
    started: Instant,
    next_frame: &mut Option<Instant>,
) {
    match event {
        ClientEvent::Opened { .. } => {
            let now = Instant::now();
            report.open_latency = Some(now - started);
            *next_frame = Some(now);
        }
        ClientEvent::RoundTrip(rtt) => report.rtts.push(rtt),
        ClientEvent::ErrorSent(e) => report.errors_sent.push(e.code),
        ClientEvent::Disconnected(d) => report.disconnect = Some(d),
        ClientEvent::Closed {
            reason,
            acknowledged,
        } => {
            report.closed = Some((reason, acknowledged));
            *next_frame = None;
        }
        ClientEvent::Entities(e) => report.entities += e.len(),
        ClientEvent::PausedByServer => report.server_pauses += 1,
        ClientEvent::ResumedByServer
        | ClientEvent::ReconnectRequested(_)
        | ClientEvent::Updated => {}
    }
}

async fn feed<S>(ws: &mut S, message: Message) -> Result<(), ClientError>
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    ws.feed(message)
        .await
        .map_err(|e| ClientError::Connection(e.to_string()))
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// The upgrade request with AudioHook headers and, with a client secret, a fresh signature.
fn upgrade_request(options: &ClientOptions) -> Result<http::Request<()>, ClientError> {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    signed_upgrade_request(options, &nonce()?, created)
}

/// The upgrade request signed with a chosen nonce and creation time (tests and tools).
pub fn signed_upgrade_request(
    options: &ClientOptions,
    nonce: &str,
    created: u64,
) -> Result<http::Request<()>, ClientError> {
    let bad = |e: &dyn std::fmt::Display| ClientError::Request(e.to_string());
    let mut request = options
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| bad(&e))?;
    let uri = request.uri().clone();
    let authority = uri
        .authority()
        .map(|a| a.to_string())
        .ok_or_else(|| ClientError::Request("URL has no host".into()))?;
    let target = uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.to_string());
    let identity = [
        (
            "audiohook-organization-id",
            options.session.organization_id.as_str(),
        ),
        ("audiohook-session-id", options.session.session_id.as_str()),
        ("audiohook-correlation-id", options.correlation_id.as_str()),
        ("x-api-key", options.api_key.as_str()),
        ("user-agent", "hark-audiohook-client"),
    ];
    for (name, value) in identity {
        request
            .headers_mut()
            .insert(name, HeaderValue::from_str(value).map_err(|e| bad(&e))?);
    }
    if let Some(secret) = &options.client_secret {
        let key = STANDARD.decode(secret).map_err(|e| bad(&e))?;
        let signed = CoveredRequest {
            method: "GET".into(),
            scheme: "http".into(),
            authority,
            request_target: target,
            headers: identity
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        };
        let params = SignatureParams {
            key_id: options.api_key.clone(),
            nonce: nonce.to_owned(),
            created,
            expires: created + 30,
        };
        let headers = sign(&signed, &key, &params).map_err(|e| bad(&e))?;
        request.headers_mut().insert(
            "signature-input",
            HeaderValue::from_str(&headers.signature_input).map_err(|e| bad(&e))?,
        );
        request.headers_mut().insert(
            "signature",
            HeaderValue::from_str(&headers.signature).map_err(|e| bad(&e))?,
        );
    }
    Ok(request)
}

/// 18 random bytes as base64: 24 characters, above the 22 required.
fn nonce() -> Result<String, ClientError> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).map_err(|e| ClientError::Request(format!("no randomness: {e}")))?;
    Ok(STANDARD.encode(bytes))
}
