//! The service's metrics registry, exposed at `/metrics` in the OpenMetrics text format that
//! Prometheus scrapes.
//!
//! Service-wide families (build info, start time, HTTP requests) and each capability's own
//! families are registered here at start-up, so `/metrics` lists them from the first scrape.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of an HTTP request: the route template (never the raw path), method and status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The matched route, e.g. `/v1/recordings/{id}`, or `unmatched`.
    pub route: String,
    /// The HTTP method.
    pub method: String,
    /// The response status code.
    pub status: u16,
}

/// Labels of the build-info gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

/// Labels of an AudioHook protocol error: who detected it and its code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProtocolErrorLabels {
    /// `client` (an `error` message the client sent) or `server` (our `disconnect`).
    pub source: &'static str,
    /// The client's error code (`408`, ...) or our disconnect reason (`error`, `unauthorized`).
    pub code: String,
}

/// AudioHook ingest counters.
#[derive(Debug)]
pub struct AudioHookMetrics {
    /// Seconds from the WebSocket upgrade to `opened` (probes included).
    pub open_latency: Histogram,
    /// Sessions currently connected (probes excluded).
    pub sessions_open: Gauge,
    /// Sessions opened since start, probes included.
    pub sessions: Counter,
    /// Connection probes answered.
    pub probes: Counter,
    /// Binary audio frames received.
    pub frames: Counter,
    /// Audio bytes received.
    pub bytes: Counter,
    /// Seconds of audio the clients withheld while paused.
    pub paused_seconds: Counter<f64, AtomicU64>,
    /// Protocol errors by source and code.
    pub protocol_errors: Family<ProtocolErrorLabels, Counter>,
}

/// Labels of a finished recording: `delivered`, `failed` or `recovered`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// How the recording ended.
    pub outcome: &'static str,
}

/// Recording counters.
#[derive(Debug, Default)]
pub struct RecordingMetrics {
    /// Recordings in progress.
    pub active: Gauge,
    /// Recordings started.
    pub started: Counter,
    /// Recordings finished, by outcome.
    pub finished: Family<OutcomeLabels, Counter>,
    /// Seconds of enabled recording, pauses included (what is billed).
    pub billable_seconds: Counter<f64, AtomicU64>,
    /// Seconds of audio in delivered files.
    pub recorded_seconds: Counter<f64, AtomicU64>,
    /// Audio blocks dropped because a recorder fell behind the call.
    pub dropped_blocks: Counter,
    /// Recordings uploaded to an object store.
    pub uploads: Counter,
    /// Failed upload attempts (each is retried).
    pub upload_failures: Counter,
}

impl hark_recording::runtime::RecordingObserver for Metrics {
    fn started(&self) {
        self.recording.started.inc();
        self.recording.active.inc();
    }

    fn stopped(&self, billable_seconds: f64) {
        self.recording.billable_seconds.inc_by(billable_seconds);
        self.recording.active.dec();
    }

    fn finished(&self, info: &hark_recording::store::RecordingMetadata) {
        let outcome = match (&info.error, info.recovered) {
            (Some(_), _) => "failed",
            (None, true) => "recovered",
            (None, false) => "delivered",
        };
        let m = &self.recording;
        m.finished.get_or_create(&OutcomeLabels { outcome }).inc();
        m.recorded_seconds.inc_by(info.duration_seconds);
        m.dropped_blocks.inc_by(info.dropped_blocks);
    }

    fn upload_failed(&self) {
        self.recording.upload_failures.inc();
    }

    fn uploaded(&self) {
        self.recording.uploads.inc();
    }
}

/// Labels of a monitor family: the integration's name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MonitorLabels {
    /// The monitor integration.
    pub monitor: String,
}

/// Labels of monitor usage: the integration and the kind of seconds.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UsageLabels {
    /// The monitor integration.
    pub monitor: String,
    /// `connected`, `secure_paused`, `monitor_paused` or `billable`.
    pub kind: &'static str,
}

