//! The client state machine against scripted server messages, and against the real server
//! state machine over an in-memory loopback (including property tests).

use std::time::{Duration, Instant};

use hark_audio::{AudioFrame, Channel, ChannelLayout, Encoding};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::proto::server::{ServerAction, ServerConfig, ServerSession, SessionEvent};

const ID: &str = "939656b2-1d96-47da-962a-86a73cb06e1c";
const ORG: &str = "34e80ec9-a57e-4a06-be8b-b1f2567df796";
const CONV: &str = "75b48018-1edd-4484-be2f-be322c0a1750";

fn stereo() -> MediaFormat {
    MediaFormat {
        encoding: Encoding::Pcmu,
        layout: ChannelLayout::CUSTOMER_LEFT,
        rate: 8000,
    }
}

fn mono() -> MediaFormat {
    MediaFormat {
        encoding: Encoding::Pcmu,
        layout: ChannelLayout::mono(Channel::External),
        rate: 8000,
    }
}

fn config() -> ClientConfig {
    ClientConfig::new(ID, ORG, CONV, vec![stereo(), mono()])
}

/// 200 ms of stereo audio.
fn frame() -> AudioFrame {
    AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 8000, vec![100; 3200]).unwrap()
}

/// Plays a scripted server.
struct Server {
    seq: u64,
    clientseq: u64,
}

impl Server {
    fn msg(&mut self, kind: &str, parameters: Value) -> String {
        self.seq += 1;
        json!({"version": "2", "id": ID, "type": kind, "seq": self.seq, "clientseq": self.clientseq, "parameters": parameters}).to_string()
    }
}

#[derive(Default, Debug)]
struct Out {
    sent: Vec<ClientMessage>,
    binary: Vec<Vec<u8>>,
    events: Vec<ClientEvent>,
    closed_socket: bool,
}

impl Out {
    fn errors(&self) -> Vec<u16> {
        self.sent
            .iter()
            .filter_map(|m| match &m.body {
                ClientBody::Error(e) => Some(e.code),
                _ => None,
            })
            .collect()
    }

    fn close_reason(&self) -> Option<CloseReason> {
        self.sent.iter().find_map(|m| match m.body {
            ClientBody::Close { reason } => Some(reason),
            _ => None,
        })
    }
}

fn drain(c: &mut ClientSession, server: &mut Server) -> Out {
    let mut out = Out::default();
    while let Some(a) = c.poll_action() {
        match a {
            ClientAction::SendText(t) => {
                let m = ClientMessage::parse(&t)
                    .unwrap_or_else(|e| panic!("client sent invalid {t}: {e}"));
                server.clientseq = m.seq;
                out.sent.push(m);
            }
            ClientAction::SendBinary(b) => out.binary.push(b.to_vec()),
            ClientAction::Event(e) => out.events.push(e),
            ClientAction::CloseSocket => out.closed_socket = true,
        }
    }
    out
}

fn started() -> (ClientSession, Server, Instant, Out) {
    let t0 = Instant::now();
    let mut c = ClientSession::new(config());
    let mut s = Server {
        seq: 0,
        clientseq: 0,
    };
    c.start(t0);
    let out = drain(&mut c, &mut s);
    (c, s, t0, out)
}

fn opened(parameters: Value) -> (ClientSession, Server, Instant, Out) {
    let (mut c, mut s, t0, _) = started();
    c.handle_text(t0, &s.msg("opened", parameters));
    let out = drain(&mut c, &mut s);
    (c, s, t0, out)
}

fn stereo_json() -> Value {
    stereo().to_json()
}

#[test]
fn open_announces_offers_and_identity() {
    let (c, _, _, out) = started();
    assert_eq!(c.state(), ClientState::Opening);
    let m = &out.sent[0];
    assert_eq!((m.seq, m.serverseq, m.position), (1, 0, Position::ZERO));
    let ClientBody::Open(open) = &m.body else {
        panic!()
    };
    assert_eq!(open.organization_id, ORG);
    assert_eq!(open.media, vec![stereo_json(), mono().to_json()]);
}

