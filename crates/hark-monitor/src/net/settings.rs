//! The `[monitor]` settings and starting [`Monitoring`] from them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hark_audiohook::net::TlsConnector;
use serde::Deserialize;

use super::{Monitoring, ObserverFactory, StreamSettings};
use crate::feed::QueueLimits;
use crate::{MonitorError, MonitorIntegration, MonitorRegistry, MonitorStore};

/// The `[monitor]` table: monitor integrations defined in the file, and how streams behave.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MonitorSettings {
    /// Stream each call to the integrations that take it as soon as it opens (default); when
    /// false, only on `POST /v1/contacts/{id}/monitoring`.
    #[serde(default = "enabled")]
    pub auto_start: bool,
    /// Seconds of audio each monitor's queue holds before the oldest is dropped [default: 5].
    pub queue_seconds: Option<f64>,
    /// Seconds a monitor may take to catch up and close after its call ended [default: 15].
    pub drain_seconds: Option<f64>,
    /// PEM file of extra root certificates for `wss://` monitors (a private CA); the Mozilla
    /// roots are always trusted.
    pub ca_file: Option<PathBuf>,
    /// Integrations created or replaced by name at every start (at most 5 in all).
    #[serde(default)]
    pub integrations: Vec<MonitorIntegration>,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings {
            auto_start: true,
            queue_seconds: None,
            drain_seconds: None,
            ca_file: None,
            integrations: Vec::new(),
        }
    }
}

fn enabled() -> bool {
    true
}

/// Why monitoring could not start with the given settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The store could not be read.
    #[error("monitor store: {0}")]
    Store(MonitorError),
    /// A configured integration was refused.
    #[error("[[monitor.integrations]] {0:?}: {1}")]
    Integration(String, MonitorError),
    /// `queue_seconds` out of range.
    #[error("[monitor] queue_seconds must be between 0.1 and {MAX_QUEUE_SECONDS} (got {0})")]
    QueueSeconds(f64),
    /// `drain_seconds` out of range.
    #[error("[monitor] drain_seconds must be between 0 and {MAX_DRAIN_SECONDS} (got {0})")]
    DrainSeconds(f64),
    /// The extra root certificates could not be read or parsed.
    #[error("[monitor] ca_file: {0}")]
    CaFile(String),
}

/// The longest queue a monitor may be given, in seconds of audio.
pub const MAX_QUEUE_SECONDS: f64 = 60.0;
/// The longest a monitor may take to catch up after its call ended.
pub const MAX_DRAIN_SECONDS: f64 = 300.0;

/// Starts monitoring over `store`: the configured integrations are created or replaced by
/// name (the limit of five counts them with those made through the API); every stream is logged
/// and its usage saved in `store` when it ends, and `observers` hear it too.
pub fn start(
    config: &MonitorSettings,
    store: Arc<dyn MonitorStore>,
    observers: Arc<dyn ObserverFactory>,
) -> Result<Monitoring, SetupError> {
    let registry = MonitorRegistry::new(Arc::clone(&store)).map_err(SetupError::Store)?;
    for monitor in &config.integrations {
        registry
            .upsert(monitor.clone())
            .map_err(|e| SetupError::Integration(monitor.name.clone(), e))?;
    }
    let mut settings = StreamSettings::default();
    if let Some(seconds) = config.queue_seconds {
        if !(0.1..=MAX_QUEUE_SECONDS).contains(&seconds) {
            return Err(SetupError::QueueSeconds(seconds));
        }
        settings.limits = QueueLimits {
            audio: Duration::from_secs_f64(seconds),
            ..QueueLimits::default()
        };
    }
    if let Some(seconds) = config.drain_seconds {
        if !(0.0..=MAX_DRAIN_SECONDS).contains(&seconds) {
            return Err(SetupError::DrainSeconds(seconds));
        }
        settings.drain_timeout = Duration::from_secs_f64(seconds);
    }
    let extra_roots = match &config.ca_file {
        Some(path) => Some(std::fs::read(path).map_err(|e| SetupError::CaFile(e.to_string()))?),
        None => None,
    };
    let tls =
        TlsConnector::new(extra_roots.as_deref()).map_err(|e| SetupError::CaFile(e.to_string()))?;
    settings.transport.tls = Some(tls);
    let journal = Arc::new(super::journal::StreamJournal {
        store,
        inner: observers,
    });
    Ok(Monitoring::new(
        Arc::new(registry),
        settings,
        config.auto_start,
        journal,
    ))
}
