//! The tokio client against the tokio server over real sockets on 127.0.0.1: every flow of the
//! spec, and the error cases, with a raw WebSocket client where the real one would never
//! misbehave.
#![cfg(feature = "tokio")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use hark_audio::{Channel, ChannelLayout, Encoding};
use hark_audiohook::net::{
    Acceptor, Admission, AudioHookServer, ClientOptions, CloseHandshake, HandlerFactory,
    ServerCommand, SessionControl, SessionHandler, StreamScript, ToneSource, Transport,
    close_frame, close_handshake, connect, run_client, serve, signed_upgrade_request,
};
use hark_audiohook::proto::client::ClientConfig;
use hark_audiohook::proto::message::{CloseReason, DisconnectReason, NIL_UUID};
use hark_audiohook::proto::server::{AudioChunk, ServerConfig, SessionEvent, SessionStats};
use hark_audiohook::proto::signature::ApiKeys;
use hark_audiohook::proto::{MediaFormat, Position};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const KEY: &str = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
const SECRET: &str = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";
const OPEN_KEY: &str = "unsigned-test-key";
const ORG: &str = "34e80ec9-a57e-4a06-be8b-b1f2567df796";

/// What the server side saw of one session.
#[derive(Default, Debug)]
struct Seen {
    events: Vec<SessionEvent>,
    samples: u64,
    external: Vec<i16>,
    ended: Option<SessionStats>,
}

/// How the test server steers each session.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Record,
    PauseThenResume,
    DisconnectAfterAudio,
}

struct SessionCapture {
    seen: Arc<Mutex<Seen>>,
    ended: tokio::sync::watch::Sender<Option<SessionStats>>,
    control: SessionControl,
    behaviour: Behaviour,
}

impl SessionHandler for SessionCapture {
    fn on_event(&mut self, event: &SessionEvent) {
        if self.behaviour == Behaviour::PauseThenResume {
            match event {
                SessionEvent::Opened { .. } => assert!(self.control.send(ServerCommand::Pause)),
                SessionEvent::Paused { .. } => assert!(self.control.send(ServerCommand::Resume)),
                _ => {}
            }
        }
        self.seen.lock().unwrap().events.push(event.clone());
    }

    fn on_audio(&mut self, chunk: AudioChunk) {
        let frame = chunk.decode().unwrap();
        let mut seen = self.seen.lock().unwrap();
        seen.samples += frame.frames() as u64;
        seen.external
            .extend(frame.channel(Channel::External).unwrap());
        if self.behaviour == Behaviour::DisconnectAfterAudio && seen.samples >= 3200 {
            self.control.send(ServerCommand::Disconnect {
                reason: DisconnectReason::Completed,
                info: None,
                output_variables: None,
            });
        }
    }

    fn on_end(&mut self, stats: &SessionStats) {
        self.seen.lock().unwrap().ended = Some(stats.clone());
        self.ended.send_replace(Some(stats.clone()));
    }
}

struct Factory {
    seen: Arc<Mutex<Seen>>,
    ended: tokio::sync::watch::Sender<Option<SessionStats>>,
    behaviour: Behaviour,
}

impl HandlerFactory for Factory {
    fn handler(&self, _: &Admission, control: SessionControl) -> Box<dyn SessionHandler> {
        Box::new(SessionCapture {
            seen: Arc::clone(&self.seen),
            ended: self.ended.clone(),
            control,
            behaviour: self.behaviour,
        })
    }
}