#[test]
fn opened_selection_is_validated() {
    let (c, _, _, out) = opened(json!({"media": [stereo_json()], "startPaused": false}));
    assert_eq!(c.state(), ClientState::Open);
    assert_eq!(c.media(), Some(stereo()));
    assert!(matches!(
        out.events[0],
        ClientEvent::Opened { media: Some(_), .. }
    ));

    let (c, _, _, out) = opened(json!({"media": []}));
    assert_eq!((c.state(), c.media()), (ClientState::Open, None));
    assert!(out.errors().is_empty());

    let (_, _, _, out) = opened(json!({"media": [stereo_json(), mono().to_json()]}));
    assert_eq!(out.errors(), vec![400]);
    assert_eq!(out.close_reason(), Some(CloseReason::Error));

    let inverted = json!({"type": "audio", "format": "PCMU", "channels": ["internal", "external"], "rate": 8000});
    let (_, _, _, out) = opened(json!({"media": [inverted]}));
    assert_eq!(
        out.errors(),
        vec![400],
        "channel order must match an offer exactly"
    );
}

#[test]
fn open_times_out_after_five_seconds() {
    let (mut c, mut s, t0, _) = started();
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    c.handle_timeout(t0 + Duration::from_secs(5));
    let out = drain(&mut c, &mut s);
    assert_eq!(out.errors(), vec![408]);
    assert_eq!(out.close_reason(), Some(CloseReason::Error));
    // No closed within 10 s: the socket is closed anyway.
    c.handle_timeout(t0 + Duration::from_secs(15));
    let out = drain(&mut c, &mut s);
    assert!(out.closed_socket);
    assert!(matches!(
        out.events.last(),
        Some(ClientEvent::Closed {
            acknowledged: false,
            ..
        })
    ));
}

#[test]
fn audio_is_encoded_in_the_negotiated_order() {
    let inverted = MediaFormat {
        encoding: Encoding::L16,
        layout: ChannelLayout::new(&[Channel::Internal, Channel::External]).unwrap(),
        rate: 8000,
    };
    let t0 = Instant::now();
    let mut c = ClientSession::new(ClientConfig::new(ID, ORG, CONV, vec![inverted]));
    let mut s = Server {
        seq: 0,
        clientseq: 0,
    };
    c.start(t0);
    c.handle_text(t0, &s.msg("opened", json!({"media": [inverted.to_json()]})));
    drain(&mut c, &mut s);
    let source = AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 8000, vec![1, 2]).unwrap(); // external 1, internal 2
    assert_eq!(c.send_audio(&source).unwrap(), AudioOutcome::Sent);
    assert_eq!(drain(&mut c, &mut s).binary, vec![vec![2, 0, 1, 0]]);
    let wrong_rate = AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 16000, vec![1, 2]).unwrap();
    assert!(c.send_audio(&wrong_rate).is_err());
}

#[test]
fn large_audio_is_split_under_64000_bytes() {
    let (mut c, mut s, _, _) = opened(json!({"media": [stereo_json()]}));
    let long = AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 8000, vec![0; 2 * 40_000]).unwrap();
    c.send_audio(&long).unwrap();
    let sizes: Vec<usize> = drain(&mut c, &mut s).binary.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![64_000, 16_000]);
}

#[test]
fn start_paused_then_server_resume_reports_the_gap() {
    let (mut c, mut s, t0, out) = opened(json!({"media": [stereo_json()], "startPaused": true}));
    assert!(matches!(out.sent[0].body, ClientBody::Paused));
    // The application learns of the pause as of any server pause (monitors bill by it).
    assert!(matches!(out.events[0], ClientEvent::Opened { .. }));
    assert_eq!(out.events[1..], [ClientEvent::PausedByServer]);
    for _ in 0..5 {
        assert_eq!(c.send_audio(&frame()).unwrap(), AudioOutcome::Paused);
    }
    c.handle_text(t0, &s.msg("resume", json!({})));
    let out = drain(&mut c, &mut s);
    let ClientBody::Resumed(gap) = out.sent[0].body else {
        panic!("{:?}", out.sent)
    };
    assert_eq!(
        (gap.start.to_string(), gap.discarded.to_string()),
        ("PT0S".into(), "PT1S".into())
    );
    assert_eq!(out.sent[0].position.to_string(), "PT1S");
    assert_eq!(c.send_audio(&frame()).unwrap(), AudioOutcome::Sent);
}

