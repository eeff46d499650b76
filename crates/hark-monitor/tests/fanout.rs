//! The tokio shell against hark-audiohook's own AudioHook server as the monitors: a call's audio
//! fanned out, secure pauses, stops, and a monitor that is down when the call starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hark_audio::{AudioFrame, ChannelLayout, Encoding};
use hark_audiohook::net::{
    Acceptor, Admission, AudioHookServer, HandlerFactory, SessionControl, SessionHandler, serve,
};
use hark_audiohook::proto::Position;
use hark_audiohook::proto::media::MediaFormat;
use hark_audiohook::proto::message::{Gap, Participant};
use hark_audiohook::proto::server::{AudioChunk, ServerConfig, SessionEvent, SessionStats};
use hark_audiohook::proto::signature::Keyring;
use hark_monitor::net::{IgnoreEvents, Monitoring, StreamSettings};
use hark_monitor::{
    CallIdentity, CallInfo, MemoryMonitorStore, MonitorIntegration, MonitorRegistry,
};
use tokio::net::TcpListener;
use tokio::sync::Notify;

const ORG: &str = "34e80ec9-a57e-4a06-be8b-b1f2567df796";
const SECRET: &str = "c2VjcmV0LWZvci10aGUtbW9uaXRvcg==";

/// What one monitor session received.
#[derive(Debug, Default, Clone)]
struct Received {
    conversation: String,
    samples: Vec<i16>,
    starts: Vec<Position>,
    gaps: Vec<String>,
    ended: bool,
}

#[derive(Default)]
struct Recorder {
    sessions: Mutex<Vec<Arc<Mutex<Received>>>>,
    changed: Notify,
}

impl Recorder {
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

struct Factory(Arc<Recorder>);

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
    recorder: Arc<Recorder>,
}

impl SessionHandler for Handler {
    fn on_event(&mut self, event: &SessionEvent) {
        let ms = |p: &Position| p.as_duration().as_millis();
        let mut r = self.received.lock().unwrap();
        match event {
            SessionEvent::Opened { open, .. } => r.conversation = open.conversation_id.clone(),
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

async fn monitor_server(listener: TcpListener) -> Arc<Recorder> {
    let recorder = Arc::new(Recorder::default());
    let mut keys = Keyring::default();
    keys.insert("monitor-key", Some(SECRET)).unwrap();
    let server = Arc::new(AudioHookServer::new(
        Acceptor::new(keys),
        ServerConfig::default(),
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
    let registry = Arc::new(MonitorRegistry::new(Arc::new(MemoryMonitorStore::default())).unwrap());
    for m in monitors {
        registry.create(m.clone()).unwrap();
    }
    Monitoring::new(registry, settings, true, Arc::new(IgnoreEvents))
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