/// A running test server.
struct TestServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    ended: tokio::sync::watch::Receiver<Option<SessionStats>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestServer {
    async fn start(behaviour: Behaviour) -> Self {
        let mut keys = ApiKeys::default();
        keys.insert(KEY, Some(SECRET)).unwrap();
        keys.insert(OPEN_KEY, None).unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (ended_tx, ended) = tokio::sync::watch::channel(None);
        let factory = Arc::new(Factory {
            seen: Arc::clone(&seen),
            ended: ended_tx,
            behaviour,
        });
        let server = Arc::new(AudioHookServer::new(
            Acceptor::new(keys),
            ServerConfig::default(),
            factory,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, "/audiohook/ws", server, async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            seen,
            ended,
            _stop: stop,
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/audiohook/ws", self.addr)
    }

    /// Waits (bounded) until the server has seen the session end.
    async fn ended(&self) -> SessionStats {
        let mut ended = self.ended.clone();
        let stats = tokio::time::timeout(Duration::from_secs(15), ended.wait_for(Option::is_some))
            .await
            .expect("the server never saw the session end")
            .unwrap();
        stats.clone().unwrap()
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn options(server: &TestServer, conversation: &str) -> ClientOptions {
    let stereo = MediaFormat {
        encoding: Encoding::Pcmu,
        layout: ChannelLayout::CUSTOMER_LEFT,
        rate: 8000,
    };
    ClientOptions::new(
        server.url(),
        KEY,
        Some(SECRET.into()),
        ClientConfig::new(&uuid(), ORG, conversation, vec![stereo]),
    )
}

#[tokio::test]
async fn normal_signed_session_delivers_every_sample() {
    let server = TestServer::start(Behaviour::Record).await;
    let opts = options(&server, &uuid());
    let report = run_client(
        &opts,
        &mut ToneSource::new(Duration::from_millis(1600)),
        &StreamScript::default(),
    )
    .await
    .unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.frames_sent, 8);
    assert_eq!(
        report.socket_close,
        Some(CloseHandshake::Completed(Some(1000))),
        "the client closed with 1000 and waited for the server's answer"
    );
    assert!(
        !report.rtts.is_empty(),
        "a ping went out after 1 s and was answered"
    );
    let stats = server.ended().await;
    assert_eq!(stats.samples, 12_800);
    let seen = server.seen.lock().unwrap();
    assert!(matches!(
        seen.events[0],
        SessionEvent::Opened { probe: false, .. }
    ));
    assert!(matches!(
        seen.events.last(),
        Some(SessionEvent::Closing {
            reason: CloseReason::End
        })
    ));
    let level = hark_audio::analysis::tone_power_dbfs(&seen.external[4000..12_000], 440.0, 8000);
    assert!(
        (-13.0..-11.0).contains(&level),
        "customer tone arrives on the external channel: {level}"
    );
}

#[tokio::test]
async fn connection_probe() {
    let server = TestServer::start(Behaviour::Record).await;
    let mut opts = options(&server, NIL_UUID);
    opts.session.participant.id = NIL_UUID.into();
    let report = run_client(
        &opts,
        &mut ToneSource::new(Duration::ZERO),
        &StreamScript::default(),
    )
    .await
    .unwrap();
    assert!(report.is_clean(), "{report:?}");
    server.ended().await;
    assert!(matches!(
        server.seen.lock().unwrap().events[0],
        SessionEvent::Opened { probe: true, .. }
    ));
}

#[tokio::test]
async fn client_secure_pause_withholds_audio_and_reports_the_gap() {
    let server = TestServer::start(Behaviour::Record).await;
    let opts = options(&server, &uuid());
    let mut script = StreamScript::default();
    script.pause_at = vec![Position::from_nanos(400_000_000)];
    script.resume_at = vec![Position::from_nanos(1_000_000_000)];
    let report = run_client(
        &opts,
        &mut ToneSource::new(Duration::from_millis(1400)),
        &script,
    )
    .await
    .unwrap();
    assert!(report.is_clean(), "{report:?}");
    let stats = server.ended().await;
    assert_eq!(stats.samples, 8000 * 8 / 10, "0.6 s of 1.4 s withheld");
    assert_eq!(stats.paused.to_string(), "PT0.6S");
    let seen = server.seen.lock().unwrap();
    assert!(seen.events.iter().any(
        |e| matches!(e, SessionEvent::Paused { position } if position.to_string() == "PT0.4S")
    ));
}

#[tokio::test]
async fn server_pause_and_resume() {
    let server = TestServer::start(Behaviour::PauseThenResume).await;
    let report = run_client(
        &options(&server, &uuid()),
        &mut ToneSource::new(Duration::from_millis(1000)),
        &StreamScript::default(),
    )
    .await
    .unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.server_pauses, 1);
    let stats = server.ended().await;
    let seen = server.seen.lock().unwrap();
    assert!(
        seen.events
            .iter()
            .any(|e| matches!(e, SessionEvent::Resumed(_)))
    );
    assert_eq!(
        Position::from_samples(stats.samples, 8000)
            .saturating_add(stats.paused)
            .to_string(),
        "PT1S"
    );
}

#[tokio::test]
async fn server_disconnect_ends_the_session_cleanly() {
    let server = TestServer::start(Behaviour::DisconnectAfterAudio).await;
    let report = run_client(
        &options(&server, &uuid()),
        &mut ToneSource::new(Duration::from_secs(5)),
        &StreamScript::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        report.disconnect.as_ref().map(|d| d.reason),
        Some(DisconnectReason::Completed)
    );
    assert_eq!(report.closed, Some((CloseReason::Disconnect, true)));
    assert!(
        report.frames_sent < 25,
        "the client stopped streaming after disconnect"
    );
}

#[tokio::test]
async fn bad_signatures_get_401_after_half_a_second() {
    let server = TestServer::start(Behaviour::Record).await;
    let mut wrong = options(&server, &uuid());
    wrong.client_secret = Some("d3Jvbmcgc2VjcmV0".into());
    let started = Instant::now();
    let err = run_client(
        &wrong,
        &mut ToneSource::new(Duration::ZERO),
        &StreamScript::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            hark_audiohook::net::ClientError::Http { status: 401, .. }
        ),
        "{err}"
    );
    // The refusal says why, as the server's JSON body put it.
    assert!(
        matches!(&err, hark_audiohook::net::ClientError::Http { message, .. } if !message.is_empty()),
        "{err}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "failure answered after {:?}",
        started.elapsed()
    );

    let mut unsigned = options(&server, &uuid());
    unsigned.client_secret = None;
    let err = run_client(
        &unsigned,
        &mut ToneSource::new(Duration::ZERO),
        &StreamScript::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        hark_audiohook::net::ClientError::Http { status: 401, .. }
    ));