#[test]
fn pause_is_idempotent_and_a_client_pause_outlasts_a_server_resume() {
    let (mut c, mut s, t0, _) = opened(json!({"media": [stereo_json()]}));
    c.send_audio(&frame()).unwrap();
    c.handle_text(t0, &s.msg("pause", json!({})));
    c.handle_text(t0, &s.msg("pause", json!({})));
    let out = drain(&mut c, &mut s);
    assert_eq!(
        out.sent
            .iter()
            .filter(|m| m.body == ClientBody::Paused)
            .count(),
        2
    );
    c.pause(); // secure pause on top of the server's
    c.send_audio(&frame()).unwrap();
    c.handle_text(t0, &s.msg("resume", json!({})));
    let out = drain(&mut c, &mut s);
    assert_eq!(
        out.sent.last().unwrap().body,
        ClientBody::Paused,
        "still paused by the client"
    );
    c.send_audio(&frame()).unwrap();
    c.resume();
    let out = drain(&mut c, &mut s);
    let ClientBody::Resumed(gap) = out.sent.last().unwrap().body else {
        panic!()
    };
    assert_eq!(
        (gap.start.to_string(), gap.discarded.to_string()),
        ("PT0.2S".into(), "PT0.4S".into())
    );
    // resume while not paused answers resumed with an empty gap
    c.handle_text(t0, &s.msg("resume", json!({})));
    let out = drain(&mut c, &mut s);
    let ClientBody::Resumed(gap) = out.sent[0].body else {
        panic!()
    };
    assert_eq!(
        (gap.start.to_string(), gap.discarded),
        ("PT0.6S".into(), Position::ZERO)
    );
}

#[test]
fn discard_to_skips_whole_frames_and_reports_them() {
    let (mut c, mut s, _, _) = opened(json!({"media": [stereo_json()], "discardTo": "PT0.5S"}));
    assert_eq!(c.send_audio(&frame()).unwrap(), AudioOutcome::Discarded);
    assert_eq!(c.send_audio(&frame()).unwrap(), AudioOutcome::Discarded);
    // 0.4–0.6 s crosses the discard position: sent (rounded down to the frame boundary).
    assert_eq!(c.send_audio(&frame()).unwrap(), AudioOutcome::Sent);
    let out = drain(&mut c, &mut s);
    let ClientBody::Discarded(gap) = out.sent[0].body else {
        panic!()
    };
    assert_eq!(
        (gap.start.to_string(), gap.discarded.to_string()),
        ("PT0S".into(), "PT0.4S".into())
    );
    // Sent before the frame that follows the gap: the position is where the gap ends.
    assert_eq!(out.sent[0].position.to_string(), "PT0.4S");
    assert_eq!(out.binary.len(), 1);
}

#[test]
fn discarded_reports_exactly_up_to_an_aligned_discard_to() {
    let (mut c, mut s, _, _) = opened(json!({"media": [stereo_json()], "discardTo": "PT1S"}));
    for _ in 0..5 {
        assert_eq!(c.send_audio(&frame()).unwrap(), AudioOutcome::Discarded);
    }
    assert_eq!(c.discarding_to(), Some("PT1S".parse().unwrap()));
    assert_eq!(c.send_audio(&frame()).unwrap(), AudioOutcome::Sent);
    assert_eq!(c.discarding_to(), None);
    let out = drain(&mut c, &mut s);
    let ClientBody::Discarded(gap) = out.sent[0].body else {
        panic!("{:?}", out.sent)
    };
    assert_eq!(
        (
            gap.start.to_string(),
            gap.discarded.to_string(),
            out.sent[0].position.to_string()
        ),
        ("PT0S".into(), "PT1S".into(), "PT1S".into())
    );
}

