//! Real speech for tests: the Asterisk prompt corpus (`scripts/speech-corpus.sh`: 7 voices × 24
//! utterances, 8 kHz mono WAV), built once per target directory.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The corpus's voices: one folder per person.
pub const VOICES: [&str; 7] = [
    "allison_en",
    "armelle_fr",
    "carlo_it",
    "esco",
    "ivr_ru",
    "june_frca",
    "menardi_it",
];

/// The corpus directory: `HARK_SPEECH_CORPUS`, else built (once) under `tmp`, the calling test's
/// `CARGO_TARGET_TMPDIR`. Building needs apt-get, dpkg, sox and python3.
pub fn speech_corpus(tmp: &str) -> PathBuf {
    static CORPUS: OnceLock<PathBuf> = OnceLock::new();
    CORPUS
        .get_or_init(|| {
            if let Some(dir) = std::env::var_os("HARK_SPEECH_CORPUS") {
                return PathBuf::from(dir);
            }
            let dir = Path::new(tmp).join("speech-corpus");
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/speech-corpus.sh");
            let built = Command::new("bash").arg(&script).arg(&dir).status();
            assert!(
                built.is_ok_and(|s| s.success()),
                "scripts/speech-corpus.sh failed; it needs apt-get, dpkg, sox and python3"
            );
            dir
        })
        .clone()
}

/// Utterances `range` of a corpus voice, concatenated: 8 kHz mono 16-bit samples.
pub fn utterances(corpus: &Path, voice: &str, range: RangeInclusive<u32>) -> Vec<i16> {
    let mut out = Vec::new();
    for n in range {
        let path = corpus.join(voice).join(format!("{n:02}.wav"));
        let mut reader =
            hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(reader.spec().sample_rate, 8000, "{}", path.display());
        out.extend(reader.samples::<i16>().map(|s| s.unwrap_or(0)));
    }
    out
}

/// Utterances `range` of a corpus voice written as one 8 kHz mono WAV at `path`.
pub fn utterances_wav(corpus: &Path, voice: &str, range: RangeInclusive<u32>, path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let written = hound::WavWriter::create(path, spec).and_then(|mut out| {
        for s in utterances(corpus, voice, range) {
            out.write_sample(s)?;
        }
        out.finalize()
    });
    written.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
