//! A hostile monitor: any sequence of text frames, binary frames and timer ticks from the
//! monitor, interleaved with the call's audio and secure pauses, keeps hark's monitor session
//! sane: no panic, every text it sends is a valid client message with consecutive seq numbers
//! and positions that never go back.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use hark_audio::{AudioFrame, ChannelLayout, Encoding};
use hark_audiohook::proto::client::{ClientAction, ClientSession};
use hark_audiohook::proto::media::MediaFormat;
use hark_audiohook::proto::message::Participant;
use hark_audiohook::proto::{ClientMessage, Position};
use hark_monitor::CallIdentity;
use hark_monitor::delivery::Delivery;
use hark_monitor::feed::FeedItem;
use libfuzzer_sys::fuzz_target;

const ID: &str = "939656b2-1d96-47da-962a-86a73cb06e1c";

fuzz_target!(|data: &[u8]| {
    let call = CallIdentity {
        call_id: "call".into(),
        organization_id: "34e80ec9-a57e-4a06-be8b-b1f2567df796".into(),
        conversation_id: "75b48018-1edd-4484-be2f-be322c0a1750".into(),
        participant: Participant {
            id: "d1a2c3b4-0000-4000-8000-000000000001".into(),
            ..Participant::default()
        },
        language: None,
        media: MediaFormat {
            encoding: Encoding::Pcmu,
            layout: ChannelLayout::CUSTOMER_LEFT,
            rate: 8000,
        },
    };
    let mut now = Instant::now();
    let mut session = ClientSession::new(call.client_config(ID, Duration::from_secs(5)));
    let mut delivery = Delivery::default();
    let block = Arc::new(AudioFrame::silence(ChannelLayout::CUSTOMER_LEFT, 8000, 1600).expect("frame"));
    let mut timeline = Position::ZERO;
    let (mut seq, mut position) = (0, Position::ZERO);
    session.start(now);
    // Frames are separated by 0xFF; the first byte of each picks what it is.
    for chunk in data.split(|b| *b == 0xFF) {
        let Some((&op, body)) = chunk.split_first() else { continue };
        match op % 6 {
            0 => session.handle_binary(now, body),
            1 => {
                now += Duration::from_millis(u64::from(op) * 50);
                session.handle_timeout(now);
            }
            2 => {
                // The call's audio, sometimes after a gap (dropped from the queue).
                timeline = timeline.saturating_add(Position::from_nanos(u64::from(op) * 25_000_000));
                if session.state() == hark_audiohook::proto::client::ClientState::Open {
                    let item = FeedItem::Audio { start: timeline, frame: Arc::clone(&block) };
                    let _ = delivery.apply(&mut session, item);
                }
                timeline = timeline.saturating_add(Position::from_nanos(200_000_000));
            }
            3 => {
                if session.state() == hark_audiohook::proto::client::ClientState::Open {
                    let item = if op & 0x40 == 0 {
                        FeedItem::Pause { at: timeline }
                    } else {
                        FeedItem::Resume { at: timeline }
                    };
                    let _ = delivery.apply(&mut session, item);
                }
            }
            _ => {
                let text = String::from_utf8_lossy(body).replace("$ID", ID);
                session.handle_text(now, &text);
            }
        }
        while let Some(action) = session.poll_action() {
            if let ClientAction::SendText(t) = action {
                let m = ClientMessage::parse(&t).expect("hark only sends valid messages");
                assert_eq!(m.seq, seq + 1);
                assert!(m.position >= position, "positions never go back");
                seq = m.seq;
                position = m.position;
            }
        }
    }
});
