//! Volume normalisation: quiet audio is raised to −30 dBFS RMS, loud audio is left alone.

/// The level audio is raised to.
pub const TARGET_DBFS: f64 = -30.0;

/// The gain that brings audio of this mean square (of samples in [-1, 1]) to [`TARGET_DBFS`],
/// never below 1; silence gets 1.
pub fn gain_for(mean_square: f64) -> f32 {
    if mean_square.is_nan() || mean_square <= 0.0 {
        return 1.0;
    }
    // Resemblyzer measures in int16 units: rms = sqrt(mean((x·32767)²)), dBFS against 32767.
    let rms_dbfs = 10.0 * mean_square.log10();
    let change = TARGET_DBFS - rms_dbfs;
    if change < 0.0 {
        1.0
    } else {
        10f64.powf(change / 20.0) as f32
    }
}

/// Normalises a whole utterance in place; the gain applied.
pub fn normalise(samples: &mut [f32]) -> f32 {
    if samples.is_empty() {
        return 1.0;
    }
    let mean_square = samples
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / samples.len() as f64;
    let gain = gain_for(mean_square);
    if gain != 1.0 {
        samples.iter_mut().for_each(|x| *x *= gain);
    }
    gain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_audio_is_raised_to_minus_30_dbfs_and_loud_audio_untouched() {
        let mut quiet: Vec<f32> = (0..16_000)
            .map(|i| 0.001 * (i as f32 * 0.1).sin())
            .collect();
        normalise(&mut quiet);
        let ms = quiet.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / quiet.len() as f64;
        assert!((10.0 * ms.log10() - TARGET_DBFS).abs() < 1e-3);

        let loud: Vec<f32> = (0..16_000).map(|i| 0.5 * (i as f32 * 0.1).sin()).collect();
        let mut copy = loud.clone();
        normalise(&mut copy);
        assert_eq!(copy, loud);
        assert_eq!(gain_for(0.0), 1.0);
        assert_eq!(gain_for(f64::NAN), 1.0);
    }
}
