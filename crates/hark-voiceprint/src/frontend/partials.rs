//! Partial windows: where the 1.6 s windows the encoder sees start, as Resemblyzer places them.

use super::{HOP, PARTIAL_FRAMES, PARTIAL_STEP};

/// The smallest share of its window the last partial must cover with real audio to be kept.
const MIN_COVERAGE: f64 = 0.75;

/// Start frames of the partials of an utterance of `samples` samples (at least one).
pub fn partial_starts(samples: usize) -> Vec<usize> {
    let frames = (samples + 1).div_ceil(HOP);
    let limit = (frames + PARTIAL_STEP + 1)
        .saturating_sub(PARTIAL_FRAMES)
        .max(1);
    let mut starts: Vec<usize> = (0..limit).step_by(PARTIAL_STEP).collect();
    if let [.., last] = starts[..] {
        let coverage = (samples as f64 - (last * HOP) as f64) / (PARTIAL_FRAMES * HOP) as f64;
        if coverage < MIN_COVERAGE && starts.len() > 1 {
            starts.pop();
        }
    }
    starts
}

/// Samples the waveform must have (zero-padded) for every partial's frames to exist.
pub fn padded_length(samples: usize, starts: &[usize]) -> usize {
    let end = starts.last().map_or(0, |s| (s + PARTIAL_FRAMES) * HOP);
    samples.max(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_resemblyzer_slicing() {
        // Values worked out from resemblyzer's compute_partial_slices.
        assert_eq!(partial_starts(0), vec![0]);
        assert_eq!(partial_starts(16_000), vec![0]);
        // 2.5 s: 251 frames → starts 0, 77, 154 below 169; the last covers (40000-24640)/25600 = 0.6.
        assert_eq!(partial_starts(40_000), vec![0, 77]);
        // 3 s: coverage of start 154 is (48000 - 24640) / 25600 = 0.91 → kept.
        assert_eq!(partial_starts(48_000), vec![0, 77, 154]);
        assert_eq!(padded_length(48_000, &[0, 77, 154]), (154 + 160) * 160);
    }
}
