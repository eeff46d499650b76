//! The tokio shell against hark-audiohook's own AudioHook server as the monitors: a call's audio
//! fanned out, secure pauses, stops, and a monitor that is down when the call starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hark_audio::{AudioFrame, ChannelLayout, Encoding};
use hark_audiohook::net::{
    Acceptor, Admission, AudioHookServer, HandlerFactory, SessionControl, SessionHandler, serve,
};
use hark_audiohook::proto::Position;
use hark_audiohook::proto::media::MediaFormat;
use hark_audiohook::proto::message::{Gap, Participant};
use hark_audiohook::proto::server::{AudioChunk, ServerConfig, SessionEvent, SessionStats};
use hark_audiohook::proto::signature::ApiKeys;
use hark_monitor::net::{
    IgnoreEvents, Monitoring, ObserverFactory, StreamEvent, StreamObserver, StreamSettings,
};
use hark_monitor::stream::StreamSnapshot;
use hark_monitor::{
    CallIdentity, CallInfo, MemoryMonitorStore, MonitorIntegration, MonitorRegistry,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

const ORG: &str = "34e80ec9-a57e-4a06-be8b-b1f2567df796";
const SECRET: &str = "c2VjcmV0LWZvci10aGUtbW9uaXRvcg==";

/// What one monitor session received.
#[derive(Debug, Default, Clone)]
struct Received {
    conversation: String,
    custom_config: Option<serde_json::Map<String, Value>>,
    samples: Vec<i16>,
    starts: Vec<Position>,
    gaps: Vec<String>,
    ended: bool,
}

#[derive(Default)]
struct SessionCapture {
    sessions: Mutex<Vec<Arc<Mutex<Received>>>>,
    changed: Notify,
}

impl SessionCapture {
    async fn wait(&self, what: &str, check: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let notified = self.changed.notified();
                let all: Vec<Received> = self
                    .sessions
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|s| s.lock().unwrap().clone())
                    .collect();
                if check(&all) {
                    return all;
                }
                notified.await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            let all: Vec<Received> = self
                .sessions
                .lock()
                .unwrap()
                .iter()
                .map(|s| s.lock().unwrap().clone())
                .collect();
            let summary: Vec<String> = all
                .iter()
                .map(|r| {
                    format!(
                        "{} samples, gaps {:?}, ended {}",
                        r.samples.len(),
                        r.gaps,
                        r.ended
                    )
                })
                .collect();
            panic!("timed out waiting for {what}: {summary:?}")
        })
    }
}

struct Factory(Arc<SessionCapture>);

impl HandlerFactory for Factory {
    fn handler(&self, _a: &Admission, _c: SessionControl) -> Box<dyn SessionHandler> {
        let received = Arc::new(Mutex::new(Received::default()));
        self.0.sessions.lock().unwrap().push(Arc::clone(&received));
        Box::new(Handler {
            received,
            recorder: Arc::clone(&self.0),
        })
    }
}

struct Handler {
    received: Arc<Mutex<Received>>,
    recorder: Arc<SessionCapture>,
}

impl SessionHandler for Handler {
    fn on_event(&mut self, event: &SessionEvent) {
        let ms = |p: &Position| p.as_duration().as_millis();
        let mut r = self.received.lock().unwrap();
        match event {
            SessionEvent::Opened { open, .. } => {
                r.conversation = open.conversation_id.clone();
                r.custom_config = open.custom_config.clone();
            }
            SessionEvent::Paused { position } => r.gaps.push(format!("paused {}", ms(position))),
            SessionEvent::Resumed(g) => {
                r.gaps
                    .push(format!("resumed {}+{}", ms(&g.start), ms(&g.discarded)))
            }
            SessionEvent::Discarded(g) => {
                r.gaps
                    .push(format!("discarded {}+{}", ms(&g.start), ms(&g.discarded)))
            }
            _ => {}
        }
        drop(r);
        self.recorder.changed.notify_waiters();
    }

    fn on_audio(&mut self, chunk: AudioChunk) {
        let mut r = self.received.lock().unwrap();
        r.starts.push(chunk.timeline_start);
        r.samples.extend(chunk.decode().unwrap().samples());
        drop(r);
        self.recorder.changed.notify_waiters();
    }

    fn on_end(&mut self, _stats: &SessionStats) {
        self.received.lock().unwrap().ended = true;
        self.recorder.changed.notify_waiters();
    }
}

