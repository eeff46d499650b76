//! What the benchmarks share: the speech they embed.

use std::path::Path;

/// About 9 s of real speech at 8 kHz: two utterances of one fixture voice.
pub fn speech() -> Vec<f32> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/voices/allison_en");
    ["00.wav", "01.wav"]
        .iter()
        .flat_map(|f| {
            hound::WavReader::open(dir.join(f))
                .unwrap()
                .into_samples::<i16>()
                .map(|s| f32::from(s.unwrap()) / 32768.0)
                .collect::<Vec<_>>()
        })
        .collect()
}
