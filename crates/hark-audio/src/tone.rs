//! Tone and silence generators, for the markers a recording gets when it is paused or resumed.

use std::f64::consts::TAU;
use std::time::Duration;

use crate::frame::duration_to_frames;

/// Converts a level in dBFS (0 = full scale, negative below) to a peak amplitude.
pub fn dbfs_to_amplitude(dbfs: f64) -> f64 {
    f64::from(i16::MAX) * 10f64.powf(dbfs / 20.0)
}

/// A phase-continuous sine generator: successive calls continue the same wave.
#[derive(Clone, Debug)]
pub struct ToneGenerator {
    step: f64,
    phase: f64,
    amplitude: f64,
}

impl ToneGenerator {
    /// A sine of `frequency_hz` at `level_dbfs` (peak) sampled at `rate` Hz.
    pub fn new(frequency_hz: f64, level_dbfs: f64, rate: u32) -> Self {
        ToneGenerator {
            step: TAU * frequency_hz / f64::from(rate.max(1)),
            phase: 0.0,
            amplitude: dbfs_to_amplitude(level_dbfs.min(0.0)),
        }
    }

    /// Fills `out` with the next samples of the tone.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            *s = (self.phase.sin() * self.amplitude).round() as i16;
            self.phase = (self.phase + self.step) % TAU;
        }
    }

    /// The next `frames` samples of the tone.
    pub fn take(&mut self, frames: usize) -> Vec<i16> {
        let mut out = vec![0; frames];
        self.fill(&mut out);
        out
    }
}

/// A short marker tone (mono) with 5 ms raised-cosine ramps at both ends, so it never clicks.
///
/// This is what a recording gets at pause and resume, in the manner of Amazon Chime's recording
/// actions.
pub fn marker_tone(frequency_hz: f64, level_dbfs: f64, rate: u32, duration: Duration) -> Vec<i16> {
    let frames = duration_to_frames(duration, rate) as usize;
    let mut out = ToneGenerator::new(frequency_hz, level_dbfs, rate).take(frames);
    let ramp = (duration_to_frames(Duration::from_millis(5), rate) as usize).min(frames / 2);
    for i in 0..ramp {
        let gain = 0.5 - 0.5 * (std::f64::consts::PI * i as f64 / ramp as f64).cos();
        for index in [i, frames - 1 - i] {
            out[index] = (f64::from(out[index]) * gain).round() as i16;
        }
    }
    out
}

/// `frames` samples of digital silence.
pub fn silence(frames: usize) -> Vec<i16> {
    vec![0; frames]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{peak, tone_power_dbfs};

    #[test]
    fn tone_has_its_frequency_and_level() {
        let samples = ToneGenerator::new(1000.0, -6.0, 8000).take(8000);
        assert!((tone_power_dbfs(&samples, 1000.0, 8000) - -6.0).abs() < 0.2);
        assert!(tone_power_dbfs(&samples, 1400.0, 8000) < -60.0);
        let expected_peak = dbfs_to_amplitude(-6.0);
        assert!((f64::from(peak(&samples)) - expected_peak).abs() < 2.0);
    }

    #[test]
    fn generator_is_phase_continuous() {
        let mut chunked = ToneGenerator::new(440.0, -3.0, 8000);
        let mut pieces = chunked.take(123);
        pieces.extend(chunked.take(877));
        assert_eq!(pieces, ToneGenerator::new(440.0, -3.0, 8000).take(1000));
    }

    #[test]
    fn marker_tone_ramps_in_and_out() {
        let tone = marker_tone(1000.0, 0.0, 8000, Duration::from_millis(200));
        assert_eq!(tone.len(), 1600);
        assert_eq!(tone[0], 0);
        assert_eq!(*tone.last().unwrap(), 0);
        assert!(peak(&tone[800..808]) > 30_000);
    }

    #[test]
    fn silence_is_zero() {
        assert_eq!(silence(3), vec![0, 0, 0]);
    }
}
