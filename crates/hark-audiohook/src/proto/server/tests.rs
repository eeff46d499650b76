//! Every server-side rule of the AudioHook spec, driven by scripted client messages.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::proto::message::NIL_UUID;

const ID: &str = "939656b2-1d96-47da-962a-86a73cb06e1c";
const ORG: &str = "34e80ec9-a57e-4a06-be8b-b1f2567df796";

/// Plays the client: numbers its messages and echoes the server's sequence.
struct Client {
    seq: u64,
    serverseq: u64,
    position: Position,
}

impl Client {
    fn new() -> Self {
        Client {
            seq: 0,
            serverseq: 0,
            position: Position::ZERO,
        }
    }

    fn msg(&mut self, kind: &str, parameters: Value) -> String {
        self.seq += 1;
        json!({"version": "2", "id": ID, "type": kind, "seq": self.seq, "serverseq": self.serverseq,
               "position": self.position.to_string(), "parameters": parameters})
        .to_string()
    }

    fn open(&mut self, media: Value) -> String {
        self.msg("open", json!({
            "organizationId": ORG, "conversationId": "75b48018-1edd-4484-be2f-be322c0a1750",
            "participant": {"id": "c83b92b3-7cae-4bdf-a65d-d7f3f9c86042", "ani": "+1-555-555-1234", "aniName": "John Doe", "dnis": "+1-800-555-6789"},
            "media": media, "language": "en-US"
        }))
    }
}

