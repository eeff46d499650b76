//! Recovery of `.part` files left behind by a crash.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{PART_SUFFIX, WavFormat, sync_parent_dir};
use crate::AudioError;
use crate::frame::frames_to_duration;

/// What [`repair`] recovered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepairReport {
    /// The repaired file's final path (the `.part` suffix removed).
    pub path: PathBuf,
    /// The file's format.
    pub format: WavFormat,
    /// Whole frames recovered.
    pub frames: u64,
    /// Duration recovered.
    pub duration: Duration,
    /// Frames the header declared at its last checkpoint; the rest was found from the length.
    pub checkpointed_frames: u64,
    /// Bytes of a trailing partial frame that were cut off.
    pub truncated_bytes: u64,
}

/// Lists the `.part` files directly inside `dir`, sorted by name.
pub fn find_orphans(dir: &Path) -> Result<Vec<PathBuf>, AudioError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(AudioError::file("list", dir))? {
        let path = entry.map_err(AudioError::file("list", dir))?.path();
        let is_part = path.to_str().is_some_and(|p| p.ends_with(PART_SUFFIX));
        if is_part && path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// Turns an orphaned `NAME.part` into a valid `NAME` holding every whole frame on disk.
///
/// The data size is recomputed from the file length (our writer never puts chunks after `data`),
/// a trailing partial frame is cut off, both header sizes are rewritten and the file is fsynced
/// and renamed. The audio itself is never touched.
pub fn repair(part: &Path) -> Result<RepairReport, AudioError> {
    let not_repairable = |reason: String| AudioError::NotRepairable {
        path: part.to_owned(),
        reason,
    };
    let final_path = part
        .to_str()
        .and_then(|p| p.strip_suffix(PART_SUFFIX))
        .map(PathBuf::from)
        .ok_or_else(|| not_repairable(format!("the name does not end in {PART_SUFFIX}")))?;
    if final_path.exists() {
        return Err(not_repairable(format!(
            "{} already exists",
            final_path.display()
        )));
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(part)
        .map_err(AudioError::file("open", part))?;
    let file_len = file
        .metadata()
        .map_err(AudioError::file("stat", part))?
        .len();
    let layout = read_layout(&mut file, file_len).map_err(not_repairable)?;

    let block = layout.format.block_align();
    let max_data = u64::from(u32::MAX) - (layout.data_start - 8);
    let available = (file_len - layout.data_start).min(max_data);
    let data_len = available / block * block;
    let truncated_bytes = file_len - layout.data_start - data_len;

    file.set_len(layout.data_start + data_len)
        .map_err(AudioError::file("truncate", part))?;
    write_u32_at(&mut file, 4, (layout.data_start - 8 + data_len) as u32)
        .and_then(|_| write_u32_at(&mut file, layout.data_start - 4, data_len as u32))
        .and_then(|_| file.sync_all())
        .map_err(AudioError::file("rewrite header of", part))?;
    drop(file);
    std::fs::rename(part, &final_path).map_err(AudioError::file("rename", part))?;
    sync_parent_dir(&final_path)?;

    let frames = data_len / block;
    Ok(RepairReport {
        path: final_path,
        format: layout.format,
        frames,
        duration: frames_to_duration(frames, layout.format.sample_rate),
        checkpointed_frames: (u64::from(layout.declared_data) / block).min(frames),
        truncated_bytes,
    })
}

/// Where the samples start and what the header says about them.
struct DataLayout {
    format: WavFormat,
    data_start: u64,
    declared_data: u32,
}

/// Reads the header our writer produces — `RIFF`, `WAVE`, a 16-byte `fmt ` chunk, then `data` —
/// and refuses anything else. A `.part` in another layout was not written by us, and extending
/// its data chunk to the end of the file could swallow chunks we do not understand (readers also
/// disagree on details such as chunk padding, so a "repaired" foreign file might not play).
fn read_layout(file: &mut File, file_len: u64) -> Result<DataLayout, String> {
    let mut header = [0u8; 44];
    file.read_exact(&mut header)
        .map_err(|_| format!("only {file_len} bytes: shorter than a WAV header"))?;
    if &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    if &header[12..16] != b"fmt " || &header[36..40] != b"data" {
        return Err("not the header layout hark writes (fmt chunk, then data)".into());
    }
    let fmt_size = u32::from_le_bytes([header[16], header[17], header[18], header[19]]);
    file.seek(SeekFrom::Start(20)).map_err(|e| e.to_string())?;
    let format = read_fmt(file, fmt_size)?;
    Ok(DataLayout {
        format,
        data_start: 44,
        declared_data: u32::from_le_bytes([header[40], header[41], header[42], header[43]]),
    })
}

/// Reads a `fmt ` chunk and accepts only what our writer produces: plain 16-bit PCM, mono or
/// stereo, with consistent block alignment and byte rate — anything else is not ours to extend.
fn read_fmt(file: &mut File, size: u32) -> Result<WavFormat, String> {
    if size != 16 {
        return Err(format!(
            "fmt chunk of {size} bytes is not a plain PCM format header"
        ));
    }
    let mut fmt = [0u8; 16];
    file.read_exact(&mut fmt)
        .map_err(|_| "truncated fmt chunk".to_string())?;
    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([fmt[i], fmt[i + 1], fmt[i + 2], fmt[i + 3]]);
    let (tag, channels, sample_rate) = (u16_at(0), u16_at(2), u32_at(4));
    let (byte_rate, block_align, bits) = (u32_at(8), u16_at(12), u16_at(14));
    if tag != 1 || bits != 16 || !(1..=2).contains(&channels) || sample_rate == 0 {
        return Err(format!(
            "format tag {tag:#x}, {channels} channels, {bits} bits at {sample_rate} Hz is not 16-bit PCM mono/stereo"
        ));
    }
    if block_align != channels * 2
        || Some(byte_rate) != sample_rate.checked_mul(u32::from(block_align))
    {
        return Err(format!(
            "inconsistent fmt chunk: block align {block_align}, byte rate {byte_rate}"
        ));
    }
    Ok(WavFormat {
        channels,
        sample_rate,
    })
}

fn write_u32_at(file: &mut File, offset: u64, value: u32) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(&value.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wav::{CrashSafeWavWriter, part_path};

    fn crashed_part(dir: &Path, frames_written: usize, extra_bytes: &[u8]) -> PathBuf {
        let path = dir.join("crash.wav");
        let mut w = CrashSafeWavWriter::create(
            &path,
            WavFormat {
                channels: 2,
                sample_rate: 8000,
            },
        )
        .unwrap();
        let samples: Vec<i16> = (0..frames_written * 2).map(|i| i as i16).collect();
        w.write(&samples).unwrap();
        let part = w.part_path().to_owned();
        // Simulate a crash: forget the writer without finalizing, then append what a dying
        // process may have managed to write after the last checkpoint.
        std::mem::forget(w);
        let mut f = OpenOptions::new().append(true).open(&part).unwrap();
        f.write_all(extra_bytes).unwrap();
        part
    }

    #[test]
    fn recovers_whole_frames_beyond_the_last_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        // 8000 frames written (checkpointed at 8000), then 3 more frames and half a sample.
        let extra: Vec<u8> = [1i16, 2, 3, 4, 5, 6]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .chain([9])
            .collect();
        let part = crashed_part(dir.path(), 8000, &extra);
        let report = repair(&part).unwrap();
        assert_eq!(report.frames, 8003);
        assert_eq!(report.checkpointed_frames, 8000);
        assert_eq!(report.truncated_bytes, 1);
        assert!(!part.exists());
        let mut reader = hound::WavReader::open(&report.path).unwrap();
        let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(samples.len(), 8003 * 2);
        assert_eq!(&samples[16000..], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(samples[15999], 15999);
    }

    #[test]
    fn refuses_what_it_cannot_repair() {
        let dir = tempfile::tempdir().unwrap();
        let not_part = dir.path().join("x.wav");
        std::fs::write(&not_part, b"RIFF").unwrap();
        assert!(matches!(
            repair(&not_part),
            Err(AudioError::NotRepairable { .. })
        ));
        for junk in [
            &b""[..],
            b"RIFF\0\0\0\0WAVE",
            b"RIFX\0\0\0\0WAVEfmt ",
            b"RIFF\0\0\0\0WAVEdata\0\0\0\0",
        ] {
            let part = part_path(&dir.path().join("junk.wav"));
            std::fs::write(&part, junk).unwrap();
            assert!(
                matches!(repair(&part), Err(AudioError::NotRepairable { .. })),
                "{junk:?}"
            );
        }
        assert!(matches!(
            repair(&dir.path().join("missing.wav.part")),
            Err(AudioError::File { .. })
        ));
    }

    #[test]
    fn refuses_inconsistent_format_headers() {
        // Found by the repair_wav fuzzer: a fmt chunk whose byte rate disagrees with its block
        // alignment was "repaired" into a file no reader accepts.
        let dir = tempfile::tempdir().unwrap();
        let good = crashed_part(dir.path(), 100, &[]);
        let bytes = std::fs::read(&good).unwrap();
        for (offset, value) in [(28usize, 12_345u32), (32, 3), (20, 3)] {
            let mut bad = bytes.clone();
            let width = if offset == 28 { 4 } else { 2 };
            bad[offset..offset + width].copy_from_slice(&value.to_le_bytes()[..width]);
            let part = part_path(&dir.path().join(format!("bad-{offset}.wav")));
            std::fs::write(&part, &bad).unwrap();
            let result = repair(&part);
            assert!(
                matches!(result, Err(AudioError::NotRepairable { .. })),
                "offset {offset}: {result:?}"
            );
        }
        assert!(repair(&good).is_ok());
    }

    #[test]
    fn refuses_layouts_hark_does_not_write() {
        // Found by the repair_wav fuzzer: an odd-sized chunk before `data` is padded by the RIFF
        // rules but not by every reader, so a "repaired" foreign file could be unreadable.
        let dir = tempfile::tempdir().unwrap();
        let bytes = std::fs::read(crashed_part(dir.path(), 10, &[])).unwrap();
        let mut foreign = bytes[..36].to_vec();
        foreign.extend_from_slice(b"LIST\x03\0\0\0abc\0");
        foreign.extend_from_slice(&bytes[36..]);
        let part = part_path(&dir.path().join("foreign.wav"));
        std::fs::write(&part, &foreign).unwrap();
        assert!(matches!(
            repair(&part),
            Err(AudioError::NotRepairable { .. })
        ));
        // A WAVEFORMATEX header (fmt of 18 bytes) moves `data`; the fuzzer found one that
        // claimed 18 bytes but kept `data` at 36.
        let mut ex = bytes.clone();
        ex[16] = 18;
        std::fs::write(&part, &ex).unwrap();
        assert!(matches!(
            repair(&part),
            Err(AudioError::NotRepairable { .. })
        ));
    }

    #[test]
    fn finds_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let part = crashed_part(dir.path(), 10, &[]);
        std::fs::write(dir.path().join("done.wav"), b"").unwrap();
        assert_eq!(find_orphans(dir.path()).unwrap(), vec![part]);
    }
}
