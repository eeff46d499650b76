//! WebRTC's voice activity detector (the GMM detector of `webrtc/common_audio/vad`, as libfvad
//! packages it), in aggressiveness mode 3, for 30 ms frames of 16 kHz audio — what
//! Resemblyzer's `webrtcvad` runs.
//!
//! Each frame becomes six band log energies (`features`); two Gaussian mixtures per band, one
//! for noise and one for speech, give a likelihood ratio per band and a weighted global one; a
//! frame is speech when one band or the total passes its threshold, with a short hangover. The
//! mixtures adapt: noise means follow the band minima of the last 100 frames, and whichever model
//! the decision chose moves toward the frame (`model`).
//!
//! The C code is fixed-point and relies on wrapping integer arithmetic; so does this port, in
//! so many words, so a debug build with overflow checks computes exactly what a release build
//! does (the `earshot` crate, which hark used before, panics there). Decisions equal earshot
//! 0.1.0's, including its one departure from the C code (standard deviations capped at, rather
//! than floored to, 384 — Q7 3.0), so that hark's measured figures stand: checked frame by frame
//! against it on real speech and hostile signals (`tests/webrtc_vad.rs`).
//!
//! The algorithm, its constants and the model are WebRTC's: Copyright (c) 2011 The WebRTC
//! project authors, BSD 3-clause (`LICENSE-webrtc` in this crate).

mod features;
mod model;

use features::{FRAME_8K, FeatureState};
use model::Mixtures;

/// Samples per frame: 30 ms at 16 kHz.
pub const FRAME: usize = 2 * FRAME_8K;

/// Hangover frames after a short speech run, and after a run of more than six frames.
const HANGOVER_SHORT: i16 = 2;
const HANGOVER_LONG: i16 = 3;
/// Speech frames in a row after which the long hangover applies.
const LONG_RUN: i16 = 6;
/// Mode 3 thresholds for 30 ms frames: one band's log2 likelihood ratio (×4), and the
/// spectrum-weighted sum over the bands.
const BAND_THRESHOLD: i16 = 94;
const TOTAL_THRESHOLD: i32 = 1100;
/// Frames whose total energy indicator is at most this are not judged (silence).
const MIN_ENERGY: i16 = 10;

/// A voice activity detector for one stream of 16 kHz audio.
#[derive(Debug, Clone)]
pub struct WebRtcVad {
    features: FeatureState,
    mixtures: Mixtures,
    /// Frames still called speech after the speech itself ended.
    hangover: i16,
    /// Speech frames in a row, up to `LONG_RUN`.
    speech_run: i16,
}

impl Default for WebRtcVad {
    fn default() -> Self {
        Self::new()
    }
}

impl WebRtcVad {
    /// A detector at the start of a stream.
    pub fn new() -> Self {
        WebRtcVad {
            features: FeatureState::default(),
            mixtures: Mixtures::new(),
            hangover: 0,
            speech_run: 0,
        }
    }

    /// Whether a 30 ms frame (480 samples at 16 kHz) holds speech.
    pub fn is_speech(&mut self, frame: &[i16; FRAME]) -> bool {
        let features = self.features.features(frame);
        let mut speech = false;
        if features.total_energy > MIN_ENERGY {
            let likelihood = self.mixtures.likelihood(&features.log_energy);
            speech = likelihood
                .band_ratios
                .iter()
                .any(|&r| r * 4 > BAND_THRESHOLD)
                || likelihood.weighted_sum >= TOTAL_THRESHOLD;
            self.mixtures
                .update(&features.log_energy, &likelihood, speech);
        }
        self.with_hangover(speech)
    }

    /// The decision after the hangover that keeps word endings.
    fn with_hangover(&mut self, speech: bool) -> bool {
        if !speech {
            self.speech_run = 0;
            if self.hangover > 0 {
                self.hangover -= 1;
                return true;
            }
            return false;
        }
        self.speech_run += 1;
        if self.speech_run > LONG_RUN {
            self.speech_run = LONG_RUN;
            self.hangover = HANGOVER_LONG;
        } else {
            self.hangover = HANGOVER_SHORT;
        }
        true
    }
}
