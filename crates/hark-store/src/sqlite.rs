//! The SQLite store.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use hark_recording::store::{RecordingMetadata, RecordingStore, RecordingStoreError};
use rusqlite::{Connection, params};

use crate::migrations::MIGRATIONS;

/// A SQLite database implementing every store trait of hark.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Where Voice ID keeps (encrypted) audio files: `voiceid/` beside the database.
    pub(crate) voiceid_dir: PathBuf,
}

fn err(e: impl std::fmt::Display) -> RecordingStoreError {
    RecordingStoreError(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, RecordingStoreError> {
        let conn = Connection::open(path)
            .map_err(|e| RecordingStoreError(format!("cannot open {}: {e}", path.display())))?;
        // secure_delete: deleted rows (purged domains, opted-out speakers) are overwritten, not
        // left in free pages. A busy timeout lets operator commands share the file with serve.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
        )
        .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
            voiceid_dir: path
                .parent()
                .unwrap_or_else(|| Path::new("."))
                .join("voiceid"),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The schema version in the database.
    pub fn schema_version(&self) -> Result<i64, RecordingStoreError> {
        self.conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // The connection holds no Rust-side state a panic could corrupt.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn migrate(&self) -> Result<(), RecordingStoreError> {
        let mut conn = self.conn();
        let current: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if let Some((newest, _)) = MIGRATIONS.last()
            && current > *newest
        {
            return Err(RecordingStoreError(format!(
                "the database schema ({current}) is newer than this hark ({newest})"
            )));
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            let tx = conn.transaction().map_err(err)?;
            tx.execute_batch(sql)
                .map_err(|e| RecordingStoreError(format!("migration {version}: {e}")))?;
            tx.pragma_update(None, "user_version", version)
                .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(())
    }
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

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hark.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let e = SqliteStore::open(&path).unwrap_err();
        assert!(e.to_string().contains("newer than this hark"), "{e}");
    }
}