/// Monitor stream counters, by integration.
#[derive(Debug, Default)]
pub struct MonitorMetrics {
    /// Streams running now (one per call and monitor).
    pub streams: Gauge,
    /// Sessions open to monitors now.
    pub connected: Family<MonitorLabels, Gauge>,
    /// Connection attempts.
    pub connect_attempts: Family<MonitorLabels, Counter>,
    /// Attempts that failed and sessions that dropped.
    pub connect_failures: Family<MonitorLabels, Counter>,
    /// Audio blocks handed to monitor connections.
    pub frames_sent: Family<MonitorLabels, Counter>,
    /// Audio bytes written to monitor connections.
    pub bytes_sent: Family<MonitorLabels, Counter>,
    /// Audio blocks dropped (queue overflow or never delivered).
    pub discarded_frames: Family<MonitorLabels, Counter>,
    /// Seconds of audio dropped.
    pub discarded_seconds: Family<MonitorLabels, Counter<f64, AtomicU64>>,
    /// Usage seconds of finished streams, by kind (connected, secure_paused, monitor_paused).
    pub usage_seconds: Family<UsageLabels, Counter<f64, AtomicU64>>,
    /// Billable seconds of finished streams (connected less paused).
    pub billable_seconds: Family<MonitorLabels, Counter<f64, AtomicU64>>,
}

impl MonitorMetrics {
    fn register(&self, registry: &mut Registry) {
        let m = registry.sub_registry_with_prefix("hark_monitor");
        m.register(
            "streams",
            "Monitor streams running (calls × monitors)",
            self.streams.clone(),
        );
        m.register(
            "connected",
            "AudioHook sessions open to each monitor",
            self.connected.clone(),
        );
        m.register(
            "connect_attempts",
            "Connection attempts to each monitor",
            self.connect_attempts.clone(),
        );
        m.register(
            "connect_failures",
            "Failed connection attempts and dropped sessions, by monitor",
            self.connect_failures.clone(),
        );
        m.register(
            "frames_sent",
            "Audio blocks handed to each monitor's connection",
            self.frames_sent.clone(),
        );
        m.register(
            "bytes_sent",
            "Audio bytes written to each monitor's connection",
            self.bytes_sent.clone(),
        );
        m.register(
            "discarded_frames",
            "Audio blocks dropped for each monitor (queue overflow or never delivered)",
            self.discarded_frames.clone(),
        );
        m.register(
            "discarded_seconds",
            "Seconds of audio dropped for each monitor",
            self.discarded_seconds.clone(),
        );
        m.register(
            "usage_seconds",
            "Usage of finished monitor streams: connected, secure_paused, monitor_paused",
            self.usage_seconds.clone(),
        );
        m.register(
            "billable_seconds",
            "Billable seconds of finished monitor streams (connected less paused)",
            self.billable_seconds.clone(),
        );
    }
}

/// Labels of an HTTP latency: the route template and method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The matched route, or `unmatched`.
    pub route: String,
    /// The HTTP method.
    pub method: String,
}

/// Labels of a Voice ID request: the operation and the outcome (`ok` or the AWS error code).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VoiceIdLabels {
    /// e.g. `VoiceID.DescribeSpeaker`.
    pub operation: String,
    /// `ok` or e.g. `ResourceNotFoundException`.
    pub code: String,
}

/// Labels of a Voice ID latency: the operation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// e.g. `VoiceID.DescribeSpeaker`.
    pub operation: String,
}

/// Seconds: from 1 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Gauges read from the operating system and the spool when `/metrics` is scraped.
#[derive(Debug, Default)]
pub struct ScrapeGauges {
    /// Resident memory, bytes.
    pub resident_memory_bytes: Gauge,
    /// Open file descriptors.
    pub open_fds: Gauge,
    /// CPU time used, seconds.
    pub cpu_seconds: Gauge<f64, AtomicU64>,
    /// Finished recordings waiting in the spool for their delivery.
    pub spool_files: Gauge,
    /// Their bytes.
    pub spool_bytes: Gauge,
    /// Age of the oldest of them, seconds.
    pub spool_oldest_seconds: Gauge<f64, AtomicU64>,
    /// Recording rows waiting for the database.
    pub rows_pending: Gauge,
}

