//! `PgStore` as the monitor store: integrations and usage records as JSON rows; an
//! integration's `customConfig` in a column of its own (migration 4), as in SQLite.

use hark_monitor::{MonitorError, MonitorIntegration, MonitorStore, UsageRecord};

use super::PgStore;
use crate::monitor::{from_row, to_row};

fn err(e: impl std::fmt::Display) -> MonitorError {
    MonitorError::Store(e.to_string())
}

impl MonitorStore for PgStore {
    fn monitors(&self) -> Result<Vec<MonitorIntegration>, MonitorError> {
        let rows = self
            .run(|c| {
                Ok(c.query(
                    "SELECT integration, custom_config FROM monitors ORDER BY name",
                    &[],
                )?)
            })
            .map_err(err)?;
        rows.iter()
            .map(|r| from_row(r.get::<_, &str>(0), r.get::<_, Option<&str>>(1)))
            .collect()
    }

    fn put_monitor(&self, monitor: &MonitorIntegration) -> Result<(), MonitorError> {
        let (document, custom_config) = to_row(monitor)?;
        self.run(|c| {
            c.execute(
                "INSERT INTO monitors (name, integration, custom_config) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE
                 SET integration = excluded.integration, custom_config = excluded.custom_config",
                &[&monitor.name, &document, &custom_config],
            )?;
            Ok(())
        })
        .map_err(err)
    }

    fn delete_monitor(&self, name: &str) -> Result<bool, MonitorError> {
        self.run(|c| Ok(c.execute("DELETE FROM monitors WHERE name = $1", &[&name])? > 0))
            .map_err(err)
    }

    fn save_usage(&self, usage: &UsageRecord) -> Result<(), MonitorError> {
        let json = serde_json::to_string(usage).map_err(err)?;
        let started = usage.started_at.to_rfc3339();
        self.run(|c| {
            c.execute(
                "INSERT INTO monitor_usage (contact_id, started_at, record) VALUES ($1, $2, $3)",
                &[&usage.contact_id, &started, &json],
            )?;
            Ok(())
        })
        .map_err(err)
    }

    fn usage(&self, contact_id: &str) -> Result<Vec<UsageRecord>, MonitorError> {
        let rows = self
            .run(|c| {
                Ok(c.query(
                    "SELECT record FROM monitor_usage WHERE contact_id = $1 ORDER BY started_at, id",
                    &[&contact_id],
                )?)
            })
            .map_err(err)?;
        rows.iter()
            .map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(err))
            .collect()
    }
}
