//! Any text parses as an AudioHook message or fails with a typed error; whatever parses writes
//! back to text that parses to the same message.
#![no_main]

use hark_audiohook::proto::{ClientMessage, ServerMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(m) = ClientMessage::parse(text) {
        let again = ClientMessage::parse(&m.to_json()).expect("our own client message parses");
        assert_eq!(again, m);
    }
    if let Ok(m) = ServerMessage::parse(text) {
        let again = ServerMessage::parse(&m.to_json()).expect("our own server message parses");
        assert_eq!(again, m);
    }
});