    // A signature created 60 s ago is stale.
    let opts = options(&server, &uuid());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stale = signed_upgrade_request(&opts, "c3RhbGVzdGFsZXN0YWxlc3RhbGU=", now - 60).unwrap();
    let err = tokio_tungstenite::connect_async(stale).await.unwrap_err();
    assert!(matches!(err, tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 401));

    // The same signed request twice: the second is a replay.
    let fresh = || signed_upgrade_request(&opts, "cmVwbGF5cmVwbGF5cmVwbGF5cmVw", now).unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(fresh()).await.unwrap();
    let err = tokio_tungstenite::connect_async(fresh()).await.unwrap_err();
    assert!(matches!(err, tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 401));
    let _ = ws.close(None).await;
}

#[tokio::test]
async fn non_upgrade_and_missing_headers_get_400_and_other_paths_404() {
    let server = TestServer::start(Behaviour::Record).await;
    let mut request = server.url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("x-api-key", OPEN_KEY.parse().unwrap());
    let err = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert!(matches!(err, tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 400));
    let other = format!("ws://{}/elsewhere", server.addr)
        .into_client_request()
        .unwrap();
    let err = tokio_tungstenite::connect_async(other).await.unwrap_err();
    assert!(matches!(err, tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 404));
}

/// A hand-driven WebSocket client (unsigned key) for the error cases.
struct Raw {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    id: String,
    seq: u64,
}

impl Raw {
    async fn connect(server: &TestServer) -> Raw {
        let id = uuid();
        let mut request = server.url().into_client_request().unwrap();
        for (k, v) in [
            ("audiohook-session-id", id.as_str()),
            ("audiohook-organization-id", ORG),
            ("audiohook-correlation-id", &uuid()),
            ("x-api-key", OPEN_KEY),
        ] {
            request.headers_mut().insert(k, v.parse().unwrap());
        }
        let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Raw { ws, id, seq: 0 }
    }

    fn message(&mut self, kind: &str, parameters: Value) -> String {
        self.seq += 1;
        json!({"version": "2", "id": self.id, "type": kind, "seq": self.seq, "serverseq": 0, "position": "PT0S", "parameters": parameters}).to_string()
    }

