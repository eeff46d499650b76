//! Embeds two recordings and says how alike the voices are, on Voice ID's 0–100 scale.
//!
//!   cargo run --release -p hark-voiceprint --example compare_voices -- a.wav b.wav
//!
//! Without arguments it compares two utterances of one fixture voice, then two voices.

use std::path::{Path, PathBuf};

use hark_voiceprint::{Calibration, Embedder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let pairs = match args.as_slice() {
        [a, b] => vec![(a.clone(), b.clone())],
        [] => {
            let voices = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/voices");
            let june = |n: u32| voices.join(format!("june_frca/{n:02}.wav"));
            vec![
                (june(0), june(1)),
                (june(0), voices.join("carlo_it/00.wav")),
            ]
        }
        _ => return Err("usage: compare_voices [A.wav B.wav]".into()),
    };
    // Loads the GE2E weights compiled into the crate; cheap to clone and share.
    let embedder = Embedder::embedded()?;
    let calibration = Calibration::default();
    for (a, b) in pairs {
        // Any format hark-audio decodes (WAV, FLAC, Ogg Vorbis, MP3), any rate, mixed to mono.
        let (first, second) = (embedder.embed_file(&a)?, embedder.embed_file(&b)?);
        let cosine = first.voiceprint.similarity(&second.voiceprint);
        println!(
            "{} ({:.1} s of speech) vs {} ({:.1} s): cosine {cosine:.3}, score {} of 100",
            a.display(),
            first.speech.as_secs_f64(),
            b.display(),
            second.speech.as_secs_f64(),
            calibration.score(cosine),
        );
    }
    Ok(())
}