#[test]
fn skipping_inside_a_discard_joins_it_and_ends_it_at_the_discard_position() {
    let (mut c, mut s, _, _) = opened(json!({"media": [stereo_json()], "discardTo": "PT0.5S"}));
    let at = |t: &str| t.parse::<Position>().unwrap();
    assert_eq!(c.send_audio(&frame()).unwrap(), AudioOutcome::Discarded);
    assert!(drain(&mut c, &mut s).sent.is_empty());
    // Skipping to exactly the discard position ends the discard: one message for the span.
    assert_eq!(c.skip_to(at("PT0.5S")), at("PT0.3S"));
    assert_eq!(c.discarding_to(), None);
    let out = drain(&mut c, &mut s);
    let ClientBody::Discarded(gap) = out.sent[0].body else {
        panic!("{:?}", out.sent)
    };
    assert_eq!(
        (
            gap.start.to_string(),
            gap.discarded.to_string(),
            out.sent[0].position.to_string()
        ),
        ("PT0S".into(), "PT0.5S".into(), "PT0.5S".into())
    );
    assert_eq!(out.sent.len(), 1);
}

#[test]
fn skip_to_reports_discarded_outside_a_pause_and_joins_the_gap_inside_one() {
    let (mut c, mut s, _, _) = opened(json!({"media": [stereo_json()]}));
    let at = |t: &str| t.parse::<Position>().unwrap();
    // Before anything was sent: the whole span up to the call's position is discarded.
    assert_eq!(c.skip_to(at("PT1.2S")), at("PT1.2S"));
    c.send_audio(&frame()).unwrap();
    // Not ahead: nothing happens.
    assert_eq!(c.skip_to(at("PT1S")), Position::ZERO);
    c.pause();
    // Withheld while paused: no message, the gap shows in `resumed`.
    assert_eq!(c.skip_to(at("PT3S")), at("PT1.6S"));
    c.resume();
    let out = drain(&mut c, &mut s);
    let kinds: Vec<String> = out
        .sent
        .iter()
        .map(|m| match &m.body {
            ClientBody::Discarded(g) => format!("discarded {} {}", g.start, g.discarded),
            ClientBody::Resumed(g) => {
                format!("resumed {} {} at {}", g.start, g.discarded, m.position)
            }
            ClientBody::Paused => format!("paused at {}", m.position),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "discarded PT0S PT1.2S",
            "paused at PT1.4S",
            "resumed PT1.4S PT1.6S at PT3S"
        ]
    );
    assert_eq!(out.binary.len(), 1);
    assert_eq!(c.position(), at("PT3S"));
}

#[test]
fn skip_to_does_nothing_before_opened() {
    let (mut c, mut s, _, _) = started();
    assert_eq!(c.skip_to("PT1S".parse().unwrap()), Position::ZERO);
    assert!(drain(&mut c, &mut s).sent.is_empty());
}

#[test]
fn ping_schedule_and_rtt() {
    let (mut c, mut s, t0, _) = opened(json!({"media": [stereo_json()]}));
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    c.handle_timeout(t0 + Duration::from_secs(1));
    let out = drain(&mut c, &mut s);
    assert_eq!(out.sent[0].body, ClientBody::Ping { rtt: None });
    let ping_seq = out.sent[0].seq;
    c.handle_text(t0 + Duration::from_millis(1020), &s.msg("pong", json!({})));
    let out = drain(&mut c, &mut s);
    assert_eq!(
        out.events[0],
        ClientEvent::RoundTrip(Duration::from_millis(20))
    );
    // The second ping goes at once and carries the rtt.
    assert_eq!(
        out.sent[0].body,
        ClientBody::Ping {
            rtt: Some("PT0.02S".parse().unwrap())
        }
    );
    assert_eq!(out.sent[0].seq, ping_seq + 1);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_millis(6020)));
    // No pong before the next ping is due: 408 and close.
    c.handle_timeout(t0 + Duration::from_millis(6020));
    let out = drain(&mut c, &mut s);
    assert_eq!(out.errors(), vec![408]);
    assert_eq!(out.close_reason(), Some(CloseReason::Error));
}

#[test]
fn pong_mismatches_are_reported_but_not_fatal() {
    let (mut c, mut s, t0, _) = opened(json!({"media": [stereo_json()]}));
    c.handle_text(t0, &s.msg("pong", json!({})));
    assert_eq!(
        drain(&mut c, &mut s).errors(),
        vec![409],
        "pong without ping"
    );
    c.handle_timeout(t0 + Duration::from_secs(1));
    drain(&mut c, &mut s);
    s.clientseq -= 1;
    c.handle_text(t0, &s.msg("pong", json!({})));
    let out = drain(&mut c, &mut s);
    assert_eq!(out.errors(), vec![400]);
    assert_eq!(out.close_reason(), None);
    assert_eq!(c.state(), ClientState::Open);
}

