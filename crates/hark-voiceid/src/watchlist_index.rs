//! Fraudster search: the voiceprints of one watchlist's fraudsters, decrypted once into a flat
//! [`VoiceprintIndex`] and kept up to date in place as fraudsters are registered, deleted,
//! associated and disassociated.
//!
//! Decrypting and loading a watchlist costs far more than scanning it (AES-GCM and a store read
//! per fraudster against one SIMD dot product), so a session evaluation must never wait for it
//! after the first: changes are applied to the cached index (O(1) each) instead of dropping it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use hark_voiceprint::{Voiceprint, VoiceprintIndex};

use crate::error::Error;

/// One watchlist's fraudster voiceprints, by generated fraudster id, shared with evaluations.
pub type SharedIndex = Arc<RwLock<VoiceprintIndex<String>>>;

#[derive(Debug, Default)]
struct Cache {
    /// Domain id → version, bumped on every fraudster change in the domain.
    versions: HashMap<String, u64>,
    /// (domain id, watchlist id) → index.
    indexes: HashMap<(String, String), SharedIndex>,
}

/// The watchlist indexes of every domain.
#[derive(Debug, Default)]
pub struct WatchlistIndexes {
    cache: Mutex<Cache>,
}

fn write(index: &SharedIndex) -> std::sync::RwLockWriteGuard<'_, VoiceprintIndex<String>> {
    index.write().unwrap_or_else(|p| p.into_inner())
}

impl WatchlistIndexes {
    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The index of a watchlist, built with `build` when not cached.
    pub fn get_or_build(
        &self,
        domain_id: &str,
        watchlist_id: &str,
        build: impl FnOnce() -> Result<VoiceprintIndex<String>, Error>,
    ) -> Result<SharedIndex, Error> {
        let key = (domain_id.to_owned(), watchlist_id.to_owned());
        let version = {
            let cache = self.lock();
            if let Some(index) = cache.indexes.get(&key) {
                return Ok(Arc::clone(index));
            }
            cache.versions.get(domain_id).copied().unwrap_or(0)
        };
        // Built outside the lock: other watchlists stay searchable meanwhile.
        let index = Arc::new(RwLock::new(build()?));
        let mut cache = self.lock();
        // A change while building may be missing from it: use it once, do not keep it.
        if cache.versions.get(domain_id).copied().unwrap_or(0) == version {
            cache.indexes.insert(key, Arc::clone(&index));
        }
        Ok(index)
    }

    /// Whether a watchlist's index is cached.
    /// Fraudsters in each loaded index: (domain, watchlist, count), in order.
    pub fn sizes(&self) -> Vec<(String, String, u64)> {
        let cache = self.lock();
        let mut sizes: Vec<(String, String, u64)> = cache
            .indexes
            .iter()
            .map(|((d, w), index)| {
                let len = index.read().unwrap_or_else(|p| p.into_inner()).len();
                (d.clone(), w.clone(), len as u64)
            })
            .collect();
        sizes.sort();
        sizes
    }

    /// Whether the watchlist's index is loaded.
    pub fn is_cached(&self, domain_id: &str, watchlist_id: &str) -> bool {
        let key = (domain_id.to_owned(), watchlist_id.to_owned());
        self.lock().indexes.contains_key(&key)
    }

    fn changed(cache: &mut Cache, domain_id: &str) {
        *cache.versions.entry(domain_id.to_owned()).or_default() += 1;
    }

    /// A fraudster with this voiceprint is now in the watchlist.
    pub fn added(&self, domain_id: &str, watchlist_id: &str, id: &str, voiceprint: &Voiceprint) {
        let mut cache = self.lock();
        Self::changed(&mut cache, domain_id);
        let key = (domain_id.to_owned(), watchlist_id.to_owned());
        if let Some(index) = cache.indexes.get(&key) {
            write(index).insert(id.to_owned(), voiceprint);
        }
    }

    /// A fraudster left one watchlist, or every watchlist of its domain (`None`: deleted).
    pub fn removed(&self, domain_id: &str, watchlist_id: Option<&str>, id: &str) {
        let mut cache = self.lock();
        Self::changed(&mut cache, domain_id);
        for ((d, w), index) in &cache.indexes {
            if d == domain_id && watchlist_id.is_none_or(|x| x == w) {
                write(index).remove(&id.to_owned());
            }
        }
    }

    /// Forgets a domain's indexes (purged, or changed in a way not tracked piecemeal).
    pub fn forget_domain(&self, domain_id: &str) {
        let mut cache = self.lock();
        Self::changed(&mut cache, domain_id);
        cache.indexes.retain(|(d, _), _| d != domain_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(x: f32) -> Voiceprint {
        let mut v = vec![0.01; hark_voiceprint::voiceprint::DIMENSIONS];
        v[0] = x;
        Voiceprint::from_values(&v).unwrap()
    }

    #[test]
    fn indexes_are_built_once_and_kept_current_in_place() {
        let indexes = WatchlistIndexes::default();
        let builds = std::cell::Cell::new(0);
        let get = |domain: &str, watchlist: &str| {
            indexes
                .get_or_build(domain, watchlist, || {
                    builds.set(builds.get() + 1);
                    Ok(VoiceprintIndex::new())
                })
                .unwrap()
        };
        let a = get("d1", "w1");
        get("d1", "w1");
        get("d2", "w1");
        indexes.added("d1", "w1", "id#f", &print(5.0));
        indexes.added("d1", "w2", "id#g", &print(5.0)); // not cached: nothing to update
        assert_eq!(a.read().unwrap().len(), 1);
        indexes.removed("d1", Some("w2"), "id#f");
        assert_eq!(a.read().unwrap().len(), 1, "another watchlist");
        indexes.removed("d1", None, "id#f");
        assert_eq!(a.read().unwrap().len(), 0);
        indexes.forget_domain("d1");
        get("d1", "w1");
        assert_eq!(
            builds.get(),
            3,
            "d1/w1 twice (after forgetting), d2/w1 once"
        );
    }
}
