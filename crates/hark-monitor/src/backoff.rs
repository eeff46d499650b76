//! When to try a monitor again after a failed connection or a dropped session.

use std::time::Duration;

/// Exponential backoff with jitter: `initial`, doubling up to `max`, each delay scaled by a
/// random factor in [0.75, 1.25) so that calls retrying one monitor do not all come at once.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_millis(250), Duration::from_secs(5))
    }
}

impl Backoff {
    /// A schedule starting at `initial` and never above `max` (before jitter).
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            failures: 0,
        }
    }

    /// The delay before the next attempt; `unit` is a random number in [0, 1).
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let factor = 2u32.saturating_pow(self.failures.min(20));
        let base = self.initial.saturating_mul(factor).min(self.max);
        self.failures = self.failures.saturating_add(1);
        base.mul_f64(0.75 + 0.5 * unit.clamp(0.0, 1.0))
    }

    /// A session opened: the next failure starts from `initial` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
        let plain: Vec<u128> = (0..7).map(|_| b.next_delay(0.5).as_millis()).collect();
        assert_eq!(plain, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(0.0), Duration::from_micros(187_500));
        assert_eq!(b.next_delay(1.0), Duration::from_millis(625));
        for _ in 0..100 {
            b.next_delay(0.99);
        }
        assert!(b.next_delay(0.99) < Duration::from_millis(6250));
    }
}
