//! Voice ID maintenance (expiry, purge, re-encryption, forgetting idle sessions) on a timer,
//! and the log line of each pass.

use std::sync::Arc;
use std::time::Duration;

use crate::service::Maintenance;
use crate::{Error, VoiceId};

/// Runs [`VoiceId::maintain`] every `every` on the blocking pool, back to back while a
/// re-encryption is in progress. For a single instance; a fleet runs passes under its lock.
pub fn spawn_maintenance(service: Arc<VoiceId>, every: Duration) {
    tokio::spawn(async move {
        loop {
            let svc = Arc::clone(&service);
            let pass = tokio::task::spawn_blocking(move || svc.maintain()).await;
            let pending = match pass {
                Ok(pass) => log_maintenance(pass),
                Err(e) => {
                    tracing::error!(error = %e, "voiceid maintenance panicked");
                    false
                }
            };
            let wait = if pending {
                Duration::from_millis(10)
            } else {
                every
            };
            tokio::time::sleep(wait).await;
        }
    });
}

/// Logs a maintenance pass; true when a re-encryption is still in progress (run again soon).
pub fn log_maintenance(pass: Result<Maintenance, Error>) -> bool {
    match pass {
        Ok(report) => {
            if report.expired_speakers > 0
                || !report.purged_domains.is_empty()
                || report.reencrypted_blobs > 0
                || report.warmed_watchlists > 0
            {
                tracing::info!(
                    expired_speakers = report.expired_speakers,
                    purged_domains = ?report.purged_domains,
                    reencrypted_blobs = report.reencrypted_blobs,
                    warmed_watchlists = report.warmed_watchlists,
                    "voiceid maintenance"
                );
            }
            report.reencryption_pending
        }
        Err(e) => {
            tracing::error!(error = %e, "voiceid maintenance failed");
            false
        }
    }
}
