//! A streaming sample-rate converter fed chunk by chunk.
//!
//! Live call audio arrives in small, irregular chunks (an AudioHook frame is 20–200 ms), while
//! rubato's FFT resampler wants fixed blocks. [`StreamResampler`] buffers the input, runs whole
//! blocks through rubato, drops the filter's start-up delay so output sample 0 lines up with
//! input sample 0, and on [`StreamResampler::finish`] drains the tail so the total output length is
//! exactly the input length times the rate ratio.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};

use crate::AudioError;

/// Input block length in milliseconds: small enough for live audio, long enough for a sharp filter.
const BLOCK_MS: u32 = 32;

/// The engine's input block: about [`BLOCK_MS`] long, and a multiple of the smallest block that
/// maps to an *even* number of output frames. The engine's delay is half its output block, so
/// an even block keeps that delay a whole number of frames and the output exactly aligned.
fn block_frames(in_rate: u32, out_rate: u32) -> usize {
    let (mut a, mut b) = (in_rate, out_rate);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let unit = (2 * in_rate / a) as usize;
    let target = (in_rate * BLOCK_MS / 1000) as usize;
    target.div_ceil(unit).max(1) * unit
}

/// Converts interleaved audio from one sample rate to another, chunk by chunk.
pub struct StreamResampler {
    engine: Option<Fft<f32>>,
    channels: usize,
    in_rate: u32,
    out_rate: u32,
    /// Interleaved input not yet consumed by the engine.
    pending: Vec<f32>,
    /// Interleaved output block the engine writes into.
    block: Vec<f32>,
    /// Output frames still to drop: the engine's start-up delay.
    delay_left: usize,
    frames_in: u64,
    frames_out: u64,
}

