//! The call recorder: a leg's audio into a crash-safe WAV file, with pause tones and silence.
//!
//! Layout: [`Track::Both`] is stereo, customer (`external`) left and agent (`internal`) right;
//! one track is mono. Audio arrives in the channel order the AudioHook peer negotiated and is
//! rearranged here; a channel the stream does not carry is recorded as silence.
//!
//! Pauses (Chime `PauseCallRecording`): with [`PauseBehavior::Silence`] the paused span keeps its
//! length and reads `[pause tone][silence][resume tone]` — the tones replace silence, never audio
//! (the last tone's worth of silence is held back until it is known whether a resume follows).
//! With [`PauseBehavior::Skip`] the paused audio is left out and the two tones mark the cut.
//! Gaps in the stream itself (the client's secure pause, discarded audio) are filled with silence
//! in silence mode, so the file keeps the call's timeline; paused or gap audio never reaches the
//! file.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hark_audio::frame::{duration_to_frames, frames_to_duration};
use hark_audio::tone::marker_tone;
use hark_audio::wav::{CrashSafeWavWriter, Durability, FinishedWav, WavFormat};
use hark_audio::{AudioError, AudioFrame, Channel};

use crate::spec::{PauseBehavior, Track};

/// The recording sample rate (AudioHook audio is 8 kHz).
pub const RECORDING_RATE: u32 = 8000;

/// The marker tone written at pause and resume.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToneConfig {
    /// Frequency in Hz.
    pub frequency_hz: f64,
    /// Peak level in dBFS.
    pub level_dbfs: f64,
    /// Length of each tone.
    pub duration: Duration,
}

/// Distinct tone configurations kept rendered (a service uses one; tests a few).
const TONES_KEPT: usize = 8;

/// The marker tone of `config`, rendered once and shared: thousands of concurrent recorders
/// would otherwise each hold their own copy (3.2 KB at the default 200 ms).
fn shared_tone(config: ToneConfig) -> Arc<[i16]> {
    static TONES: Mutex<Vec<(ToneConfig, Arc<[i16]>)>> = Mutex::new(Vec::new());
    // The list only ever holds whole entries, so a panic elsewhere cannot leave it torn.
    let mut tones = TONES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, tone)) = tones.iter().find(|(kept, _)| *kept == config) {
        return Arc::clone(tone);
    }
    let tone: Arc<[i16]> = marker_tone(
        config.frequency_hz,
        config.level_dbfs,
        RECORDING_RATE,
        config.duration,
    )
    .into();
    if tones.len() == TONES_KEPT {
        tones.remove(0);
    }
    tones.push((config, Arc::clone(&tone)));
    tone
}

impl Default for ToneConfig {
    fn default() -> Self {
        ToneConfig {
            frequency_hz: 1000.0,
            level_dbfs: -12.0,
            duration: Duration::from_millis(200),
        }
    }
}

/// Records one leg into `NAME.part`, renamed to `NAME` by [`CallRecorder::finish`].
pub struct CallRecorder {
    writer: CrashSafeWavWriter,
    channels: Vec<Channel>,
    behavior: PauseBehavior,
    /// Shared by every recorder with the same [`ToneConfig`].
    tone: Arc<[i16]>,
    paused: bool,
    /// Frames of the current paused span written so far (silence mode).
    paused_frames: u64,
    /// Silence held back at the end of a paused span, for the resume tone.
    held_back: u64,
    /// Stream timeline position up to which the file is complete, in frames.
    timeline: Option<u64>,
}

impl CallRecorder {
    /// Starts a recording of `track` at `path` (which must not exist yet).
    pub fn create(
        path: &Path,
        track: Track,
        behavior: PauseBehavior,
        tone: ToneConfig,
    ) -> Result<Self, AudioError> {
        let channels = match track {
            Track::Both => vec![Channel::External, Channel::Internal],
            Track::Incoming => vec![Channel::External],
            Track::Outgoing => vec![Channel::Internal],
        };
        let format = WavFormat {
            channels: channels.len() as u16,
            sample_rate: RECORDING_RATE,
        };
        Ok(CallRecorder {
            writer: CrashSafeWavWriter::create(path, format)?,
            channels,
            behavior,
            tone: shared_tone(tone),
            paused: false,
            paused_frames: 0,
            held_back: 0,
            timeline: None,
        })
    }

    /// Sets whether the file's once-a-second checkpoints fsync it or leave that to the owner.
    pub fn set_durability(&mut self, durability: Durability) {
        self.writer.set_durability(durability);
    }

