//! What happens to a finished recording: delivery to a directory (retried with backoff) or an
//! upload, its metadata row, and the observer's count.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hark_files::ConfinedRoots;

use super::RecordingObserver;
use super::outbox::RowOutbox;
use super::upload::{S3Uploads, Upload};
use crate::DestinationType;
use crate::control::Recording;
use crate::key::recording_location;
use crate::store::RecordingMetadata;

/// What happens to a finished file: delivery to a directory or upload, metadata, metrics.
#[derive(Clone, Debug)]
pub(super) struct Completion {
    pub(super) rows: RowOutbox,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) observer: Arc<dyn RecordingObserver>,
    pub(super) s3: Option<Arc<S3Uploads>>,
    /// Where `File` destinations may be.
    pub(super) roots: ConfinedRoots,
}

impl Completion {
    /// Delivers (or starts uploading) a finished file of `recording` and records the outcome.
    pub(super) fn complete(
        &self,
        recording: &Recording,
        file: &Path,
        duration: std::time::Duration,
        dropped: u64,
        error: Option<String>,
        recovered: bool,
    ) {
        let journal = file.with_extension("json");
        if recording.spec.destination.kind == DestinationType::S3 {
            let target = recording_location(
                &recording.spec.destination,
                recording.started_at,
                &recording.contact_id,
                &recording.call_id,
            );
            let info = RecordingMetadata {
                location: file.display().to_string(),
                duration_seconds: duration.as_secs_f64(),
                dropped_blocks: dropped,
                recovered,
                ..metadata(recording)
            };
            let Some(s3) = &self.s3 else {
                let info = RecordingMetadata {
                    error: Some("no S3 store is configured; the file stays in the spool".into()),
                    ..info
                };
                self.observer.finished(&info);
                self.rows.save(&info);
                return;
            };
            let pending = RecordingMetadata {
                pending_upload: Some(format!("s3://{}/{}", target.container, target.key)),
                error: error.clone(),
                ..info.clone()
            };
            self.observer.finished(&pending);
            // Stored before the upload starts, so the confirmation always lands last.
            self.rows.save(&pending);
            s3.enqueue(Upload {
                file: file.to_owned(),
                journal,
                bucket: target.container,
                key: target.key,
                metadata: RecordingMetadata { error, ..info },
            });
            return;
        }
        let target = PathBuf::from(
            recording_location(
                &recording.spec.destination,
                recording.started_at,
                &recording.contact_id,
                &recording.call_id,
            )
            .full(),
        );
        let info = RecordingMetadata {
            duration_seconds: duration.as_secs_f64(),
            dropped_blocks: dropped,
            error,
            recovered,
            ..metadata(recording)
        };
        match deliver(&self.roots, file, &target) {
            Ok(()) => {
                let _ = std::fs::remove_file(&journal);
                let delivered = RecordingMetadata {
                    location: target.display().to_string(),
                    ..info
                };
                self.observer.finished(&delivered);
                self.rows.save(&delivered);
            }
            Err(e) => {
                tracing::warn!(recording = %recording.id, path = %target.display(), error = %e, "cannot deliver a recording to its directory; it stays in the spool (downloadable) and delivery is retried");
                let pending = RecordingMetadata {
                    location: file.display().to_string(),
                    pending_upload: Some(target.display().to_string()),
                    error: Some(format!(
                        "delivery to {} failed: {e}; retrying",
                        target.display()
                    )),
                    ..info.clone()
                };
                self.observer.finished(&pending);
                self.rows.save(&pending);
                self.retry_delivery(file.to_owned(), target, info);
            }
        }
    }

    /// Retries a directory delivery with backoff (0.5 s doubling to 30 s) until it succeeds;
    /// then the recording's row says where it is.
    fn retry_delivery(&self, file: PathBuf, target: PathBuf, info: RecordingMetadata) {
        let completion = self.clone();
        self.runtime.spawn(async move {
            let mut backoff = std::time::Duration::from_millis(500);
            loop {
                tokio::time::sleep(backoff).await;
                let (c, f, t, i) = (completion.clone(), file.clone(), target.clone(), info.clone());
                let done = tokio::task::spawn_blocking(move || {
                    let result = deliver(&c.roots, &f, &t);
                    if result.is_ok() {
                        let _ = std::fs::remove_file(f.with_extension("json"));
                        tracing::info!(recording = %i.id, path = %t.display(), "recording delivered after a retry");
                        c.rows.save(&RecordingMetadata {
                            location: t.display().to_string(),
                            ..i
                        });
                    }
                    result
                })
                .await;
                match done {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => tracing::warn!(recording = %info.id, path = %target.display(), error = %e, retry_in = ?backoff, "recording delivery failed again"),
                    Err(e) => tracing::error!(error = %e, "a delivery retry panicked"),
                }
                backoff = (backoff * 2).min(std::time::Duration::from_secs(30));
            }
        });
    }
}

/// The description of a recording that produced no file.
pub(super) fn failed(recording: &Recording, dropped: u64, error: String) -> RecordingMetadata {
    RecordingMetadata {
        dropped_blocks: dropped,
        error: Some(error),
        ..metadata(recording)
    }
}

/// A recording's metadata with no file yet: the identity fields filled in, the rest empty.
pub(super) fn metadata(recording: &Recording) -> RecordingMetadata {
    RecordingMetadata {
        id: recording.id.clone(),
        call_id: recording.call_id.clone(),
        contact_id: recording.contact_id.clone(),
        agents: recording.agents.clone(),
        started_at: recording.started_at,
        location: String::new(),
        duration_seconds: 0.0,
        dropped_blocks: 0,
        error: None,
        recovered: false,
        pending_upload: None,
    }
}

/// Moves a finished file from the spool to its directory destination, which must still lie
/// inside the destination roots.
fn deliver(roots: &ConfinedRoots, from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(dir) = to.parent() {
        // The operator's default directory may be relative to where hark runs; a client's
        // destination was made absolute when its action was checked.
        roots
            .directory(&std::path::absolute(dir)?, true)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::PermissionDenied, e))?;
    }
    if std::fs::rename(from, to).is_err() {
        // Another filesystem: copy, make it durable, then remove the spooled file.
        std::fs::copy(from, to)?;
        std::fs::File::open(to)?.sync_all()?;
        std::fs::remove_file(from)?;
    }
    Ok(())
}
