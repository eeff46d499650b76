//! Monitor streams end to end: a real `hark serve` in the middle, hark-audiohook's recording
//! server as the monitors, and the AudioHook client (`run_client`) as the ingest. Five monitors
//! get identical audio; a stalled one costs the call nothing and its discards add up; a secure
//! pause reaches no monitor; a monitor that is down at call start gets the rest of the call.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Hark, send};
use hark_audio::{AudioFrame, ChannelLayout, Encoding};
use hark_audiohook::net::{
    Acceptor, AudioHookServer, AudioSource, ClientOptions, ClientReport, RecordedSession,
    SessionCapture, StreamScript, ToneSource, run_client, serve,
};
use hark_audiohook::proto::client::ClientConfig;
use hark_audiohook::proto::media::MediaFormat;
use hark_audiohook::proto::message::Participant;
use hark_audiohook::proto::server::{ServerConfig, SessionEvent};
use hark_audiohook::proto::signature::ApiKeys;
use hark_audiohook::proto::{Gap, Position};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::runtime::Runtime;

const ORG: &str = "34e80ec9-a57e-4a06-be8b-b1f2567df796";
const MONITOR_KEY: &str = "monitor-key";
const MONITOR_SECRET: &str = "bW9uaXRvci1jbGllbnQtc2VjcmV0LTAxMjM0NTY3ODk=";
const WAIT: Duration = Duration::from_secs(40);

/// Real-time tests share two cores; one at a time keeps their timing honest.
static REAL_TIME: Mutex<()> = Mutex::new(());

struct Env {
    _dir: tempfile::TempDir,
    hark: Hark,
    rt: Runtime,
    monitor_auth: String,
    ingest_key: String,
    ingest_secret: String,
}

