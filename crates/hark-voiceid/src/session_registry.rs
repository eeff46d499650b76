//! Every live session the service knows, by id and by name within a domain (lock order:
//! registry, then session).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::session::Session;

/// Ended sessions (and sessions that never streamed) stay answerable this long.
pub const SESSION_RETENTION_MINUTES: i64 = 60;

pub(crate) type SharedSession = Arc<Mutex<Session>>;

pub(crate) fn lock(session: &SharedSession) -> MutexGuard<'_, Session> {
    // A panic while embedding leaves the session's numbers, not its invariants, half-updated.
    session.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Default)]
struct Registry {
    by_id: HashMap<String, SharedSession>,
    /// (domain id, session name) → the newest session of that name.
    by_name: HashMap<(String, String), String>,
}

/// Every session the service knows, by id and by name within a domain.
#[derive(Debug, Default)]
pub(crate) struct SessionRegistry {
    inner: Mutex<Registry>,
}

impl SessionRegistry {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A domain's session by name or `id#…` id.
    pub(crate) fn find(&self, domain_id: &str, name_or_id: &str) -> Option<SharedSession> {
        let registry = self.lock();
        let id = if name_or_id.starts_with("id#") {
            name_or_id.to_owned()
        } else {
            registry
                .by_name
                .get(&(domain_id.to_owned(), name_or_id.to_owned()))?
                .clone()
        };
        let session = registry.by_id.get(&id)?;
        // Ids are global; a session of another domain does not exist for this one.
        (lock(session).domain_id == domain_id).then(|| Arc::clone(session))
    }

    pub(crate) fn insert(&self, session: Session) -> SharedSession {
        let key = (session.domain_id.clone(), session.session_name.clone());
        let id = session.session_id.clone();
        let shared = Arc::new(Mutex::new(session));
        let mut registry = self.lock();
        registry.by_id.insert(id.clone(), Arc::clone(&shared));
        registry.by_name.insert(key, id);
        shared
    }

    /// Sessions of a domain that have not ended.
    pub(crate) fn active_in(&self, domain_id: &str) -> u64 {
        let registry = self.lock();
        registry
            .by_id
            .values()
            .filter(|s| {
                let s = lock(s);
                s.domain_id == domain_id && !s.has_ended()
            })
            .count() as u64
    }

    /// Sessions that have not ended, in every domain.
    pub(crate) fn live(&self) -> u64 {
        let registry = self.lock();
        registry
            .by_id
            .values()
            .filter(|s| !lock(s).has_ended())
            .count() as u64
    }

    /// Forgets sessions idle (ended, or never streamed) since before `before`; how many.
    pub(crate) fn sweep(&self, before: DateTime<Utc>) -> u64 {
        let mut registry = self.lock();
        let stale: Vec<(String, (String, String))> = registry
            .by_id
            .iter()
            .filter_map(|(id, s)| {
                let s = lock(s);
                let idle = s.has_ended() || !s.is_listening() && s.audio_window().is_none();
                (idle && s.updated_at < before)
                    .then(|| (id.clone(), (s.domain_id.clone(), s.session_name.clone())))
            })
            .collect();
        for (id, key) in &stale {
            registry.by_id.remove(id);
            if registry.by_name.get(key) == Some(id) {
                registry.by_name.remove(key);
            }
        }
        stale.len() as u64
    }
}
