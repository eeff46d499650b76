//! Whole utterances to voiceprints.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hark_audio::decode::{DecodeOptions, decode_file};
use hark_audio::resample::StreamResampler;

use crate::VoiceprintError;
use crate::encoder::{Encoder, EncoderScratch};
use crate::frontend::mel::MelFrontEnd;
use crate::frontend::partials::{padded_length, partial_starts};
use crate::frontend::{HOP, N_MELS, PARTIAL_FRAMES, SAMPLE_RATE, vad, volume};
use crate::voiceprint::{DIMENSIONS, Voiceprint};
use crate::weights::Ge2eWeights;

/// Partials run through the encoder together; bounds scratch memory for long audio.
const BATCH: usize = 16;

/// Limits of an [`Embedder`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct EmbedderConfig {
    /// Net speech below which no voiceprint is made ([`VoiceprintError::NotEnoughSpeech`]).
    pub min_speech: Duration,
    /// The longest input accepted in one piece.
    pub max_audio: Duration,
}

impl Default for EmbedderConfig {
    fn default() -> Self {
        EmbedderConfig {
            min_speech: Duration::from_secs(1),
            max_audio: Duration::from_secs(3600),
        }
    }
}

/// The voiceprint of an utterance and how much speech it rests on.
#[derive(Clone, Debug)]
pub struct Utterance {
    /// The utterance's voiceprint.
    pub voiceprint: Voiceprint,
    /// Net speech: the audio kept by voice-activity trimming.
    pub speech: Duration,
    /// Partial windows averaged.
    pub partials: usize,
}

/// Turns utterances into voiceprints; cheap to share between threads.
#[derive(Clone, Debug)]
pub struct Embedder {
    encoder: Arc<Encoder>,
    config: EmbedderConfig,
}

impl Embedder {
    /// An embedder with the weights compiled into the crate.
    pub fn embedded() -> Result<Self, VoiceprintError> {
        let weights = Ge2eWeights::embedded()?;
        Ok(Self::new(
            Arc::new(Encoder::new(&weights)),
            EmbedderConfig::default(),
        ))
    }

    /// An embedder around a packed encoder.
    pub fn new(encoder: Arc<Encoder>, config: EmbedderConfig) -> Self {
        Embedder { encoder, config }
    }

    /// The shared encoder (for streaming embedders).
    pub fn encoder(&self) -> &Arc<Encoder> {
        &self.encoder
    }

    /// The limits in force.
    pub fn config(&self) -> EmbedderConfig {
        self.config
    }

    /// Embeds mono samples in [-1, 1] at `rate` Hz (resampled to 16 kHz if needed).
    pub fn embed(&self, samples: &[f32], rate: u32) -> Result<Utterance, VoiceprintError> {
        check_samples(samples, rate, self.config.max_audio)?;
        let mut wave = resample_to_16k(samples, rate)?;
        let gain = volume::normalise(&mut wave);
        let speech = vad::trim_silences(&wave, gain);
        let net = Duration::from_secs_f64(speech.len() as f64 / f64::from(SAMPLE_RATE));
        if net < self.config.min_speech || speech.is_empty() {
            return Err(VoiceprintError::NotEnoughSpeech {
                speech: net,
                required: self.config.min_speech,
            });
        }
        let (sum, partials) = self.partial_sum(&speech);
        Ok(Utterance {
            voiceprint: Voiceprint::from_values(&sum)?,
            speech: net,
            partials,
        })
    }

    /// Decodes an audio file (any format hark-audio reads), mixes it to mono and embeds it.
    pub fn embed_file(&self, path: &Path) -> Result<Utterance, VoiceprintError> {
        let mut options = DecodeOptions::default();
        options.max_duration = self.config.max_audio;
        let audio = decode_file(path, options)?;
        self.embed(&audio.to_mono(), audio.rate)
    }

    /// The sum of the partial embeddings of trimmed speech, and how many there were.
    fn partial_sum(&self, speech: &[f32]) -> (Vec<f32>, usize) {
        let starts = partial_starts(speech.len());
        let mut wave = speech.to_vec();
        wave.resize(padded_length(speech.len(), &starts), 0.0);
        let mels = MelFrontEnd::new().spectrogram(&wave);
        let mut scratch = EncoderScratch::default();
        let mut sum = vec![0.0f32; DIMENSIONS];
        let mut batch_mels = Vec::with_capacity(BATCH * PARTIAL_FRAMES * N_MELS);
        let mut out = vec![0.0f32; BATCH * DIMENSIONS];
        for group in starts.chunks(BATCH) {
            batch_mels.clear();
            for &s in group {
                batch_mels.extend_from_slice(&mels[s * N_MELS..(s + PARTIAL_FRAMES) * N_MELS]);
            }
            let out = &mut out[..group.len() * DIMENSIONS];
            self.encoder
                .embed_partials(&batch_mels, group.len(), &mut scratch, out);
            for partial in out.chunks_exact(DIMENSIONS) {
                sum.iter_mut().zip(partial).for_each(|(s, p)| *s += p);
            }
        }
        debug_assert!(mels.len() >= (wave.len() / HOP) * N_MELS);
        (sum, starts.len())
    }
}

/// Refuses non-finite samples and over-long input before any work is done.
pub(crate) fn check_samples(
    samples: &[f32],
    rate: u32,
    max_audio: Duration,
) -> Result<(), VoiceprintError> {
    if rate == 0 {
        return Err(hark_audio::AudioError::UnsupportedRate(rate).into());
    }
    let seconds = samples.len() as f64 / f64::from(rate);
    if seconds > max_audio.as_secs_f64() {
        return Err(VoiceprintError::TooLong {
            seconds,
            limit: max_audio.as_secs_f64(),
        });
    }
    if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
        return Err(VoiceprintError::NonFiniteSample(i));
    }
    Ok(())
}

fn resample_to_16k(samples: &[f32], rate: u32) -> Result<Vec<f32>, VoiceprintError> {
    if rate == SAMPLE_RATE {
        return Ok(samples.to_vec());
    }
    let mut resampler = StreamResampler::new(rate, SAMPLE_RATE, 1)?;
    let mut out = resampler.process(samples)?;
    out.extend(resampler.finish()?);
    Ok(out)
}
