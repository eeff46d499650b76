//! The crash-safe WAV writer.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{part_path, sync_parent_dir};
use crate::AudioError;
use crate::frame::{duration_to_frames, frames_to_duration};

/// Bytes of the canonical 44-byte header that precede the samples.
const HEADER_BYTES: u64 = 44;
/// The user-space write buffer. A killed process loses what sits here, so it must hold well under
/// a second of audio: 8 KiB is 0.25 s of 8 kHz stereo and 0.5 s of 8 kHz mono.
const BUFFER_BYTES: usize = 8 * 1024;

/// Channel count and sample rate of a 16-bit PCM WAV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WavFormat {
    /// 1 (mono) or 2 (stereo).
    pub channels: u16,
    /// Sample rate in Hz.
    pub sample_rate: u32,
}

impl WavFormat {
    /// Bytes per frame (all channels of one sample instant).
    pub fn block_align(&self) -> u64 {
        u64::from(self.channels) * 2
    }
}

/// What a finished recording looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinishedWav {
    /// The final path (without `.part`).
    pub path: PathBuf,
    /// Frames written.
    pub frames: u64,
    /// Duration of the audio.
    pub duration: Duration,
}

/// When a header checkpoint makes the file durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every checkpoint fsyncs the file (the default).
    #[default]
    EachCheckpoint,
    /// Checkpoints hand the samples and the header to the kernel without an fsync; the owner
    /// makes them durable at least once per checkpoint interval (one `syncfs` a second for a
    /// whole spool of recordings costs one I/O flush instead of one per file). Creating and
    /// finalizing the file still fsync.
    SyncedByOwner,
}

/// A file whose `flush` also makes the data durable (when `sync` says so): hound's header
/// checkpoint calls it.
struct DurableFile {
    file: BufWriter<File>,
    /// Shared with the writer, which turns it on to finalize.
    sync: Arc<AtomicBool>,
}

impl Write for DurableFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.sync.load(Ordering::Relaxed) {
            self.file.get_ref().sync_data()?;
        }
        Ok(())
    }
}

impl Seek for DurableFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

/// Writes 16-bit PCM to `NAME.part`, checkpointing the header, and renames it to `NAME` when
/// finalized.
pub struct CrashSafeWavWriter {
    wav: hound::WavWriter<DurableFile>,
    /// Whether checkpoints fsync (see [`Durability`]).
    sync: Arc<AtomicBool>,
    format: WavFormat,
    part_path: PathBuf,
    final_path: PathBuf,
    frames_written: u64,
    frames_at_checkpoint: u64,
    checkpoint_every: u64,
}

impl CrashSafeWavWriter {
    /// Starts a recording that will end up at `final_path`; refuses to replace an existing
    /// recording or an unrepaired `.part`.
    pub fn create(final_path: &Path, format: WavFormat) -> Result<Self, AudioError> {
        if !(1..=2).contains(&format.channels) || format.sample_rate == 0 {
            return Err(AudioError::InvalidLayout(format!(
                "{} channels at {} Hz; the writer takes mono or stereo",
                format.channels, format.sample_rate
            )));
        }
        if final_path.exists() {
            return Err(AudioError::File {
                op: "create",
                path: final_path.to_owned(),
                source: io::ErrorKind::AlreadyExists.into(),
            });
        }
        let part = part_path(final_path);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)
            .map_err(AudioError::file("create", &part))?;
        let spec = hound::WavSpec {
            channels: format.channels,
            sample_rate: format.sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let sync = Arc::new(AtomicBool::new(true));
        let durable = DurableFile {
            file: BufWriter::with_capacity(BUFFER_BYTES, file),
            sync: Arc::clone(&sync),
        };
        let wav = hound::WavWriter::new(durable, spec).map_err(from_hound)?;
        let mut writer = CrashSafeWavWriter {
            wav,
            sync,
            format,
            part_path: part,
            final_path: final_path.to_owned(),
            frames_written: 0,
            frames_at_checkpoint: 0,
            checkpoint_every: u64::from(format.sample_rate),
        };
        // Make the header and the directory entry durable at once: a crash before the first
        // checkpoint then still leaves a repairable file.
        writer.flush()?;
        sync_parent_dir(&writer.part_path)?;
        Ok(writer)
    }