async fn monitor_server(listener: TcpListener) -> Arc<SessionCapture> {
    monitor_server_with(listener, ServerConfig::default()).await
}

async fn monitor_server_with(listener: TcpListener, config: ServerConfig) -> Arc<SessionCapture> {
    let recorder = Arc::new(SessionCapture::default());
    let mut keys = ApiKeys::default();
    keys.insert("monitor-key", Some(SECRET)).unwrap();
    let server = Arc::new(AudioHookServer::new(
        Acceptor::new(keys),
        config,
        Arc::new(Factory(Arc::clone(&recorder))),
    ));
    tokio::spawn(serve(listener, "/ws", server, std::future::pending()));
    recorder
}

fn integration(name: &str, addr: SocketAddr) -> MonitorIntegration {
    MonitorIntegration {
        name: name.into(),
        uri: format!("ws://{addr}/ws"),
        api_key: "monitor-key".into(),
        client_secret: Some(SECRET.into()),
        enabled: true,
        calls: Default::default(),
        custom_config: None,
    }
}

fn format() -> MediaFormat {
    MediaFormat {
        encoding: Encoding::Pcmu,
        layout: ChannelLayout::CUSTOMER_LEFT,
        rate: 8000,
    }
}

fn call(call_id: &str) -> CallIdentity {
    CallIdentity {
        call_id: call_id.into(),
        organization_id: ORG.into(),
        conversation_id: "75b48018-1edd-4484-be2f-be322c0a1750".into(),
        participant: Participant {
            id: "d1a2c3b4-0000-4000-8000-000000000001".into(),
            ..Participant::default()
        },
        language: None,
        media: format(),
    }
}

/// 200 ms chunk number `i` at `start_ms`: samples that tell chunks apart after G.711.
fn chunk(i: u64, start_ms: u64) -> AudioChunk {
    let level = ((i % 50) as i16 + 1) * 256;
    let frame = AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 8000, vec![level; 3200]).unwrap();
    AudioChunk {
        payload: frame.encode(Encoding::Pcmu),
        format: format(),
        received_before: i * 1600,
        timeline_start: Position::from(Duration::from_millis(start_ms)),
    }
}

fn monitoring(monitors: &[MonitorIntegration], settings: StreamSettings) -> Monitoring {
    monitoring_observed(monitors, settings, Arc::new(IgnoreEvents))
}

fn monitoring_observed(
    monitors: &[MonitorIntegration],
    settings: StreamSettings,
    observers: Arc<dyn ObserverFactory>,
) -> Monitoring {
    let registry = Arc::new(MonitorRegistry::new(Arc::new(MemoryMonitorStore::default())).unwrap());
    for m in monitors {
        registry.create(m.clone()).unwrap();
    }
    Monitoring::new(registry, settings, true, observers)
}

/// Keeps the final snapshot of every stream that finished.
#[derive(Default)]
struct Finished {
    snapshots: Mutex<Vec<StreamSnapshot>>,
    changed: Notify,
}

impl Finished {
    async fn first(&self) -> StreamSnapshot {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let notified = self.changed.notified();
                if let Some(s) = self.snapshots.lock().unwrap().first() {
                    return s.clone();
                }
                notified.await;
            }
        })
        .await
        .expect("no stream finished")
    }
}

struct FinishedObserver(Arc<Finished>);

impl StreamObserver for FinishedObserver {
    fn on_event(&self, event: StreamEvent<'_>) {
        if let StreamEvent::Finished(snapshot) = event {
            self.0.snapshots.lock().unwrap().push(snapshot.clone());
            self.0.changed.notify_waiters();
        }
    }
}

impl ObserverFactory for FinishedObserver {
    fn observer(&self, _call: &CallIdentity, _monitor: &str) -> Arc<dyn StreamObserver> {
        Arc::new(FinishedObserver(Arc::clone(&self.0)))
    }
}

/// What a scripted monitor saw of the one session it serves.
#[derive(Debug, Default)]
struct Scripted {
    messages: Vec<Value>,
    audio_bytes: usize,
    /// The client's WebSocket Close: `Some(code)`, `Some(None)` without a status code.
    close: Option<Option<u16>>,
}

