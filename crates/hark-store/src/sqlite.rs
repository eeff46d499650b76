//! The SQLite store.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use crate::migrations::MIGRATIONS;

/// A SQLite database implementing the store traits of the enabled capabilities.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Where Voice ID keeps (encrypted) audio files: `voiceid/` beside the database.
    #[cfg_attr(not(feature = "voiceid"), allow(dead_code))]
    pub(crate) voiceid_dir: PathBuf,
}

/// A SQLite operation failed (opening, migrating): what and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sqlite: {0}")]
pub struct SqliteError(pub String);

fn err(e: impl std::fmt::Display) -> SqliteError {
    SqliteError(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, SqliteError> {
        let conn = Connection::open(path)
            .map_err(|e| SqliteError(format!("cannot open {}: {e}", path.display())))?;
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
    pub fn schema_version(&self) -> Result<i64, SqliteError> {
        self.conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // The connection holds no Rust-side state a panic could corrupt.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn migrate(&self) -> Result<(), SqliteError> {
        let mut conn = self.conn();
        let current: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if let Some((newest, _)) = MIGRATIONS.last()
            && current > *newest
        {
            return Err(SqliteError(format!(
                "the database schema ({current}) is newer than this hark ({newest})"
            )));
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            let tx = conn.transaction().map_err(err)?;
            tx.execute_batch(sql)
                .map_err(|e| SqliteError(format!("migration {version}: {e}")))?;
            tx.pragma_update(None, "user_version", version)
                .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