    /// Sets whether checkpoints fsync the file or leave that to the owner.
    pub fn set_durability(&mut self, durability: Durability) {
        self.sync
            .store(durability == Durability::EachCheckpoint, Ordering::Relaxed);
    }

    /// Sets how much audio may be written between header checkpoints (default: one second).
    pub fn set_checkpoint_interval(&mut self, interval: Duration) {
        self.checkpoint_every = duration_to_frames(interval, self.format.sample_rate).max(1);
    }

    /// Appends interleaved samples (whole frames), checkpointing when an interval has passed.
    pub fn write(&mut self, interleaved: &[i16]) -> Result<(), AudioError> {
        let channels = usize::from(self.format.channels);
        if !interleaved.len().is_multiple_of(channels) {
            return Err(AudioError::PartialFrame {
                samples: interleaved.len(),
                channels,
            });
        }
        let frames = (interleaved.len() / channels) as u64;
        let data_bytes = (self.frames_written + frames) * self.format.block_align();
        if HEADER_BYTES - 8 + data_bytes > u64::from(u32::MAX) {
            return Err(AudioError::WavTooLarge);
        }
        // Hound's sample writer holds at most u32::MAX samples per call; split large writes.
        for chunk in interleaved.chunks(1 << 20) {
            let mut samples = self.wav.get_i16_writer(chunk.len() as u32);
            for &s in chunk {
                samples.write_sample(s);
            }
            samples.flush().map_err(from_hound)?;
        }
        self.frames_written += frames;
        if self.frames_written - self.frames_at_checkpoint >= self.checkpoint_every {
            self.flush()?;
        }
        Ok(())
    }

    /// Checkpoints now: writes the header sizes for everything written so far and fsyncs (or,
    /// with [`Durability::SyncedByOwner`], hands them to the kernel).
    pub fn flush(&mut self) -> Result<(), AudioError> {
        self.wav.flush().map_err(from_hound)?;
        self.frames_at_checkpoint = self.frames_written;
        Ok(())
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames_written
    }

    /// Duration written so far.
    pub fn duration(&self) -> Duration {
        frames_to_duration(self.frames_written, self.format.sample_rate)
    }

    /// The file's format.
    pub fn format(&self) -> WavFormat {
        self.format
    }

    /// The `.part` path being written.
    pub fn part_path(&self) -> &Path {
        &self.part_path
    }

    /// Completes the header, fsyncs, and renames `NAME.part` to `NAME`.
    pub fn finalize(self) -> Result<FinishedWav, AudioError> {
        // hound's finalize patches the sizes and flushes, which fsyncs through DurableFile
        // whatever the checkpoints did: a finished file is always durable before its rename.
        self.sync.store(true, Ordering::Relaxed);
        self.wav.finalize().map_err(from_hound)?;
        std::fs::rename(&self.part_path, &self.final_path)
            .map_err(AudioError::file("rename", &self.part_path))?;
        sync_parent_dir(&self.final_path)?;
        Ok(FinishedWav {
            path: self.final_path,
            frames: self.frames_written,
            duration: frames_to_duration(self.frames_written, self.format.sample_rate),
        })
    }
}

