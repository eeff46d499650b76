//! Crash-safe WAV recording.
//!
//! A recording is written to `NAME.part` and renamed to `NAME` only when it is complete, so a
//! file without the suffix is always whole. While it grows, the header's RIFF and data sizes are
//! checkpointed (and the file fsynced) at least once per second of audio, so even an unrepaired
//! `.part` plays up to its last checkpoint. After a crash, [`repair`] turns an orphaned `.part`
//! into a valid WAV holding every whole frame that reached the disk.
//!
//! The format is always 16-bit PCM, mono or stereo, at any rate.

mod repair;
mod writer;

pub use repair::{RepairReport, find_orphans, repair};
pub use writer::{CrashSafeWavWriter, Durability, FinishedWav, WavFormat};

use std::path::{Path, PathBuf};

/// The suffix of a recording that is still being written.
pub const PART_SUFFIX: &str = ".part";

/// `NAME.part` for a final path `NAME`.
pub fn part_path(final_path: &Path) -> PathBuf {
    let mut name = final_path.as_os_str().to_owned();
    name.push(PART_SUFFIX);
    PathBuf::from(name)
}

/// fsyncs the directory holding `path`, so a create or rename in it survives power loss.
fn sync_parent_dir(path: &Path) -> Result<(), crate::AudioError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(crate::AudioError::file("sync directory", dir))
}
