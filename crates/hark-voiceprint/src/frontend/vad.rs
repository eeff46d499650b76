//! Voice-activity trimming: WebRTC's VAD (mode 3, "very aggressive") on 30 ms windows, smoothed
//! and dilated as Resemblyzer does, keeping speech and dropping long silences.
//!
//! Window i is kept when any window within ±3 of it is voiced after smoothing, and window j is
//! voiced after smoothing when at least 5 of the 8 raw decisions j−3 … j+4 are speech (numpy's
//! `round(k / 8)` is 1 from k = 5: it rounds 0.5 to even). A window is therefore decided once the
//! VAD has seen 7 more windows (210 ms): [`SpeechGate`] works on a stream with that delay, and
//! [`trim_silences`] is the same gate run over a whole utterance.
//!
//! WebRTC's detector hears line noise as speech once normalisation has raised it, so a kept
//! window must also pass the line-noise gate (`line_noise`), which judges the audio at the level
//! it was received: a window within ±3 of it stands above the absolute floor and 10 dB above the
//! noise floor, away from tones, in a run of 90 ms. It needs no more look-ahead than the
//! smoothing, so the delay stays 210 ms.

use std::collections::VecDeque;

use super::line_noise::{self, LineNoiseGate};
use super::webrtc_vad::WebRtcVad;

/// Samples per VAD window: 30 ms at 16 kHz.
pub const WINDOW: usize = 480;
/// Raw decisions before and after a window that its smoothed decision averages.
const AVERAGE_BEFORE: usize = 3;
const AVERAGE_AFTER: usize = 4;
/// Smoothed decisions within this distance keep a window.
const DILATION: usize = 3;
/// Windows of look-ahead a decision needs (the line-noise gate needs no more).
const LOOKAHEAD: usize = DILATION + AVERAGE_AFTER;
const _: () = assert!(DILATION + line_noise::LOOKAHEAD <= LOOKAHEAD);

/// Decides, with 210 ms of delay, which 30 ms windows of a 16 kHz stream are speech.
pub struct SpeechGate {
    vad: WebRtcVad,
    noise: LineNoiseGate,
    /// Samples of the window being filled, gained and as received.
    partial: Vec<f32>,
    received: Vec<f32>,
    /// Raw VAD decisions of every window so far.
    voiced: Vec<bool>,
    /// Windows heard but not yet decided, oldest first; the first is window `decided`.
    undecided: VecDeque<Box<[f32; WINDOW]>>,
    /// Windows decided so far.
    decided: usize,
    /// Windows kept as speech so far.
    kept: usize,
}

impl std::fmt::Debug for SpeechGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeechGate")
            .field("decided", &self.decided)
            .field("kept", &self.kept)
            .finish_non_exhaustive()
    }
}

impl Default for SpeechGate {
    fn default() -> Self {
        Self::new()
    }
}

impl SpeechGate {
    /// A gate at the start of a stream.
    pub fn new() -> Self {
        SpeechGate {
            vad: WebRtcVad::new(),
            noise: LineNoiseGate::new(),
            partial: Vec::with_capacity(WINDOW),
            received: Vec::with_capacity(WINDOW),
            voiced: Vec::new(),
            undecided: VecDeque::new(),
            decided: 0,
            kept: 0,
        }
    }

    /// Windows kept as speech so far.
    pub fn kept_windows(&self) -> usize {
        self.kept
    }

    /// Feeds samples in [-1, 1] as received; `speech` receives each window decided as speech,
    /// in order.
    pub fn push(&mut self, samples: &[f32], speech: &mut impl FnMut(&[f32])) {
        self.push_gained(samples, 1.0, speech);
    }

    /// Feeds samples that volume normalisation multiplied by `gain` (the WebRTC detector hears
    /// them so; the line-noise gate divides the gain out).
    pub fn push_gained(&mut self, mut samples: &[f32], gain: f32, speech: &mut impl FnMut(&[f32])) {
        let gain = if gain > 0.0 && gain.is_finite() {
            gain
        } else {
            1.0
        };
        while !samples.is_empty() {
            let take = (WINDOW - self.partial.len()).min(samples.len());
            self.partial.extend_from_slice(&samples[..take]);
            self.received
                .extend(samples[..take].iter().map(|x| x / gain));
            samples = &samples[take..];
            if self.partial.len() == WINDOW {
                self.hear_window();
                while self.voiced.len() > self.decided + LOOKAHEAD {
                    self.decide_next(false, speech);
                }
            }
        }
    }

    /// Ends the stream: decides the remaining windows (the audio after the last one counts as
    /// silence) and drops an incomplete last window, as the batch trimming does.
    pub fn finish(&mut self, speech: &mut impl FnMut(&[f32])) {
        while !self.undecided.is_empty() {
            self.decide_next(true, speech);
        }
        self.partial.clear();
        self.received.clear();
    }

    fn hear_window(&mut self) {
        let mut window = Box::new([0.0f32; WINDOW]);
        window.copy_from_slice(&self.partial);
        self.partial.clear();
        self.noise.hear(&self.received);
        self.received.clear();
        let pcm: [i16; WINDOW] =
            std::array::from_fn(|i| (window[i] * 32767.0).round().clamp(-32768.0, 32767.0) as i16);
        let voiced = self.vad.is_speech(&pcm);
        self.voiced.push(voiced);
        self.undecided.push_back(window);
    }

