//! Usage of one stream: wall-clock time connected to the monitor, split by what was paused.
//! Time is passed in, so the accounting is tested without waiting.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Usage totals in seconds. Paused time is time connected while paused; a span paused both
/// ways counts as secure-paused only, so `billable = connected - secure_paused - monitor_paused`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageSeconds {
    /// Seconds with an open AudioHook session to the monitor.
    pub connected_seconds: f64,
    /// Connected seconds during a secure pause of the call.
    pub secure_paused_seconds: f64,
    /// Connected seconds during a pause the monitor asked for (and not in a secure pause).
    pub monitor_paused_seconds: f64,
    /// Connected minus paused seconds.
    pub billable_seconds: f64,
}

/// Accumulates usage as the stream's state changes.
#[derive(Clone, Debug, Default)]
pub struct Usage {
    connected: bool,
    secure_paused: bool,
    monitor_paused: bool,
    since: Option<Instant>,
    connected_time: Duration,
    secure_paused_time: Duration,
    monitor_paused_time: Duration,
}

impl Usage {
    /// The monitor's session opened (`true`) or ended (`false`) at `now`.
    pub fn set_connected(&mut self, now: Instant, connected: bool) {
        self.advance(now);
        self.connected = connected;
        if !connected {
            // A monitor's pause belongs to its session.
            self.monitor_paused = false;
        }
    }

    /// The call entered (`true`) or left (`false`) a secure pause at `now`.
    pub fn set_secure_paused(&mut self, now: Instant, paused: bool) {
        self.advance(now);
        self.secure_paused = paused;
    }

    /// The monitor paused (`true`) or resumed (`false`) its stream at `now`.
    pub fn set_monitor_paused(&mut self, now: Instant, paused: bool) {
        self.advance(now);
        self.monitor_paused = paused && self.connected;
    }

    /// Whether the call is in a secure pause.
    pub fn is_secure_paused(&self) -> bool {
        self.secure_paused
    }

    /// The totals up to `now`.
    pub fn totals(&self, now: Instant) -> UsageSeconds {
        let mut at_now = self.clone();
        at_now.advance(now);
        let connected = at_now.connected_time.as_secs_f64();
        let secure = at_now.secure_paused_time.as_secs_f64();
        let monitor = at_now.monitor_paused_time.as_secs_f64();
        UsageSeconds {
            connected_seconds: connected,
            secure_paused_seconds: secure,
            monitor_paused_seconds: monitor,
            billable_seconds: (connected - secure - monitor).max(0.0),
        }
    }

    fn advance(&mut self, now: Instant) {
        let elapsed = self
            .since
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        self.since = Some(self.since.map_or(now, |s| s.max(now)));
        if !self.connected {
            return;
        }
        self.connected_time += elapsed;
        if self.secure_paused {
            self.secure_paused_time += elapsed;
        } else if self.monitor_paused {
            self.monitor_paused_time += elapsed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_time_splits_into_paused_kinds_and_billable() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut u = Usage::default();
        u.set_secure_paused(at(0), true); // paused before connecting: not counted until then
        u.set_connected(at(2), true);
        u.set_secure_paused(at(5), false); // 3 s secure
        u.set_monitor_paused(at(10), true);
        u.set_secure_paused(at(12), true); // overlap counts as secure only
        u.set_secure_paused(at(14), false);
        u.set_monitor_paused(at(15), false); // monitor: 10-12 and 14-15 = 3 s
        u.set_connected(at(20), false);
        u.set_secure_paused(at(25), true); // disconnected: nothing counts
        let t = u.totals(at(30));
        assert_eq!(t.connected_seconds, 18.0);
        assert_eq!(t.secure_paused_seconds, 5.0);
        assert_eq!(t.monitor_paused_seconds, 3.0);
        assert_eq!(t.billable_seconds, 10.0);
    }

    #[test]
    fn a_dropped_session_ends_the_monitor_pause_and_totals_run_to_now() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut u = Usage::default();
        u.set_connected(at(0), true);
        u.set_monitor_paused(at(1), true);
        u.set_connected(at(2), false);
        u.set_connected(at(3), true);
        let t = u.totals(at(5));
        assert_eq!((t.connected_seconds, t.monitor_paused_seconds), (4.0, 1.0));
        assert_eq!(t.billable_seconds, 3.0);
    }
}
