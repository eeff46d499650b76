//! `SqliteStore` as the monitor store: integrations (secrets included, so the data directory
//! stays private) and the usage of finished streams, both as JSON rows.

use hark_monitor::{MonitorError, MonitorIntegration, MonitorStore, UsageRecord};
use rusqlite::params;

use crate::SqliteStore;

fn err(e: impl std::fmt::Display) -> MonitorError {
    MonitorError::Store(e.to_string())
}

impl MonitorStore for SqliteStore {
    fn monitors(&self) -> Result<Vec<MonitorIntegration>, MonitorError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT integration FROM monitors ORDER BY name")
            .map_err(err)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(err)?;
        rows.map(|row| serde_json::from_str(&row.map_err(err)?).map_err(err))
            .collect()
    }

    fn put_monitor(&self, monitor: &MonitorIntegration) -> Result<(), MonitorError> {
        let json = serde_json::to_string(monitor).map_err(err)?;
        self.conn()
            .execute(
                "INSERT INTO monitors (name, integration) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET integration = excluded.integration",
                params![monitor.name, json],
            )
            .map(|_| ())
            .map_err(err)
    }

    fn delete_monitor(&self, name: &str) -> Result<bool, MonitorError> {
        self.conn()
            .execute("DELETE FROM monitors WHERE name = ?1", params![name])
            .map(|n| n > 0)
            .map_err(err)
    }

    fn save_usage(&self, usage: &UsageRecord) -> Result<(), MonitorError> {
        let json = serde_json::to_string(usage).map_err(err)?;
        self.conn()
            .execute(
                "INSERT INTO monitor_usage (contact_id, started_at, record) VALUES (?1, ?2, ?3)",
                params![usage.contact_id, usage.started_at.to_rfc3339(), json],
            )
            .map(|_| ())
            .map_err(err)
    }

    fn usage(&self, contact_id: &str) -> Result<Vec<UsageRecord>, MonitorError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT record FROM monitor_usage WHERE contact_id = ?1 ORDER BY started_at, id",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![contact_id], |r| r.get::<_, String>(0))
            .map_err(err)?;
        rows.map(|row| serde_json::from_str(&row.map_err(err)?).map_err(err))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hark_monitor::store::conformance;

    #[test]
    fn sqlite_store_conforms_as_a_monitor_store_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hark.db");
        let store = SqliteStore::open(&path).unwrap();
        conformance::run(&store);
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.monitors().unwrap().len(), 1);
        assert_eq!(again.usage("c1").unwrap().len(), 2);
    }

    #[test]
    fn a_version_1_database_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hark.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(crate::migrations::MIGRATIONS[0].1)
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        let store = SqliteStore::open(&path).unwrap();
        // Every later migration applies too: the monitor tables of 2 and Voice ID's of 3.
        assert_eq!(
            store.schema_version().unwrap(),
            crate::migrations::MIGRATIONS.len() as i64
        );
        assert!(store.monitors().unwrap().is_empty());
    }
}
