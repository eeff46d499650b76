//! The integrations in force: at most [`MAX_MONITORS`], validated, kept in a [`MonitorStore`].

use std::sync::{Arc, Mutex};

use crate::error::MonitorError;
use crate::filter::CallInfo;
use crate::integration::{MAX_MONITORS, MonitorIntegration, MonitorUpdate};
use crate::store::MonitorStore;

/// The monitor integrations, with the limit of five enforced on every change.
#[derive(Debug)]
pub struct MonitorRegistry {
    store: Arc<dyn MonitorStore>,
    /// Serialises check-then-write so two concurrent creates cannot both pass the limit.
    changes: Mutex<()>,
}

impl MonitorRegistry {
    /// A registry over `store`.
    pub fn new(store: Arc<dyn MonitorStore>) -> Self {
        MonitorRegistry {
            store,
            changes: Mutex::new(()),
        }
    }

    /// The store underneath (for usage records).
    pub fn store(&self) -> &Arc<dyn MonitorStore> {
        &self.store
    }

    /// Every integration, by name.
    pub fn list(&self) -> Result<Vec<MonitorIntegration>, MonitorError> {
        self.store.monitors()
    }

    /// One integration.
    pub fn get(&self, name: &str) -> Result<MonitorIntegration, MonitorError> {
        self.list()?
            .into_iter()
            .find(|m| m.name == name)
            .ok_or_else(|| MonitorError::NotFound(name.to_owned()))
    }

    /// Adds a new integration; refused if the name is taken or five exist.
    pub fn create(&self, monitor: MonitorIntegration) -> Result<(), MonitorError> {
        monitor.validate()?;
        let _guard = self.lock();
        let all = self.store.monitors()?;
        if all.iter().any(|m| m.name == monitor.name) {
            return Err(MonitorError::AlreadyExists(monitor.name));
        }
        if all.len() >= MAX_MONITORS {
            return Err(MonitorError::LimitReached {
                limit: MAX_MONITORS,
            });
        }
        self.store.put_monitor(&monitor)
    }

    /// Creates or replaces an integration by name (configuration files); the limit holds.
    pub fn upsert(&self, monitor: MonitorIntegration) -> Result<(), MonitorError> {
        monitor.validate()?;
        let _guard = self.lock();
        let all = self.store.monitors()?;
        if !all.iter().any(|m| m.name == monitor.name) && all.len() >= MAX_MONITORS {
            return Err(MonitorError::LimitReached {
                limit: MAX_MONITORS,
            });
        }
        self.store.put_monitor(&monitor)
    }

    /// Applies a partial update and returns the result.
    pub fn update(
        &self,
        name: &str,
        update: MonitorUpdate,
    ) -> Result<MonitorIntegration, MonitorError> {
        let _guard = self.lock();
        let updated = update.apply(self.get(name)?);
        updated.validate()?;
        self.store.put_monitor(&updated)?;
        Ok(updated)
    }

    /// Deletes an integration.
    pub fn delete(&self, name: &str) -> Result<(), MonitorError> {
        let _guard = self.lock();
        if self.store.delete_monitor(name)? {
            Ok(())
        } else {
            Err(MonitorError::NotFound(name.to_owned()))
        }
    }

    /// The enabled integrations that take this call.
    pub fn matching(&self, call: &CallInfo) -> Result<Vec<MonitorIntegration>, MonitorError> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|m| m.enabled && m.calls.matches(call))
            .collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.changes.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryMonitorStore;
    use serde_json::json;

    fn monitor(name: &str) -> MonitorIntegration {
        MonitorIntegration {
            name: name.into(),
            uri: "ws://127.0.0.1:9000/ws".into(),
            api_key: "key".into(),
            client_secret: None,
            enabled: true,
            calls: Default::default(),
        }
    }

    fn registry() -> MonitorRegistry {
        MonitorRegistry::new(Arc::new(MemoryMonitorStore::default()))
    }

    #[test]
    fn a_sixth_integration_is_refused_whichever_way_it_comes() {
        let r = registry();
        for i in 1..=5 {
            r.create(monitor(&format!("m{i}"))).unwrap();
        }
        let e = r.create(monitor("m6")).unwrap_err();
        assert_eq!(e, MonitorError::LimitReached { limit: 5 });
        assert!(e.to_string().contains("at most 5"), "{e}");
        assert!(matches!(
            r.upsert(monitor("m6")),
            Err(MonitorError::LimitReached { .. })
        ));
        // Replacing an existing one is not a sixth.
        r.upsert(monitor("m5")).unwrap();
        r.delete("m1").unwrap();
        r.create(monitor("m6")).unwrap();
        assert_eq!(r.list().unwrap().len(), 5);
    }

    #[test]
    fn names_are_unique_and_missing_ones_are_reported() {
        let r = registry();
        r.create(monitor("a")).unwrap();
        assert_eq!(
            r.create(monitor("a")),
            Err(MonitorError::AlreadyExists("a".into()))
        );
        assert_eq!(r.delete("zz"), Err(MonitorError::NotFound("zz".into())));
        assert!(matches!(r.get("zz"), Err(MonitorError::NotFound(_))));
    }

    #[test]
    fn invalid_integrations_and_updates_are_refused_unchanged() {
        let r = registry();
        let mut bad = monitor("a");
        bad.uri = "http://x".into();
        assert!(matches!(r.create(bad), Err(MonitorError::Invalid(_))));
        r.create(monitor("a")).unwrap();
        let update: MonitorUpdate = serde_json::from_value(json!({"uri": "ftp://x"})).unwrap();
        assert!(matches!(
            r.update("a", update),
            Err(MonitorError::Invalid(_))
        ));
        assert_eq!(r.get("a").unwrap(), monitor("a"));
    }

    #[test]
    fn matching_takes_enabled_integrations_whose_filter_holds() {
        let r = registry();
        r.create(monitor("all")).unwrap();
        let mut off = monitor("off");
        off.enabled = false;
        r.create(off).unwrap();
        let mut vip = monitor("vip");
        vip.calls.queue = Some("vip".into());
        r.create(vip).unwrap();
        let names = |call: CallInfo| -> Vec<String> {
            r.matching(&call)
                .unwrap()
                .into_iter()
                .map(|m| m.name)
                .collect()
        };
        let plain = CallInfo::new("org", Default::default());
        assert_eq!(names(plain), ["all"]);
        let queued = CallInfo::new("org", json!({"queue": "vip"}).as_object().unwrap().clone());
        assert_eq!(names(queued), ["all", "vip"]);
    }
}