impl Env {
    fn start(hark_toml: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hark.toml"), hark_toml).unwrap();
        let hark = Hark::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]);
        let creds = credentials(dir.path());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Env {
            monitor_auth: format!("Bearer {}", creds["monitor"]["token"].as_str().unwrap()),
            ingest_key: creds["audiohook"]["api_key"].as_str().unwrap().to_owned(),
            ingest_secret: creds["audiohook"]["client_secret"]
                .as_str()
                .unwrap()
                .to_owned(),
            _dir: dir,
            hark,
            rt,
        }
    }

    fn api(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let auth = [("Authorization", self.monitor_auth.as_str())];
        let (status, body) = send(self.hark.addr, method, path, &auth, body);
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    fn add_monitor(&self, name: &str, addr: SocketAddr) -> (u16, Value) {
        let body = json!({
            "name": name,
            "uri": format!("ws://{addr}/ws"),
            "apiKey": MONITOR_KEY,
            "clientSecret": MONITOR_SECRET,
        });
        self.api("POST", "/v1/monitors", &body.to_string())
    }

    /// A monitor: hark-audiohook's server recording every session, on `listener`.
    fn monitor_on(&self, listener: TcpListener) -> SessionCapture {
        let recorder = SessionCapture::new();
        let mut keys = ApiKeys::default();
        keys.insert(MONITOR_KEY, Some(MONITOR_SECRET)).unwrap();
        let server = Arc::new(AudioHookServer::new(
            Acceptor::new(keys),
            ServerConfig::default(),
            Arc::new(recorder.clone()),
        ));
        self.rt
            .spawn(serve(listener, "/ws", server, std::future::pending()));
        recorder
    }

    fn monitor(&self) -> (SessionCapture, SocketAddr) {
        let listener = self.rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        (self.monitor_on(listener), addr)
    }

    /// Streams a two-tone call of `seconds` into hark, as `script` says; returns its handle.
    fn call(
        &self,
        conversation: &str,
        seconds: u64,
        script: StreamScript,
    ) -> tokio::task::JoinHandle<ClientReport> {
        let mut session = ClientConfig::new(
            &uuid::Uuid::new_v4().to_string(),
            ORG,
            conversation,
            vec![stereo()],
        );
        session.participant = Participant {
            id: "d1a2c3b4-0000-4000-8000-000000000001".into(),
            ani: "+15551234567".into(),
            ani_name: "Customer".into(),
            dnis: "+15557654321".into(),
        };
        session.language = Some("en-US".into());
        let options = ClientOptions::new(
            format!("ws://{}/audiohook/ws", self.hark.addr),
            self.ingest_key.clone(),
            Some(self.ingest_secret.clone()),
            session,
        );
        self.rt.spawn(async move {
            let mut source = ToneSource::new(Duration::from_secs(seconds));
            run_client(&options, &mut source, &script).await.unwrap()
        })
    }

    /// Waits (bounded) until the contact's monitoring status satisfies `done`.
    fn wait_monitoring(&self, contact: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let (_, body) = self.api("GET", &format!("/v1/contacts/{contact}/monitoring"), "");
            if done(&body) {
                return body;
            }
            assert!(Instant::now() < deadline, "never: {what} (last {body})");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn metric(&self, line_start: &str) -> f64 {
        let (_, text) = self.hark.get("/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(line_start))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

fn credentials(dir: &Path) -> toml::Table {
    std::fs::read_to_string(dir.join("hark-data/credentials.toml"))
        .unwrap()
        .parse()
        .unwrap()
}

fn stereo() -> MediaFormat {
    MediaFormat {
        encoding: Encoding::Pcmu,
        layout: ChannelLayout::CUSTOMER_LEFT,
        rate: 8000,
    }
}

/// The call's audio as a monitor must receive it: the tone source through PCMU.
fn expected_audio(seconds: u64) -> Vec<i16> {
    let frames = (seconds * 8000) as usize;
    let tone = ToneSource::new(Duration::from_secs(seconds))
        .read(frames)
        .unwrap();
    let pcmu = tone.encode(Encoding::Pcmu);
    AudioFrame::decode(Encoding::Pcmu, ChannelLayout::CUSTOMER_LEFT, 8000, &pcmu)
        .unwrap()
        .into_samples()
}

/// Stereo samples of `[from, to)` seconds.
fn span(audio: &[i16], from: f64, to: f64) -> &[i16] {
    let at = |s: f64| (s * 8000.0) as usize * 2;
    &audio[at(from)..at(to)]
}

fn wait_ended(recorder: &SessionCapture, rt: &Runtime, sessions: usize) -> Vec<RecordedSession> {
    rt.block_on(recorder.wait_for(WAIT, |s| s.len() >= sessions && s.iter().all(|r| r.ended)))
        .unwrap_or_else(|| {
            panic!(
                "monitor sessions never ended: {:?}",
                summary(&recorder.sessions())
            )
        })
}

fn summary(sessions: &[RecordedSession]) -> Vec<String> {
    sessions
        .iter()
        .map(|s| {
            format!(
                "{} chunks, ended {}, events {}",
                s.chunks.len(),
                s.ended,
                s.events.len()
            )
        })
        .collect()
}

fn gaps(session: &RecordedSession) -> Vec<(String, Gap)> {
    session
        .events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Discarded(g) => Some(("discarded".to_owned(), *g)),
            SessionEvent::Resumed(g) => Some(("resumed".to_owned(), *g)),
            _ => None,
        })
        .collect()
}

fn secs(p: Position) -> f64 {
    p.as_duration().as_secs_f64()
}

/// How far the latest chunk arrived behind the earliest, relative to the call's timeline.
fn lateness(session: &RecordedSession) -> Duration {
    let base = session.chunks[0].received_at;
    let offsets: Vec<f64> = session
        .chunks
        .iter()
        .map(|c| c.received_at.duration_since(base).as_secs_f64() - secs(c.timeline_start))
        .collect();
    let min = offsets.iter().copied().fold(f64::INFINITY, f64::min);
    let max = offsets.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Duration::from_secs_f64((max - min).max(0.0))
}

fn usage_of<'a>(status: &'a Value, monitor: &str) -> Option<&'a Value> {
    status["usage"]
        .as_array()?
        .iter()
        .find(|u| u["monitor"] == monitor)
}