fn from_hound(e: hound::Error) -> AudioError {
    match e {
        hound::Error::IoError(io) => AudioError::Io(io),
        other => AudioError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(path: &Path) -> (hound::WavSpec, Vec<i16>) {
        let mut reader = hound::WavReader::open(path).unwrap();
        let samples = reader.samples::<i16>().map(|s| s.unwrap()).collect();
        (reader.spec(), samples)
    }

    #[test]
    fn finalized_file_has_every_sample_and_no_part() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("call.wav");
        let mut w = CrashSafeWavWriter::create(
            &path,
            WavFormat {
                channels: 2,
                sample_rate: 8000,
            },
        )
        .unwrap();
        assert!(w.part_path().ends_with("call.wav.part"));
        let samples: Vec<i16> = (0..16_000).map(|i| (i % 3000) as i16 - 1500).collect();
        for chunk in samples.chunks(320) {
            w.write(chunk).unwrap();
        }
        assert_eq!(w.frames_written(), 8000);
        let done = w.finalize().unwrap();
        assert_eq!(done.duration, Duration::from_secs(1));
        assert!(!part_path(&path).exists());
        let (spec, back) = read_back(&path);
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (2, 8000, 16)
        );
        assert_eq!(back, samples);
    }

    #[test]
    fn header_is_checkpointed_every_second_of_audio() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mono.wav");
        let mut w = CrashSafeWavWriter::create(
            &path,
            WavFormat {
                channels: 1,
                sample_rate: 16000,
            },
        )
        .unwrap();
        // Right after create the header is on disk and declares no data.
        let (_, back) = read_back(w.part_path());
        assert!(back.is_empty());
        w.write(&[7; 15_999]).unwrap();
        let (_, back) = read_back(w.part_path());
        assert!(back.is_empty(), "no checkpoint before one second");
        w.write(&[7; 1]).unwrap();
        let (_, back) = read_back(w.part_path());
        assert_eq!(back.len(), 16_000, "checkpoint at one second");
        w.set_checkpoint_interval(Duration::from_millis(100));
        w.write(&[9; 1600]).unwrap();
        assert_eq!(read_back(w.part_path()).1.len(), 17_600);
    }

    #[test]
    fn checkpoints_left_to_the_owner_still_reach_the_file_and_finalize_completes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owned.wav");
        let format = WavFormat {
            channels: 2,
            sample_rate: 8000,
        };
        let mut w = CrashSafeWavWriter::create(&path, format).unwrap();
        w.set_durability(Durability::SyncedByOwner);
        w.write(&[3; 16_000]).unwrap();
        // The checkpoint handed samples and header to the kernel: a reader (or a repair after
        // the process is killed) sees the whole second.
        assert_eq!(read_back(w.part_path()).1.len(), 16_000);
        w.write(&[4; 3_200]).unwrap();
        let done = w.finalize().unwrap();
        assert_eq!(done.frames, 9_600);
        assert_eq!(read_back(&path).1.len(), 19_200);
    }

    #[test]
    fn refuses_partial_frames_and_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let format = WavFormat {
            channels: 2,
            sample_rate: 8000,
        };
        let mut w = CrashSafeWavWriter::create(&path, format).unwrap();
        assert!(matches!(
            w.write(&[1, 2, 3]),
            Err(AudioError::PartialFrame { .. })
        ));
        // A second writer must not clobber the first one's .part.
        assert!(CrashSafeWavWriter::create(&path, format).is_err());
        w.finalize().unwrap();
        assert!(CrashSafeWavWriter::create(&path, format).is_err());
        assert!(
            CrashSafeWavWriter::create(
                &dir.path().join("b.wav"),
                WavFormat {
                    channels: 3,
                    sample_rate: 8000
                }
            )
            .is_err()
        );
    }

    #[test]
    fn refuses_to_grow_past_the_riff_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = CrashSafeWavWriter::create(
            &dir.path().join("big.wav"),
            WavFormat {
                channels: 2,
                sample_rate: 8000,
            },
        )
        .unwrap();
        // Pretend 4 GiB minus one frame has been written; the counters are all that decide.
        w.frames_written = (u64::from(u32::MAX) - 36) / 4;
        assert!(matches!(w.write(&[0, 0]), Err(AudioError::WavTooLarge)));
    }
}