/// A monitor played by hand over a plain WebSocket: answers `open` with `opened` (plus
/// `opened_extra`), `ping` with `pong` and `close` with `closed`, and keeps what it saw.
fn scripted_monitor(
    listener: TcpListener,
    opened_extra: Value,
) -> tokio::task::JoinHandle<Scripted> {
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let mut seen = Scripted::default();
        let mut seq = 0;
        // Ends when the connection does: after the client's Close has been answered.
        while let Some(Ok(frame)) = ws.next().await {
            match frame {
                Message::Text(text) => {
                    let m: Value = serde_json::from_str(text.as_str()).unwrap();
                    let reply = match m["type"].as_str() {
                        Some("open") => {
                            let mut p = json!({"media": [m["parameters"]["media"][0]]});
                            let extra = opened_extra.as_object().cloned().unwrap_or_default();
                            p.as_object_mut().unwrap().extend(extra);
                            Some(("opened", p))
                        }
                        Some("ping") => Some(("pong", json!({}))),
                        Some("close") => Some(("closed", json!({}))),
                        _ => None,
                    };
                    if let Some((kind, parameters)) = reply {
                        seq += 1;
                        let answer = json!({"version": "2", "type": kind, "id": m["id"],
                            "seq": seq, "clientseq": m["seq"], "parameters": parameters});
                        ws.send(Message::text(answer.to_string())).await.unwrap();
                    }
                    seen.messages.push(m);
                }
                Message::Binary(bytes) => seen.audio_bytes += bytes.len(),
                Message::Close(frame) => seen.close = Some(frame.map(|f| u16::from(f.code))),
                _ => {}
            }
        }
        seen
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_monitors_get_the_same_audio_and_the_secure_pause_gap() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recorder = monitor_server(listener).await;
    let m = monitoring(
        &[integration("a", addr), integration("b", addr)],
        StreamSettings::default(),
    );
    let fanout = m.call_opened(call("call-1"), CallInfo::new(ORG, Default::default()));
    for i in 0..5 {
        fanout.audio(&chunk(i, i * 200));
    }
    fanout.paused(Position::from(Duration::from_millis(1000)));
    fanout.resumed(Gap {
        start: Position::from(Duration::from_millis(1000)),
        discarded: Position::from(Duration::from_secs(2)),
    });
    for i in 5..10 {
        fanout.audio(&chunk(i, 3000 + (i - 5) * 200));
    }
    m.call_ended("call-1");
    let all = recorder
        .wait("both sessions ended", |s| {
            s.len() == 2 && s.iter().all(|r| r.ended)
        })
        .await;
    assert_eq!(all[0].samples.len(), 10 * 3200);
    assert_eq!(all[0].samples, all[1].samples);
    for r in &all {
        assert_eq!(r.gaps, ["paused 1000", "resumed 1000+2000"]);
        assert_eq!(r.starts[5], Position::from(Duration::from_secs(3)));
        assert_eq!(r.conversation, call("x").conversation_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_down_at_call_start_gets_the_rest_of_the_call() {
    // Reserve a port, then close it: nothing listens there when the call starts.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let m = monitoring(&[integration("late", addr)], StreamSettings::default());
    let fanout = m.call_opened(call("call-2"), CallInfo::new(ORG, Default::default()));
    fanout.audio(&chunk(0, 0));
    // Let at least one attempt fail, then bring the monitor up.
    tokio::time::timeout(Duration::from_secs(10), async {
        while fanout.snapshots()[0].counters.failures == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let recorder = monitor_server(TcpListener::bind(addr).await.unwrap()).await;
    recorder.wait("the late session", |s| !s.is_empty()).await;
    for i in 1..4 {
        fanout.audio(&chunk(i, i * 200));
    }
    m.call_ended("call-2");
    let all = recorder
        .wait("it ended", |s| s.iter().all(|r| r.ended))
        .await;
    // The first chunk was queued while it was down, so it arrives too.
    assert_eq!(all[0].samples.len(), 4 * 3200);
    assert!(all[0].gaps.is_empty(), "{:?}", all[0].gaps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_stream_closes_and_a_restart_reports_the_missed_span() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recorder = monitor_server(listener).await;
    let m = monitoring(&[integration("a", addr)], StreamSettings::default());
    let fanout = m.call_opened(call("call-3"), CallInfo::new(ORG, Default::default()));
    let contact = fanout.call().conversation_id.clone();
    fanout.audio(&chunk(0, 0));
    recorder
        .wait("audio", |s| {
            s.first().is_some_and(|r| !r.samples.is_empty())
        })
        .await;
    m.stop(&contact, None).unwrap();
    recorder.wait("the stop", |s| s[0].ended).await;
    fanout.audio(&chunk(1, 200));
    m.start(&contact, Some(&["a".to_owned()])).unwrap();
    fanout.audio(&chunk(2, 400));
    m.call_ended("call-3");
    let all = recorder
        .wait("two sessions", |s| s.len() == 2 && s[1].ended)
        .await;
    assert_eq!(all[1].gaps, ["discarded 0+400"]);
    assert_eq!(all[1].samples.len(), 3200);
    assert!(matches!(
        m.start("no-such-contact", None),
        Err(hark_monitor::MonitorError::NoLiveCall(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_that_starts_paused_is_counted_as_paused_not_billable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = ServerConfig::default();
    config.start_paused = true;
    let recorder = monitor_server_with(listener, config).await;
    let finished = Arc::new(Finished::default());
    let m = monitoring_observed(
        &[integration("paused", addr)],
        StreamSettings::default(),
        Arc::new(FinishedObserver(Arc::clone(&finished))),
    );
    let fanout = m.call_opened(call("call-4"), CallInfo::new(ORG, Default::default()));
    fanout.audio(&chunk(0, 0));
    recorder
        .wait("the start-paused `paused`", |s| {
            s.first().is_some_and(|r| r.gaps == ["paused 0"])
        })
        .await;
    assert!(fanout.snapshots()[0].monitor_paused);
    m.call_ended("call-4");
    let done = finished.first().await;
    // The monitor never resumed: all of the connected time was its pause.
    assert!(done.usage.connected_seconds > 0.0, "{done:?}");
    assert_eq!(
        done.usage.monitor_paused_seconds, done.usage.connected_seconds,
        "{done:?}"
    );
    assert_eq!(done.usage.billable_seconds, 0.0, "{done:?}");
    assert_eq!(done.counters.frames_sent, 0);
    let all = recorder.wait("the end", |s| s[0].ended).await;
    assert!(all[0].samples.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discard_to_is_answered_exactly_and_the_session_ends_with_a_close_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let monitor = scripted_monitor(listener, json!({"discardTo": "PT0.5S"}));
    let m = monitoring(&[integration("scripted", addr)], StreamSettings::default());
    let fanout = m.call_opened(call("call-5"), CallInfo::new(ORG, Default::default()));
    for i in 0..5 {
        fanout.audio(&chunk(i, i * 200));
    }
    m.call_ended("call-5");
    let seen = tokio::time::timeout(Duration::from_secs(20), monitor)
        .await
        .expect("the monitor session never ended")
        .unwrap();
    let discarded: Vec<&Value> = seen
        .messages
        .iter()
        .filter(|m| m["type"] == "discarded")
        .collect();
    assert_eq!(discarded.len(), 1, "{:?}", seen.messages);
    assert_eq!(
        discarded[0]["parameters"],
        json!({"start": "PT0S", "discarded": "PT0.5S"})
    );
    assert_eq!(discarded[0]["position"], "PT0.5S");
    // The rest of the second: 0.5 s of stereo PCMU.
    assert_eq!(seen.audio_bytes, 4000 * 2);
    let kinds: Vec<&str> = seen
        .messages
        .iter()
        .filter_map(|m| m["type"].as_str())
        .collect();
    assert_eq!(kinds.last(), Some(&"close"));
    // The client closed the WebSocket with 1000 (after `closed`), and the scripted monitor's
    // answer ended the connection cleanly.
    assert_eq!(seen.close, Some(Some(1000)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_monitor_gets_its_own_custom_config_in_open() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recorder = monitor_server(listener).await;
    let mut assisted = integration("assist", addr);
    assisted.custom_config = json!({"agentassist": true, "kb": {"id": 7}})
        .as_object()
        .cloned();
    let m = monitoring(
        &[assisted, integration("plain", addr)],
        StreamSettings::default(),
    );
    let fanout = m.call_opened(call("call-6"), CallInfo::new(ORG, Default::default()));
    fanout.audio(&chunk(0, 0));
    m.call_ended("call-6");
    let all = recorder
        .wait("both sessions ended", |s| {
            s.len() == 2 && s.iter().all(|r| r.ended)
        })
        .await;
    let mut configs: Vec<Option<Value>> = all
        .iter()
        .map(|r| r.custom_config.clone().map(Value::Object))
        .collect();
    configs.sort_by_key(Option::is_some);
    assert_eq!(
        configs,
        [None, Some(json!({"agentassist": true, "kb": {"id": 7}}))]
    );
}