#[test]
fn disconnect_closes_with_reason_disconnect_and_closed_ends() {
    let (mut c, mut s, t0, _) = opened(json!({"media": [stereo_json()]}));
    c.handle_text(
        t0,
        &s.msg(
            "disconnect",
            json!({"reason": "completed", "outputVariables": {"a": "b"}}),
        ),
    );
    let out = drain(&mut c, &mut s);
    assert!(matches!(&out.events[0], ClientEvent::Disconnected(p) if p.output_variables.is_some()));
    assert_eq!(out.close_reason(), Some(CloseReason::Disconnect));
    assert_eq!(
        c.send_audio(&frame()).unwrap(),
        AudioOutcome::NotStreaming,
        "no audio after close"
    );
    c.handle_text(
        t0,
        &s.msg(
            "event",
            json!({"entities": [{"type": "barge_in", "data": {}}]}),
        ),
    );
    c.handle_text(t0, &s.msg("closed", json!({})));
    let out = drain(&mut c, &mut s);
    assert!(
        matches!(out.events[0], ClientEvent::Entities(_)),
        "events still arrive while closing"
    );
    assert!(matches!(
        out.events[1],
        ClientEvent::Closed {
            reason: CloseReason::Disconnect,
            acknowledged: true
        }
    ));
    assert!(out.closed_socket);
}

#[test]
fn protocol_errors_from_the_server() {
    // Sequence gap → 500.
    let (mut c, mut s, t0, _) = opened(json!({"media": [stereo_json()]}));
    s.seq += 1;
    c.handle_text(t0, &s.msg("pong", json!({})));
    assert_eq!(drain(&mut c, &mut s).errors(), vec![500]);
    // Unknown type → 500.
    let (mut c, mut s, t0, _) = opened(json!({"media": [stereo_json()]}));
    c.handle_text(t0, &s.msg("teleport", json!({})));
    assert_eq!(drain(&mut c, &mut s).errors(), vec![500]);
    // Opened twice → 409.
    let (mut c, mut s, t0, _) = opened(json!({"media": [stereo_json()]}));
    c.handle_text(t0, &s.msg("opened", json!({"media": []})));
    let out = drain(&mut c, &mut s);
    assert_eq!(out.errors(), vec![409]);
    assert_eq!(out.close_reason(), Some(CloseReason::Error));
    // Pause before opened → 409.
    let (mut c, mut s, t0, _) = started();
    c.handle_text(t0, &s.msg("pause", json!({})));
    assert_eq!(drain(&mut c, &mut s).errors(), vec![409]);
    // Malformed → 400; oversize → 413; binary → 415 (not fatal).
    let (mut c, mut s, t0, _) = opened(json!({"media": [stereo_json()]}));
    c.handle_binary(t0, &[1, 2, 3]);
    assert_eq!(drain(&mut c, &mut s).errors(), vec![415]);
    c.handle_text(t0, "{\"version\":\"2\"");
    assert_eq!(drain(&mut c, &mut s).errors(), vec![400]);
    let (mut c, mut s, t0, _) = opened(json!({"media": [stereo_json()]}));
    c.handle_text(t0, &"y".repeat(70_000));
    assert_eq!(drain(&mut c, &mut s).errors(), vec![413]);
}

// ---- loopback: the real client against the real server ----

/// A client and a server session wired back to back.
struct Loopback {
    client: ClientSession,
    server: ServerSession,
    now: Instant,
    received: Vec<i16>,
    server_events: Vec<SessionEvent>,
    client_events: Vec<ClientEvent>,
    client_sent_samples: u64,
    socket_closed: bool,
}

impl Loopback {
    fn new(server_config: ServerConfig) -> Self {
        let now = Instant::now();
        let mut l = Loopback {
            client: ClientSession::new(config()),
            server: ServerSession::new(server_config, ID, ORG, now),
            now,
            received: Vec::new(),
            server_events: Vec::new(),
            client_events: Vec::new(),
            client_sent_samples: 0,
            socket_closed: false,
        };
        l.client.start(now);
        l.pump();
        l
    }

