//! What the Voice ID service asks its shell to do: typed effects, queued in order and taken with
//! `VoiceId::poll_effect` or `VoiceId::wait_effect` (the way `quinn-proto` hands out
//! transmits). The service never calls out; the shell decides how each effect is carried out.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use serde_json::Value;

/// Effects kept for a shell that does not take them; past this the oldest events go first.
pub const EFFECT_CAPACITY: usize = 65_536;

/// Something the service did that its shell must carry out or pass on.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A batch job was submitted: run it with `VoiceId::run_job`, off the request path.
    RunJob {
        /// The job's domain.
        domain_id: String,
        /// The job.
        job_id: String,
    },
    /// This service changed a domain's fraudsters or their watchlists: other processes sharing
    /// the store must reload their indexes of it (`VoiceId::reload_watchlists`).
    FraudstersChanged {
        /// The domain.
        domain_id: String,
    },
    /// An event (session, enrollment, job) in its EventBridge envelope.
    Event(Value),
}

/// The queue between the service and its shell.
#[derive(Debug, Default)]
pub(crate) struct EffectQueue {
    queue: Mutex<VecDeque<Effect>>,
    pub(crate) ready: Condvar,
    pub(crate) dropped: AtomicU64,
}

impl EffectQueue {
    pub(crate) fn lock(&self) -> MutexGuard<'_, VecDeque<Effect>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `effect`; when full, drops the oldest event (else the oldest effect) and counts it.
    pub(crate) fn push(&self, effect: Effect) {
        let mut queue = self.lock();
        if queue.len() >= EFFECT_CAPACITY {
            let oldest_event = queue.iter().position(|e| matches!(e, Effect::Event(_)));
            queue.remove(oldest_event.unwrap_or(0));
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queue.push_back(effect);
        self.ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize) -> Effect {
        Effect::Event(serde_json::json!(n))
    }

    #[test]
    fn effects_come_out_in_order() {
        let q = EffectQueue::default();
        q.push(event(1));
        q.push(Effect::FraudstersChanged {
            domain_id: "d".into(),
        });
        assert_eq!(q.lock().pop_front(), Some(event(1)));
        assert!(matches!(
            q.lock().pop_front(),
            Some(Effect::FraudstersChanged { .. })
        ));
        assert_eq!(q.lock().pop_front(), None);
    }

    #[test]
    fn a_full_queue_drops_the_oldest_event_never_a_job() {
        let q = EffectQueue::default();
        q.push(Effect::RunJob {
            domain_id: "d".into(),
            job_id: "j".into(),
        });
        for n in 0..EFFECT_CAPACITY {
            q.push(event(n));
        }
        assert_eq!(q.dropped.load(Ordering::Relaxed), 1);
        let queue = q.lock();
        assert_eq!(queue.len(), EFFECT_CAPACITY);
        assert!(matches!(queue[0], Effect::RunJob { .. }));
        assert_eq!(queue[1], event(1));
    }
}
