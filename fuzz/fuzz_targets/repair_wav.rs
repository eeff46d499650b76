//! Any `.part` file content is repaired into a readable WAV or refused with a typed error.
#![no_main]

use hark_audio::wav::repair;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile_dir() else { return };
    let part = dir.join("x.wav.part");
    if std::fs::write(&part, data).is_err() {
        return;
    }
    if let Ok(report) = repair(&part) {
        let reader = hound::WavReader::open(&report.path);
        assert!(reader.is_ok(), "repaired file unreadable: {:?}", reader.err());
        assert_eq!(reader.map(|r| u64::from(r.duration())).unwrap_or(0), report.frames);
    }
    let _ = std::fs::remove_dir_all(&dir);
});

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("hark-fuzz-repair-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
