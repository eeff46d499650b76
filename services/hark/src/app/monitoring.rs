//! Monitor streams in `/metrics`: `hark_monitor` logs each stream and saves its usage; this
//! observer counts its frames, bytes, connects, drops and billable time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hark_monitor::net::{
    MonitorSettings, Monitoring, ObserverFactory, SetupError, StreamEvent, StreamObserver,
};
use hark_monitor::stream::StreamSnapshot;
use hark_monitor::{CallIdentity, MonitorError, MonitorStore};
use prometheus_client::metrics::counter::Counter;

use crate::app::metrics::{Metrics, MonitorLabels, UsageLabels};

/// Builds monitoring over `store` with the `[monitor]` settings, each stream counted in
/// `metrics`.
pub fn build(
    settings: &MonitorSettings,
    store: Arc<dyn MonitorStore>,
    metrics: Arc<Metrics>,
) -> Result<Monitoring, SetupError> {
    hark_monitor::net::start(settings, store, Arc::new(StreamEvents { metrics }))
}

/// Makes each stream's observer.
struct StreamEvents {
    metrics: Arc<Metrics>,
}

impl ObserverFactory for StreamEvents {
    fn observer(&self, _call: &CallIdentity, monitor: &str) -> Arc<dyn StreamObserver> {
        let labels = MonitorLabels {
            monitor: monitor.to_owned(),
        };
        let m = &self.metrics.monitor;
        m.streams.inc();
        Arc::new(StreamMetrics {
            monitor: monitor.to_owned(),
            frames: m.frames_sent.get_or_create(&labels).clone(),
            bytes: m.bytes_sent.get_or_create(&labels).clone(),
            metrics: Arc::clone(&self.metrics),
            labels,
            connected: AtomicBool::new(false),
            dropped_blocks: AtomicU64::new(0),
            dropped_nanos: AtomicU64::new(0),
        })
    }
}

/// One stream's events in the metrics (hark-monitor logs them and saves the usage record).
struct StreamMetrics {
    monitor: String,
    frames: Counter,
    bytes: Counter,
    metrics: Arc<Metrics>,
    labels: MonitorLabels,
    connected: AtomicBool,
    dropped_blocks: AtomicU64,
    dropped_nanos: AtomicU64,
}

impl StreamObserver for StreamMetrics {
    fn on_event(&self, event: StreamEvent<'_>) {
        let m = &self.metrics.monitor;
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
            StreamEvent::Attempt { .. } => {
                m.connect_attempts.get_or_create(&self.labels).inc();
            }
            StreamEvent::ConnectFailed { .. } => {
                m.connect_failures.get_or_create(&self.labels).inc();
            }
            StreamEvent::Opened { .. } => self.set_connected(true),
            StreamEvent::SessionEnded { failed, .. } => {
                self.set_connected(false);
                if failed {
                    m.connect_failures.get_or_create(&self.labels).inc();
                }
            }
            StreamEvent::Retrying { .. } | StreamEvent::MonitorPaused(_) => {}
            StreamEvent::Finished(summary) => self.finished(summary),
        }
    }
}

impl StreamMetrics {
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
        _ => (500, "InternalError"),
    }
}