    async fn send_text(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    async fn open(&mut self, media: Value) -> Value {
        let open = self.message(
            "open",
            json!({"organizationId": ORG, "conversationId": uuid(),
            "participant": {"id": uuid(), "ani": "", "aniName": "", "dnis": ""}, "media": media}),
        );
        self.send_text(open).await;
        self.next().await
    }

    async fn next(&mut self) -> Value {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .unwrap()
            {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// Sends a WebSocket Close and returns the server's answering Close frame; panics if the
    /// connection ends without one (what a peer reports as 1006).
    async fn close_socket(&mut self, frame: Option<CloseFrame>) -> Option<CloseFrame> {
        self.ws.send(Message::Close(frame)).await.unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .unwrap()
            {
                Some(Ok(Message::Close(answer))) => return answer,
                Some(Ok(_)) => continue,
                other => panic!("expected the server's Close frame, got {other:?}"),
            }
        }
    }

    /// Expects `disconnect` with reason `error` and returns its `info`.
    async fn expect_disconnect(&mut self) -> String {
        let m = self.next().await;
        assert_eq!(m["type"], "disconnect", "{m}");
        assert_eq!(m["parameters"]["reason"], "error");
        m["parameters"]["info"].as_str().unwrap().to_owned()
    }
}

fn stereo_offer() -> Value {
    json!([{"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}])
}

#[tokio::test]
async fn protocol_violations_over_the_wire() {
    let server = TestServer::start(Behaviour::Record).await;

    let mut raw = Raw::connect(&server).await;
    raw.ws
        .send(Message::binary(vec![0xFFu8; 320]))
        .await
        .unwrap();
    assert_eq!(
        raw.expect_disconnect().await,
        "Received audio in state AWAITINGOPEN"
    );

    let mut raw = Raw::connect(&server).await;
    assert_eq!(raw.open(stereo_offer()).await["type"], "opened");
    raw.seq += 1; // skip one
    let ping = raw.message("ping", json!({}));
    raw.send_text(ping).await;
    assert_eq!(
        raw.expect_disconnect().await,
        "Invalid seq value (not monotonically increasing)"
    );

    let mut raw = Raw::connect(&server).await;
    raw.open(stereo_offer()).await;
    let ping = raw
        .message("ping", json!({}))
        .replace(&raw.id, "11111111-1111-4111-8111-111111111111");
    raw.send_text(ping).await;
    assert_eq!(raw.expect_disconnect().await, "Session identifier mismatch");

    let mut raw = Raw::connect(&server).await;
    raw.open(stereo_offer()).await;
    raw.send_text(format!("{{\"pad\":\"{}\"}}", "x".repeat(70_000)))
        .await;
    assert_eq!(
        raw.expect_disconnect().await,
        "Text message too large (>64K)"
    );

    let mut raw = Raw::connect(&server).await;
    let opened = raw
        .open(json!([{"type": "audio", "format": "G729", "channels": ["external"], "rate": 8000}]))
        .await;
    assert_eq!(opened["parameters"]["media"], json!([]));
    raw.ws.send(Message::binary(vec![0u8; 160])).await.unwrap();
    assert_eq!(
        raw.expect_disconnect().await,
        "Received audio but no media was negotiated"
    );

    // After a violation, close still gets closed.
    let close = raw.message("close", json!({"reason": "disconnect"}));
    raw.send_text(close).await;
    assert_eq!(raw.next().await["type"], "closed");
}

#[tokio::test]
async fn inverted_channel_order_over_the_wire() {
    let server = TestServer::start(Behaviour::Record).await;
    let mut raw = Raw::connect(&server).await;
    let offer = json!([{"type": "audio", "format": "L16", "channels": ["internal", "external"], "rate": 8000}]);
    let opened = raw.open(offer.clone()).await;
    assert_eq!(opened["parameters"]["media"], offer);
    // internal = 1000, external = -1000, little-endian L16
    let frame: Vec<u8> = (0..160)
        .flat_map(|_| [1000i16.to_le_bytes(), (-1000i16).to_le_bytes()].concat())
        .collect();
    raw.ws.send(Message::binary(frame)).await.unwrap();
    let close = raw.message("close", json!({"reason": "end"}));
    raw.send_text(close).await;
    assert_eq!(raw.next().await["type"], "closed");
    raw.ws.close(None).await.unwrap();
    server.ended().await;
    assert!(
        server
            .seen
            .lock()
            .unwrap()
            .external
            .iter()
            .all(|&s| s == -1000)
    );
}

#[tokio::test]
async fn discarded_update_error_and_unknown_messages_are_accepted_over_the_wire() {
    let server = TestServer::start(Behaviour::Record).await;
    let mut raw = Raw::connect(&server).await;
    raw.open(stereo_offer()).await;
    for (kind, parameters) in [
        (
            "discarded",
            json!({"start": "PT6.3S", "discarded": "PT0.3S"}),
        ),
        ("update", json!({"language": "en-US"})),
        (
            "error",
            json!({"code": 429, "message": "rate limited", "retryAfter": "PT1S"}),
        ),
        ("dtmf", json!({"digit": "7"})),
        ("something_new", json!({})),
    ] {
        let m = raw.message(kind, parameters);
        raw.send_text(m).await;
    }
    // Still alive: a ping is answered with the next server seq, echoing our seq.
    let ping = raw.message("ping", json!({}));
    raw.send_text(ping).await;
    let pong = raw.next().await;
    assert_eq!(
        (
            pong["type"].as_str(),
            pong["seq"].as_u64(),
            pong["clientseq"].as_u64()
        ),
        (Some("pong"), Some(2), Some(7))
    );
    let close = raw.message("close", json!({"reason": "end"}));
    raw.send_text(close).await;
    assert_eq!(raw.next().await["type"], "closed");
    raw.ws.close(None).await.unwrap();
    let stats = server.ended().await;
    assert_eq!(stats.discarded.to_string(), "PT0.3S");
    let seen = server.seen.lock().unwrap();
    assert!(seen.events.iter().any(
        |e| matches!(e, SessionEvent::Updated { language } if language.as_deref() == Some("en-US"))
    ));
    assert!(
        seen.events
            .iter()
            .any(|e| matches!(e, SessionEvent::ClientError(err) if err.code == 429))
    );
    assert!(
        seen.events
            .iter()
            .any(|e| matches!(e, SessionEvent::Dtmf(d) if d == "7"))
    );
    assert!(
        seen.events
            .iter()
            .any(|e| matches!(e, SessionEvent::UnknownMessage { kind } if kind == "something_new"))
    );
}

#[tokio::test]
async fn the_server_answers_a_client_close_with_the_same_status_code() {
    let server = TestServer::start(Behaviour::Record).await;
    let code = |frame: Option<CloseFrame>| frame.map(|f| u16::from(f.code));

    // The normal end: close → closed, then the client closes the WebSocket.
    let mut raw = Raw::connect(&server).await;
    raw.open(stereo_offer()).await;
    let close = raw.message("close", json!({"reason": "end"}));
    raw.send_text(close).await;
    assert_eq!(raw.next().await["type"], "closed");
    let answer = raw
        .close_socket(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .await;
    assert_eq!(code(answer), Some(1000));
    // Then the server drops the connection: a clean end, not a reset.
    assert!(raw.ws.next().await.is_none());
    server.ended().await;

    // A Close in the middle of the session (the client went away).
    let mut raw = Raw::connect(&server).await;
    raw.open(stereo_offer()).await;
    let answer = raw
        .close_socket(Some(CloseFrame {
            code: CloseCode::Away,
            reason: "".into(),
        }))
        .await;
    assert_eq!(code(answer), Some(1001));

    // Genesys' reference client closes without a status code (1005): echoed as such.
    let mut raw = Raw::connect(&server).await;
    raw.open(stereo_offer()).await;
    let close = raw.message("close", json!({"reason": "end"}));
    raw.send_text(close).await;
    assert_eq!(raw.next().await["type"], "closed");
    assert_eq!(raw.close_socket(None).await, None);
}

#[tokio::test]
async fn the_client_close_handshake_gives_up_on_a_silent_peer() {
    // A WebSocket server that never reads again, so it never answers our Close.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let _ = released.await;
        drop(ws);
    });
    let stereo = MediaFormat {
        encoding: Encoding::Pcmu,
        layout: ChannelLayout::CUSTOMER_LEFT,
        rate: 8000,
    };
    let options = ClientOptions::new(
        format!("ws://{addr}/"),
        KEY,
        None,
        ClientConfig::new(&uuid(), ORG, &uuid(), vec![stereo]),
    );
    let mut ws = connect(&options, &Transport::default()).await.unwrap();
    let started = Instant::now();
    let outcome = close_handshake(
        &mut ws,
        Some(close_frame(CloseCode::Normal)),
        Duration::from_millis(200),
    )
    .await;
    assert_eq!(outcome, CloseHandshake::TimedOut);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(started.elapsed() < Duration::from_secs(5));
    let _ = release.send(());
}
