//! `SqliteStore` as the monitor store: integrations (secrets included, so the data directory
//! stays private) and the usage of finished streams, both as JSON rows. An integration's
//! `customConfig` has a column of its own (migration 5) beside the integration document.

use hark_monitor::{MonitorError, MonitorIntegration, MonitorStore, UsageRecord};
use rusqlite::params;

use crate::SqliteStore;

fn err(e: impl std::fmt::Display) -> MonitorError {
    MonitorError::Store(e.to_string())
}

/// An integration as stored: the document without `customConfig`, and `customConfig` as JSON.
pub(crate) fn to_row(
    monitor: &MonitorIntegration,
) -> Result<(String, Option<String>), MonitorError> {
    let mut document = monitor.clone();
    let custom_config = document
        .custom_config
        .take()
        .map(|c| serde_json::to_string(&c))
        .transpose()
        .map_err(err)?;
    Ok((
        serde_json::to_string(&document).map_err(err)?,
        custom_config,
    ))
}

/// An integration from its stored document and `customConfig` column.
pub(crate) fn from_row(
    document: &str,
    custom_config: Option<&str>,
) -> Result<MonitorIntegration, MonitorError> {
    let mut monitor: MonitorIntegration = serde_json::from_str(document).map_err(err)?;
    if let Some(config) = custom_config {
        monitor.custom_config = Some(serde_json::from_str(config).map_err(err)?);
    }
    Ok(monitor)
}

impl MonitorStore for SqliteStore {
    fn monitors(&self) -> Result<Vec<MonitorIntegration>, MonitorError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT integration, custom_config FROM monitors ORDER BY name")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .map_err(err)?;
        rows.map(|row| {
            let (document, custom_config) = row.map_err(err)?;
            from_row(&document, custom_config.as_deref())
        })
        .collect()
    }

    fn put_monitor(&self, monitor: &MonitorIntegration) -> Result<(), MonitorError> {
        let (document, custom_config) = to_row(monitor)?;
        self.conn()
            .execute(
                "INSERT INTO monitors (name, integration, custom_config) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE
                 SET integration = excluded.integration, custom_config = excluded.custom_config",
                params![monitor.name, document, custom_config],
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
    fn a_monitor_stored_before_custom_config_reads_without_it_and_can_gain_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hark.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (_, sql) in &crate::migrations::MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        let old = r#"{"name":"a","uri":"ws://127.0.0.1:9/ws","apiKey":"k","enabled":true}"#;
        conn.execute(
            "INSERT INTO monitors (name, integration) VALUES ('a', ?1)",
            params![old],
        )
        .unwrap();
        drop(conn);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 5);
        let mut monitor = store.monitors().unwrap().remove(0);
        assert_eq!(
            (monitor.name.as_str(), &monitor.custom_config),
            ("a", &None)
        );
        monitor.custom_config = serde_json::json!({"agentassist": true})
            .as_object()
            .cloned();
        store.put_monitor(&monitor).unwrap();
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.monitors().unwrap(), vec![monitor]);
        // The column holds the object; the document does not repeat it.
        let (document, column): (String, String) = again
            .conn()
            .query_row("SELECT integration, custom_config FROM monitors", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(column, r#"{"agentassist":true}"#);
        assert!(!document.contains("customConfig"), "{document}");
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
