//! Carries out what the Voice ID service asks for ([`Effect`]s), on a thread of its own: events
//! to the event sink, fraudster changes to the fleet, submitted batch jobs onto the blocking
//! pool.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::service::FraudsterObserver;
use crate::{Effect, EventSink, VoiceId};

use super::jobs::{BatchStorage, spawn_job};

/// Where each kind of effect goes.
#[derive(Debug, Clone)]
pub struct EffectHandlers {
    /// Events (sessions, enrollments, jobs).
    pub events: Arc<dyn EventSink>,
    /// Fraudster changes, on a fleet (other instances reload their indexes).
    pub fraudsters: Option<Arc<dyn FraudsterObserver>>,
    /// Where batch jobs read and write.
    pub jobs: Arc<BatchStorage>,
}

/// How long the effect thread waits before checking that the service still exists.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Starts the thread that takes `service`'s effects (those queued already included) until the
/// service is dropped. Jobs run on the current tokio runtime's blocking pool.
pub fn spawn_effect_pump(service: &Arc<VoiceId>, handlers: EffectHandlers) -> std::io::Result<()> {
    let service = Arc::downgrade(service);
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("voiceid-effects".into())
        .spawn(move || pump(&service, &handlers, &runtime))
        .map(|_| ())
}

fn pump(service: &Weak<VoiceId>, handlers: &EffectHandlers, runtime: &tokio::runtime::Handle) {
    while let Some(svc) = service.upgrade() {
        let Some(effect) = svc.wait_effect(IDLE_CHECK) else {
            continue;
        };
        match effect {
            Effect::Event(envelope) => handlers.events.publish(&envelope),
            Effect::FraudstersChanged { domain_id } => {
                if let Some(fleet) = &handlers.fraudsters {
                    fleet.fraudsters_changed(&domain_id);
                }
            }
            Effect::RunJob { domain_id, job_id } => {
                let _entered = runtime.enter();
                spawn_job(svc, Arc::clone(&handlers.jobs), domain_id, job_id);
            }
        }
    }
}