#[test]
fn five_monitors_get_identical_audio_and_a_sixth_is_refused() {
    let _one = REAL_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let env = Env::start("");
    let monitors: Vec<(SessionCapture, SocketAddr)> = (0..5).map(|_| env.monitor()).collect();
    for (i, (_, addr)) in monitors.iter().enumerate() {
        let (status, view) = env.add_monitor(&format!("m{i}"), *addr);
        assert_eq!(status, 201, "{view}");
        assert_eq!(view["hasClientSecret"], true);
    }
    let (status, refused) = env.add_monitor("m5", monitors[0].1);
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "LimitReached");
    assert!(
        refused["message"].as_str().unwrap().contains("at most 5"),
        "{refused}"
    );
    let (_, listed) = env.api("GET", "/v1/monitors", "");
    assert_eq!(listed["monitors"].as_array().unwrap().len(), 5);
    let text = listed.to_string();
    assert!(
        !text.contains(MONITOR_SECRET) && !text.contains(MONITOR_KEY),
        "{text}"
    );

    let contact = uuid::Uuid::new_v4().to_string();
    let report = env
        .rt
        .block_on(env.call(&contact, 4, StreamScript::default()))
        .unwrap();
    assert!(report.is_clean(), "{report:?}");

    let expected = expected_audio(4);
    for (i, (recorder, _)) in monitors.iter().enumerate() {
        let sessions = wait_ended(recorder, &env.rt, 1);
        assert_eq!(sessions.len(), 1, "monitor m{i}");
        let open = sessions[0].open.as_ref().unwrap();
        assert_eq!(open.conversation_id, contact);
        assert_eq!(open.participant.ani, "+15551234567");
        assert_eq!(open.language.as_deref(), Some("en-US"));
        assert_eq!(sessions[0].media, Some(stereo()));
        assert!(
            sessions[0].samples() == expected,
            "monitor m{i} got different audio"
        );
        assert!(gaps(&sessions[0]).is_empty());
    }
    let status = env.wait_monitoring(&contact, "5 usage records", |s| {
        s["usage"].as_array().is_some_and(|u| u.len() == 5)
    });
    for usage in status["usage"].as_array().unwrap() {
        assert_eq!(usage["framesSent"], 20, "{usage}");
        assert_eq!(usage["discardedSeconds"], 0.0, "{usage}");
        assert!(
            usage["usage"]["billableSeconds"].as_f64().unwrap() > 3.5,
            "{usage}"
        );
    }
    assert_eq!(
        env.metric("hark_monitor_frames_sent_total{monitor=\"m3\"} "),
        20.0
    );
}

