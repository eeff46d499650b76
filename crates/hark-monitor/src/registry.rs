//! The integrations in force: at most [`MAX_MONITORS`], validated, kept in a [`MonitorStore`]
//! and cached in memory, so that matching a new call never touches the store.

use std::sync::{Arc, Mutex};

use crate::error::MonitorError;
use crate::filter::CallInfo;
use crate::integration::{MAX_MONITORS, MonitorIntegration, MonitorUpdate};
use crate::store::MonitorStore;

/// The monitor integrations, with the limit of five enforced on every change.
#[derive(Debug)]
pub struct MonitorRegistry {
    store: Arc<dyn MonitorStore>,
    /// The integrations, as in the store. Changes hold this lock across check and write, so two
    /// concurrent creates cannot both pass the limit.
    cache: Mutex<Vec<MonitorIntegration>>,
}

impl MonitorRegistry {
    /// A registry over `store`, loading its integrations.
    pub fn new(store: Arc<dyn MonitorStore>) -> Result<Self, MonitorError> {
        let cache = Mutex::new(store.monitors()?);
        Ok(MonitorRegistry { store, cache })
    }

    /// The store underneath (for usage records).
    pub fn store(&self) -> &Arc<dyn MonitorStore> {
        &self.store
    }

    /// Every integration, by name.
    pub fn list(&self) -> Result<Vec<MonitorIntegration>, MonitorError> {
        Ok(self.lock().clone())
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
        let mut all = self.lock();
        if all.iter().any(|m| m.name == monitor.name) {
            return Err(MonitorError::AlreadyExists(monitor.name));
        }
        if all.len() >= MAX_MONITORS {
            return Err(MonitorError::LimitReached {
                limit: MAX_MONITORS,
            });
        }
        self.store.put_monitor(&monitor)?;
        put(&mut all, monitor);
        Ok(())
    }

    /// Creates or replaces an integration by name (configuration files); the limit holds.
    pub fn upsert(&self, monitor: MonitorIntegration) -> Result<(), MonitorError> {
        monitor.validate()?;
        let mut all = self.lock();
        if !all.iter().any(|m| m.name == monitor.name) && all.len() >= MAX_MONITORS {
            return Err(MonitorError::LimitReached {
                limit: MAX_MONITORS,
            });
        }
        self.store.put_monitor(&monitor)?;
        put(&mut all, monitor);
        Ok(())
    }

    /// Applies a partial update and returns the result.
    pub fn update(
        &self,
        name: &str,
        update: MonitorUpdate,
    ) -> Result<MonitorIntegration, MonitorError> {
        let mut all = self.lock();
        let current = all
            .iter()
            .find(|m| m.name == name)
            .cloned()
            .ok_or_else(|| MonitorError::NotFound(name.to_owned()))?;
        let updated = update.apply(current);
        updated.validate()?;
        self.store.put_monitor(&updated)?;
        put(&mut all, updated.clone());
        Ok(updated)
    }

    /// Deletes an integration.
    pub fn delete(&self, name: &str) -> Result<(), MonitorError> {
        let mut all = self.lock();
        if !all.iter().any(|m| m.name == name) {
            return Err(MonitorError::NotFound(name.to_owned()));
        }
        self.store.delete_monitor(name)?;
        all.retain(|m| m.name != name);
        Ok(())
    }

    /// The enabled integrations that take this call.
    pub fn matching(&self, call: &CallInfo) -> Result<Vec<MonitorIntegration>, MonitorError> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|m| m.enabled && m.calls.matches(call))
            .collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<MonitorIntegration>> {
        // Changed only after the store accepted the change, in single steps.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Inserts or replaces by name, keeping the list sorted by name.
fn put(all: &mut Vec<MonitorIntegration>, monitor: MonitorIntegration) {
    match all.binary_search_by(|m| m.name.cmp(&monitor.name)) {
        Ok(i) => all[i] = monitor,
        Err(i) => all.insert(i, monitor),
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
            custom_config: None,
        }
    }

    fn registry() -> MonitorRegistry {
        MonitorRegistry::new(Arc::new(MemoryMonitorStore::default())).unwrap()
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
    fn the_cache_starts_from_the_store_and_follows_every_change() {
        let store = Arc::new(MemoryMonitorStore::default());
        store.put_monitor(&monitor("b")).unwrap();
        let r = MonitorRegistry::new(store.clone()).unwrap();
        r.create(monitor("a")).unwrap();
        let update: MonitorUpdate = serde_json::from_value(json!({"enabled": false})).unwrap();
        r.update("b", update).unwrap();
        assert_eq!(r.list().unwrap(), store.monitors().unwrap());
        r.delete("a").unwrap();
        assert_eq!(r.list().unwrap(), store.monitors().unwrap());
        assert_eq!(r.list().unwrap().len(), 1);
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
