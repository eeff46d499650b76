//! Small measurements of audio: peak, RMS level and the power of one frequency.
//!
//! Used to verify what ends up in recordings and streams (a tone where a pause began, silence
//! where audio was withheld) without a reference file to compare against.

/// Largest absolute sample value.
pub fn peak(samples: &[i16]) -> u16 {
    samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0)
}

/// RMS level in dBFS, where a full-scale sine is about -3 dBFS; silence gives `-inf`.
pub fn rms_dbfs(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return f64::NEG_INFINITY;
    }
    let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (energy / samples.len() as f64).sqrt();
    20.0 * (rms / f64::from(i16::MAX)).log10()
}

/// Peak level in dBFS of the sine component at `frequency_hz` (Goertzel algorithm).
///
/// A pure full-scale sine at that frequency measures 0 dBFS, a -6 dBFS sine -6; other
/// frequencies contribute little when the block holds many periods.
pub fn tone_power_dbfs(samples: &[i16], frequency_hz: f64, rate: u32) -> f64 {
    if samples.is_empty() {
        return f64::NEG_INFINITY;
    }
    let n = samples.len() as f64;
    let omega = std::f64::consts::TAU * frequency_hz / f64::from(rate);
    let coeff = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let amplitude = 2.0 * power.max(0.0).sqrt() / n;
    20.0 * (amplitude / f64::from(i16::MAX)).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_measures_as_silence() {
        assert_eq!(peak(&[0; 10]), 0);
        assert_eq!(rms_dbfs(&[0; 10]), f64::NEG_INFINITY);
        assert_eq!(rms_dbfs(&[]), f64::NEG_INFINITY);
        assert_eq!(tone_power_dbfs(&[0; 100], 1000.0, 8000), f64::NEG_INFINITY);
    }

    #[test]
    fn full_scale_square_is_zero_dbfs_rms() {
        let square: Vec<i16> = (0..100)
            .map(|i| if i % 2 == 0 { i16::MAX } else { -i16::MAX })
            .collect();
        assert!(rms_dbfs(&square).abs() < 1e-9);
        assert_eq!(peak(&[i16::MIN]), 32768);
    }
}
