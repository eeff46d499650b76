//! Structured logs through `tracing`: human-readable text or JSON lines on stdout.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the global subscriber; `filter` is a directive such as `info` or `warn,hark=debug`.
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    let targets: Targets = filter
        .parse()
        .map_err(|e| format!("invalid log level {filter:?}: {e}"))?;
    let registry = tracing_subscriber::registry().with(targets);
    let result = match format {
        LogFormat::Text => registry.with(tracing_subscriber::fmt::layer()).try_init(),
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true))
            .try_init(),
    };
    result.map_err(|e| format!("cannot install the log subscriber: {e}"))
}
