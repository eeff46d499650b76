//! Wiring of `hark_monitor`: integrations from `hark.toml` seeded into the store, streams'
//! events into logs and `/metrics`, finished streams' usage into the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hark_monitor::net::{
    MonitorSettings, Monitoring, ObserverFactory, SetupError, StreamEvent, StreamObserver,
};
use hark_monitor::stream::StreamSnapshot;
use hark_monitor::{CallIdentity, MonitorError, MonitorStore, UsageRecord};
use prometheus_client::metrics::counter::Counter;

use crate::app::metrics::{Metrics, MonitorLabels, UsageLabels};

/// Builds monitoring over `store` with the `[monitor]` settings; each stream reports to a
/// [`StreamLog`] (logs, metrics, usage saved at its end).
pub fn build(
    settings: &MonitorSettings,
    store: Arc<dyn MonitorStore>,
    metrics: Arc<Metrics>,
) -> Result<Monitoring, SetupError> {
    let observers = Arc::new(StreamEvents {
        metrics,
        store: Arc::clone(&store),
    });
    hark_monitor::net::start(settings, store, observers)
}

/// Makes each stream's observer.
struct StreamEvents {
    metrics: Arc<Metrics>,
    store: Arc<dyn MonitorStore>,
}

impl ObserverFactory for StreamEvents {
    fn observer(&self, call: &CallIdentity, monitor: &str) -> Arc<dyn StreamObserver> {
        let labels = MonitorLabels {
            monitor: monitor.to_owned(),
        };
        let m = &self.metrics.monitor;
        m.streams.inc();
        Arc::new(StreamLog {
            monitor: monitor.to_owned(),
            call_id: call.call_id.clone(),
            contact_id: call.conversation_id.clone(),
            started_at: Utc::now(),
            frames: m.frames_sent.get_or_create(&labels).clone(),
            bytes: m.bytes_sent.get_or_create(&labels).clone(),
            metrics: Arc::clone(&self.metrics),
            labels,
            store: Arc::clone(&self.store),
            connected: AtomicBool::new(false),
            dropped_blocks: AtomicU64::new(0),
            dropped_nanos: AtomicU64::new(0),
        })
    }
}

/// One stream's events: logs (never secrets), metrics, and its usage record at the end.
struct StreamLog {
    monitor: String,
    call_id: String,
    contact_id: String,
    started_at: DateTime<Utc>,
    frames: Counter,
    bytes: Counter,
    metrics: Arc<Metrics>,
    labels: MonitorLabels,
    store: Arc<dyn MonitorStore>,
    connected: AtomicBool,
    dropped_blocks: AtomicU64,
    dropped_nanos: AtomicU64,
}

impl StreamObserver for StreamLog {
    fn on_event(&self, event: StreamEvent<'_>) {
        let m = &self.metrics.monitor;
        let (monitor, call) = (&self.monitor, &self.call_id);
        match event {
            StreamEvent::FrameSent => {
                self.frames.inc();
            }
            StreamEvent::Wrote { bytes } => {
                self.bytes.inc_by(bytes as u64);
            }
            StreamEvent::Dropped(dropped) => {
                self.count_dropped(dropped.blocks, dropped.duration);
            }
            StreamEvent::Attempt { attempt } => {
                m.connect_attempts.get_or_create(&self.labels).inc();
                tracing::info!(monitor, call, attempt, "connecting to monitor");
            }
            StreamEvent::ConnectFailed { attempt, error } => {
                m.connect_failures.get_or_create(&self.labels).inc();
                tracing::warn!(monitor, call, attempt, error, "monitor connection failed");
            }
            StreamEvent::Opened { session_id, media } => {
                self.set_connected(true);
                let format = media.map(|f| format!("{:?} {:?}", f.encoding, f.layout.channels()));
                tracing::info!(monitor, call, session = session_id, media = ?format, "monitor session opened");
            }
            StreamEvent::SessionEnded {
                session_id,
                reason,
                failed,
            } => {
                self.set_connected(false);
                if failed {
                    m.connect_failures.get_or_create(&self.labels).inc();
                    tracing::warn!(
                        monitor,
                        call,
                        session = session_id,
                        reason,
                        "monitor session dropped"
                    );
                } else {
                    tracing::info!(
                        monitor,
                        call,
                        session = session_id,
                        reason,
                        "monitor session ended"
                    );
                }
            }
            StreamEvent::Retrying { delay } => {
                tracing::info!(
                    monitor,
                    call,
                    delay_ms = delay.as_millis() as u64,
                    "retrying monitor"
                );
            }
            StreamEvent::MonitorPaused(paused) => {
                tracing::info!(monitor, call, paused, "monitor paused its stream");
            }
            StreamEvent::Finished(summary) => self.finished(summary),
        }
    }
}

