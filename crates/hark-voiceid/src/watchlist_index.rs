//! Fraudster search: the voiceprints of one watchlist's fraudsters, decrypted once into a flat
//! [`VoiceprintIndex`] and kept until the domain's fraudsters change.
//!
//! Decrypting and loading a watchlist costs far more than scanning it (AES-GCM and a store read
//! per fraudster against one SIMD dot product), so a session evaluation must never do it: the
//! index is built on first use and rebuilt only after a registration, deletion, association or
//! disassociation in its domain bumped the domain's version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use hark_voiceprint::VoiceprintIndex;

use crate::error::Error;

/// One watchlist's fraudster voiceprints, by generated fraudster id.
#[derive(Debug)]
pub struct WatchlistIndex {
    /// The domain version it was built at.
    pub version: u64,
    /// The voiceprints.
    pub index: VoiceprintIndex<String>,
}

#[derive(Debug, Default)]
struct Cache {
    /// Domain id → version, bumped on every fraudster change in the domain.
    versions: HashMap<String, u64>,
    /// (domain id, watchlist id) → index.
    indexes: HashMap<(String, String), Arc<WatchlistIndex>>,
}

/// The watchlist indexes of every domain.
#[derive(Debug, Default)]
pub struct WatchlistIndexes {
    cache: Mutex<Cache>,
}

impl WatchlistIndexes {
    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets a domain's indexes: its fraudsters or their watchlists changed.
    pub fn domain_changed(&self, domain_id: &str) {
        let mut cache = self.lock();
        *cache.versions.entry(domain_id.to_owned()).or_default() += 1;
        cache.indexes.retain(|(d, _), _| d != domain_id);
    }

    /// The index of a watchlist, built with `build` when missing or stale.
    pub fn get_or_build(
        &self,
        domain_id: &str,
        watchlist_id: &str,
        build: impl FnOnce() -> Result<VoiceprintIndex<String>, Error>,
    ) -> Result<Arc<WatchlistIndex>, Error> {
        let key = (domain_id.to_owned(), watchlist_id.to_owned());
        let version = {
            let cache = self.lock();
            let version = cache.versions.get(domain_id).copied().unwrap_or(0);
            if let Some(index) = cache.indexes.get(&key).filter(|i| i.version == version) {
                return Ok(Arc::clone(index));
            }
            version
        };
        // Built outside the lock: other watchlists stay searchable meanwhile.
        let index = Arc::new(WatchlistIndex {
            version,
            index: build()?,
        });
        let mut cache = self.lock();
        // A change while building makes this index stale: use it once, do not keep it.
        if cache.versions.get(domain_id).copied().unwrap_or(0) == version {
            cache.indexes.insert(key, Arc::clone(&index));
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_reused_until_its_domain_changes() {
        let indexes = WatchlistIndexes::default();
        let mut builds = 0;
        let get = |domain: &str, builds: &mut i32| {
            indexes
                .get_or_build(domain, "w", || {
                    *builds += 1;
                    Ok(VoiceprintIndex::new())
                })
                .unwrap()
        };
        get("a", &mut builds);
        get("a", &mut builds);
        assert_eq!(builds, 1);
        get("b", &mut builds);
        assert_eq!(builds, 2);
        indexes.domain_changed("a");
        get("a", &mut builds);
        get("b", &mut builds);
        assert_eq!(builds, 3, "only the changed domain is rebuilt");
    }
}
