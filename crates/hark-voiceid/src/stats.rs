//! What the service has decided and done, counted for a shell's metrics: decisions by kind and
//! result, session enrolments and batch jobs by status, how long the first decision of a session
//! took, how many sessions are live and how many fraudsters each loaded watchlist holds. Plain
//! counters, read with `VoiceId::stats`.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// Upper bounds of the decision-latency buckets, seconds (a call's first decision needs a few
/// seconds of speech: 10 s by default).
pub const DECISION_BUCKETS: [f64; 10] = [1.0, 2.0, 5.0, 8.0, 10.0, 12.0, 15.0, 20.0, 30.0, 60.0];

/// Counters kept by the service.
#[derive(Debug, Default)]
pub(crate) struct Counters(Mutex<Tallies>);

#[derive(Debug, Default, Clone)]
pub(crate) struct Tallies {
    pub(crate) decisions: BTreeMap<(&'static str, String), u64>,
    pub(crate) enrolments: BTreeMap<&'static str, u64>,
    pub(crate) jobs: BTreeMap<&'static str, u64>,
    /// Per bucket (not cumulative), the last one for everything above the bounds.
    pub(crate) first_decision: [u64; DECISION_BUCKETS.len() + 1],
    pub(crate) first_decision_sum: f64,
}

impl Counters {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Tallies> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new authentication (`kind = "authentication"`) or fraud (`"fraud"`) result.
    pub(crate) fn decision(&self, kind: &'static str, result: &str) {
        *self
            .lock()
            .decisions
            .entry((kind, result.to_owned()))
            .or_default() += 1;
    }

    /// A session's first decisive authentication, `seconds` after the session started.
    pub(crate) fn first_decision(&self, seconds: f64) {
        let bucket = DECISION_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(DECISION_BUCKETS.len());
        let mut tallies = self.lock();
        tallies.first_decision[bucket] += 1;
        tallies.first_decision_sum += seconds.max(0.0);
    }

    /// A session enrolment reached `status` (`IN_PROGRESS`, `SUCCESS`, `FAILURE`).
    pub(crate) fn enrolment(&self, status: &'static str) {
        *self.lock().enrolments.entry(status).or_default() += 1;
    }

    /// A batch job reached `status` (`SUBMITTED`, `IN_PROGRESS`, `COMPLETED`, ...).
    pub(crate) fn job(&self, status: &'static str) {
        *self.lock().jobs.entry(status).or_default() += 1;
    }
}

/// A snapshot of the service's counters and levels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Sessions that have not ended.
    pub live_sessions: u64,
    /// New results by kind (`authentication`, `fraud`) and decision (`ACCEPT`, `HIGH_RISK`, ...).
    pub decisions: Vec<(String, String, u64)>,
    /// Session enrolments by status.
    pub enrolments: Vec<(String, u64)>,
    /// Batch-job transitions by status.
    pub jobs: Vec<(String, u64)>,
    /// Seconds from a session's start to its first decisive authentication: per bucket of
    /// [`DECISION_BUCKETS`] (not cumulative; the last entry is `+Inf`), their sum and count.
    pub first_decision_buckets: Vec<(f64, u64)>,
    /// Sum of those seconds.
    pub first_decision_sum: f64,
    /// How many there were.
    pub first_decision_count: u64,
    /// Fraudsters in each watchlist index loaded in memory: (domain, watchlist, count).
    pub watchlist_fraudsters: Vec<(String, String, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_decisions_land_in_their_bucket() {
        let c = Counters::default();
        for s in [0.5, 1.0, 9.0, 61.0] {
            c.first_decision(s);
        }
        let t = c.lock().clone();
        assert_eq!(
            t.first_decision[0], 2,
            "0.5 s and 1 s are within the first bound"
        );
        assert_eq!(t.first_decision[4], 1, "9 s is within 10 s");
        assert_eq!(
            t.first_decision[DECISION_BUCKETS.len()],
            1,
            "61 s is above every bound"
        );
        assert!((t.first_decision_sum - 71.5).abs() < 1e-9);
    }
}