impl StreamResampler {
    /// A resampler for `channels` interleaved channels from `in_rate` to `out_rate` Hz.
    pub fn new(in_rate: u32, out_rate: u32, channels: usize) -> Result<Self, AudioError> {
        for rate in [in_rate, out_rate] {
            if !(1000..=384_000).contains(&rate) {
                return Err(AudioError::UnsupportedRate(rate));
            }
        }
        if !(1..=8).contains(&channels) {
            return Err(AudioError::Resample(format!(
                "{channels} channels; 1 to 8 supported"
            )));
        }
        let engine = if in_rate == out_rate {
            None
        } else {
            let engine = Fft::<f32>::new_custom(
                in_rate as usize,
                out_rate as usize,
                block_frames(in_rate, out_rate),
                1,
                channels,
                WindowFunction::BlackmanHarris2,
                FixedSync::Input,
            )
            .map_err(|e| AudioError::Resample(e.to_string()))?;
            Some(engine)
        };
        let (block, delay_left) = match &engine {
            Some(e) => (
                vec![0.0; e.output_frames_max() * channels],
                e.output_delay(),
            ),
            None => (Vec::new(), 0),
        };
        Ok(StreamResampler {
            engine,
            channels,
            in_rate,
            out_rate,
            pending: Vec::new(),
            block,
            delay_left,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Resamples the next chunk of interleaved samples in [-1, 1]; returns what is ready so far.
    pub fn process(&mut self, input: &[f32]) -> Result<Vec<f32>, AudioError> {
        if !input.len().is_multiple_of(self.channels) {
            return Err(AudioError::PartialFrame {
                samples: input.len(),
                channels: self.channels,
            });
        }
        self.frames_in += (input.len() / self.channels) as u64;
        if self.engine.is_none() {
            self.frames_out = self.frames_in;
            return Ok(input.to_vec());
        }
        self.pending.extend_from_slice(input);
        let mut out = Vec::new();
        self.drain_blocks(&mut out, false)?;
        Ok(out)
    }

    /// Resamples the next chunk of interleaved 16-bit samples.
    pub fn process_i16(&mut self, input: &[i16]) -> Result<Vec<i16>, AudioError> {
        let floats: Vec<f32> = input.iter().map(|&s| f32::from(s) / 32768.0).collect();
        Ok(to_i16(&self.process(&floats)?))
    }

    /// Ends the stream: returns the remaining output, so that the total output is exactly
    /// `round(frames_in × out_rate / in_rate)` frames.
    pub fn finish(&mut self) -> Result<Vec<f32>, AudioError> {
        let mut out = Vec::new();
        if self.engine.is_some() {
            self.drain_blocks(&mut out, true)?;
        }
        Ok(out)
    }

    /// [`finish`](Self::finish) for 16-bit samples.
    pub fn finish_i16(&mut self) -> Result<Vec<i16>, AudioError> {
        Ok(to_i16(&self.finish()?))
    }

    /// The frame count the whole stream will have once finished.
    pub fn expected_output_frames(&self) -> u64 {
        let num = u128::from(self.frames_in) * u128::from(self.out_rate);
        let den = u128::from(self.in_rate);
        ((num + den / 2) / den) as u64
    }

    /// Runs full blocks through the engine; with `flush`, pads with silence until the expected
    /// output length is reached.
    fn drain_blocks(&mut self, out: &mut Vec<f32>, flush: bool) -> Result<(), AudioError> {
        let ch = self.channels;
        let expected = self.expected_output_frames();
        let Some(engine) = self.engine.as_mut() else {
            return Ok(());
        };
        let mut offset = 0;
        loop {
            let need = engine.input_frames_next();
            let available = (self.pending.len() - offset) / ch;
            let partial = if available >= need {
                None
            } else if flush && self.frames_out < expected {
                Some(available)
            } else {
                break;
            };
            let frames_given = partial.unwrap_or(need);
            let input = InterleavedSlice::new(&self.pending[offset..], ch, frames_given)
                .map_err(|e| AudioError::Resample(e.to_string()))?;
            let out_frames = engine.output_frames_max();
            let mut output = InterleavedSlice::new_mut(&mut self.block, ch, out_frames)
                .map_err(|e| AudioError::Resample(e.to_string()))?;
            let indexing = partial.map(|n| Indexing::new().partial_len(n));
            let (_, written) = engine
                .process_into_buffer(&input, &mut output, indexing.as_ref())
                .map_err(|e| AudioError::Resample(e.to_string()))?;
            offset += frames_given * ch;

            let skip = self.delay_left.min(written);
            self.delay_left -= skip;
            let mut usable = written - skip;
            if flush {
                usable = usable.min((expected - self.frames_out) as usize);
            }
            out.extend_from_slice(&self.block[skip * ch..(skip + usable) * ch]);
            self.frames_out += usable as u64;
        }
        self.pending.drain(..offset);
        Ok(())
    }
}

/// Converts samples in [-1, 1] to 16-bit with rounding and clipping.
pub fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|&s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, frames: usize, phase_frames: f64) -> Vec<f32> {
        (0..frames)
            .map(|i| {
                let t = (i as f64 + phase_frames) / f64::from(rate);
                (0.5 * (std::f64::consts::TAU * freq * t).sin()) as f32
            })
            .collect()
    }

    /// Resamples a 440 Hz sine in uneven chunks and compares it with the analytic sine at the
    /// output rate, ignoring the edges where the filter sees the stream start and end.
    fn snr_db(in_rate: u32, out_rate: u32) -> (f64, usize) {
        let input = sine(440.0, in_rate, in_rate as usize * 2, 0.0);
        let mut r = StreamResampler::new(in_rate, out_rate, 1).unwrap();
        let mut out = Vec::new();
        let mut rest = input.as_slice();
        let mut n = 7;
        while !rest.is_empty() {
            let take = n.min(rest.len());
            out.extend(r.process(&rest[..take]).unwrap());
            rest = &rest[take..];
            n = (n * 7 + 13) % 1500 + 1;
        }
        out.extend(r.finish().unwrap());
        let reference = sine(440.0, out_rate, out.len(), 0.0);
        let edge = out_rate as usize / 10;
        let (mut signal, mut noise) = (0.0, 0.0);
        for (o, e) in out[edge..out.len() - edge].iter().zip(&reference[edge..]) {
            signal += f64::from(*e).powi(2);
            noise += f64::from(o - e).powi(2);
        }
        (10.0 * (signal / noise).log10(), out.len())
    }

    #[test]
    fn sine_keeps_frequency_with_60db_snr() {
        for (a, b) in [
            (8000, 16000),
            (16000, 8000),
            (16000, 48000),
            (48000, 16000),
            (8000, 48000),
            (48000, 8000),
        ] {
            let (snr, len) = snr_db(a, b);
            assert!(snr > 60.0, "{a}->{b}: SNR {snr:.1} dB");
            assert_eq!(len, b as usize * 2, "{a}->{b}: output length");
        }
    }

    #[test]
    fn same_rate_passes_through() {
        let mut r = StreamResampler::new(8000, 8000, 2).unwrap();
        assert_eq!(r.process(&[0.1, 0.2]).unwrap(), vec![0.1, 0.2]);
        assert!(r.finish().unwrap().is_empty());
    }

    #[test]
    fn stereo_channels_stay_apart() {
        let left = sine(300.0, 8000, 8000, 0.0);
        let interleaved: Vec<f32> = left.iter().flat_map(|&l| [l, 0.0]).collect();
        let mut r = StreamResampler::new(8000, 16000, 2).unwrap();
        let mut out = r.process(&interleaved).unwrap();
        out.extend(r.finish().unwrap());
        assert_eq!(out.len(), 16000 * 2);
        let right_peak = out
            .iter()
            .skip(1)
            .step_by(2)
            .fold(0f32, |m, s| m.max(s.abs()));
        let left_peak = out.iter().step_by(2).fold(0f32, |m, s| m.max(s.abs()));
        assert!(right_peak < 1e-4, "right channel leaked: {right_peak}");
        assert!((left_peak - 0.5).abs() < 0.01, "left peak {left_peak}");
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(matches!(
            StreamResampler::new(0, 8000, 1),
            Err(AudioError::UnsupportedRate(0))
        ));
        assert!(StreamResampler::new(8000, 16000, 0).is_err());
        let mut r = StreamResampler::new(8000, 16000, 2).unwrap();
        assert!(matches!(
            r.process(&[0.0; 3]),
            Err(AudioError::PartialFrame { .. })
        ));
    }

    #[test]
    fn i16_helpers_clip() {
        assert_eq!(to_i16(&[1.5, -1.5, 0.0]), vec![32767, -32768, 0]);
        let mut r = StreamResampler::new(8000, 16000, 1).unwrap();
        let mut out = r.process_i16(&[1000; 800]).unwrap();
        out.extend(r.finish_i16().unwrap());
        assert_eq!(out.len(), 1600);
    }
}
