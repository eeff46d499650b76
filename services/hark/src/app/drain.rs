//! Draining: after SIGTERM (or SIGINT) an instance stops taking new calls — `/readyz` answers
//! 503 at once and AudioHook upgrades are refused — while live calls go on until they end or
//! `drain_seconds` pass. Then the calls still live are asked to reconnect elsewhere and end, their
//! recordings are finalized and delivered, and the process stops. Control requests keep being
//! served all along, so a cluster can still reach the draining instance's calls.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether this instance is draining.
#[derive(Debug, Default)]
pub struct DrainState {
    draining: AtomicBool,
}

impl DrainState {
    /// From now on the instance is draining.
    pub fn start(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// True once draining started.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}
