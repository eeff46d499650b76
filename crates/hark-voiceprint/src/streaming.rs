//! Live audio to a voiceprint, incrementally.
//!
//! A [`StreamingEmbedder`] takes audio as it arrives (any chunk size, any rate), trims silences
//! with a 210 ms decision delay, computes mel frames as soon as their window is complete and runs
//! each 1.6 s partial through the encoder the moment its last frame exists (or hands it to a
//! [`PartialBatcher`] shared with other streams, which runs many streams' partials together). Only the running sum
//! of partial embeddings and the audio of the partial in progress are kept, so memory does not
//! grow with the call. [`StreamingEmbedder::snapshot`] adds the partials still in progress (zero
//! padded, as for a whole utterance) and returns the voiceprint of all speech so far in a few
//! milliseconds.
//!
//! Volume: a whole utterance is normalised by its overall level; a stream can only know the level
//! so far, so each chunk gets the gain of the running level. That level starts from a prior of
//! 2 s at the −30 dBFS target, so the silence at the start of a call is not amplified into noise
//! the VAD would take for speech; over a long quiet call the prior washes out and the gain
//! approaches the whole-utterance one. For audio at or above −30 dBFS the gain stays 1 and a
//! finished stream's voiceprint equals the whole-utterance one (tested).

use std::sync::Arc;
use std::time::Duration;

use hark_audio::resample::StreamResampler;

use crate::VoiceprintError;
use crate::batcher::{PartialBatcher, StreamPartials};
use crate::embedder::{EmbedderConfig, Utterance};
use crate::encoder::{Encoder, EncoderScratch};
use crate::frontend::mel::MelFrontEnd;
use crate::frontend::partials::partial_starts;
use crate::frontend::vad::SpeechGate;
use crate::frontend::{HOP, N_FFT, N_MELS, PARTIAL_FRAMES, PARTIAL_STEP, SAMPLE_RATE, volume};
use crate::voiceprint::{DIMENSIONS, Voiceprint};

/// Samples of zero padding before the first frame (frames are centred).
const PAD: usize = N_FFT / 2;
/// Weight of the level prior: 2 s of audio at the normalisation target.
const PRIOR_SAMPLES: f64 = 2.0 * SAMPLE_RATE as f64;

/// Where a stream's completed partials are embedded.
enum Encoding {
    /// Right away, one at a time, on the stream's own thread.
    Alone(Arc<Encoder>),
    /// In batches with other streams' partials.
    Batched {
        batcher: Arc<PartialBatcher>,
        partials: Arc<StreamPartials>,
        /// The next partial whose embedding is not yet in `sum`.
        folded: usize,
    },
}

/// Embeds a live stream incrementally; one per call leg.
pub struct StreamingEmbedder {
    encoding: Encoding,
    config: EmbedderConfig,
    resampler: Option<StreamResampler>,
    gate: SpeechGate,
    mel: MelFrontEnd,
    scratch: EncoderScratch,
    /// Level of everything heard so far, for the running volume gain.
    heard_samples: u64,
    heard_energy: f64,
    /// Gained audio of the current chunk (reused).
    gained: Vec<f32>,
    /// Padded speech from absolute padded sample `speech_base` on (padding = 200 zeros first).
    speech: Vec<f32>,
    speech_base: usize,
    /// Speech samples kept so far (without padding).
    speech_len: usize,
    /// Mel frames from absolute frame `frames_base` on.
    frames: Vec<f32>,
    frames_base: usize,
    next_frame: usize,
    /// Index of the next partial to complete (it starts at frame `next_partial × 77`).
    next_partial: usize,
    /// Sum of the completed partials' embeddings.
    sum: Vec<f32>,
    /// Buffers for snapshots.
    tail_mels: Vec<f32>,
    tail_out: Vec<f32>,
    window: Vec<f32>,
}

impl std::fmt::Debug for StreamingEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingEmbedder")
            .field("speech", &self.speech_duration())
            .field("partials", &self.next_partial)
            .finish_non_exhaustive()
    }
}

impl StreamingEmbedder {
    /// A stream of audio at `rate` Hz whose partials are embedded as they complete.
    pub fn new(
        encoder: Arc<Encoder>,
        config: EmbedderConfig,
        rate: u32,
    ) -> Result<Self, VoiceprintError> {
        Self::with_encoding(Encoding::Alone(encoder), config, rate)
    }

