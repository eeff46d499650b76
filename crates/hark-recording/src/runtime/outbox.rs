//! Recording rows the database has not taken yet. A finished recording's row is stored at
//! once when the database answers; otherwise it waits in the spool as `<id>.row.json` (0600)
//! and is retried with backoff — through outages and restarts — until stored. So a recording
//! that reached its destination is never missing from `/v1/recordings` for good.
//!
//! Saves of rows go through one lock, and the file always holds a recording's latest row: a
//! retry can never overwrite a newer row (say, the upload's final one) with an older one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::store::{RecordingMetadata, RecordingStore};

/// Suffix of a row waiting in the spool.
const ROW_SUFFIX: &str = ".row.json";

/// Stores recording rows, queueing in the spool what the database refuses.
#[derive(Debug, Clone)]
pub struct RowOutbox {
    store: Arc<dyn RecordingStore>,
    spool: PathBuf,
    runtime: tokio::runtime::Handle,
    /// Serialises saves: read file, store, remove is one step.
    saving: Arc<Mutex<()>>,
}

impl RowOutbox {
    /// An outbox in `spool`, retrying on the current runtime.
    pub fn new(store: Arc<dyn RecordingStore>, spool: &Path) -> Self {
        RowOutbox {
            store,
            spool: spool.to_owned(),
            runtime: tokio::runtime::Handle::current(),
            saving: Arc::new(Mutex::new(())),
        }
    }

    fn row_file(&self, id: &str) -> PathBuf {
        self.spool.join(format!("{id}{ROW_SUFFIX}"))
    }

    /// Stores `row` now, or queues it and retries until stored (callable from any thread;
    /// blocking).
    pub fn save(&self, row: &RecordingMetadata) {
        let _saving = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let file = self.row_file(&row.id);
        match self.store.save_recording(row) {
            Ok(()) => {
                let _ = std::fs::remove_file(&file);
            }
            Err(e) => {
                tracing::warn!(recording = %row.id, error = %e, "cannot store recording metadata now; queued in the spool and retried");
                match serde_json::to_vec(row) {
                    Ok(bytes) => {
                        if let Err(e) = write_private(&file, &bytes) {
                            tracing::error!(recording = %row.id, path = %file.display(), error = %e, "cannot queue recording metadata");
                        }
                    }
                    Err(e) => {
                        tracing::error!(recording = %row.id, error = %e, "cannot encode recording metadata")
                    }
                }
                self.retry_later(file);
            }
        }
    }

    /// Retries every row a previous run left queued; returns how many.
    pub fn resume(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.spool) else {
            return 0;
        };
        let mut queued = 0;
        for path in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(ROW_SUFFIX))
            {
                self.retry_later(path);
                queued += 1;
            }
        }
        queued
    }

    /// Rows still waiting for the database.
    pub fn pending(&self) -> usize {
        std::fs::read_dir(&self.spool).map_or(0, |entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(ROW_SUFFIX))
                .count()
        })
    }

    fn retry_later(&self, file: PathBuf) {
        let outbox = self.clone();
        self.runtime.spawn(async move {
            let mut backoff = Duration::from_millis(500);
            loop {
                tokio::time::sleep(backoff).await;
                let attempt = outbox.clone();
                let path = file.clone();
                match tokio::task::spawn_blocking(move || attempt.save_queued(&path)).await {
                    Ok(true) => return,
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e, "retrying recording metadata panicked"),
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        });
    }

    /// Stores the row queued in `file`; true once there is nothing left to store.
    fn save_queued(&self, file: &Path) -> bool {
        let _saving = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let Ok(bytes) = std::fs::read(file) else {
            return true; // stored meanwhile by a newer save
        };
        let row: RecordingMetadata = match serde_json::from_slice(&bytes) {
            Ok(row) => row,
            Err(e) => {
                tracing::error!(path = %file.display(), error = %e, "unreadable queued recording metadata left in the spool");
                return true;
            }
        };
        match self.store.save_recording(&row) {
            Ok(()) => {
                let _ = std::fs::remove_file(file);
                tracing::info!(recording = %row.id, "queued recording metadata stored");
                true
            }
            Err(_) => false,
        }
    }
}

/// Writes `bytes` to `path` atomically, mode 0600.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryRecordingStore, RecordingStoreError};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A store that refuses writes while `down` is set.
    #[derive(Debug, Default)]
    struct Flaky {
        down: AtomicBool,
        inner: MemoryRecordingStore,
    }

    impl RecordingStore for Flaky {
        fn save_recording(&self, r: &RecordingMetadata) -> Result<(), RecordingStoreError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(RecordingStoreError("database unreachable".into()));
            }
            self.inner.save_recording(r)
        }
        fn recordings(&self) -> Result<Vec<RecordingMetadata>, RecordingStoreError> {
            self.inner.recordings()
        }
        fn latch_do_not_record(
            &self,
            contact: &str,
            at: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), RecordingStoreError> {
            self.inner.latch_do_not_record(contact, at)
        }
        fn do_not_record_latches(
            &self,
        ) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, RecordingStoreError> {
            self.inner.do_not_record_latches()
        }
    }

    fn row(id: &str, location: &str) -> RecordingMetadata {
        RecordingMetadata {
            id: id.into(),
            call_id: "c".into(),
            contact_id: "k".into(),
            agents: vec![],
            started_at: chrono::Utc::now(),
            location: location.into(),
            duration_seconds: 1.0,
            dropped_blocks: 0,
            error: None,
            recovered: false,
            pending_upload: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rows_refused_during_an_outage_are_stored_after_it_and_the_newest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Flaky::default());
        let outbox = RowOutbox::new(store.clone(), dir.path());
        store.down.store(true, Ordering::SeqCst);
        let o = outbox.clone();
        tokio::task::spawn_blocking(move || {
            o.save(&row("r1", "pending"));
            o.save(&row("r1", "s3://b/final"));
        })
        .await
        .unwrap();
        assert_eq!(outbox.pending(), 1, "one queued row per recording");
        assert!(store.recordings().unwrap().is_empty());
        // A restart finds the queued row too.
        assert_eq!(outbox.resume(), 1);
        store.down.store(false, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while outbox.pending() > 0 {
            assert!(std::time::Instant::now() < deadline, "never stored");
            tokio::task::yield_now().await;
        }
        let rows = store.recordings().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].location, "s3://b/final");
    }
}