/// A TCP proxy in front of a monitor that, once `stall` is set, stops reading from hark for
/// good; its small receive buffer makes hark feel it soon.
async fn stalling_proxy(upstream: SocketAddr, stall: Arc<AtomicBool>) -> SocketAddr {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(16).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(upstream).await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
            });
            let stall = Arc::clone(&stall);
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                loop {
                    if stall.load(Ordering::SeqCst) {
                        // Keep the connection, read nothing more.
                        std::future::pending::<()>().await;
                    }
                    match client_read.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if server_write.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_stalled_monitor_costs_the_call_nothing_and_its_discards_add_up() {
    let _one = REAL_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let env = Env::start(
        "[monitor]\nqueue_seconds = 1\ndrain_seconds = 1\n\n[recording]\npolicy = \"every\"\n",
    );
    let healthy: Vec<(SessionCapture, SocketAddr)> = (0..4).map(|_| env.monitor()).collect();
    let (stalled, stalled_addr) = env.monitor();
    let stall = Arc::new(AtomicBool::new(false));
    let proxy = env
        .rt
        .block_on(stalling_proxy(stalled_addr, Arc::clone(&stall)));
    for (i, (_, addr)) in healthy.iter().enumerate() {
        assert_eq!(env.add_monitor(&format!("ok{i}"), *addr).0, 201);
    }
    assert_eq!(env.add_monitor("stalled", proxy).0, 201);

    let seconds = 12;
    let contact = uuid::Uuid::new_v4().to_string();
    let call = env.call(&contact, seconds, StreamScript::default());
    // Stall once the stalled monitor has had a second of audio.
    env.rt
        .block_on(stalled.wait_for(WAIT, |s| s.first().is_some_and(|r| r.chunks.len() >= 5)))
        .expect("the stalled monitor never got audio");
    stall.store(true, Ordering::SeqCst);
    let report = env.rt.block_on(call).unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.late_frames, 0, "the ingest fell behind: {report:?}");

    let expected = expected_audio(seconds);
    for (i, (recorder, _)) in healthy.iter().enumerate() {
        let sessions = wait_ended(recorder, &env.rt, 1);
        assert!(
            sessions[0].samples() == expected,
            "healthy monitor ok{i} lost audio"
        );
        let late = lateness(&sessions[0]);
        eprintln!("healthy monitor ok{i}: worst frame lateness {late:?}");
        assert!(
            late < Duration::from_secs(1),
            "ok{i} fell {late:?} behind real time"
        );
    }
    // The recording of the call is complete and nothing was dropped on its way to disk.
    let status = env.wait_monitoring(&contact, "the stalled stream's usage", |s| {
        usage_of(s, "stalled").is_some()
    });
    let usage = usage_of(&status, "stalled").unwrap();
    let sent = usage["framesSent"].as_f64().unwrap() * 0.2;
    let discarded = usage["discardedSeconds"].as_f64().unwrap();
    assert!(
        (sent + discarded - seconds as f64).abs() < 1e-6,
        "sent {sent} s + discarded {discarded} s != {seconds} s"
    );
    eprintln!("stalled monitor: {sent:.1} s sent, {discarded:.1} s discarded");
    assert!(discarded > 1.0, "the stall dropped only {discarded} s");
    let counted = env.metric("hark_monitor_discarded_seconds_total{monitor=\"stalled\"} ");
    assert!(
        (counted - discarded).abs() < 1e-6,
        "metrics {counted} vs API {discarded}"
    );
    for ok in usage_records(&status, "ok") {
        assert_eq!(ok["discardedSeconds"], 0.0, "{ok}");
    }
    let received: usize = stalled.sessions()[0].chunks.len();
    assert!(
        (received as f64) * 0.2 <= sent,
        "received {received} frames, sent {sent} s"
    );
    let recording = wait_recording(&env);
    assert_eq!(recording["dropped_blocks"], 0, "{recording}");
    assert!(recording["duration_seconds"].as_f64().unwrap() >= seconds as f64 - 0.01);
    assert_eq!(env.metric("hark_recording_dropped_blocks_total "), 0.0);
    drop(stall);
}

