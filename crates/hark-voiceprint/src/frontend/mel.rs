//! The 40-band power mel spectrogram, identical to librosa's `melspectrogram` defaults as
//! Resemblyzer calls it: periodic Hann window of 400 samples, hop 160, centred frames with zero
//! padding, |FFT|² times a Slaney-scale, Slaney-normalised filter bank over 0–8 kHz, no log.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::{HOP, N_FFT, N_MELS, SAMPLE_RATE};

/// FFT bins of a real 400-point transform.
const BINS: usize = N_FFT / 2 + 1;

/// Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
fn hz_to_mel(hz: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let log_step = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz {
        min_log_hz / f_sp + (hz / min_log_hz).ln() / log_step
    } else {
        hz / f_sp
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let log_step = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (log_step * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// One filter: its first bin and its weights from there on (the rest are zero).
#[derive(Clone, Debug)]
struct Filter {
    first_bin: usize,
    weights: Vec<f32>,
}

fn filter_bank() -> Vec<Filter> {
    let rate = f64::from(SAMPLE_RATE);
    let bin_hz: Vec<f64> = (0..BINS).map(|i| i as f64 * rate / N_FFT as f64).collect();
    let (low, high) = (hz_to_mel(0.0), hz_to_mel(rate / 2.0));
    let edges: Vec<f64> = (0..N_MELS + 2)
        .map(|i| mel_to_hz(low + (high - low) * i as f64 / (N_MELS + 1) as f64))
        .collect();
    (0..N_MELS)
        .map(|m| {
            let area_norm = 2.0 / (edges[m + 2] - edges[m]);
            let dense: Vec<f32> = bin_hz
                .iter()
                .map(|&f| {
                    let rising = (f - edges[m]) / (edges[m + 1] - edges[m]);
                    let falling = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1]);
                    (rising.min(falling).max(0.0) * area_norm) as f32
                })
                .collect();
            let first_bin = dense.iter().position(|&w| w > 0.0).unwrap_or(0);
            let last_bin = dense.iter().rposition(|&w| w > 0.0).unwrap_or(0);
            Filter {
                first_bin,
                weights: dense[first_bin..=last_bin.max(first_bin)].to_vec(),
            }
        })
        .collect()
}

/// Computes mel frames from 400-sample windows; holds its FFT plan and buffers.
pub struct MelFrontEnd {
    filters: Vec<Filter>,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    input: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    power: Vec<f32>,
}

impl std::fmt::Debug for MelFrontEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelFrontEnd").finish_non_exhaustive()
    }
}

impl Default for MelFrontEnd {
    fn default() -> Self {
        Self::new()
    }
}

impl MelFrontEnd {
    /// A front end with its filter bank and FFT plan built.
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        let window = (0..N_FFT)
            .map(|i| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos()) as f32
            })
            .collect();
        MelFrontEnd {
            filters: filter_bank(),
            window,
            input: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            power: vec![0.0; BINS],
        }
    }

    /// The mel frame of one 400-sample window, appended to `out`.
    pub fn frame(&mut self, window: &[f32], out: &mut Vec<f32>) {
        debug_assert_eq!(window.len(), N_FFT);
        for ((x, w), v) in self.input.iter_mut().zip(&self.window).zip(window) {
            *x = v * w;
        }
        let done =
            self.fft
                .process_with_scratch(&mut self.input, &mut self.spectrum, &mut self.scratch);
        debug_assert!(done.is_ok(), "buffers come from the plan");
        for (p, s) in self.power.iter_mut().zip(&self.spectrum) {
            *p = s.norm_sqr();
        }
        for filter in &self.filters {
            let bins = &self.power[filter.first_bin..filter.first_bin + filter.weights.len()];
            out.push(bins.iter().zip(&filter.weights).map(|(p, w)| p * w).sum());
        }
    }

    /// The centred spectrogram of a whole waveform: `1 + len / 160` frames of 40 values.
    pub fn spectrogram(&mut self, samples: &[f32]) -> Vec<f32> {
        let pad = N_FFT / 2;
        let mut padded = vec![0.0f32; samples.len() + 2 * pad];
        padded[pad..pad + samples.len()].copy_from_slice(samples);
        let frames = 1 + samples.len() / HOP;
        let mut out = Vec::with_capacity(frames * N_MELS);
        for t in 0..frames {
            self.frame(&padded[t * HOP..t * HOP + N_FFT], &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips_and_breaks_at_1_khz() {
        for hz in [0.0, 300.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn filters_are_area_normalised_triangles() {
        let bank = filter_bank();
        assert_eq!(bank.len(), N_MELS);
        // Slaney normalisation makes each filter's integral over Hz about 1 (bins are 40 Hz).
        for f in &bank[5..] {
            let area: f32 = f.weights.iter().sum::<f32>() * 40.0;
            assert!((area - 1.0).abs() < 0.1, "area {area}");
        }
    }

    #[test]
    fn a_tone_lands_in_the_band_around_its_frequency() {
        let mut fe = MelFrontEnd::new();
        let tone: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let spec = fe.spectrogram(&tone);
        assert_eq!(spec.len(), (1 + 16_000 / HOP) * N_MELS);
        let mid = &spec[50 * N_MELS..51 * N_MELS];
        let loudest = (0..N_MELS)
            .max_by(|&a, &b| mid[a].total_cmp(&mid[b]))
            .unwrap();
        let bank = filter_bank();
        let peak_bin = bank[loudest].first_bin + bank[loudest].weights.len() / 2;
        assert!(
            (peak_bin as f32 * 40.0 - 1000.0).abs() < 120.0,
            "band {loudest}"
        );
        // Power scales with the square of the amplitude: no log, as the encoder expects.
        let half: Vec<f32> = tone.iter().map(|x| x * 0.5).collect();
        let spec_half = fe.spectrogram(&half);
        let ratio = spec[50 * N_MELS + loudest] / spec_half[50 * N_MELS + loudest];
        assert!((ratio - 4.0).abs() < 1e-3);
    }
}
