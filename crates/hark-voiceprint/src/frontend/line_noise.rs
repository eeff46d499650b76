//! A second opinion for the WebRTC detector, which hears line noise as speech once volume
//! normalisation has raised it: a 30 ms window can only be speech if, **at the level it was
//! received**, it is
//! - above an absolute floor (−55 dBFS: μ-law and A-law idle patterns decode to −72 dBFS or 0),
//! - at least 10 dB above the noise floor — the quietest window of the last 3 s and the next
//!   60 ms (minimum statistics: stationary noise at any level never stands 10 dB above itself) —
//!   and 3 dB above the quietest of the last 270 ms and next 60 ms (speech rises and falls by
//!   syllable; noise that follows quieter speech, before the 3 s floor catches up, does not),
//! - not near a tone: no window within ±2 whose 64 ms spectrum (150–3500 Hz) puts 99.9 % of its
//!   energy within ±2 bins of its two strongest peaks (dial, ringback, busy, DTMF held, beeps),
//! - in a run of at least 3 such windows (90 ms: clicks and tone edges are shorter).
//!
//! A window's verdict needs the next 4 windows, so the speech gate's delay (7 windows) is
//! unchanged. The design and its measurements are in `docs/notes/issue-19-research.md` §5.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::SAMPLE_RATE;

/// Quietest level speech can have, as received.
const FLOOR_DBFS: f32 = -55.0;
/// How far above the noise floor speech stands.
const SNR_DB: f32 = 10.0;
/// Windows of history (3 s) and of look-ahead in the noise floor.
const FLOOR_HISTORY: usize = 100;
const FLOOR_LOOKAHEAD: usize = 2;
/// The local floor: the quietest of the last 270 ms and the next 60 ms, which a window must
/// top by `LOCAL_SNR_DB`. Speech rises and falls by syllable; noise that just started (after
/// quieter speech, so the 3 s floor is still low) does not.
const LOCAL_HISTORY: usize = 9;
const LOCAL_SNR_DB: f32 = 3.0;
/// Windows on either side of a tonal window that are not speech either.
const TONE_REACH: usize = 2;
/// Shortest run of passing windows kept.
const MIN_RUN: usize = 3;
/// Windows after `j` that its verdict needs: its run's next windows' floors and tone checks.
pub(super) const LOOKAHEAD: usize = (MIN_RUN - 1) + max(FLOOR_LOOKAHEAD, TONE_REACH);

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// The tone test: a 64 ms Hann window, the telephone band, the share in two peaks.
const TONE_FFT: usize = 1024;
const TONE_BAND_HZ: (f32, f32) = (150.0, 3500.0);
const TONE_PEAK_BINS: usize = 2;
const TONE_SHARE: f64 = 0.999;

/// Per-window evidence of one stream, for the windows still needed.
pub(super) struct LineNoiseGate {
    /// Level (dBFS) and tonality of windows `first ..`.
    levels: VecDeque<f32>,
    tonal: VecDeque<bool>,
    first: usize,
    /// The last `TONE_FFT` samples as received, for the tone test.
    recent: VecDeque<f32>,
}

thread_local! {
    /// The tone test's windowed samples and spectrum: per thread, not per stream.
    static TONE_BUFFERS: RefCell<(Vec<f32>, Vec<Complex<f32>>)> =
        RefCell::new((vec![0.0; TONE_FFT], vec![Complex::default(); TONE_FFT / 2 + 1]));
}

impl std::fmt::Debug for LineNoiseGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineNoiseGate")
            .field("windows_heard", &(self.first + self.levels.len()))
            .finish_non_exhaustive()
    }
}

impl LineNoiseGate {
    /// A gate at the start of a stream.
    pub(super) fn new() -> Self {
        LineNoiseGate {
            levels: VecDeque::new(),
            tonal: VecDeque::new(),
            first: 0,
            recent: std::iter::repeat_n(0.0, TONE_FFT).collect(),
        }
    }

    /// Hears the next window, as received (before any gain).
    pub(super) fn hear(&mut self, window: &[f32]) {
        let mean_square = window
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            / window.len().max(1) as f64;
        self.levels
            .push_back((10.0 * (mean_square + 1e-12).log10()) as f32);
        self.recent.drain(..window.len().min(TONE_FFT));
        self.recent.extend(window.iter().copied());
        let tonal = self.is_tonal();
        self.tonal.push_back(tonal);
    }