    /// Records a block of audio that starts at `timeline_start` frames on the stream's timeline
    /// (received audio plus the stream's own gaps).
    pub fn write(&mut self, frame: &AudioFrame, timeline_start: u64) -> Result<(), AudioError> {
        if frame.rate() != RECORDING_RATE {
            return Err(AudioError::UnsupportedRate(frame.rate()));
        }
        let gap = self
            .timeline
            .map_or(0, |end| timeline_start.saturating_sub(end));
        self.timeline =
            Some(timeline_start.max(self.timeline.unwrap_or(0)) + frame.frames() as u64);
        if gap > 0 {
            self.silent_span(gap)?;
        }
        if self.paused {
            return self.silent_span(frame.frames() as u64);
        }
        let samples = self.rearrange(frame);
        self.writer.write(&samples)
    }

    /// Pauses: the pause tone, then silence (or nothing) until [`resume`](Self::resume).
    pub fn pause(&mut self) -> Result<(), AudioError> {
        if self.paused {
            return Ok(());
        }
        self.paused = true;
        self.paused_frames = 0;
        if self.behavior == PauseBehavior::Skip {
            self.write_tone(0, self.tone.len())?;
        }
        Ok(())
    }

    /// Resumes: the resume tone, then audio.
    pub fn resume(&mut self) -> Result<(), AudioError> {
        if !self.paused {
            return Ok(());
        }
        self.paused = false;
        match self.behavior {
            PauseBehavior::Skip => self.write_tone(0, self.tone.len()),
            PauseBehavior::Silence => {
                // The held-back end of the span becomes the resume tone (its tail if the span was short).
                let n = self.held_back as usize;
                self.held_back = 0;
                self.write_tone(self.tone.len() - n.min(self.tone.len()), self.tone.len())
            }
        }
    }

    /// Whether the recording is paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Duration written so far (held-back silence included).
    pub fn duration(&self) -> Duration {
        frames_to_duration(
            self.writer.frames_written() + self.held_back,
            RECORDING_RATE,
        )
    }

    /// Completes the file: held-back silence is written, the header finalized, the file renamed.
    pub fn finish(mut self) -> Result<FinishedWav, AudioError> {
        let held = std::mem::take(&mut self.held_back);
        self.write_silence(held)?;
        self.writer.finalize()
    }

    /// `frames` of paused or missing audio: silence (with the pause tone first) or nothing.
    fn silent_span(&mut self, frames: u64) -> Result<(), AudioError> {
        if self.behavior == PauseBehavior::Skip {
            return Ok(());
        }
        if !self.paused {
            return self.write_silence(frames);
        }
        let tone_len = self.tone.len() as u64;
        let mut remaining = frames;
        // The start of the span is the pause tone.
        if self.paused_frames < tone_len {
            let n = remaining.min(tone_len - self.paused_frames);
            let from = self.paused_frames as usize;
            self.write_tone(from, from + n as usize)?;
            self.paused_frames += n;
            remaining -= n;
        }
        // Keep the last tone's worth of silence back for a resume tone.
        self.held_back += remaining;
        self.paused_frames += remaining;
        if self.held_back > tone_len {
            let flush = self.held_back - tone_len;
            self.held_back = tone_len;
            self.write_silence(flush)?;
        }
        Ok(())
    }

    fn write_tone(&mut self, from: usize, to: usize) -> Result<(), AudioError> {
        let per = self.channels.len();
        let mut samples = Vec::with_capacity((to - from) * per);
        for &s in &self.tone[from..to] {
            samples.extend(std::iter::repeat_n(s, per));
        }
        self.writer.write(&samples)
    }

    fn write_silence(&mut self, frames: u64) -> Result<(), AudioError> {
        let per = self.channels.len();
        let block = duration_to_frames(Duration::from_secs(1), RECORDING_RATE);
        let mut left = frames;
        while left > 0 {
            let n = left.min(block);
            self.writer.write(&vec![0; n as usize * per])?;
            left -= n;
        }
        Ok(())
    }

    /// The frame's samples in the recording's channel order; absent channels are silent.
    fn rearrange(&self, frame: &AudioFrame) -> Vec<i16> {
        let layout = frame.layout();
        let sources: Vec<Option<usize>> =
            self.channels.iter().map(|c| layout.index_of(*c)).collect();
        let mut out = Vec::with_capacity(frame.frames() * self.channels.len());
        for samples in frame.samples().chunks_exact(layout.len()) {
            out.extend(sources.iter().map(|i| i.map_or(0, |i| samples[i])));
        }
        out
    }
}

#[cfg(test)]
mod tests;