    /// A stream of audio at `rate` Hz whose partials are embedded in batches with those of the
    /// batcher's other streams (cheaper per partial; a snapshot waits for its own).
    pub fn batched(
        batcher: Arc<PartialBatcher>,
        config: EmbedderConfig,
        rate: u32,
    ) -> Result<Self, VoiceprintError> {
        let encoding = Encoding::Batched {
            batcher,
            partials: Arc::default(),
            folded: 0,
        };
        Self::with_encoding(encoding, config, rate)
    }

    fn with_encoding(
        encoding: Encoding,
        config: EmbedderConfig,
        rate: u32,
    ) -> Result<Self, VoiceprintError> {
        let resampler = if rate == SAMPLE_RATE {
            None
        } else {
            Some(StreamResampler::new(rate, SAMPLE_RATE, 1)?)
        };
        Ok(StreamingEmbedder {
            encoding,
            config,
            resampler,
            gate: SpeechGate::new(),
            mel: MelFrontEnd::new(),
            scratch: EncoderScratch::default(),
            heard_samples: 0,
            heard_energy: 0.0,
            gained: Vec::new(),
            speech: vec![0.0; PAD],
            speech_base: 0,
            speech_len: 0,
            frames: Vec::new(),
            frames_base: 0,
            next_frame: 0,
            next_partial: 0,
            sum: vec![0.0; DIMENSIONS],
            tail_mels: Vec::new(),
            tail_out: Vec::new(),
            window: vec![0.0; N_FFT],
        })
    }

    /// Net speech so far (audio kept by voice-activity trimming).
    pub fn speech_duration(&self) -> Duration {
        Duration::from_secs_f64(self.speech_len as f64 / f64::from(SAMPLE_RATE))
    }

    /// Audio heard so far, at 16 kHz.
    pub fn heard_duration(&self) -> Duration {
        Duration::from_secs_f64(self.heard_samples as f64 / f64::from(SAMPLE_RATE))
    }

