//! The service's metrics registry, exposed at `/metrics` in the OpenMetrics text format that
//! Prometheus scrapes.
//!
//! Each capability registers its own families here when it is wired in; this module holds the
//! ones every deployment has: build info, start time and HTTP requests.

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
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

/// All metrics of one service instance.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests served, by route, method and status.
    pub http_requests: Family<HttpLabels, Counter>,
}

impl Metrics {
    /// A registry with the service-wide metrics registered.
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
        Metrics {
            registry,
            http_requests,
        }
    }

    /// The registry, for capabilities to register their own families at start-up.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The current values in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
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
    fn renders_build_info_and_request_counts() {
        let metrics = Metrics::new();
        metrics
            .http_requests
            .get_or_create(&HttpLabels {
                route: "/healthz".into(),
                method: "GET".into(),
                status: 200,
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
        assert!(text.contains("# TYPE hark_start_time_seconds gauge"));
        assert!(text.ends_with("# EOF\n"));
    }
}
