//! Every live call's fan-out, and the rules that start and stop streams: automatically for
//! the enabled integrations whose filter takes a call, or on request per contact.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::fanout::CallFanout;
use super::{ObserverFactory, StreamSettings};
use crate::call::CallIdentity;
use crate::error::MonitorError;
use crate::filter::CallInfo;
use crate::integration::{MonitorIntegration, MonitorUpdate};
use crate::registry::MonitorRegistry;
use crate::stream::StreamSnapshot;

/// Monitor streaming for a whole service.
pub struct Monitoring {
    registry: Arc<MonitorRegistry>,
    settings: StreamSettings,
    auto_start: bool,
    observers: Arc<dyn ObserverFactory>,
    calls: Mutex<HashMap<String, Arc<CallFanout>>>,
}

impl std::fmt::Debug for Monitoring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitoring")
            .field("auto_start", &self.auto_start)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Monitoring {
    /// Monitoring over `registry`; with `auto_start`, every call streams to the integrations
    /// that take it from the moment it opens.
    pub fn new(
        registry: Arc<MonitorRegistry>,
        settings: StreamSettings,
        auto_start: bool,
        observers: Arc<dyn ObserverFactory>,
    ) -> Self {
        Monitoring {
            registry,
            settings,
            auto_start,
            observers,
            calls: Mutex::new(HashMap::new()),
        }
    }

    /// The integrations.
    pub fn registry(&self) -> &MonitorRegistry {
        &self.registry
    }

    /// A call opened; returns its fan-out, already streaming if auto-start applies.
    pub fn call_opened(&self, call: CallIdentity, info: CallInfo) -> Arc<CallFanout> {
        let call_id = call.call_id.clone();
        let fanout = Arc::new(CallFanout::new(
            call,
            info,
            self.settings.clone(),
            Arc::clone(&self.observers),
        ));
        if self.auto_start {
            // A store failure must not fail the call; monitors can be started later by API.
            if let Ok(monitors) = self.registry.matching(fanout.info()) {
                fanout.start(&monitors);
            }
        }
        self.lock().insert(call_id, Arc::clone(&fanout));
        fanout
    }

    /// A call ended: its streams deliver what is queued and close.
    pub fn call_ended(&self, call_id: &str) {
        if let Some(fanout) = self.lock().remove(call_id) {
            fanout.end();
        }
    }

    /// Starts streaming a contact's live calls to the named monitors (they must exist and be
    /// enabled; filters do not apply to an explicit request), or to every enabled monitor
    /// whose filter takes the call. Returns the contact's streams.
    pub fn start(
        &self,
        contact_id: &str,
        names: Option<&[String]>,
    ) -> Result<Vec<StreamSnapshot>, MonitorError> {
        let calls = self.contact_calls(contact_id)?;
        let named = names.map(|n| self.named(n)).transpose()?;
        for fanout in &calls {
            let monitors = match &named {
                Some(monitors) => monitors.clone(),
                None => self.registry.matching(fanout.info())?,
            };
            fanout.start(&monitors);
        }
        Ok(self.streams(contact_id))
    }

    /// Stops streaming a contact's live calls to the named monitors (all when `None`).
    pub fn stop(
        &self,
        contact_id: &str,
        names: Option<&[String]>,
    ) -> Result<Vec<StreamSnapshot>, MonitorError> {
        for fanout in self.contact_calls(contact_id)? {
            fanout.stop(names);
        }
        Ok(self.streams(contact_id))
    }

    /// The live streams of a contact's calls.
    pub fn streams(&self, contact_id: &str) -> Vec<StreamSnapshot> {
        self.lock()
            .values()
            .filter(|f| f.call().conversation_id == contact_id)
            .flat_map(|f| f.snapshots())
            .collect()
    }

    /// Whether a contact has a live call.
    pub fn is_live(&self, contact_id: &str) -> bool {
        self.lock()
            .values()
            .any(|f| f.call().conversation_id == contact_id)
    }

    /// Adds an integration; live calls are not affected.
    pub fn create_monitor(&self, monitor: MonitorIntegration) -> Result<(), MonitorError> {
        self.registry.create(monitor)
    }

    /// Updates an integration; disabling it stops its live streams, other changes apply to
    /// streams started afterwards.
    pub fn update_monitor(
        &self,
        name: &str,
        update: MonitorUpdate,
    ) -> Result<MonitorIntegration, MonitorError> {
        let updated = self.registry.update(name, update)?;
        if !updated.enabled {
            self.stop_everywhere(name);
        }
        Ok(updated)
    }

    /// Deletes an integration and stops its live streams.
    pub fn delete_monitor(&self, name: &str) -> Result<(), MonitorError> {
        self.registry.delete(name)?;
        self.stop_everywhere(name);
        Ok(())
    }

    fn stop_everywhere(&self, name: &str) {
        let names = [name.to_owned()];
        for fanout in self.lock().values() {
            fanout.stop(Some(&names));
        }
    }

    fn named(&self, names: &[String]) -> Result<Vec<MonitorIntegration>, MonitorError> {
        names
            .iter()
            .map(|name| {
                let monitor = self.registry.get(name)?;
                if monitor.enabled {
                    Ok(monitor)
                } else {
                    Err(MonitorError::Disabled(name.clone()))
                }
            })
            .collect()
    }

    fn contact_calls(&self, contact_id: &str) -> Result<Vec<Arc<CallFanout>>, MonitorError> {
        let calls: Vec<Arc<CallFanout>> = self
            .lock()
            .values()
            .filter(|f| f.call().conversation_id == contact_id)
            .cloned()
            .collect();
        if calls.is_empty() {
            return Err(MonitorError::NoLiveCall(contact_id.to_owned()));
        }
        Ok(calls)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<CallFanout>>> {
        // Plain data changed in single steps.
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}
