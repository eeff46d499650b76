//! What recording must remember across restarts, behind a trait: do-not-record latches and the
//! metadata of finished recordings. `hark-store` implements it on SQLite; [`MemoryRecordingStore`]
//! is for tests and embedding without persistence.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A finished (delivered, failed or recovered) recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordingMetadata {
    /// Recording id.
    pub id: String,
    /// The leg.
    pub call_id: String,
    /// The contact.
    pub contact_id: String,
    /// Agents on the leg when recording started.
    pub agents: Vec<String>,
    /// When recording started.
    pub started_at: DateTime<Utc>,
    /// Where the file is.
    pub location: String,
    /// Seconds of audio in the file.
    pub duration_seconds: f64,
    /// Audio blocks dropped because the disk fell behind.
    pub dropped_blocks: u64,
    /// Recording or delivery error, if any.
    pub error: Option<String>,
    /// Repaired after a crash.
    pub recovered: bool,
    /// The object-store URL the file is waiting to be uploaded to (`location` is the local copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_upload: Option<String>,
}

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
#[error("recording store: {0}")]
pub struct RecordingStoreError(pub String);

/// Persistence that recording control needs.
pub trait RecordingStore: Send + Sync + std::fmt::Debug {
    /// Records (durably, before returning) that a contact refused recording.
    fn latch_do_not_record(
        &self,
        contact_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), RecordingStoreError>;
    /// Every latched contact.
    fn do_not_record_latches(&self) -> Result<Vec<(String, DateTime<Utc>)>, RecordingStoreError>;
    /// Saves (or replaces) a finished recording's metadata.
    fn save_recording(&self, recording: &RecordingMetadata) -> Result<(), RecordingStoreError>;
    /// Every finished recording, oldest start first.
    fn recordings(&self) -> Result<Vec<RecordingMetadata>, RecordingStoreError>;
}

/// An in-memory store.
#[derive(Debug, Default)]
pub struct MemoryRecordingStore {
    latches: Mutex<BTreeMap<String, DateTime<Utc>>>,
    recordings: Mutex<BTreeMap<String, RecordingMetadata>>,
}

impl RecordingStore for MemoryRecordingStore {
    fn latch_do_not_record(
        &self,
        contact_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), RecordingStoreError> {
        let mut latches = self.latches.lock().unwrap_or_else(|p| p.into_inner());
        latches.entry(contact_id.to_owned()).or_insert(at);
        Ok(())
    }

    fn do_not_record_latches(&self) -> Result<Vec<(String, DateTime<Utc>)>, RecordingStoreError> {
        let latches = self.latches.lock().unwrap_or_else(|p| p.into_inner());
        Ok(latches.iter().map(|(c, at)| (c.clone(), *at)).collect())
    }

    fn save_recording(&self, recording: &RecordingMetadata) -> Result<(), RecordingStoreError> {
        let mut all = self.recordings.lock().unwrap_or_else(|p| p.into_inner());
        all.insert(recording.id.clone(), recording.clone());
        Ok(())
    }

    fn recordings(&self) -> Result<Vec<RecordingMetadata>, RecordingStoreError> {
        let all = self.recordings.lock().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<RecordingMetadata> = all.values().cloned().collect();
        list.sort_by(|a, b| {
            a.started_at
                .cmp(&b.started_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(list)
    }
}

/// The behaviour every [`RecordingStore`] must have; store implementations run it in their tests.
// A conformance check reports a deviation by panicking, like an assertion.
#[allow(clippy::expect_used)]
pub mod conformance {
    use chrono::{TimeZone, Utc};

    use super::{RecordingMetadata, RecordingStore};

    fn recording(id: &str, second: i64) -> RecordingMetadata {
        RecordingMetadata {
            id: id.into(),
            call_id: format!("call-{id}"),
            contact_id: "contact-1".into(),
            agents: vec!["agent-1".into()],
            started_at: Utc
                .timestamp_opt(1_800_000_000 + second, 0)
                .single()
                .unwrap_or_default(),
            location: format!("recordings/{id}.wav"),
            duration_seconds: 12.5,
            dropped_blocks: 0,
            error: None,
            recovered: false,
            pending_upload: None,
        }
    }

    /// The rule being checked; a failure inside it names it.
    struct Rule(&'static str);

    impl Rule {
        /// The next rule is being checked.
        fn now(&mut self, name: &'static str) {
            self.0 = name;
        }
    }

    impl Drop for Rule {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!("conformance rule broken: {}", self.0);
            }
        }
    }

    /// Latches are kept once with their first time; recordings round-trip, replace by id and
    /// list oldest first. Panics on the first deviation.
    pub fn run(store: &dyn RecordingStore) {
        let t0 = Utc
            .timestamp_opt(1_800_000_000, 0)
            .single()
            .unwrap_or_default();
        let mut rule = Rule("latches: kept once, with their first time");
        assert!(store.do_not_record_latches().expect("latches").is_empty());
        store.latch_do_not_record("contact-b", t0).expect("latch");
        store.latch_do_not_record("contact-a", t0).expect("latch");
        store
            .latch_do_not_record("contact-a", t0 + chrono::TimeDelta::seconds(5))
            .expect("latch again");
        let mut latches = store.do_not_record_latches().expect("latches");
        latches.sort();
        assert_eq!(
            latches,
            vec![("contact-a".to_owned(), t0), ("contact-b".to_owned(), t0)]
        );

        rule.now("recordings: round-trip, replace by id, list oldest first");
        let (late, early) = (recording("r2", 20), recording("r1", 10));
        store.save_recording(&late).expect("save");
        store.save_recording(&early).expect("save");
        assert_eq!(
            store.recordings().expect("list"),
            vec![early.clone(), late.clone()]
        );
        let mut failed = late.clone();
        failed.error = Some("disk full".into());
        failed.recovered = true;
        store.save_recording(&failed).expect("replace");
        assert_eq!(store.recordings().expect("list"), vec![early, failed]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_conforms() {
        conformance::run(&MemoryRecordingStore::default());
    }
}