fn usage_records<'a>(status: &'a Value, prefix: &str) -> Vec<&'a Value> {
    status["usage"]
        .as_array()
        .map(|u| {
            u.iter()
                .filter(|r| r["monitor"].as_str().unwrap_or("").starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// The one finished recording, via the recording API.
fn wait_recording(env: &Env) -> Value {
    let creds = credentials(env._dir.path());
    let auth = format!("Bearer {}", creds["recording"]["token"].as_str().unwrap());
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, body) = send(
            env.hark.addr,
            "GET",
            "/v1/recordings",
            &[("Authorization", &auth)],
            "",
        );
        let list: Value = serde_json::from_str(&body).unwrap();
        if let Some(first) = list["recordings"].get(0) {
            return first.clone();
        }
        assert!(Instant::now() < deadline, "no recording: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_secure_pause_reaches_no_monitor_and_positions_account_for_the_gap() {
    let _one = REAL_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let env = Env::start("");
    let monitors: Vec<(SessionCapture, SocketAddr)> = (0..3).map(|_| env.monitor()).collect();
    for (i, (_, addr)) in monitors.iter().enumerate() {
        assert_eq!(env.add_monitor(&format!("m{i}"), *addr).0, 201);
    }
    let contact = uuid::Uuid::new_v4().to_string();
    let mut script = StreamScript::default();
    script.pause_at = vec![Position::from(Duration::from_secs(2))];
    script.resume_at = vec![Position::from(Duration::from_secs(5))];
    let report = env.rt.block_on(env.call(&contact, 8, script)).unwrap();
    assert!(report.is_clean(), "{report:?}");

    let expected = expected_audio(8);
    let mut unpaused = span(&expected, 0.0, 2.0).to_vec();
    unpaused.extend_from_slice(span(&expected, 5.0, 8.0));
    for (i, (recorder, _)) in monitors.iter().enumerate() {
        let session = wait_ended(recorder, &env.rt, 1).remove(0);
        // Not a byte of the paused span, and everything else.
        assert!(
            session.samples() == unpaused,
            "monitor m{i}: paused audio leaked or audio lost"
        );
        for chunk in &session.chunks {
            let start = secs(chunk.timeline_start);
            assert!(!(2.0..5.0).contains(&start), "m{i}: a chunk at {start} s");
        }
        let paused = session.events.iter().find_map(|e| match e {
            SessionEvent::Paused { position } => Some(*position),
            _ => None,
        });
        assert_eq!(paused, Some(Position::from(Duration::from_secs(2))), "m{i}");
        let gaps = gaps(&session);
        assert_eq!(gaps.len(), 1, "m{i}: {gaps:?}");
        assert_eq!(gaps[0].0, "resumed");
        assert_eq!(secs(gaps[0].1.start), 2.0);
        assert_eq!(secs(gaps[0].1.discarded), 3.0);
        let after = session
            .chunks
            .iter()
            .find(|c| c.timeline_start > Position::ZERO && secs(c.timeline_start) >= 2.0)
            .unwrap();
        assert_eq!(
            secs(after.timeline_start),
            5.0,
            "m{i}: positions ignore the gap"
        );
    }
    let status = env.wait_monitoring(&contact, "usage", |s| {
        s["usage"].as_array().is_some_and(|u| u.len() == 3)
    });
    for usage in status["usage"].as_array().unwrap() {
        let u = &usage["usage"];
        let paused = u["securePausedSeconds"].as_f64().unwrap();
        assert!((paused - 3.0).abs() < 0.5, "{usage}");
        let billable = u["billableSeconds"].as_f64().unwrap();
        let connected = u["connectedSeconds"].as_f64().unwrap();
        assert!((connected - paused - billable).abs() < 1e-6, "{usage}");
    }
}

#[test]
fn a_monitor_down_at_call_start_receives_the_rest_of_the_call() {
    let _one = REAL_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let env = Env::start("[monitor]\nqueue_seconds = 1\n");
    // Reserve a port and close it: nothing listens there when the call starts.
    let addr = env
        .rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .unwrap()
        .local_addr()
        .unwrap();
    assert_eq!(env.add_monitor("late", addr).0, 201);
    let seconds = 8;
    let contact = uuid::Uuid::new_v4().to_string();
    let call = env.call(&contact, seconds, StreamScript::default());
    env.wait_monitoring(&contact, "two failed attempts", |s| {
        s["streams"][0]["failures"].as_u64().unwrap_or(0) >= 2
    });
    let recorder = env.monitor_on(env.rt.block_on(TcpListener::bind(addr)).unwrap());
    assert!(env.rt.block_on(call).unwrap().is_clean());

    let session = wait_ended(&recorder, &env.rt, 1).remove(0);
    let last = session.chunks.last().unwrap();
    assert_eq!(
        secs(last.timeline_start),
        seconds as f64 - 0.2,
        "the end of the call is missing"
    );
    // What it missed is reported as discarded, then the audio runs on to the end.
    let first = secs(session.chunks[0].timeline_start);
    let missed: f64 = gaps(&session).iter().map(|(_, g)| secs(g.discarded)).sum();
    assert!(
        (missed - first).abs() < 1e-9,
        "missed {missed} s, first audio at {first} s"
    );
    let expected = expected_audio(seconds);
    assert!(
        session.samples() == span(&expected, first, seconds as f64),
        "wrong tail"
    );
    let status = env.wait_monitoring(&contact, "usage", |s| usage_of(s, "late").is_some());
    let usage = usage_of(&status, "late").unwrap();
    assert!(usage["attempts"].as_u64().unwrap() >= 3, "{usage}");
    assert!(usage["failures"].as_u64().unwrap() >= 2, "{usage}");
    assert!(env.metric("hark_monitor_connect_failures_total{monitor=\"late\"} ") >= 2.0);
}

#[test]
fn the_monitor_api_manages_integrations_and_starts_and_stops_calls() {
    let _one = REAL_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let env = Env::start(
        "[monitor]\nauto_start = false\n\n[[monitor.integrations]]\nname = \"from-config\"\nuri = \"ws://127.0.0.1:9/ws\"\napi_key = \"k\"\n",
    );
    // Token required.
    let (status, body) = send(env.hark.addr, "GET", "/v1/monitors", &[], "");
    assert_eq!(status, 401, "{body}");
    let wrong = [("Authorization", "Bearer nope")];
    assert_eq!(
        send(env.hark.addr, "GET", "/v1/monitors", &wrong, "").0,
        401
    );
    // Validation and conflicts are explained.
    let (status, e) = env.api(
        "POST",
        "/v1/monitors",
        r#"{"name": "x", "uri": "http://h", "apiKey": "k"}"#,
    );
    assert_eq!((status, e["code"].as_str()), (400, Some("BadRequest")));
    assert!(e["message"].as_str().unwrap().contains("uri"), "{e}");
    assert_eq!(env.api("POST", "/v1/monitors", "{not json").0, 400);
    let (a, a_addr) = env.monitor();
    let (b, b_addr) = env.monitor();
    assert_eq!(env.add_monitor("a", a_addr).0, 201);
    assert_eq!(env.add_monitor("b", b_addr).0, 201);
    assert_eq!(env.add_monitor("a", a_addr).1["code"], "Conflict");
    let (status, view) = env.api("PATCH", "/v1/monitors/from-config", r#"{"enabled": false}"#);
    assert_eq!((status, &view["enabled"]), (200, &json!(false)));
    assert_eq!(env.api("PATCH", "/v1/monitors/nope", "{}").0, 404);
    let (_, one) = env.api("GET", "/v1/monitors/a", "");
    assert_eq!(one["apiKeyHint"], "…-key");

    // Auto-start is off: a call streams nowhere until asked.
    let contact = uuid::Uuid::new_v4().to_string();
    let call = env.call(&contact, 6, StreamScript::default());
    let status = env.wait_monitoring(&contact, "the call is live", |s| s["live"] == true);
    assert_eq!(status["streams"], json!([]));
    let path = format!("/v1/contacts/{contact}/monitoring");
    let (code, e) = env.api("POST", &path, r#"{"monitors": ["from-config"]}"#);
    assert_eq!((code, e["code"].as_str()), (409, Some("MonitorDisabled")));
    let (code, started) = env.api("POST", &path, r#"{"monitors": ["a"]}"#);
    assert_eq!(code, 200, "{started}");
    assert_eq!(started["streams"][0]["monitor"], "a");
    env.rt
        .block_on(a.wait_for(WAIT, |s| s.first().is_some_and(|r| !r.chunks.is_empty())))
        .expect("a never got audio");
    // Start the rest (every enabled monitor), then stop `a` while the call goes on.
    assert_eq!(env.api("POST", &path, "").0, 200);
    let (code, _) = env.api("DELETE", &format!("{path}?monitors=a"), "");
    assert_eq!(code, 200);
    let stopped = wait_ended(&a, &env.rt, 1);
    let live = env.api("GET", &path, "").1;
    assert_eq!(live["live"], true, "the call outlives the stop: {live}");
    assert!(env.rt.block_on(call).unwrap().is_clean());
    let b_sessions = wait_ended(&b, &env.rt, 1);
    assert!(stopped[0].chunks.len() < b_sessions[0].chunks.len() + 10);
    assert!(!b_sessions[0].chunks.is_empty());
    let status = env.wait_monitoring(&contact, "usage of a and b", |s| {
        s["usage"].as_array().is_some_and(|u| u.len() == 2)
    });
    assert_eq!(status["live"], false);
    assert_eq!(
        env.api("POST", "/v1/contacts/nobody/monitoring", "").1["code"],
        "NoLiveCall"
    );
    assert_eq!(env.api("DELETE", "/v1/monitors/from-config", "").0, 204);
    assert_eq!(env.api("GET", "/v1/monitors/from-config", "").0, 404);
}

/// A TLS-terminating proxy on `ip` in front of a plain monitor, with the test certificate (for
/// `localhost` and 127.0.0.1 only).
async fn tls_proxy(ip: &str, upstream: SocketAddr) -> SocketAddr {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/monitor-tls");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let mut plain = TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

#[test]
fn a_wss_monitor_is_reached_over_tls_and_an_untrusted_one_is_refused() {
    let _one = REAL_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/monitor-tls/ca.pem");
    let env = Env::start(&format!(
        "[monitor]\nca_file = {:?}\ndrain_seconds = 1\n",
        ca.display().to_string()
    ));
    let (recorder, plain) = env.monitor();
    let trusted = env.rt.block_on(tls_proxy("127.0.0.1", plain));
    // Same certificate, reached as 127.0.0.2: not a name it is valid for.
    let mismatched = env.rt.block_on(tls_proxy("127.0.0.2", plain));
    let body = |name: &str, host: &str, port: u16| {
        json!({
            "name": name,
            "uri": format!("wss://{host}:{port}/ws"),
            "apiKey": MONITOR_KEY,
            "clientSecret": MONITOR_SECRET,
        })
        .to_string()
    };
    let tls = body("tls", "localhost", trusted.port());
    assert_eq!(env.api("POST", "/v1/monitors", &tls).0, 201);
    let wrong = body("wrong-name", "127.0.0.2", mismatched.port());
    assert_eq!(env.api("POST", "/v1/monitors", &wrong).0, 201);
    let contact = uuid::Uuid::new_v4().to_string();
    let report = env
        .rt
        .block_on(env.call(&contact, 2, StreamScript::default()))
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
    let session = wait_ended(&recorder, &env.rt, 1).remove(0);
    assert!(
        session.samples() == expected_audio(2),
        "audio over TLS differs"
    );
    assert_eq!(
        recorder.sessions().len(),
        1,
        "only the trusted name got through"
    );
    let status = env.wait_monitoring(&contact, "both streams finished", |s| {
        s["usage"].as_array().is_some_and(|u| u.len() == 2)
    });
    let wrong = usage_of(&status, "wrong-name").unwrap();
    assert_eq!(wrong["framesSent"], 0, "{wrong}");
    assert!(wrong["failures"].as_u64().unwrap() >= 1, "{wrong}");
    assert_eq!(usage_of(&status, "tls").unwrap()["framesSent"], 10);
}

#[test]
fn custom_config_is_checked_kept_and_sent_in_each_monitors_open() {
    let _one = REAL_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let env = Env::start(
        "[[monitor.integrations]]\nname = \"from-config\"\nuri = \"ws://127.0.0.1:9/ws\"\napi_key = \"k\"\nenabled = false\ncustom_config = { agentassist = true }\n",
    );
    let (_, from_file) = env.api("GET", "/v1/monitors/from-config", "");
    assert_eq!(from_file["customConfig"], json!({"agentassist": true}));

    let (recorder, addr) = env.monitor();
    let monitor = |custom_config: Value| {
        json!({
            "name": "assist",
            "uri": format!("ws://{addr}/ws"),
            "apiKey": MONITOR_KEY,
            "clientSecret": MONITOR_SECRET,
            "customConfig": custom_config,
        })
        .to_string()
    };
    // Not an object, or too large: 400 with a message that says why.
    for (bad, says) in [
        (json!("agentassist"), "customConfig must be a JSON object"),
        (json!([true]), "customConfig must be a JSON object"),
        (
            json!({"notes": "x".repeat(16 * 1024)}),
            "customConfig must be at most 16384 bytes",
        ),
    ] {
        let (status, e) = env.api("POST", "/v1/monitors", &monitor(bad));
        assert_eq!(
            (status, e["code"].as_str()),
            (400, Some("BadRequest")),
            "{e}"
        );
        assert!(e["message"].as_str().unwrap().contains(says), "{e}");
    }
    let config = json!({"agentassist": true, "kb": {"ids": [1, 2]}});
    let (status, created) = env.api("POST", "/v1/monitors", &monitor(config.clone()));
    assert_eq!(
        (status, &created["customConfig"]),
        (201, &config),
        "{created}"
    );

    // A call (auto-start): the monitor's `open` carries it.
    let contact = uuid::Uuid::new_v4().to_string();
    let call = env.call(&contact, 1, StreamScript::default());
    assert!(env.rt.block_on(call).unwrap().is_clean());
    let sessions = wait_ended(&recorder, &env.rt, 1);
    let open = sessions[0].open.as_ref().expect("open");
    assert_eq!(open.custom_config.clone().map(Value::Object), Some(config));

    // PATCH replaces it; an empty object removes it.
    let (status, view) = env.api(
        "PATCH",
        "/v1/monitors/assist",
        r#"{"customConfig": {"x": 1}}"#,
    );
    assert_eq!((status, &view["customConfig"]), (200, &json!({"x": 1})));
    let (status, e) = env.api("PATCH", "/v1/monitors/assist", r#"{"customConfig": 1}"#);
    assert_eq!(status, 400, "{e}");
    let (status, view) = env.api("PATCH", "/v1/monitors/assist", r#"{"customConfig": {}}"#);
    assert_eq!(status, 200);
    assert!(view.get("customConfig").is_none(), "{view}");
}

#[test]
fn a_sigterm_during_a_monitored_call_lets_the_call_and_its_monitor_finish() {
    let _one = REAL_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let env = Env::start("");
    let (recorder, addr) = env.monitor();
    assert_eq!(env.add_monitor("drained", addr).0, 201);
    let contact = uuid::Uuid::new_v4().to_string();
    let call = env.call(&contact, 3, StreamScript::default());
    env.wait_monitoring(&contact, "the call streams to its monitor", |s| {
        s["streams"].as_array().is_some_and(|l| !l.is_empty())
    });
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &env.hark.child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    // The call goes on to its end, and the monitor receives all of it.
    let report = env.rt.block_on(call).unwrap();
    assert!(report.is_clean(), "{report:?}");
    let sessions = wait_ended(&recorder, &env.rt, 1);
    assert!(sessions[0].samples() == expected_audio(3), "the whole call");
    let Env { hark, rt, _dir, .. } = env;
    let stopped = hark.terminate_wait();
    assert!(stopped.exit.success(), "{}", stopped.stderr);
    drop(rt);
}