    fn decide_next(&mut self, at_end: bool, speech: &mut impl FnMut(&[f32])) {
        let Some(window) = self.undecided.pop_front() else {
            return;
        };
        let i = self.decided;
        let keep = self.webrtc_keeps(i, at_end)
            && (i.saturating_sub(DILATION)..=i + DILATION).any(|j| self.noise.passes(j));
        self.noise.forget_before((i + 1).saturating_sub(DILATION));
        if keep {
            self.kept += 1;
            speech(&window[..]);
        }
        self.decided += 1;
    }

    /// Whether Resemblyzer's rule keeps window `i`: a smoothed decision within ±3 is speech.
    fn webrtc_keeps(&self, i: usize, at_end: bool) -> bool {
        let total = self.voiced.len();
        (i.saturating_sub(DILATION)..=i + DILATION)
            .filter(|&j| j < total || !at_end)
            .any(|j| self.smoothed(j))
    }

    /// Majority of the raw decisions j−3 … j+4, decisions outside the stream counting as 0.
    fn smoothed(&self, j: usize) -> bool {
        let from = j.saturating_sub(AVERAGE_BEFORE);
        let to = (j + AVERAGE_AFTER + 1).min(self.voiced.len());
        let voiced = self.voiced[from.min(to)..to].iter().filter(|&&v| v).count();
        voiced * 2 > AVERAGE_BEFORE + AVERAGE_AFTER + 1
    }
}

/// Trims the long silences (and line noise) out of a whole utterance (16 kHz) that volume
/// normalisation multiplied by `gain`, returning the speech.
pub fn trim_silences(samples: &[f32], gain: f32) -> Vec<f32> {
    let mut gate = SpeechGate::new();
    let mut speech = Vec::with_capacity(samples.len());
    let mut keep = |w: &[f32]| speech.extend_from_slice(w);
    gate.push_gained(samples, gain, &mut keep);
    gate.finish(&mut keep);
    speech
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference decision rule written directly from the spec's array formulation.
    fn reference_keep(voiced: &[bool]) -> Vec<bool> {
        let n = voiced.len();
        let f = |j: isize| j >= 0 && (j as usize) < n && voiced[j as usize];
        let mask: Vec<bool> = (0..n as isize)
            .map(|j| (j - 3..=j + 4).filter(|&k| f(k)).count() >= 5)
            .collect();
        (0..n)
            .map(|i| (i.saturating_sub(3)..=(i + 3).min(n - 1)).any(|j| mask[j]))
            .collect()
    }

    #[test]
    fn full_scale_hostile_audio_runs_under_overflow_checks() {
        // Full-scale square waves and clipped noise overflow WebRTC's fixed-point filters; the
        // port wraps as the C code does, so this debug build (overflow checks on) gets through.
        let mut x = 99u32;
        let mut random_sign = move || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            if (x >> 16) & 1 == 0 { 1.0 } else { -1.0 }
        };
        let mut signals: Vec<Vec<f32>> = (1..=8)
            .map(|period| {
                (0..48_000)
                    .map(|i| if (i / period) % 2 == 0 { 1.0 } else { -1.0 })
                    .collect()
            })
            .collect();
        signals.push((0..48_000).map(|_| random_sign()).collect());
        for signal in signals {
            let mut gate = SpeechGate::new();
            let mut kept = 0;
            gate.push(&signal, &mut |w: &[f32]| kept += w.len());
            gate.finish(&mut |w: &[f32]| kept += w.len());
            assert!(kept <= signal.len());
        }
    }

    #[test]
    fn streaming_decisions_equal_the_whole_utterance_rule() {
        // A pseudo-random voiced pattern fed straight into the decision logic.
        let mut x = 7u32;
        let voiced: Vec<bool> = (0..300)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                !(x >> 16).is_multiple_of(3)
            })
            .collect();
        // The WebRTC half of the decision, as the stream makes it (the line-noise half is
        // tested in tests/line_noise.rs).
        let mut gate = SpeechGate::new();
        let mut kept = Vec::new();
        let mut decided = 0;
        for &v in &voiced {
            gate.voiced.push(v);
            while gate.voiced.len() > decided + LOOKAHEAD {
                if gate.webrtc_keeps(decided, false) {
                    kept.push(decided);
                }
                decided += 1;
            }
        }
        for i in decided..voiced.len() {
            if gate.webrtc_keeps(i, true) {
                kept.push(i);
            }
        }
        let want: Vec<usize> = reference_keep(&voiced)
            .iter()
            .enumerate()
            .filter_map(|(i, &k)| k.then_some(i))
            .collect();
        assert_eq!(kept, want);
    }

    #[test]
    fn silence_is_dropped_and_the_tail_is_cut_to_whole_windows() {
        assert!(trim_silences(&vec![0.0; 16_000 + 100], 1.0).is_empty());
        assert!(trim_silences(&[], 1.0).is_empty());
    }

    #[test]
    fn four_of_eight_is_not_a_majority() {
        let mut gate = SpeechGate::new();
        gate.voiced = vec![true, true, true, true, false, false, false, false];
        assert!(!gate.smoothed(3)); // j-3..j+4 = 0..=7 → 4 voiced
        gate.voiced[4] = true;
        assert!(gate.smoothed(3));
    }
}
