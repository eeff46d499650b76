//! What every monitor stream leaves behind, whatever else observes it: a log line per
//! lifecycle event (never a secret) and, when it finishes, its usage record in the store
//! (what billing reads).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{ObserverFactory, StreamEvent, StreamObserver};
use crate::call::CallIdentity;
use crate::stream::StreamSnapshot;
use crate::{MonitorStore, UsageRecord};

/// Wraps the shell's observers: each stream is logged and its usage saved, then its events go
/// on to the shell's observer.
pub(crate) struct StreamJournal {
    pub(crate) store: Arc<dyn MonitorStore>,
    pub(crate) inner: Arc<dyn ObserverFactory>,
}

impl ObserverFactory for StreamJournal {
    fn observer(&self, call: &CallIdentity, monitor: &str) -> Arc<dyn StreamObserver> {
        Arc::new(JournaledStream {
            monitor: monitor.to_owned(),
            call_id: call.call_id.clone(),
            contact_id: call.conversation_id.clone(),
            started_at: Utc::now(),
            store: Arc::clone(&self.store),
            inner: self.inner.observer(call, monitor),
        })
    }
}

struct JournaledStream {
    monitor: String,
    call_id: String,
    contact_id: String,
    started_at: DateTime<Utc>,
    store: Arc<dyn MonitorStore>,
    inner: Arc<dyn StreamObserver>,
}

impl StreamObserver for JournaledStream {
    fn on_event(&self, event: StreamEvent<'_>) {
        let (monitor, call) = (&self.monitor, &self.call_id);
        match &event {
            StreamEvent::Attempt { attempt } => {
                tracing::info!(monitor, call, attempt, "connecting to monitor");
            }
            StreamEvent::ConnectFailed { attempt, error } => {
                tracing::warn!(monitor, call, attempt, error, "monitor connection failed");
            }
            StreamEvent::Opened { session_id, media } => {
                let format = media.map(|f| format!("{:?} {:?}", f.encoding, f.layout.channels()));
                tracing::info!(monitor, call, session = session_id, media = ?format, "monitor session opened");
            }
            StreamEvent::SessionEnded {
                session_id,
                reason,
                failed: true,
            } => {
                tracing::warn!(
                    monitor,
                    call,
                    session = session_id,
                    reason,
                    "monitor session dropped"
                );
            }
            StreamEvent::SessionEnded {
                session_id, reason, ..
            } => {
                tracing::info!(
                    monitor,
                    call,
                    session = session_id,
                    reason,
                    "monitor session ended"
                );
            }
            StreamEvent::Retrying { delay } => {
                let delay_ms = delay.as_millis() as u64;
                tracing::info!(monitor, call, delay_ms, "retrying monitor");
            }
            StreamEvent::MonitorPaused(paused) => {
                tracing::info!(monitor, call, paused, "monitor paused its stream");
            }
            StreamEvent::Finished(summary) => self.finished(summary),
            StreamEvent::FrameSent | StreamEvent::Wrote { .. } | StreamEvent::Dropped(_) => {}
        }
        self.inner.on_event(event);
    }
}

impl JournaledStream {
    /// Logs the stream's end and saves its usage record off the runtime's workers.
    fn finished(&self, summary: &StreamSnapshot) {
        let (usage, c) = (summary.usage, &summary.counters);
        tracing::info!(
            monitor = %self.monitor,
            call = %self.call_id,
            billable_seconds = usage.billable_seconds,
            discarded_seconds = c.discarded_seconds,
            attempts = c.attempts,
            "monitor stream finished"
        );
        let record = UsageRecord {
            contact_id: self.contact_id.clone(),
            call_id: self.call_id.clone(),
            monitor: self.monitor.clone(),
            started_at: self.started_at,
            ended_at: Utc::now(),
            usage,
            attempts: c.attempts,
            failures: c.failures,
            frames_sent: c.frames_sent,
            discarded_seconds: c.discarded_seconds,
        };
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.save_usage(&record) {
                tracing::error!(error = %e, monitor = %record.monitor, "cannot save monitor usage");
            }
        });
    }
}