    /// Feeds the next chunk of mono samples in [-1, 1].
    pub fn push(&mut self, samples: &[f32]) -> Result<(), VoiceprintError> {
        if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
            return Err(VoiceprintError::NonFiniteSample(i));
        }
        match &mut self.resampler {
            Some(r) => {
                let resampled = r.process(samples)?;
                self.hear(&resampled);
            }
            // Already 16 kHz: no copy.
            None => self.hear(samples),
        }
        Ok(())
    }

    /// Ends the stream (the last 210 ms are decided) and returns the final voiceprint.
    pub fn finish(&mut self) -> Result<Utterance, VoiceprintError> {
        if let Some(r) = &mut self.resampler {
            let tail = r.finish()?;
            self.hear(&tail);
        }
        let Self {
            gate,
            speech,
            speech_len,
            ..
        } = self;
        gate.finish(&mut |w: &[f32]| {
            speech.extend_from_slice(w);
            *speech_len += w.len();
        });
        self.advance();
        self.snapshot()
    }

    fn hear(&mut self, samples: &[f32]) {
        if samples.is_empty() {
            return;
        }
        self.heard_samples += samples.len() as u64;
        self.heard_energy += samples
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>();
        let prior_energy = PRIOR_SAMPLES * 10f64.powf(volume::TARGET_DBFS / 10.0);
        let level =
            (self.heard_energy + prior_energy) / (self.heard_samples as f64 + PRIOR_SAMPLES);
        let gain = volume::gain_for(level);
        self.gained.clear();
        self.gained.extend(samples.iter().map(|x| x * gain));
        let Self {
            gate,
            gained,
            speech,
            speech_len,
            ..
        } = self;
        gate.push_gained(gained, gain, &mut |w: &[f32]| {
            speech.extend_from_slice(w);
            *speech_len += w.len();
        });
        self.advance();
    }

    /// Computes every frame whose window is complete and every partial whose frames are.
    fn advance(&mut self) {
        while self.next_frame * HOP + N_FFT <= PAD + self.speech_len {
            let at = self.next_frame * HOP - self.speech_base;
            self.mel
                .frame(&self.speech[at..at + N_FFT], &mut self.frames);
            self.next_frame += 1;
        }
        while self.next_frame >= self.next_partial * PARTIAL_STEP + PARTIAL_FRAMES {
            let start = (self.next_partial * PARTIAL_STEP - self.frames_base) * N_MELS;
            let mels = &self.frames[start..start + PARTIAL_FRAMES * N_MELS];
            match &mut self.encoding {
                Encoding::Alone(encoder) => {
                    let mut out = [0.0f32; DIMENSIONS];
                    encoder.embed_partials(mels, 1, &mut self.scratch, &mut out);
                    self.sum.iter_mut().zip(&out).for_each(|(s, p)| *s += p);
                }
                Encoding::Batched {
                    batcher,
                    partials,
                    folded,
                } => {
                    batcher.submit(partials, self.next_partial, mels);
                    partials.fold_into(&mut self.sum, folded);
                }
            }
            self.next_partial += 1;
            self.forget_consumed();
        }
    }

    /// Drops frames and samples no partial will need again.
    fn forget_consumed(&mut self) {
        let first_frame = self.next_partial * PARTIAL_STEP;
        let drop_frames = first_frame.saturating_sub(self.frames_base);
        self.frames.drain(..drop_frames * N_MELS);
        self.frames_base += drop_frames;
        let first_sample = first_frame * HOP;
        let drop_samples = first_sample.saturating_sub(self.speech_base);
        self.speech.drain(..drop_samples.min(self.speech.len()));
        self.speech_base += drop_samples;
    }

    /// The voiceprint of all speech decided so far, as a whole utterance of it would give.
    pub fn snapshot(&mut self) -> Result<Utterance, VoiceprintError> {
        let speech = self.speech_duration();
        if speech < self.config.min_speech || self.speech_len == 0 {
            return Err(VoiceprintError::NotEnoughSpeech {
                speech,
                required: self.config.min_speech,
            });
        }
        if let Encoding::Batched {
            batcher,
            partials,
            folded,
        } = &mut self.encoding
        {
            batcher.flush(partials);
            partials.fold_into(&mut self.sum, folded);
            debug_assert_eq!(*folded, self.next_partial);
        }
        let starts = partial_starts(self.speech_len);
        let tail: Vec<usize> = starts
            .iter()
            .copied()
            .filter(|&s| s >= self.next_partial * PARTIAL_STEP)
            .collect();
        let mut sum = self.sum.clone();
        if !tail.is_empty() {
            self.tail_partials(&tail);
            for partial in self.tail_out.chunks_exact(DIMENSIONS) {
                sum.iter_mut().zip(partial).for_each(|(s, p)| *s += p);
            }
        }
        Ok(Utterance {
            voiceprint: Voiceprint::from_values(&sum)?,
            speech,
            partials: self.next_partial + tail.len(),
        })
    }

    /// Embeds the partials starting at `starts` with the audio after the speech so far as zeros.
    fn tail_partials(&mut self, starts: &[usize]) {
        self.tail_mels.clear();
        for &s in starts {
            for t in s..s + PARTIAL_FRAMES {
                if t < self.next_frame {
                    let at = (t - self.frames_base) * N_MELS;
                    self.tail_mels
                        .extend_from_slice(&self.frames[at..at + N_MELS]);
                } else {
                    self.window.iter_mut().for_each(|v| *v = 0.0);
                    let from = t * HOP;
                    let available = (PAD + self.speech_len).saturating_sub(from).min(N_FFT);
                    if available > 0 {
                        let at = from - self.speech_base;
                        self.window[..available].copy_from_slice(&self.speech[at..at + available]);
                    }
                    self.mel.frame(&self.window, &mut self.tail_mels);
                }
            }
        }
        self.tail_out.clear();
        self.tail_out.resize(starts.len() * DIMENSIONS, 0.0);
        let encoder = match &self.encoding {
            Encoding::Alone(encoder) => encoder,
            Encoding::Batched { batcher, .. } => batcher.encoder(),
        };
        encoder.embed_partials(
            &self.tail_mels,
            starts.len(),
            &mut self.scratch,
            &mut self.tail_out,
        );
    }
}

impl Drop for StreamingEmbedder {
    fn drop(&mut self) {
        // Nobody will read the queued partials of a stream that is gone: don't compute them.
        if let Encoding::Batched {
            batcher, partials, ..
        } = &self.encoding
        {
            batcher.cancel(partials);
        }
    }
}
