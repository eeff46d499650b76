//! `PgStore` as the monitor store: integrations and usage records as JSON rows.

use hark_monitor::{MonitorError, MonitorIntegration, MonitorStore, UsageRecord};

use super::PgStore;

fn err(e: impl std::fmt::Display) -> MonitorError {
    MonitorError::Store(e.to_string())
}

impl MonitorStore for PgStore {
    fn monitors(&self) -> Result<Vec<MonitorIntegration>, MonitorError> {
        let rows = self
            .run(|c| Ok(c.query("SELECT integration FROM monitors ORDER BY name", &[])?))
            .map_err(err)?;
        rows.iter()
            .map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(err))
            .collect()
    }

    fn put_monitor(&self, monitor: &MonitorIntegration) -> Result<(), MonitorError> {
        let json = serde_json::to_string(monitor).map_err(err)?;
        self.run(|c| {
            c.execute(
                "INSERT INTO monitors (name, integration) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET integration = excluded.integration",
                &[&monitor.name, &json],
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
