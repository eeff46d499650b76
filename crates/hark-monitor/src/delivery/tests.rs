//! Delivery against the real AudioHook server state machine: what a monitor sees.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hark_audio::{AudioFrame, ChannelLayout, Encoding};
use hark_audiohook::proto::client::{ClientAction, ClientSession};
use hark_audiohook::proto::media::MediaFormat;
use hark_audiohook::proto::message::{Gap, Participant};
use hark_audiohook::proto::server::{ServerAction, ServerConfig, ServerSession, SessionEvent};

use super::*;
use crate::call::CallIdentity;

const ORG: &str = "34e80ec9-a57e-4a06-be8b-b1f2567df796";
const CONV: &str = "75b48018-1edd-4484-be2f-be322c0a1750";
const SESSION: &str = "939656b2-1d96-47da-962a-86a73cb06e1c";

fn call() -> CallIdentity {
    CallIdentity {
        call_id: "call".into(),
        organization_id: ORG.into(),
        conversation_id: CONV.into(),
        participant: Participant {
            id: "d1a2c3b4-0000-4000-8000-000000000001".into(),
            ..Participant::default()
        },
        language: Some("en-US".into()),
        media: MediaFormat {
            encoding: Encoding::Pcmu,
            layout: ChannelLayout::CUSTOMER_LEFT,
            rate: 8000,
        },
    }
}

fn at(ms: u64) -> Position {
    Position::from(Duration::from_millis(ms))
}

/// 200 ms of audio starting at `start_ms` on the call's timeline.
fn audio(start_ms: u64) -> FeedItem {
    let frame = AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 8000, vec![1000; 3200]).unwrap();
    FeedItem::Audio {
        start: at(start_ms),
        frame: Arc::new(frame.into()),
    }
}

/// A monitor session wired to a real server session.
struct Monitor {
    client: ClientSession,
    server: ServerSession,
    now: Instant,
    /// (timeline start in ms, frames) of each chunk the server delivered.
    chunks: Vec<(u128, u64)>,
    events: Vec<SessionEvent>,
    /// Every message the client sent.
    sent: Vec<serde_json::Value>,
    /// Parameters added to the server's `opened` (what the server state machine never sends).
    opened_extra: serde_json::Map<String, serde_json::Value>,
}

impl Monitor {
    fn open(delivery: &Delivery) -> Self {
        Self::open_with(delivery, serde_json::Map::new())
    }

    fn open_with(
        delivery: &Delivery,
        opened_extra: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let now = Instant::now();
        let config = call().client_config(SESSION, Duration::from_secs(5));
        let mut m = Monitor {
            client: ClientSession::new(config),
            server: ServerSession::new(ServerConfig::default(), SESSION, ORG, now),
            now,
            chunks: Vec::new(),
            events: Vec::new(),
            sent: Vec::new(),
            opened_extra,
        };
        m.client.start(now);
        m.pump();
        delivery.session_opened(&mut m.client);
        m.pump();
        m
    }

    fn take(&mut self, delivery: &mut Delivery, items: Vec<FeedItem>) {
        for item in items {
            delivery.apply(&mut self.client, item).unwrap();
            self.pump();
        }
    }

    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(a) = self.client.poll_action() {
                moved = true;
                match a {
                    ClientAction::SendText(t) => {
                        self.sent.push(serde_json::from_str(&t).unwrap());
                        self.server.handle_text(self.now, &t);
                    }
                    ClientAction::SendBinary(b) => self.server.handle_binary(self.now, &b),
                    _ => {}
                }
            }
            while let Some(a) = self.server.poll_action() {
                moved = true;
                match a {
                    ServerAction::SendText(t) => {
                        let t = self.amend_opened(t);
                        self.client.handle_text(self.now, &t);
                    }
                    ServerAction::Audio(c) => self
                        .chunks
                        .push((c.timeline_start.as_duration().as_millis(), c.frames())),
                    ServerAction::Event(e) => self.events.push(e),
                    ServerAction::CloseSocket => {}
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn amend_opened(&self, text: String) -> String {
        let mut message: serde_json::Value = serde_json::from_str(&text).unwrap();
        if message["type"] != "opened" || self.opened_extra.is_empty() {
            return text;
        }
        let parameters = message["parameters"].as_object_mut().unwrap();
        parameters.extend(self.opened_extra.clone());
        message.to_string()
    }

    /// The client's messages of one type.
    fn sent(&self, kind: &str) -> Vec<&serde_json::Value> {
        self.sent.iter().filter(|m| m["type"] == kind).collect()
    }

    fn gaps(&self) -> Vec<String> {
        let ms = |p: Position| p.as_duration().as_millis();
        self.events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Discarded(Gap { start, discarded }) => {
                    Some(format!("discarded {}+{}", ms(*start), ms(*discarded)))
                }
                SessionEvent::Paused { position } => Some(format!("paused {}", ms(*position))),
                SessionEvent::Resumed(Gap { start, discarded }) => {
                    Some(format!("resumed {}+{}", ms(*start), ms(*discarded)))
                }
                _ => None,
            })
            .collect()
    }

