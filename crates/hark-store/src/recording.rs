//! The recording store on SQLite: do-not-record latches and recording metadata.

use chrono::{DateTime, Utc};
use hark_recording::store::{RecordingMetadata, RecordingStore, RecordingStoreError};
use rusqlite::params;

use crate::sqlite::SqliteStore;

fn err(e: impl std::fmt::Display) -> RecordingStoreError {
    RecordingStoreError(e.to_string())
}

impl RecordingStore for SqliteStore {
    fn latch_do_not_record(
        &self,
        contact_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), RecordingStoreError> {
        self.conn()
            .execute(
                "INSERT INTO recording_do_not_record (contact_id, latched_at) VALUES (?1, ?2) ON CONFLICT (contact_id) DO NOTHING",
                params![contact_id, at.to_rfc3339()],
            )
            .map(|_| ())
            .map_err(err)
    }

    fn do_not_record_latches(&self) -> Result<Vec<(String, DateTime<Utc>)>, RecordingStoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT contact_id, latched_at FROM recording_do_not_record")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(err)?;
        rows.map(|row| {
            let (contact, at) = row.map_err(err)?;
            let at = DateTime::parse_from_rfc3339(&at)
                .map_err(err)?
                .with_timezone(&Utc);
            Ok((contact, at))
        })
        .collect()
    }

    fn save_recording(&self, recording: &RecordingMetadata) -> Result<(), RecordingStoreError> {
        let json = serde_json::to_string(recording).map_err(err)?;
        self.conn()
            .execute(
                "INSERT INTO recordings (id, call_id, contact_id, started_at, metadata) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET metadata = excluded.metadata",
                params![recording.id, recording.call_id, recording.contact_id, recording.started_at.to_rfc3339(), json],
            )
            .map(|_| ())
            .map_err(err)
    }

    fn recordings(&self) -> Result<Vec<RecordingMetadata>, RecordingStoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT metadata FROM recordings ORDER BY started_at, id")
            .map_err(err)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(err)?;
        rows.map(|row| serde_json::from_str(&row.map_err(err)?).map_err(err))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::MIGRATIONS;
    use hark_recording::store::conformance;

    #[test]
    fn sqlite_store_conforms_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hark.db");
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        conformance::run(&store);
        drop(store);
        // Reopened: everything is still there, migrations are not re-applied.
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.do_not_record_latches().unwrap().len(), 2);
        assert_eq!(again.recordings().unwrap().len(), 2);
    }
}
