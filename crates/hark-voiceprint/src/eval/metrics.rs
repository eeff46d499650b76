//! Detection metrics over verification trials.

use serde::Serialize;

use crate::Calibration;

/// Similarity scores of target (same speaker) and non-target trials.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Trials {
    /// Same-speaker trial similarities.
    pub targets: Vec<f32>,
    /// Different-speaker trial similarities.
    pub non_targets: Vec<f32>,
}

impl Trials {
    /// Records one trial.
    pub fn add(&mut self, target: bool, similarity: f32) {
        if target {
            self.targets.push(similarity)
        } else {
            self.non_targets.push(similarity)
        }
    }

    /// (threshold, false-reject rate, false-accept rate) at every distinct score, ascending:
    /// a trial is accepted when its score is above the threshold.
    pub fn sweep(&self) -> Vec<(f32, f64, f64)> {
        let mut all: Vec<(f32, bool)> = self
            .targets
            .iter()
            .map(|&s| (s, true))
            .chain(self.non_targets.iter().map(|&s| (s, false)))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (nt, nn) = (self.targets.len() as f64, self.non_targets.len() as f64);
        let (mut rejected_targets, mut rejected_non) = (0usize, 0usize);
        let mut points = Vec::with_capacity(all.len());
        let mut i = 0;
        while i < all.len() {
            let threshold = all[i].0;
            while i < all.len() && all[i].0 == threshold {
                if all[i].1 {
                    rejected_targets += 1
                } else {
                    rejected_non += 1
                }
                i += 1;
            }
            let frr = rejected_targets as f64 / nt.max(1.0);
            let far = (nn - rejected_non as f64) / nn.max(1.0);
            points.push((threshold, frr, far));
        }
        points
    }
}

/// An operating point: threshold and the error rates there.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct OperatingPoint {
    /// Cosine threshold.
    pub cosine: f64,
    /// False-reject rate in percent.
    pub frr_percent: f64,
    /// False-accept rate in percent.
    pub far_percent: f64,
}

/// The metrics of one protocol.
#[derive(Clone, Debug, Serialize)]
pub struct SystemMetrics {
    /// Target trials.
    pub targets: usize,
    /// Non-target trials.
    pub non_targets: usize,
    /// Equal error rate in percent.
    pub eer_percent: f64,
    /// Cosine threshold at the EER.
    pub eer_cosine: f64,
    /// Normalised minimum detection cost, P_target 0.01, C_miss = C_fa = 1.
    pub min_dcf: f64,
    /// Mean target and non-target similarity.
    pub target_mean: f64,
    /// Mean non-target similarity.
    pub non_target_mean: f64,
    /// Error rates at calibrated score 50.
    pub at_score_50: OperatingPoint,
    /// Error rates at calibrated score 90 (Voice ID's default acceptance threshold).
    pub at_score_90: OperatingPoint,
}

/// Prior of a target trial in the detection cost.
pub const P_TARGET: f64 = 0.01;

impl SystemMetrics {
    /// Computes the metrics of `trials`; score thresholds use `calibration`.
    pub fn of(trials: &Trials, calibration: &Calibration) -> Self {
        let sweep = trials.sweep();
        let (eer_percent, eer_cosine) = eer(&sweep);
        let mean = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len().max(1) as f64;
        SystemMetrics {
            targets: trials.targets.len(),
            non_targets: trials.non_targets.len(),
            eer_percent,
            eer_cosine,
            min_dcf: min_dcf(&sweep),
            target_mean: mean(&trials.targets),
            non_target_mean: mean(&trials.non_targets),
            at_score_50: operating_point(trials, calibration.cosine_at(50)),
            at_score_90: operating_point(trials, calibration.cosine_at(90)),
        }
    }
}

/// EER in percent and its threshold: where |FRR − FAR| is smallest, their mean.
pub fn eer(sweep: &[(f32, f64, f64)]) -> (f64, f64) {
    sweep
        .iter()
        .min_by(|a, b| (a.1 - a.2).abs().total_cmp(&(b.1 - b.2).abs()))
        .map_or((100.0, 0.0), |&(t, frr, far)| {
            (100.0 * (frr + far) / 2.0, f64::from(t))
        })
}

/// Normalised minimum of `P_miss·P_target + P_fa·(1 − P_target)` over thresholds.
pub fn min_dcf(sweep: &[(f32, f64, f64)]) -> f64 {
    let norm = P_TARGET.min(1.0 - P_TARGET);
    // Accepting everything costs (1 − P_target): the threshold below every score.
    let all = 1.0 - P_TARGET;
    sweep
        .iter()
        .map(|&(_, frr, far)| frr * P_TARGET + far * (1.0 - P_TARGET))
        .fold(all.min(P_TARGET), f64::min)
        / norm
}

fn operating_point(trials: &Trials, cosine: f64) -> OperatingPoint {
    let rejected = trials
        .targets
        .iter()
        .filter(|&&s| f64::from(s) < cosine)
        .count();
    let accepted = trials
        .non_targets
        .iter()
        .filter(|&&s| f64::from(s) >= cosine)
        .count();
    OperatingPoint {
        cosine,
        frr_percent: 100.0 * rejected as f64 / trials.targets.len().max(1) as f64,
        far_percent: 100.0 * accepted as f64 / trials.non_targets.len().max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_trials_have_zero_eer() {
        let t = Trials {
            targets: vec![0.9, 0.95, 0.8],
            non_targets: vec![0.1, 0.5, 0.7],
        };
        let (e, threshold) = eer(&t.sweep());
        assert_eq!(e, 0.0);
        assert!((0.69..0.8).contains(&threshold));
        assert_eq!(min_dcf(&t.sweep()), 0.0);
    }

    #[test]
    fn eer_of_a_known_overlap() {
        let t = Trials {
            targets: (0..100).map(|i| 0.5 + i as f32 / 200.0).collect(),
            non_targets: (0..100).map(|i| i as f32 / 200.0 + 0.4).collect(),
        };
        // Targets are uniform on [0.5, 1), non-targets on [0.4, 0.9): FRR = (x − 0.5) / 0.5 and
        // FAR = (0.9 − x) / 0.5 cross at x = 0.7, where both are 40 %.
        let (e, threshold) = eer(&t.sweep());
        assert!((e - 40.0).abs() < 1.5, "eer {e}");
        assert!((threshold - 0.7).abs() < 0.01);
        let m = min_dcf(&t.sweep());
        assert!(m > 0.0 && m <= 1.0);
    }
}
