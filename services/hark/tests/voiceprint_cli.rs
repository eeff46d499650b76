//! `hark voiceprint embed` on files some of which hold no speech: each such file is reported
//! with how much speech it has, and the others are still embedded and compared.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

#[test]
fn embed_reports_files_without_enough_speech_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let silence = dir.path().join("silence.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = hound::WavWriter::create(&silence, spec).unwrap();
    for _ in 0..8000 * 5 {
        out.write_sample(0i16).unwrap();
    }
    out.finalize().unwrap();
    let voices = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/voices");
    let a = voices.join("allison_en/00.wav");
    let b = voices.join("carlo_it/00.wav");

    let run = Command::new(env!("CARGO_BIN_EXE_hark"))
        .args(["voiceprint", "embed"])
        .arg(&a)
        .arg(&silence)
        .arg(&b)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("silence.wav: skipped: 0.00 s of net speech"),
        "{stderr}"
    );
    assert!(stdout.contains("allison_en/00.wav:"), "{stdout}");
    assert!(stdout.contains("carlo_it/00.wav:"), "{stdout}");
    // The two with speech are compared: a 2 × 2 similarity matrix.
    assert!(stdout.lines().any(|l| l.starts_with("  1  ")), "{stdout}");
}
