//! Any sequence of text frames, binary frames and timer ticks keeps the server session sane:
//! no panic, every text it sends is a valid server message with consecutive seq numbers.
#![no_main]

use std::time::{Duration, Instant};

use hark_audiohook::proto::ServerMessage;
use hark_audiohook::proto::server::{ServerAction, ServerConfig, ServerSession};
use libfuzzer_sys::fuzz_target;

const ID: &str = "939656b2-1d96-47da-962a-86a73cb06e1c";
const ORG: &str = "34e80ec9-a57e-4a06-be8b-b1f2567df796";

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut session = ServerSession::new(ServerConfig::default(), ID, ORG, t0);
    let mut now = t0;
    let mut expected_seq = 1;
    // Frames are separated by 0xFF; the first byte of each picks what it is.
    for chunk in data.split(|b| *b == 0xFF) {
        let Some((&op, body)) = chunk.split_first() else { continue };
        match op % 4 {
            0 => session.handle_binary(now, body),
            1 => {
                now += Duration::from_millis(u64::from(op) * 100);
                session.handle_timeout(now);
            }
            _ => {
                let text = String::from_utf8_lossy(body).replace("$ID", ID).replace("$ORG", ORG);
                session.handle_text(now, &text);
            }
        }
        while let Some(action) = session.poll_action() {
            if let ServerAction::SendText(t) = action {
                let m = ServerMessage::parse(&t).expect("the server only sends valid messages");
                assert_eq!(m.seq, expected_seq);
                expected_seq += 1;
            }
        }
    }
});