impl StreamLog {
    fn set_connected(&self, now: bool) {
        if self.connected.swap(now, Ordering::Relaxed) != now {
            let gauge = self.metrics.monitor.connected.get_or_create(&self.labels);
            if now {
                gauge.inc()
            } else {
                gauge.dec()
            };
        }
    }

    fn count_dropped(&self, blocks: u64, duration: Duration) {
        let m = &self.metrics.monitor;
        m.discarded_frames
            .get_or_create(&self.labels)
            .inc_by(blocks);
        m.discarded_seconds
            .get_or_create(&self.labels)
            .inc_by(duration.as_secs_f64());
        self.dropped_blocks.fetch_add(blocks, Ordering::Relaxed);
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.dropped_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn finished(&self, summary: &StreamSnapshot) {
        self.set_connected(false);
        let m = &self.metrics.monitor;
        m.streams.dec();
        // What was still queued at the end counts as discarded too.
        let c = &summary.counters;
        let counted = Duration::from_nanos(self.dropped_nanos.load(Ordering::Relaxed));
        let left = Duration::from_secs_f64(c.discarded_seconds).saturating_sub(counted);
        let blocks = c
            .discarded_blocks
            .saturating_sub(self.dropped_blocks.load(Ordering::Relaxed));
        if blocks > 0 {
            self.count_dropped(blocks, left);
        }
        let usage = summary.usage;
        // Billable time is connected time less pauses: a family of its own, so that summing
        // the usage kinds never counts a second twice.
        for (kind, seconds) in [
            ("connected", usage.connected_seconds),
            ("secure_paused", usage.secure_paused_seconds),
            ("monitor_paused", usage.monitor_paused_seconds),
        ] {
            let labels = UsageLabels {
                monitor: self.monitor.clone(),
                kind,
            };
            m.usage_seconds.get_or_create(&labels).inc_by(seconds);
        }
        m.billable_seconds
            .get_or_create(&MonitorLabels {
                monitor: self.monitor.clone(),
            })
            .inc_by(usage.billable_seconds);
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
        tracing::info!(
            monitor = %self.monitor,
            call = %self.call_id,
            billable_seconds = usage.billable_seconds,
            discarded_seconds = c.discarded_seconds,
            attempts = c.attempts,
            "monitor stream finished"
        );
        let store = Arc::clone(&self.store);
        // The stream's task runs on the async runtime; the database write does not belong there.
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.save_usage(&record) {
                tracing::error!(error = %e, monitor = %record.monitor, "cannot save monitor usage");
            }
        });
    }
}

/// The HTTP status for a monitor error.
pub fn status_of(e: &MonitorError) -> (u16, &'static str) {
    match e {
        MonitorError::Invalid(_) => (400, "BadRequest"),
        MonitorError::LimitReached { .. } => (409, "LimitReached"),
        MonitorError::AlreadyExists(_) => (409, "Conflict"),
        MonitorError::Disabled(_) => (409, "MonitorDisabled"),
        MonitorError::NotFound(_) => (404, "NotFound"),
        MonitorError::NoLiveCall(_) => (404, "NoLiveCall"),
        MonitorError::Store(_) => (500, "InternalError"),
    }
}