    fn starts(&self) -> Vec<u128> {
        self.chunks.iter().map(|c| c.0).collect()
    }
}

#[test]
fn audio_lands_on_the_calls_timeline_with_drops_reported_as_discarded() {
    let mut d = Delivery::default();
    let mut m = Monitor::open(&d);
    // 0.4 s dropped from the queue between the second and third block.
    m.take(&mut d, vec![audio(0), audio(200), audio(800), audio(1000)]);
    assert_eq!(m.starts(), [0, 200, 800, 1000]);
    assert_eq!(m.gaps(), ["discarded 400+400"]);
    assert_eq!(d.cursor(), at(1200));
}

#[test]
fn a_secure_pause_becomes_paused_and_resumed_with_the_gap() {
    let mut d = Delivery::default();
    let mut m = Monitor::open(&d);
    m.take(
        &mut d,
        vec![
            audio(0),
            FeedItem::Pause { at: at(200) },
            FeedItem::Resume { at: at(3200) },
            audio(3200),
        ],
    );
    assert_eq!(m.starts(), [0, 3200]);
    assert_eq!(m.gaps(), ["paused 200", "resumed 200+3000"]);
}

#[test]
fn a_late_session_reports_what_it_missed_and_joins_a_running_pause() {
    let mut d = Delivery::default();
    let mut first = Monitor::open(&d);
    first.take(
        &mut d,
        vec![audio(0), audio(200), FeedItem::Pause { at: at(400) }],
    );
    // The first session drops; the next one opens during the secure pause.
    let mut second = Monitor::open(&d);
    second.take(&mut d, vec![FeedItem::Resume { at: at(1400) }, audio(1400)]);
    assert_eq!(second.starts(), [1400]);
    assert_eq!(
        second.gaps(),
        ["discarded 0+400", "paused 400", "resumed 400+1000"]
    );
}

#[test]
fn the_monitors_own_pause_withholds_audio_but_keeps_the_timeline() {
    let mut d = Delivery::default();
    let mut m = Monitor::open(&d);
    m.take(&mut d, vec![audio(0)]);
    m.server.pause();
    m.pump();
    let outcome = d.apply(&mut m.client, audio(200)).unwrap();
    assert_eq!(outcome, Applied::Audio(AudioOutcome::Paused));
    m.server.resume();
    m.pump();
    m.take(&mut d, vec![audio(400)]);
    assert_eq!(m.starts(), [0, 400]);
    assert_eq!(m.gaps(), ["paused 200", "resumed 200+200"]);
}

#[test]
fn discard_to_is_reported_exactly_from_the_stream_start_to_the_position_asked() {
    for (discard_to, first_ms, first_frames) in [("PT1S", 1000, 1600), ("PT0.5S", 500, 800)] {
        let mut d = Delivery::default();
        let extra = serde_json::json!({"discardTo": discard_to});
        let mut m = Monitor::open_with(&d, extra.as_object().unwrap().clone());
        m.take(&mut d, (0..7).map(|i| audio(i * 200)).collect());
        let discarded = m.sent("discarded");
        assert_eq!(discarded.len(), 1, "{discarded:?}");
        assert_eq!(
            discarded[0]["parameters"],
            serde_json::json!({"start": "PT0S", "discarded": discard_to})
        );
        // Sent where the discarded span ends, before the audio that follows it.
        assert_eq!(discarded[0]["position"], discard_to);
        assert_eq!(m.gaps(), [format!("discarded 0+{first_ms}")]);
        // The server's timeline: the audio starts exactly at `discardTo`.
        assert_eq!(m.chunks[0], (first_ms, first_frames));
        let total: u64 = m.chunks.iter().map(|c| c.1).sum();
        assert_eq!(total, 7 * 1600 - (first_ms as u64) * 8);
        assert_eq!(d.cursor(), at(1400));
    }
}
