//! What monitoring must remember across restarts, behind a trait: the integrations and the
//! usage of finished streams. `hark-store` implements it on SQLite; [`MemoryMonitorStore`] is
//! for tests and embedding without persistence.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::MonitorError;
use crate::integration::MonitorIntegration;
use crate::usage::UsageSeconds;

/// The usage of one finished stream: one call to one monitor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRecord {
    /// The contact (AudioHook conversation id).
    pub contact_id: String,
    /// The call (the ingest AudioHook session id).
    pub call_id: String,
    /// The monitor integration's name.
    pub monitor: String,
    /// When streaming to the monitor was started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub ended_at: DateTime<Utc>,
    /// Connected, paused and billable seconds.
    pub usage: UsageSeconds,
    /// Connection attempts.
    pub attempts: u64,
    /// Failed attempts and dropped sessions.
    pub failures: u64,
    /// Audio blocks handed to the monitor's connection.
    pub frames_sent: u64,
    /// Seconds of audio dropped for this monitor (queue overflow, or never delivered).
    pub discarded_seconds: f64,
}

/// Persistence that monitoring needs.
pub trait MonitorStore: Send + Sync + std::fmt::Debug {
    /// Every integration, by name.
    fn monitors(&self) -> Result<Vec<MonitorIntegration>, MonitorError>;
    /// Saves (or replaces by name) an integration, durably before returning.
    fn put_monitor(&self, monitor: &MonitorIntegration) -> Result<(), MonitorError>;
    /// Deletes an integration; false if there was none.
    fn delete_monitor(&self, name: &str) -> Result<bool, MonitorError>;
    /// Appends the usage of a finished stream.
    fn save_usage(&self, usage: &UsageRecord) -> Result<(), MonitorError>;
    /// The usage records of a contact, oldest start first.
    fn usage(&self, contact_id: &str) -> Result<Vec<UsageRecord>, MonitorError>;
}

/// An in-memory store.
#[derive(Debug, Default)]
pub struct MemoryMonitorStore {
    monitors: Mutex<BTreeMap<String, MonitorIntegration>>,
    usage: Mutex<Vec<UsageRecord>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data: a panic elsewhere cannot leave it half-updated.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MonitorStore for MemoryMonitorStore {
    fn monitors(&self) -> Result<Vec<MonitorIntegration>, MonitorError> {
        Ok(lock(&self.monitors).values().cloned().collect())
    }

    fn put_monitor(&self, monitor: &MonitorIntegration) -> Result<(), MonitorError> {
        lock(&self.monitors).insert(monitor.name.clone(), monitor.clone());
        Ok(())
    }

    fn delete_monitor(&self, name: &str) -> Result<bool, MonitorError> {
        Ok(lock(&self.monitors).remove(name).is_some())
    }

    fn save_usage(&self, usage: &UsageRecord) -> Result<(), MonitorError> {
        lock(&self.usage).push(usage.clone());
        Ok(())
    }

    fn usage(&self, contact_id: &str) -> Result<Vec<UsageRecord>, MonitorError> {
        let mut list: Vec<UsageRecord> = lock(&self.usage)
            .iter()
            .filter(|u| u.contact_id == contact_id)
            .cloned()
            .collect();
        list.sort_by_key(|u| u.started_at);
        Ok(list)
    }
}

/// The behaviour every [`MonitorStore`] must have; store implementations run it in their tests.
// A conformance check reports a deviation by panicking, like an assertion.
#[allow(clippy::expect_used)]
pub mod conformance {
    use chrono::{TimeZone, Utc};

    use super::{MonitorStore, UsageRecord};
    use crate::integration::MonitorIntegration;
    use crate::usage::UsageSeconds;

    fn monitor(name: &str) -> MonitorIntegration {
        MonitorIntegration {
            name: name.into(),
            uri: format!("wss://{name}.example.com/audiohook"),
            api_key: "key".into(),
            client_secret: Some("c2VjcmV0".into()),
            enabled: true,
            calls: Default::default(),
            custom_config: None,
        }
    }

    fn with_custom_config(name: &str) -> MonitorIntegration {
        let config =
            serde_json::json!({"agentassist": true, "queue": {"id": 7, "tags": ["vip", "ü"]}});
        MonitorIntegration {
            custom_config: config.as_object().cloned(),
            ..monitor(name)
        }
    }

    fn usage(contact: &str, monitor: &str, second: i64) -> UsageRecord {
        let at = |s| {
            Utc.timestamp_opt(1_800_000_000 + s, 0)
                .single()
                .unwrap_or_default()
        };
        UsageRecord {
            contact_id: contact.into(),
            call_id: format!("call-{contact}"),
            monitor: monitor.into(),
            started_at: at(second),
            ended_at: at(second + 60),
            usage: UsageSeconds {
                connected_seconds: 60.0,
                secure_paused_seconds: 10.0,
                monitor_paused_seconds: 5.0,
                billable_seconds: 45.0,
            },
            attempts: 2,
            failures: 1,
            frames_sent: 250,
            discarded_seconds: 0.4,
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

    /// Integrations round-trip (secrets and `customConfig` included), replace by name (a
    /// replacement without `customConfig` clears it), list by name and delete; usage records
    /// round-trip and list per contact, oldest first. Panics on the first deviation.
    pub fn run(store: &dyn MonitorStore) {
        let mut rule =
            Rule("integrations: round-trip with secrets and customConfig, replace by name");
        assert!(store.monitors().expect("list").is_empty());
        store.put_monitor(&monitor("b")).expect("put b");
        store.put_monitor(&with_custom_config("a")).expect("put a");
        let mut changed = with_custom_config("b");
        changed.enabled = false;
        changed.calls.queue = Some("vip".into());
        store.put_monitor(&changed).expect("replace b");
        let all = store.monitors().expect("list");
        assert_eq!(all, vec![with_custom_config("a"), changed.clone()]);
        changed.custom_config = None;
        store.put_monitor(&changed).expect("replace b again");
        let all = store.monitors().expect("list");
        assert_eq!(all, vec![with_custom_config("a"), changed]);
        rule.now("integrations: delete once");
        assert!(store.delete_monitor("a").expect("delete"));
        assert!(!store.delete_monitor("a").expect("delete again"));
        assert_eq!(store.monitors().expect("list").len(), 1);

        rule.now("usage: round-trip, per contact, oldest first");
        store.save_usage(&usage("c1", "b", 30)).expect("usage");
        store.save_usage(&usage("c2", "b", 10)).expect("usage");
        store.save_usage(&usage("c1", "a", 20)).expect("usage");
        let c1 = store.usage("c1").expect("usage of c1");
        assert_eq!(c1, vec![usage("c1", "a", 20), usage("c1", "b", 30)]);
        assert!(store.usage("nobody").expect("usage").is_empty());
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn memory_store_conforms() {
            super::run(&super::super::MemoryMonitorStore::default());
        }
    }
}