    /// Delivers queued frames both ways until both sides are quiet.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(a) = self.client.poll_action() {
                moved = true;
                match a {
                    ClientAction::SendText(t) => self.server.handle_text(self.now, &t),
                    ClientAction::SendBinary(b) => {
                        self.client_sent_samples += b.len() as u64; // PCMU: a byte per sample
                        self.server.handle_binary(self.now, &b)
                    }
                    ClientAction::Event(e) => self.client_events.push(e),
                    ClientAction::CloseSocket => self.socket_closed = true,
                }
            }
            while let Some(a) = self.server.poll_action() {
                moved = true;
                match a {
                    ServerAction::SendText(t) => self.client.handle_text(self.now, &t),
                    ServerAction::Audio(chunk) => {
                        self.received.extend(chunk.decode().unwrap().samples())
                    }
                    ServerAction::Event(e) => self.server_events.push(e),
                    ServerAction::CloseSocket => self.socket_closed = true,
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        while let Some(at) = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
        {
            if at > target {
                break;
            }
            self.now = at;
            self.client.handle_timeout(at);
            self.server.handle_timeout(at);
            self.pump();
        }
        self.now = target;
    }

    fn no_protocol_errors(&self) {
        for e in &self.server_events {
            assert!(
                !matches!(
                    e,
                    SessionEvent::Disconnected { .. } | SessionEvent::ClientError(_)
                ),
                "server saw {e:?}"
            );
        }
        for e in &self.client_events {
            assert!(
                !matches!(e, ClientEvent::ErrorSent(_)),
                "client reported {e:?}"
            );
        }
    }
}

#[test]
fn loopback_full_session_with_pings_pauses_and_close() {
    let mut l = Loopback::new(ServerConfig::default());
    assert_eq!(l.client.state(), ClientState::Open);
    for i in 0..100 {
        l.client.send_audio(&frame()).unwrap();
        if i == 20 {
            l.server.pause();
        }
        if i == 40 {
            l.server.resume();
        }
        if i == 60 {
            l.client.pause();
        }
        if i == 70 {
            l.client.resume();
        }
        l.pump();
        l.advance(Duration::from_millis(200));
    }
    l.client.close(l.now, CloseReason::End);
    l.pump();
    l.no_protocol_errors();
    assert!(l.socket_closed);
    assert!(matches!(
        l.client_events.last(),
        Some(ClientEvent::Closed {
            acknowledged: true,
            ..
        })
    ));
    assert!(
        l.client_events
            .iter()
            .filter(|e| matches!(e, ClientEvent::RoundTrip(_)))
            .count()
            >= 4
    );
    // 100 frames of 200 ms; 20 withheld by the server's pause, 10 by the client's.
    assert_eq!(l.received.len(), 70 * 3200);
    assert_eq!(l.server.stats().paused.to_string(), "PT6S");
    assert_eq!(l.client.position().to_string(), "PT20S");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever mix of audio, pauses from either side, time passing and closing: no protocol
    /// error on either side, every sample sent arrives, and the server's timeline (received
    /// audio plus reported gaps) matches the client's position.
    #[test]
    fn loopback_sessions_stay_consistent(ops in proptest::collection::vec(0u8..8, 1..80)) {
        let mut l = Loopback::new(ServerConfig::default());
        for op in ops {
            match op {
                0..=2 => { l.client.send_audio(&frame()).unwrap(); }
                3 => l.server.pause(),
                4 => l.server.resume(),
                5 => l.client.pause(),
                6 => l.client.resume(),
                _ => l.advance(Duration::from_millis(700)),
            }
            l.pump();
        }
        // End any pause so the last gap is reported, then close.
        l.client.resume();
        l.server.resume();
        l.pump();
        let timeline = Position::from_samples(l.server.stats().samples, 8000)
            .saturating_add(l.server.stats().paused)
            .saturating_add(l.server.stats().discarded);
        prop_assert_eq!(timeline, l.client.position());
        l.client.close(l.now, CloseReason::End);
        l.pump();
        l.no_protocol_errors();
        prop_assert_eq!(l.received.len() as u64, l.client_sent_samples);
        prop_assert!(l.socket_closed);
    }
}
