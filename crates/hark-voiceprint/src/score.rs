//! Scores: cosine similarity mapped to Voice ID's 0–100 scale by a logistic calibration.
//!
//! `score = round(100 · σ(slope · cosine + offset))`. The default constants were fitted by
//! `hark voiceprint eval` on the Asterisk corpus (3-utterance enrolment against single
//! utterances, 20 splits, classes weighted equally): 50 sits at cosine 0.837, next to the
//! equal-error point, and Voice ID's default acceptance threshold of 90 at cosine 0.896, where
//! that corpus measured 10.8 % false rejects and 0.01 % false accepts. Refit on your own calls
//! with the same command; see docs/VOICEPRINTS.md.

use serde::{Deserialize, Serialize};

/// A logistic map from cosine similarity to a 0–100 score.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Steepness.
    pub slope: f64,
    /// Shift; score 50 is at cosine `-offset / slope`.
    pub offset: f64,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration {
            slope: 36.77,
            offset: -30.76,
        }
    }
}

impl Calibration {
    /// The 0–100 score of a cosine similarity.
    pub fn score(&self, cosine: f32) -> u8 {
        let z = self.slope * f64::from(cosine) + self.offset;
        let p = 1.0 / (1.0 + (-z).exp());
        (100.0 * p).round().clamp(0.0, 100.0) as u8
    }

    /// The smallest cosine that scores at least `score` (for reporting thresholds).
    pub fn cosine_at(&self, score: u8) -> f64 {
        let p = (f64::from(score) - 0.5).clamp(0.01, 99.99) / 100.0;
        ((p / (1.0 - p)).ln() - self.offset) / self.slope
    }

    /// Fits the map to trial scores by logistic regression (Newton's method), target and
    /// non-target trials weighted equally as classes.
    pub fn fit(targets: &[f32], non_targets: &[f32]) -> Option<Self> {
        if targets.is_empty() || non_targets.is_empty() {
            return None;
        }
        let weight_t = 0.5 / targets.len() as f64;
        let weight_n = 0.5 / non_targets.len() as f64;
        let samples = targets
            .iter()
            .map(|&x| (f64::from(x), 1.0, weight_t))
            .chain(non_targets.iter().map(|&x| (f64::from(x), 0.0, weight_n)));
        let samples: Vec<(f64, f64, f64)> = samples.collect();
        let (mut a, mut b) = (1.0f64, 0.0f64);
        for _ in 0..100 {
            // Gradient and Hessian of the weighted log loss, with a tiny ridge for stability.
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (1e-6 * a, 0.0, 1e-6, 0.0, 1e-9);
            for &(x, y, w) in &samples {
                let p = 1.0 / (1.0 + (-(a * x + b)).exp());
                let r = w * (p - y);
                let s = w * p * (1.0 - p);
                ga += r * x;
                gb += r;
                haa += s * x * x;
                hab += s * x;
                hbb += s;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-300 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            a -= da;
            b -= db;
            if da.abs() < 1e-9 && db.abs() < 1e-9 {
                break;
            }
        }
        (a.is_finite() && b.is_finite()).then_some(Calibration {
            slope: a,
            offset: b,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_put_50_and_90_where_the_fit_put_them() {
        let c = Calibration::default();
        assert_eq!(c.score(0.837), 50);
        assert!(c.score(0.897) >= 90 && c.score(0.893) < 90);
        assert_eq!(c.score(0.0), 0);
        assert_eq!(c.score(1.0), 100);
        assert!((c.cosine_at(90) - 0.895).abs() < 0.002);
    }

    #[test]
    fn fitting_separable_classes_puts_50_between_them() {
        let targets: Vec<f32> = (0..200).map(|i| 0.85 + 0.1 * (i as f32 / 200.0)).collect();
        let non: Vec<f32> = (0..800).map(|i| 0.55 + 0.26 * (i as f32 / 800.0)).collect();
        let c = Calibration::fit(&targets, &non).unwrap();
        let mid = -c.offset / c.slope;
        assert!((0.78..0.88).contains(&mid), "50 at {mid}");
        assert!(c.score(0.95) > 90 && c.score(0.6) < 10);
        assert!(Calibration::fit(&[], &non).is_none());
    }
}