/// All metrics of one service instance.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests served, by route, method and status.
    pub http_requests: Family<HttpLabels, Counter>,
    /// HTTP request latency, by route and method.
    pub http_duration: Family<RouteLabels, Histogram>,
    /// Voice ID requests, by operation and outcome.
    pub voiceid_requests: Family<VoiceIdLabels, Counter>,
    /// Voice ID request latency, by operation.
    pub voiceid_duration: Family<OperationLabels, Histogram>,
    /// Values read at scrape time.
    pub scrape: ScrapeGauges,
    /// AudioHook ingest.
    pub audiohook: AudioHookMetrics,
    /// Recording.
    pub recording: RecordingMetrics,
    /// Monitor streams.
    pub monitor: MonitorMetrics,
}

impl Metrics {
    /// A registry with every family registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .set(1);
        registry.register(
            "hark_build_info",
            "The running hark version (always 1)",
            build,
        );
        let start = Gauge::<i64>::default();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        start.set(i64::try_from(now).unwrap_or(i64::MAX));
        registry.register(
            "hark_start_time_seconds",
            "When this instance started, in Unix seconds",
            start,
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "hark_http_requests",
            "HTTP requests served",
            http_requests.clone(),
        );

        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "hark_http_request_duration_seconds",
            "HTTP request latency until the response head, by route and method",
            http_duration.clone(),
        );
        let voiceid_requests = Family::<VoiceIdLabels, Counter>::default();
        registry.register(
            "hark_voiceid_requests",
            "Voice ID API requests, by operation and outcome (ok or the AWS error code)",
            voiceid_requests.clone(),
        );
        let voiceid_duration = Family::<OperationLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "hark_voiceid_request_duration_seconds",
            "Voice ID API request latency, by operation",
            voiceid_duration.clone(),
        );
        let scrape = ScrapeGauges::default();
        registry.register(
            "hark_process_resident_memory_bytes",
            "Resident memory of the process",
            scrape.resident_memory_bytes.clone(),
        );
        registry.register(
            "hark_process_open_fds",
            "Open file descriptors of the process",
            scrape.open_fds.clone(),
        );
        registry.register(
            "hark_process_cpu_seconds",
            "CPU time the process used (user and system)",
            scrape.cpu_seconds.clone(),
        );
        registry.register(
            "hark_recording_spool_files",
            "Finished recordings waiting in the spool for delivery",
            scrape.spool_files.clone(),
        );
        registry.register(
            "hark_recording_spool_bytes",
            "Bytes of finished recordings waiting in the spool",
            scrape.spool_bytes.clone(),
        );
        registry.register(
            "hark_recording_spool_oldest_seconds",
            "Age of the oldest finished recording waiting in the spool",
            scrape.spool_oldest_seconds.clone(),
        );
        registry.register(
            "hark_recording_rows_pending",
            "Recording rows waiting for the database",
            scrape.rows_pending.clone(),
        );

        let audiohook = AudioHookMetrics {
            open_latency: latency_histogram(),
            sessions_open: Gauge::default(),
            sessions: Counter::default(),
            probes: Counter::default(),
            frames: Counter::default(),
            bytes: Counter::default(),
            paused_seconds: Counter::default(),
            protocol_errors: Family::default(),
        };
        let ah = registry.sub_registry_with_prefix("hark_audiohook");
        ah.register(
            "open_latency_seconds",
            "Seconds from an AudioHook WebSocket upgrade to the session's opened",
            audiohook.open_latency.clone(),
        );
        ah.register(
            "sessions_open",
            "AudioHook sessions connected now (probes excluded)",
            audiohook.sessions_open.clone(),
        );
        ah.register(
            "sessions",
            "AudioHook sessions opened, probes included",
            audiohook.sessions.clone(),
        );
        ah.register(
            "probes",
            "AudioHook connection probes answered",
            audiohook.probes.clone(),
        );
        ah.register(
            "frames",
            "AudioHook binary audio frames received",
            audiohook.frames.clone(),
        );
        ah.register(
            "bytes",
            "AudioHook audio bytes received",
            audiohook.bytes.clone(),
        );
        ah.register(
            "paused_seconds",
            "Seconds of audio withheld by paused AudioHook streams",
            audiohook.paused_seconds.clone(),
        );
        ah.register(
            "protocol_errors",
            "AudioHook protocol errors by source and code",
            audiohook.protocol_errors.clone(),
        );
        let recording = RecordingMetrics::default();
        // Every outcome from the start, so `rate(…{outcome="failed"})` is 0, not absent.
        for outcome in ["delivered", "failed", "recovered"] {
            let _ = recording.finished.get_or_create(&OutcomeLabels { outcome });
        }
        let rec = registry.sub_registry_with_prefix("hark_recording");
        rec.register("active", "Recordings in progress", recording.active.clone());
        rec.register("started", "Recordings started", recording.started.clone());
        rec.register(
            "finished",
            "Recordings finished, by outcome",
            recording.finished.clone(),
        );
        rec.register(
            "billable_seconds",
            "Seconds of enabled recording, pauses included",
            recording.billable_seconds.clone(),
        );
        rec.register(
            "recorded_seconds",
            "Seconds of audio in delivered recordings",
            recording.recorded_seconds.clone(),
        );
        rec.register(
            "dropped_blocks",
            "Audio blocks dropped because a recorder fell behind",
            recording.dropped_blocks.clone(),
        );
        rec.register(
            "uploads",
            "Recordings uploaded to an object store",
            recording.uploads.clone(),
        );
        rec.register(
            "upload_failures",
            "Failed recording upload attempts (each is retried)",
            recording.upload_failures.clone(),
        );
        let monitor = MonitorMetrics::default();
        monitor.register(&mut registry);
        Metrics {
            registry,
            http_requests,
            http_duration,
            voiceid_requests,
            voiceid_duration,
            scrape,
            audiohook,
            recording,
            monitor,
        }
    }

    /// Reads the process's memory, descriptors and CPU time from `/proc` into the gauges.
    pub fn read_process(&self) {
        let g = &self.scrape;
        if let Ok(statm) = std::fs::read_to_string("/proc/self/statm")
            && let Some(pages) = statm
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<i64>().ok())
        {
            g.resident_memory_bytes.set(pages * 4096);
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            g.open_fds
                .set(i64::try_from(fds.count()).unwrap_or(i64::MAX));
        }
        // Fields 14 and 15 of /proc/self/stat (after the parenthesised name): user and system
        // time in clock ticks (100 a second on Linux).
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
            && let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r)
        {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| {
                fields
                    .get(i)
                    .and_then(|f| f.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            g.cpu_seconds.set((ticks(11) + ticks(12)) / 100.0);
        }
    }

    /// These metrics, with Voice ID's decisions, enrolments, jobs, live sessions and watchlist
    /// sizes read from `service` at each scrape.
    pub fn with_voiceid(mut self, service: Arc<hark_voiceid::VoiceId>) -> Self {
        self.registry
            .register_collector(Box::new(VoiceIdCollector(service)));
        self
    }

    /// The current values in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Voice ID's own counters and levels, encoded at each scrape.
#[derive(Debug)]
struct VoiceIdCollector(Arc<hark_voiceid::VoiceId>);

impl Collector for VoiceIdCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.0.stats();
        encoder
            .encode_descriptor(
                "hark_voiceid_live_sessions",
                "Voice ID sessions that have not ended",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&stats.live_sessions)?;
        let mut decisions = encoder.encode_descriptor(
            "hark_voiceid_decisions",
            "New Voice ID results by kind (authentication, fraud) and decision",
            None,
            MetricType::Counter,
        )?;
        for (kind, result, n) in &stats.decisions {
            let labels = [("kind", kind.as_str()), ("decision", result.as_str())];
            decisions
                .encode_family(&labels)?
                .encode_counter::<Vec<(String, String)>, _, u64>(n, None)?;
        }
        let by_status = |name, help, rows: &[(String, u64)], encoder: &mut DescriptorEncoder| {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (status, n) in rows {
                family
                    .encode_family(&[("status", status.as_str())])?
                    .encode_counter::<Vec<(String, String)>, _, u64>(n, None)?;
            }
            Ok::<(), std::fmt::Error>(())
        };
        by_status(
            "hark_voiceid_session_enrolments",
            "Voice ID session enrolments by status (IN_PROGRESS, SUCCESS, FAILURE)",
            &stats.enrolments,
            &mut encoder,
        )?;
        by_status(
            "hark_voiceid_jobs",
            "Voice ID batch jobs reaching each status",
            &stats.jobs,
            &mut encoder,
        )?;
        encoder
            .encode_descriptor(
                "hark_voiceid_first_decision_seconds",
                "Seconds from a Voice ID session's start to its first authentication decision",
                None,
                MetricType::Histogram,
            )?
            .encode_histogram::<Vec<(String, String)>>(
                stats.first_decision_sum,
                stats.first_decision_count,
                &stats.first_decision_buckets,
                None,
            )?;
        let mut sizes = encoder.encode_descriptor(
            "hark_voiceid_watchlist_fraudsters",
            "Fraudsters in each Voice ID watchlist loaded in memory",
            None,
            MetricType::Gauge,
        )?;
        for (domain, watchlist, n) in &stats.watchlist_fraudsters {
            let labels = [
                ("domain", domain.as_str()),
                ("watchlist", watchlist.as_str()),
            ];
            sizes.encode_family(&labels)?.encode_gauge(n)?;
        }
        Ok(())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_build_info_request_counts_and_audiohook_families() {
        let metrics = Metrics::new();
        metrics
            .http_requests
            .get_or_create(&HttpLabels {
                route: "/healthz".into(),
                method: "GET".into(),
                status: 200,
            })
            .inc();
        metrics.audiohook.frames.inc_by(3);
        metrics
            .audiohook
            .protocol_errors
            .get_or_create(&ProtocolErrorLabels {
                source: "client",
                code: "408".into(),
            })
            .inc();
        let text = metrics.render();
        assert!(
            text.contains(&format!(
                "hark_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
        assert!(
            text.contains(
                "hark_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("hark_audiohook_frames_total 3"), "{text}");
        assert!(
            text.contains("hark_audiohook_protocol_errors_total{source=\"client\",code=\"408\"} 1"),
            "{text}"
        );
        assert!(text.contains("# TYPE hark_audiohook_sessions_open gauge"));
        assert!(text.contains("# TYPE hark_monitor_streams gauge"), "{text}");
        metrics
            .http_duration
            .get_or_create(&RouteLabels {
                route: "/healthz".into(),
                method: "GET".into(),
            })
            .observe(0.002);
        metrics
            .voiceid_requests
            .get_or_create(&VoiceIdLabels {
                operation: "VoiceID.DescribeSpeaker".into(),
                code: "ok".into(),
            })
            .inc();
        metrics
            .monitor
            .billable_seconds
            .get_or_create(&MonitorLabels {
                monitor: "m".into(),
            })
            .inc_by(1.5);
        metrics.read_process();
        let text = metrics.render();
        assert!(
            text.contains("hark_http_request_duration_seconds_bucket{le=\"0.002\",route=\"/healthz\",method=\"GET\"} 1"),
            "{text}"
        );
        assert!(
            !text.contains("hark_process_resident_memory_bytes 0\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "hark_voiceid_requests_total{operation=\"VoiceID.DescribeSpeaker\",code=\"ok\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("hark_monitor_billable_seconds_total{monitor=\"m\"} 1.5"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