fn stereo_offer() -> Value {
    json!([
        {"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000},
        {"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}
    ])
}

/// Drains the session's actions into sent messages (parsed), audio and events.
#[derive(Default)]
struct Out {
    sent: Vec<ServerMessage>,
    audio: Vec<AudioChunk>,
    events: Vec<SessionEvent>,
    closed_socket: bool,
}

fn drain(s: &mut ServerSession, client: &mut Client) -> Out {
    let mut out = Out::default();
    while let Some(action) = s.poll_action() {
        match action {
            ServerAction::SendText(t) => {
                let m = ServerMessage::parse(&t)
                    .unwrap_or_else(|e| panic!("server sent invalid {t}: {e}"));
                assert!(
                    t.contains("\"parameters\":"),
                    "parameters always present: {t}"
                );
                client.serverseq = m.seq;
                out.sent.push(m);
            }
            ServerAction::Audio(a) => out.audio.push(a),
            ServerAction::Event(e) => out.events.push(e),
            ServerAction::CloseSocket => out.closed_socket = true,
        }
    }
    out
}

fn opened_session(config: ServerConfig) -> (ServerSession, Client, Instant) {
    let t0 = Instant::now();
    let mut s = ServerSession::new(config, ID, ORG, t0);
    let mut c = Client::new();
    s.handle_text(t0, &c.open(stereo_offer()));
    let out = drain(&mut s, &mut c);
    assert!(matches!(out.sent[0].body, ServerBody::Opened(_)));
    (s, c, t0)
}

fn disconnect_info(out: &Out) -> String {
    match out.sent.last().map(|m| &m.body) {
        Some(ServerBody::Disconnect(p)) => {
            assert_eq!(p.reason, DisconnectReason::Error);
            p.info.clone().unwrap_or_default()
        }
        other => panic!("expected disconnect, got {other:?}"),
    }
}

#[test]
fn open_is_answered_at_once_with_the_first_acceptable_offer_verbatim() {
    let t0 = Instant::now();
    let mut s = ServerSession::new(ServerConfig::default(), ID, ORG, t0);
    let mut c = Client::new();
    s.handle_text(t0, &c.open(stereo_offer()));
    let out = drain(&mut s, &mut c);
    let m = &out.sent[0];
    assert_eq!((m.seq, m.clientseq), (1, 1));
    let ServerBody::Opened(p) = &m.body else {
        panic!()
    };
    assert_eq!(p.media, vec![stereo_offer()[0].clone()]);
    assert_eq!(p.start_paused, Some(false));
    assert!(p.supported_languages.is_none());
    assert_eq!(s.state(), ServerState::Active);
    let SessionEvent::Opened { open, media, probe } = &out.events[0] else {
        panic!()
    };
    assert_eq!(open.language.as_deref(), Some("en-US"));
    assert_eq!(
        media.unwrap().layout,
        hark_audio::ChannelLayout::CUSTOMER_LEFT
    );
    assert!(!probe);
}

#[test]
fn inverted_channel_order_is_kept() {
    let t0 = Instant::now();
    let mut s = ServerSession::new(ServerConfig::default(), ID, ORG, t0);
    let mut c = Client::new();
    let offer = json!([{"type": "audio", "format": "PCMU", "channels": ["internal", "external"], "rate": 8000}]);
    s.handle_text(t0, &c.open(offer.clone()));
    let out = drain(&mut s, &mut c);
    let ServerBody::Opened(p) = &out.sent[0].body else {
        panic!()
    };
    assert_eq!(p.media[0], offer[0]);
    // Audio is delivered in that order: internal sample first.
    s.handle_binary(t0, &[0x80, 0x00]);
    let frame = drain(&mut s, &mut c).audio[0].decode().unwrap();
    assert_eq!(
        frame.channel(hark_audio::Channel::Internal).unwrap(),
        vec![32124]
    );
    assert_eq!(
        frame.channel(hark_audio::Channel::External).unwrap(),
        vec![-32124]
    );
}

#[test]
fn probe_and_supported_languages() {
    let t0 = Instant::now();
    let config = ServerConfig {
        supported_languages: vec!["en-US".into(), "de-DE".into()],
        ..ServerConfig::default()
    };
    let mut s = ServerSession::new(config, ID, ORG, t0);
    let mut c = Client::new();
    let open = c.msg(
        "open",
        json!({
            "organizationId": ORG, "conversationId": NIL_UUID,
            "participant": {"id": NIL_UUID, "ani": "", "aniName": "", "dnis": ""},
            "media": stereo_offer(), "supportedLanguages": true
        }),
    );
    s.handle_text(t0, &open);
    let out = drain(&mut s, &mut c);
    let ServerBody::Opened(p) = &out.sent[0].body else {
        panic!()
    };
    assert_eq!(
        p.supported_languages.as_deref(),
        Some(&["en-US".to_owned(), "de-DE".to_owned()][..])
    );
    assert!(matches!(
        out.events[0],
        SessionEvent::Opened { probe: true, .. }
    ));
    s.handle_text(t0, &c.msg("close", json!({"reason": "end"})));
    let out = drain(&mut s, &mut c);
    assert!(matches!(out.sent[0].body, ServerBody::Closed));
    assert_eq!((out.sent[0].seq, out.sent[0].clientseq), (2, 2));
}

#[test]
fn no_acceptable_media_answers_an_empty_list() {
    let t0 = Instant::now();
    let mut s = ServerSession::new(ServerConfig::default(), ID, ORG, t0);
    let mut c = Client::new();
    s.handle_text(
        t0,
        &c.open(
            json!([{"type": "audio", "format": "opus", "channels": ["external"], "rate": 48000}]),
        ),
    );
    let out = drain(&mut s, &mut c);
    let ServerBody::Opened(p) = &out.sent[0].body else {
        panic!()
    };
    assert!(p.media.is_empty());
    s.handle_binary(t0, &[1, 2]);
    assert_eq!(
        disconnect_info(&drain(&mut s, &mut c)),
        "Received audio but no media was negotiated"
    );
}

#[test]
fn ping_pong_sequence_numbers_match_the_compliance_suite() {
    let (mut s, mut c, t0) = opened_session(ServerConfig::default());
    s.handle_text(t0, &c.msg("ping", json!({})));
    let out = drain(&mut s, &mut c);
    assert!(matches!(out.sent[0].body, ServerBody::Pong));
    assert_eq!((out.sent[0].seq, out.sent[0].clientseq), (2, 2));
    s.handle_text(t0, &c.msg("ping", json!({"rtt": "PT0.0013082S"})));
    let out = drain(&mut s, &mut c);
    assert_eq!((out.sent[0].seq, out.sent[0].clientseq), (3, 3));
}

#[test]
fn audio_is_delivered_with_sample_counts_and_timeline() {
    let (mut s, mut c, t0) = opened_session(ServerConfig::default());
    s.handle_binary(t0, &[0xFF; 3200]);
    s.handle_binary(t0, &[0xFF; 1600]);
    let out = drain(&mut s, &mut c);
    assert_eq!(out.audio.len(), 2);
    assert_eq!(out.audio[0].frames(), 1600);
    assert_eq!(out.audio[1].received_before, 1600);
    assert_eq!(out.audio[1].timeline_start.to_string(), "PT0.2S");
    assert_eq!(s.stats().samples, 2400);
    assert_eq!(s.stats().bytes, 4800);
}

#[test]
fn pause_resume_and_discard_shift_the_timeline() {
    let (mut s, mut c, t0) = opened_session(ServerConfig::default());
    s.handle_binary(t0, &[0xFF; 3200]);
    c.position = "PT0.2S".parse().unwrap();
    s.handle_text(t0, &c.msg("paused", json!({})));
    s.handle_text(t0, &c.msg("paused", json!({}))); // the compliance harness sends it twice
    let out = drain(&mut s, &mut c);
    assert!(out.sent.is_empty(), "no reply to paused");
    assert_eq!(
        out.events,
        vec![SessionEvent::Paused {
            position: "PT0.2S".parse().unwrap()
        }]
    );
    assert_eq!(s.state(), ServerState::Paused);
    // Audio while paused is a violation.
    let mut paused_copy = ServerSession::new(ServerConfig::default(), ID, ORG, t0);
    let mut c2 = Client::new();
    paused_copy.handle_text(t0, &c2.open(stereo_offer()));
    paused_copy.handle_text(t0, &c2.msg("paused", json!({})));
    drain(&mut paused_copy, &mut c2);
    paused_copy.handle_binary(t0, &[0xFF; 2]);
    assert_eq!(
        disconnect_info(&drain(&mut paused_copy, &mut c2)),
        "Received audio in state PAUSED"
    );

    c.position = "PT10S".parse().unwrap();
    s.handle_text(
        t0,
        &c.msg("resumed", json!({"start": "PT0.2S", "discarded": "PT9.8S"})),
    );
    c.position = "PT10.2S".parse().unwrap();
    s.handle_text(
        t0,
        &c.msg(
            "discarded",
            json!({"start": "PT10S", "discarded": "PT0.3S"}),
        ),
    );
    let out = drain(&mut s, &mut c);
    assert!(matches!(out.events[0], SessionEvent::Resumed(_)));
    assert!(matches!(out.events[1], SessionEvent::Discarded(_)));
    s.handle_binary(t0, &[0xFF; 2]);
    let out = drain(&mut s, &mut c);
    assert_eq!(
        out.audio[0].timeline_start.to_string(),
        "PT10.3S",
        "0.2 s received + 9.8 s paused + 0.3 s discarded"
    );
    assert_eq!(s.stats().paused.to_string(), "PT9.8S");
}

#[test]
fn server_pause_and_resume_requests() {
    let t0 = Instant::now();
    let mut s = ServerSession::new(ServerConfig::default(), ID, ORG, t0);
    let mut c = Client::new();
    s.pause(); // before open: start paused
    s.handle_text(t0, &c.open(stereo_offer()));
    let out = drain(&mut s, &mut c);
    let ServerBody::Opened(p) = &out.sent[0].body else {
        panic!()
    };
    assert_eq!(p.start_paused, Some(true));
    s.resume();
    s.pause();
    let out = drain(&mut s, &mut c);
    assert!(matches!(out.sent[0].body, ServerBody::Resume));
    assert!(matches!(out.sent[1].body, ServerBody::Pause));
    assert_eq!(out.sent[1].seq, 3);
}

#[test]
fn update_error_and_audio_connector_messages_are_accepted() {
    let (mut s, mut c, t0) = opened_session(ServerConfig::default());
    s.handle_text(t0, &c.msg("update", json!({"language": "fr-FR"})));
    s.handle_text(
        t0,
        &c.msg(
            "error",
            json!({"code": 429, "message": "slow down", "retryAfter": "PT2S"}),
        ),
    );
    s.handle_text(t0, &c.msg("dtmf", json!({"digit": "5"})));
    s.handle_text(t0, &c.msg("playback_started", json!({})));
    s.handle_text(t0, &c.msg("playback_completed", json!({})));
    s.handle_text(t0, &c.msg("future_thing", json!({"x": 1})));
    let out = drain(&mut s, &mut c);
    assert!(out.sent.is_empty());
    assert_eq!(out.events.len(), 6);
    assert_eq!(
        out.events[0],
        SessionEvent::Updated {
            language: Some("fr-FR".into())
        }
    );
    assert!(matches!(&out.events[1], SessionEvent::ClientError(e) if e.code == 429));
    assert_eq!(
        out.events[5],
        SessionEvent::UnknownMessage {
            kind: "future_thing".into()
        }
    );
    assert_eq!(s.state(), ServerState::Active);

    let strict = ServerConfig {
        unknown_messages: UnknownMessagePolicy::Disconnect,
        ..ServerConfig::default()
    };
    let (mut s, mut c, t0) = opened_session(strict);
    s.handle_text(t0, &c.msg("future_thing", json!({})));
    assert_eq!(
        disconnect_info(&drain(&mut s, &mut c)),
        "Invalid Message: 'future_thing' is not a supported client message"
    );
}

#[test]
fn events_carry_transcripts() {
    let (mut s, mut c, t0) = opened_session(ServerConfig::default());
    let transcript = crate::proto::entities::Transcript {
        id: "5d3f3c62-2d5e-4a40-9d3a-0f2a4bd8f4a1".into(),
        channel_id: 0,
        is_final: true,
        offset: Some("PT1.1S".parse().unwrap()),
        duration: Some("PT1.6S".parse().unwrap()),
        alternatives: vec![],
    };
    assert!(s.send_event(vec![Entity::transcript(&transcript)]));
    let out = drain(&mut s, &mut c);
    let ServerBody::Event { entities } = &out.sent[0].body else {
        panic!()
    };
    assert_eq!(entities[0].as_transcript().unwrap(), transcript);
    let _ = t0;
}

#[test]
fn sequence_and_identity_violations_disconnect_with_error() {
    type MakeMessage = Box<dyn Fn(&mut Client) -> String>;
    let cases: Vec<(MakeMessage, &str)> = vec![
        (
            Box::new(|c: &mut Client| {
                c.seq += 1;
                c.msg("ping", json!({}))
            }),
            "Invalid seq value (not monotonically increasing)",
        ),
        (
            Box::new(|c: &mut Client| {
                c.serverseq = 9;
                c.msg("ping", json!({}))
            }),
            "Invalid serverseq value",
        ),
        (
            Box::new(|c: &mut Client| {
                c.msg("ping", json!({}))
                    .replace(ID, "11111111-1111-4111-8111-111111111111")
            }),
            "Session identifier mismatch",
        ),
        (
            Box::new(|c: &mut Client| {
                c.msg("ping", json!({}))
                    .replace("\"version\":\"2\"", "\"version\":\"1\"")
            }),
            "Invalid message: envelope field version: \"1\" is not \"2\"",
        ),
        (
            Box::new(|_| "{not json".to_owned()),
            "Invalid message: malformed JSON",
        ),
        (
            Box::new(|c: &mut Client| c.msg("close", json!({"reason": "because"}))),
            "Invalid message: invalid parameters for close",
        ),
        (
            Box::new(|_| "x".repeat(65_536)),
            "Text message too large (>64K)",
        ),
    ];
    for (make, expected) in cases {
        let (mut s, mut c, t0) = opened_session(ServerConfig::default());
        let text = make(&mut c);
        s.handle_text(t0, &text);
        let out = drain(&mut s, &mut c);
        let info = disconnect_info(&out);
        assert!(
            info.starts_with(expected),
            "{info:?} does not start with {expected:?}"
        );
        assert_eq!(s.state(), ServerState::Disconnecting);
        assert!(matches!(
            out.events.last(),
            Some(SessionEvent::Disconnected {
                reason: DisconnectReason::Error,
                ..
            })
        ));
        // After the disconnect only close is processed; pings go unanswered.
        s.handle_text(t0, &c.msg("ping", json!({})));
        assert!(drain(&mut s, &mut c).sent.is_empty());
    }
}

#[test]
fn binary_before_open_and_partial_samples_are_violations() {
    let t0 = Instant::now();
    let mut s = ServerSession::new(ServerConfig::default(), ID, ORG, t0);
    let mut c = Client::new();
    s.handle_binary(t0, &[0xFF; 10]);
    assert_eq!(
        disconnect_info(&drain(&mut s, &mut c)),
        "Received audio in state AWAITINGOPEN"
    );

    let (mut s, mut c, t0) = opened_session(ServerConfig::default());
    s.handle_binary(t0, &[0xFF; 3]); // stereo PCMU needs pairs
    assert_eq!(
        disconnect_info(&drain(&mut s, &mut c)),
        "Audio frame of 3 bytes is not whole samples"
    );
}

#[test]
fn other_messages_before_open_are_violations() {
    let t0 = Instant::now();
    let mut s = ServerSession::new(ServerConfig::default(), ID, ORG, t0);
    let mut c = Client::new();
    s.handle_text(t0, &c.msg("paused", json!({})));
    assert_eq!(
        disconnect_info(&drain(&mut s, &mut c)),
        "Message paused not valid before open"
    );
}

#[test]
fn organization_mismatch_is_unauthorized_with_a_generic_answer() {
    let t0 = Instant::now();
    let mut s = ServerSession::new(
        ServerConfig::default(),
        ID,
        "00000000-0000-4000-8000-000000000001",
        t0,
    );
    let mut c = Client::new();
    s.handle_text(t0, &c.open(stereo_offer()));
    let out = drain(&mut s, &mut c);
    let ServerBody::Disconnect(p) = &out.sent[0].body else {
        panic!()
    };
    assert_eq!(p.reason, DisconnectReason::Unauthorized);
    assert!(p.info.is_none(), "the reason goes to the logs only");
    assert!(
        matches!(&out.events[0], SessionEvent::Disconnected { detail, .. } if detail.contains("organizationId"))
    );
    // The client then closes with reason disconnect and gets closed.
    s.handle_text(t0, &c.msg("close", json!({"reason": "disconnect"})));
    assert!(matches!(
        drain(&mut s, &mut c).sent[0].body,
        ServerBody::Closed
    ));
}

#[test]
fn second_open_is_ignored() {
    let (mut s, mut c, t0) = opened_session(ServerConfig::default());
    s.handle_text(t0, &c.open(stereo_offer()));
    let out = drain(&mut s, &mut c);
    assert!(out.sent.is_empty() && out.events.is_empty());
    assert_eq!(s.state(), ServerState::Active);
}

#[test]
fn server_disconnect_then_client_close() {
    let (mut s, mut c, t0) = opened_session(ServerConfig::default());
    s.disconnect(t0, DisconnectReason::Completed, Some(String::new()), None);
    let out = drain(&mut s, &mut c);
    assert!(
        matches!(&out.sent[0].body, ServerBody::Disconnect(p) if p.reason == DisconnectReason::Completed)
    );
    s.handle_binary(t0, &[0xFF; 2]); // late audio is dropped quietly
    s.handle_text(t0, &c.msg("close", json!({"reason": "disconnect"})));
    let out = drain(&mut s, &mut c);
    assert!(out.audio.is_empty());
    assert!(matches!(out.sent[0].body, ServerBody::Closed));
    // The client closes the socket; if it does not, we do after the timeout.
    let at = s.poll_timeout().unwrap();
    assert_eq!(at, t0 + Duration::from_secs(10));
    s.handle_timeout(at);
    assert!(drain(&mut s, &mut c).closed_socket);
}

#[test]
fn close_grace_lets_final_events_out_before_closed() {
    let config = ServerConfig {
        close_grace: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    let (mut s, mut c, t0) = opened_session(config);
    s.handle_text(t0, &c.msg("close", json!({"reason": "end"})));
    let out = drain(&mut s, &mut c);
    assert!(out.sent.is_empty());
    assert_eq!(
        out.events,
        vec![SessionEvent::Closing {
            reason: CloseReason::End
        }]
    );
    assert!(s.send_event(vec![Entity::barge_in()]));
    s.handle_timeout(t0 + Duration::from_secs(2));
    let out = drain(&mut s, &mut c);
    assert!(matches!(out.sent[0].body, ServerBody::Event { .. }));
    assert!(matches!(out.sent[1].body, ServerBody::Closed));
    assert_eq!(out.sent[1].clientseq, 2);
    assert!(
        !s.send_event(vec![Entity::barge_in()]),
        "no events after closed"
    );
}

#[test]
fn timers_close_silent_connections() {
    let t0 = Instant::now();
    let mut s = ServerSession::new(ServerConfig::default(), ID, ORG, t0);
    let mut c = Client::new();
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    s.handle_timeout(t0 + Duration::from_secs(9));
    assert!(!drain(&mut s, &mut c).closed_socket);
    s.handle_timeout(t0 + Duration::from_secs(10));
    assert!(
        drain(&mut s, &mut c).closed_socket,
        "no open within the timeout"
    );

    let (mut s, mut c, t0) = opened_session(ServerConfig::default());
    s.handle_text(t0 + Duration::from_secs(30), &c.msg("ping", json!({})));
    drain(&mut s, &mut c);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(90)));
    s.handle_timeout(t0 + Duration::from_secs(90));
    let info = disconnect_info(&drain(&mut s, &mut c));
    assert!(info.contains("idle"), "{info}");
}

#[test]
fn a_draining_server_asks_for_a_reconnect_only_while_streaming_and_the_session_goes_on() {
    let t0 = Instant::now();
    let mut s = ServerSession::new(ServerConfig::default(), ID, ORG, t0);
    let mut c = Client::new();
    assert!(!s.reconnect(None), "not before open");
    s.handle_text(t0, &c.open(stereo_offer()));
    drain(&mut s, &mut c);
    assert!(s.reconnect(Some("server draining".into())));
    let out = drain(&mut s, &mut c);
    match &out.sent[0].body {
        ServerBody::Reconnect { info } => assert_eq!(info.as_deref(), Some("server draining")),
        other => panic!("expected reconnect, got {other:?}"),
    }
    assert_eq!(s.state(), ServerState::Active, "the session goes on");
    s.disconnect(t0, DisconnectReason::Completed, None, None);
    drain(&mut s, &mut c);
    assert!(!s.reconnect(None), "not once disconnecting");
}