    /// Whether window `j` may be speech; windows after the stream (when `ended`) are not.
    /// Needs windows up to `j + LOOKAHEAD` unless the stream ended.
    pub(super) fn passes(&self, j: usize) -> bool {
        let raw = |k: Option<usize>| k.is_some_and(|k| self.raw(k));
        let before = |d: usize| j.checked_sub(d);
        let after = |d: usize| Some(j + d);
        raw(Some(j))
            && ((raw(before(2)) && raw(before(1)))
                || (raw(before(1)) && raw(after(1)))
                || (raw(after(1)) && raw(after(2))))
    }

    /// Forgets windows no verdict from `next` on will read.
    pub(super) fn forget_before(&mut self, next: usize) {
        let keep_from = next.saturating_sub(FLOOR_HISTORY + MIN_RUN + TONE_REACH);
        while self.first < keep_from && !self.levels.is_empty() {
            self.levels.pop_front();
            self.tonal.pop_front();
            self.first += 1;
        }
    }

    /// Window `k` alone (before the run rule): loud enough, above the floor, far from tones.
    fn raw(&self, k: usize) -> bool {
        let Some(level) = self.level(k) else {
            return false;
        };
        let from = k.saturating_sub(FLOOR_HISTORY).max(self.first);
        let floor = (from..=k + FLOOR_LOOKAHEAD)
            .filter_map(|i| self.level(i))
            .fold(f32::INFINITY, f32::min);
        let local_floor = (k.saturating_sub(LOCAL_HISTORY).max(self.first)..=k + FLOOR_LOOKAHEAD)
            .filter_map(|i| self.level(i))
            .fold(f32::INFINITY, f32::min);
        let near_tone = (k.saturating_sub(TONE_REACH)..=k + TONE_REACH)
            .any(|i| i >= self.first && self.tonal.get(i - self.first) == Some(&true));
        level >= FLOOR_DBFS
            && level >= floor + SNR_DB
            && level >= local_floor + LOCAL_SNR_DB
            && !near_tone
    }

    fn level(&self, k: usize) -> Option<f32> {
        k.checked_sub(self.first)
            .and_then(|i| self.levels.get(i))
            .copied()
    }

    /// Whether the last 64 ms are one or two steady tones.
    fn is_tonal(&self) -> bool {
        TONE_BUFFERS.with_borrow_mut(|(windowed, spectrum)| {
            for ((out, &x), w) in windowed.iter_mut().zip(&self.recent).zip(hann()) {
                *out = x * w;
            }
            if tone_fft().process(windowed, spectrum).is_err() {
                return false;
            }
            let bin = |hz: f32| (hz * TONE_FFT as f32 / SAMPLE_RATE as f32).round() as usize;
            two_peaks_hold_nearly_all(&spectrum[bin(TONE_BAND_HZ.0)..=bin(TONE_BAND_HZ.1)])
        })
    }
}

/// Whether ±2 bins around the two strongest peaks of `band` hold 99.9 % of its energy.
fn two_peaks_hold_nearly_all(band: &[Complex<f32>]) -> bool {
    let power = |i: usize| f64::from(band[i].norm_sqr());
    let total: f64 = (0..band.len()).map(power).sum();
    if total <= 0.0 {
        return false;
    }
    let last = band.len() - 1;
    let near = |p: usize| p.saturating_sub(TONE_PEAK_BINS)..=(p + TONE_PEAK_BINS).min(last);
    let strongest = |exclude: Option<usize>| {
        (0..band.len())
            .filter(|&i| exclude.is_none_or(|p| !near(p).contains(&i)))
            .max_by(|&a, &b| power(a).total_cmp(&power(b)))
    };
    let Some(first) = strongest(None) else {
        return false;
    };
    let mut in_peaks: f64 = near(first).map(power).sum();
    if let Some(second) = strongest(Some(first)) {
        in_peaks += near(second)
            .filter(|i| !near(first).contains(i))
            .map(power)
            .sum::<f64>();
    }
    in_peaks >= TONE_SHARE * total
}

/// The tone test's FFT plan, shared by every stream.
fn tone_fft() -> &'static Arc<dyn RealToComplex<f32>> {
    static PLAN: OnceLock<Arc<dyn RealToComplex<f32>>> = OnceLock::new();
    PLAN.get_or_init(|| RealFftPlanner::<f32>::new().plan_fft_forward(TONE_FFT))
}

/// The periodic Hann window of the tone test.
fn hann() -> &'static [f32] {
    static HANN: OnceLock<Vec<f32>> = OnceLock::new();
    HANN.get_or_init(|| {
        (0..TONE_FFT)
            .map(|i| {
                let phase = 2.0 * std::f64::consts::PI * i as f64 / TONE_FFT as f64;
                (0.5 - 0.5 * phase.cos()) as f32
            })
            .collect()
    })
}
