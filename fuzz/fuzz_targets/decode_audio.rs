//! Any bytes given to the decoder produce audio or a typed error, never a panic or a hang.
#![no_main]

use std::time::Duration;

use hark_audio::decode::{DecodeOptions, decode_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = DecodeOptions { max_duration: Duration::from_secs(60), max_channels: 8 };
    if let Ok(audio) = decode_bytes(data.to_vec(), options) {
        assert!(audio.channels > 0 && audio.rate > 0);
        assert_eq!(audio.samples.len() % audio.channels, 0);
    }
});
