//! Persistence behind a trait. `hark-store` implements it on SQLite; [`MemoryStore`] is for tests
//! and embedders without persistence; [`conformance::run`] checks any implementation.
//!
//! The service serialises writes, so implementations need each call to be atomic, not more.
//! Every query is scoped by domain id: no call can reach another domain's data.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::records::{
    BlobKey, ClientTokenRecord, DomainRecord, FraudsterRecord, InstanceRecord, JobKind, JobRecord,
    SealedBlob, SpeakerRecord, SpeakerRef, SpeakerStatus, WatchlistRecord,
};

/// A store operation failed (I/O, corruption); answered as `InternalServerException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("voiceid store: {0}")]
pub struct VoiceIdStoreError(pub String);

/// Result of a store call.
pub type StoreResult<T> = Result<T, VoiceIdStoreError>;

/// Persistence Voice ID needs. Lists are ordered by id and start after `after` (keyset paging).
pub trait VoiceIdStore: Send + Sync + std::fmt::Debug {
    /// Inserts a new domain and its default watchlist together.
    fn insert_domain(
        &self,
        domain: &DomainRecord,
        default_watchlist: &WatchlistRecord,
    ) -> StoreResult<()>;
    /// Replaces a domain's record.
    fn update_domain(&self, domain: &DomainRecord) -> StoreResult<()>;
    /// A domain, soft-deleted ones included.
    fn domain(&self, domain_id: &str) -> StoreResult<Option<DomainRecord>>;
    /// Domains by id after `after`; soft-deleted ones only when `deleted` is true (then only them).
    fn domains(
        &self,
        after: Option<&str>,
        limit: usize,
        deleted: bool,
    ) -> StoreResult<Vec<DomainRecord>>;
    /// Number of domains not soft-deleted.
    fn count_live_domains(&self) -> StoreResult<u64>;
    /// Erases a domain and everything in it: watchlists, speakers, fraudsters, blobs, client
    /// tokens and instance associations. After this no byte of it is left in the store.
    fn purge_domain(&self, domain_id: &str) -> StoreResult<()>;

    /// Inserts or replaces a watchlist.
    fn put_watchlist(&self, watchlist: &WatchlistRecord) -> StoreResult<()>;
    /// One watchlist of a domain.
    fn watchlist(
        &self,
        domain_id: &str,
        watchlist_id: &str,
    ) -> StoreResult<Option<WatchlistRecord>>;
    /// A domain's watchlists by id.
    fn watchlists(
        &self,
        domain_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<WatchlistRecord>>;
    /// Number of watchlists of a domain (default included).
    fn count_watchlists(&self, domain_id: &str) -> StoreResult<u64>;
    /// Deletes a watchlist; false when it did not exist.
    fn delete_watchlist(&self, domain_id: &str, watchlist_id: &str) -> StoreResult<bool>;

    /// Inserts or replaces a speaker (keyed by domain and generated id; the customer id is
    /// unique within the domain).
    fn put_speaker(&self, speaker: &SpeakerRecord) -> StoreResult<()>;
    /// A speaker by either id.
    fn speaker(&self, domain_id: &str, id: SpeakerRef<'_>) -> StoreResult<Option<SpeakerRecord>>;
    /// A domain's speakers by generated id.
    fn speakers(
        &self,
        domain_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<SpeakerRecord>>;
    /// Number of speakers in a domain.
    fn count_speakers(&self, domain_id: &str) -> StoreResult<u64>;
    /// Deletes a speaker and its blobs; false when it did not exist.
    fn delete_speaker(&self, domain_id: &str, generated_id: &str) -> StoreResult<bool>;
    /// Speakers in `status` whose last access is before `before` (or who were never accessed
    /// and were created before it), any domain, at most `limit`.
    fn stale_speakers(
        &self,
        status: SpeakerStatus,
        before: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<SpeakerRecord>>;

    /// Inserts or replaces a fraudster with its watchlist memberships.
    fn put_fraudster(&self, fraudster: &FraudsterRecord) -> StoreResult<()>;
    /// One fraudster.
    fn fraudster(
        &self,
        domain_id: &str,
        fraudster_id: &str,
    ) -> StoreResult<Option<FraudsterRecord>>;
    /// A domain's fraudsters by id, optionally only those of one watchlist.
    fn fraudsters(
        &self,
        domain_id: &str,
        watchlist_id: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<FraudsterRecord>>;
    /// Number of fraudsters in a watchlist.
    fn count_fraudsters_in_watchlist(
        &self,
        domain_id: &str,
        watchlist_id: &str,
    ) -> StoreResult<u64>;
    /// Deletes a fraudster and its blobs; false when it did not exist.
    fn delete_fraudster(&self, domain_id: &str, fraudster_id: &str) -> StoreResult<bool>;

    /// Stores (replacing) a sealed blob.
    fn put_blob(&self, key: &BlobKey, blob: &SealedBlob) -> StoreResult<()>;
    /// One sealed blob.
    fn blob(&self, key: &BlobKey) -> StoreResult<Option<SealedBlob>>;
    /// Up to `limit` blobs of a domain not sealed under `key_id` (for re-encryption).
    fn blobs_not_under(
        &self,
        domain_id: &str,
        key_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<BlobKey>>;
    /// Every blob key of one owner.
    fn blob_keys(&self, domain_id: &str, owner_id: &str) -> StoreResult<Vec<BlobKey>>;
    /// Deletes every blob of one owner (voiceprint and audio).
    fn delete_blobs(&self, domain_id: &str, owner_id: &str) -> StoreResult<()>;

    /// A remembered client token.
    fn client_token(&self, scope: &str, token: &str) -> StoreResult<Option<ClientTokenRecord>>;
    /// Remembers a client token (first use wins).
    fn put_client_token(&self, record: &ClientTokenRecord) -> StoreResult<()>;
    /// Forgets client tokens first used before `before`.
    fn forget_client_tokens(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    /// The domain an instance uses.
    fn instance(&self, instance_id: &str) -> StoreResult<Option<InstanceRecord>>;
    /// Associates an instance (replacing its association).
    fn put_instance(&self, instance: &InstanceRecord) -> StoreResult<()>;
    /// Removes an instance's association; false when there was none.
    fn delete_instance(&self, instance_id: &str) -> StoreResult<bool>;
    /// The instances using a domain.
    fn instances(&self, domain_id: &str) -> StoreResult<Vec<InstanceRecord>>;

    /// Inserts or replaces a batch job.
    fn put_job(&self, job: &JobRecord) -> StoreResult<()>;
    /// One job of a domain.
    fn job(&self, domain_id: &str, job_id: &str) -> StoreResult<Option<JobRecord>>;
    /// A domain's jobs of one kind by id.
    fn jobs(
        &self,
        domain_id: &str,
        kind: JobKind,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<JobRecord>>;
    /// Jobs submitted or running, any domain (to resume or fail them after a restart).
    fn active_jobs(&self) -> StoreResult<Vec<JobRecord>>;
}

/// An in-memory [`VoiceIdStore`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    domains: BTreeMap<String, DomainRecord>,
    watchlists: BTreeMap<(String, String), WatchlistRecord>,
    speakers: BTreeMap<(String, String), SpeakerRecord>,
    fraudsters: BTreeMap<(String, String), FraudsterRecord>,
    blobs: BTreeMap<BlobKey, SealedBlob>,
    tokens: BTreeMap<(String, String), ClientTokenRecord>,
    instances: BTreeMap<String, InstanceRecord>,
    jobs: BTreeMap<(String, String), JobRecord>,
    /// (domain, watchlist) → fraudsters in it, kept with `fraudsters` (quota checks are hot).
    watchlist_sizes: BTreeMap<(String, String), u64>,
}

impl Memory {
    /// Adds `delta` to the size of every watchlist of `f`.
    fn count_memberships(&mut self, f: &FraudsterRecord, delta: i64) {
        for w in &f.watchlist_ids {
            let n = self
                .watchlist_sizes
                .entry((f.domain_id.clone(), w.clone()))
                .or_default();
            *n = n.saturating_add_signed(delta);
        }
    }
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn page<T: Clone>(
    items: impl Iterator<Item = (String, T)>,
    after: Option<&str>,
    limit: usize,
) -> Vec<T> {
    items
        .filter(|(id, _)| after.is_none_or(|a| id.as_str() > a))
        .take(limit)
        .map(|(_, v)| v)
        .collect()
}

/// The `(id, value)` entries of one domain in a map keyed by `(domain, id)`, in id order: the map
/// sorts by domain first, so this is a range, not a scan of every domain.
fn in_domain<'a, V>(
    map: &'a BTreeMap<(String, String), V>,
    domain_id: &'a str,
) -> impl Iterator<Item = (&'a String, &'a V)> + 'a {
    map.range((domain_id.to_owned(), String::new())..)
        .take_while(move |((d, _), _)| d == domain_id)
        .map(|((_, id), v)| (id, v))
}

/// One page of a domain's entries after `after`.
fn domain_page<V: Clone>(
    map: &BTreeMap<(String, String), V>,
    domain_id: &str,
    after: Option<&str>,
    limit: usize,
) -> Vec<V> {
    page(
        in_domain(map, domain_id).map(|(id, v)| (id.clone(), v.clone())),
        after,
        limit,
    )
}

impl VoiceIdStore for MemoryStore {
    fn insert_domain(&self, domain: &DomainRecord, wl: &WatchlistRecord) -> StoreResult<()> {
        let mut m = self.lock();
        if m.domains.contains_key(&domain.domain_id) {
            return Err(VoiceIdStoreError(format!(
                "domain {} exists",
                domain.domain_id
            )));
        }
        m.domains.insert(domain.domain_id.clone(), domain.clone());
        m.watchlists
            .insert((wl.domain_id.clone(), wl.watchlist_id.clone()), wl.clone());
        Ok(())
    }

    fn update_domain(&self, domain: &DomainRecord) -> StoreResult<()> {
        self.lock()
            .domains
            .insert(domain.domain_id.clone(), domain.clone());
        Ok(())
    }

    fn domain(&self, domain_id: &str) -> StoreResult<Option<DomainRecord>> {
        Ok(self.lock().domains.get(domain_id).cloned())
    }

    fn domains(
        &self,
        after: Option<&str>,
        limit: usize,
        deleted: bool,
    ) -> StoreResult<Vec<DomainRecord>> {
        let m = self.lock();
        Ok(page(
            m.domains
                .iter()
                .filter(|(_, d)| d.deleted_at.is_some() == deleted)
                .map(|(k, v)| (k.clone(), v.clone())),
            after,
            limit,
        ))
    }

    fn count_live_domains(&self) -> StoreResult<u64> {
        Ok(self
            .lock()
            .domains
            .values()
            .filter(|d| d.deleted_at.is_none())
            .count() as u64)
    }

    fn purge_domain(&self, domain_id: &str) -> StoreResult<()> {
        let mut m = self.lock();
        m.domains.remove(domain_id);
        m.watchlists.retain(|(d, _), _| d != domain_id);
        m.speakers.retain(|(d, _), _| d != domain_id);
        m.fraudsters.retain(|(d, _), _| d != domain_id);
        m.blobs.retain(|k, _| k.domain_id != domain_id);
        m.tokens
            .retain(|_, t| t.domain_id.as_deref() != Some(domain_id));
        m.instances.retain(|_, i| i.domain_id != domain_id);
        m.jobs.retain(|(d, _), _| d != domain_id);
        m.watchlist_sizes.retain(|(d, _), _| d != domain_id);
        Ok(())
    }

    fn put_watchlist(&self, w: &WatchlistRecord) -> StoreResult<()> {
        self.lock()
            .watchlists
            .insert((w.domain_id.clone(), w.watchlist_id.clone()), w.clone());
        Ok(())
    }

    fn watchlist(&self, domain_id: &str, id: &str) -> StoreResult<Option<WatchlistRecord>> {
        Ok(self
            .lock()
            .watchlists
            .get(&(domain_id.to_owned(), id.to_owned()))
            .cloned())
    }

    fn watchlists(
        &self,
        domain_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<WatchlistRecord>> {
        Ok(domain_page(
            &self.lock().watchlists,
            domain_id,
            after,
            limit,
        ))
    }

    fn count_watchlists(&self, domain_id: &str) -> StoreResult<u64> {
        Ok(in_domain(&self.lock().watchlists, domain_id).count() as u64)
    }

    fn delete_watchlist(&self, domain_id: &str, id: &str) -> StoreResult<bool> {
        Ok(self
            .lock()
            .watchlists
            .remove(&(domain_id.to_owned(), id.to_owned()))
            .is_some())
    }

    fn put_speaker(&self, s: &SpeakerRecord) -> StoreResult<()> {
        let mut m = self.lock();
        if let Some(customer) = &s.customer_id {
            let clash = m.speakers.values().any(|o| {
                o.domain_id == s.domain_id
                    && o.generated_id != s.generated_id
                    && o.customer_id.as_ref() == Some(customer)
            });
            if clash {
                return Err(VoiceIdStoreError("customer speaker id already used".into()));
            }
        }
        m.speakers
            .insert((s.domain_id.clone(), s.generated_id.clone()), s.clone());
        Ok(())
    }

    fn speaker(&self, domain_id: &str, id: SpeakerRef<'_>) -> StoreResult<Option<SpeakerRecord>> {
        let m = self.lock();
        Ok(match id {
            SpeakerRef::Generated(g) => m.speakers.get(&(domain_id.to_owned(), g.to_owned())),
            SpeakerRef::Customer(c) => m
                .speakers
                .values()
                .find(|s| s.domain_id == domain_id && s.customer_id.as_deref() == Some(c)),
        }
        .cloned())
    }

    fn speakers(
        &self,
        domain_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<SpeakerRecord>> {
        Ok(domain_page(&self.lock().speakers, domain_id, after, limit))
    }

    fn count_speakers(&self, domain_id: &str) -> StoreResult<u64> {
        Ok(in_domain(&self.lock().speakers, domain_id).count() as u64)
    }

    fn delete_speaker(&self, domain_id: &str, id: &str) -> StoreResult<bool> {
        let mut m = self.lock();
        m.blobs
            .retain(|k, _| !(k.domain_id == domain_id && k.owner_id == id));
        Ok(m.speakers
            .remove(&(domain_id.to_owned(), id.to_owned()))
            .is_some())
    }

    fn stale_speakers(
        &self,
        status: SpeakerStatus,
        before: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<SpeakerRecord>> {
        Ok(self
            .lock()
            .speakers
            .values()
            .filter(|s| s.status == status && s.last_accessed_at.unwrap_or(s.created_at) < before)
            .take(limit)
            .cloned()
            .collect())
    }

    fn put_fraudster(&self, f: &FraudsterRecord) -> StoreResult<()> {
        let mut m = self.lock();
        let key = (f.domain_id.clone(), f.generated_id.clone());
        if let Some(old) = m.fraudsters.insert(key, f.clone()) {
            m.count_memberships(&old, -1);
        }
        m.count_memberships(f, 1);
        Ok(())
    }

    fn fraudster(&self, domain_id: &str, id: &str) -> StoreResult<Option<FraudsterRecord>> {
        Ok(self
            .lock()
            .fraudsters
            .get(&(domain_id.to_owned(), id.to_owned()))
            .cloned())
    }

    fn fraudsters(
        &self,
        domain_id: &str,
        watchlist_id: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<FraudsterRecord>> {
        let m = self.lock();
        Ok(page(
            in_domain(&m.fraudsters, domain_id)
                .filter(|(_, f)| {
                    watchlist_id.is_none_or(|w| f.watchlist_ids.iter().any(|x| x == w))
                })
                .map(|(id, v)| (id.clone(), v.clone())),
            after,
            limit,
        ))
    }

    fn count_fraudsters_in_watchlist(&self, domain_id: &str, wl: &str) -> StoreResult<u64> {
        let key = (domain_id.to_owned(), wl.to_owned());
        Ok(self.lock().watchlist_sizes.get(&key).copied().unwrap_or(0))
    }

    fn delete_fraudster(&self, domain_id: &str, id: &str) -> StoreResult<bool> {
        let mut m = self.lock();
        m.blobs
            .retain(|k, _| !(k.domain_id == domain_id && k.owner_id == id));
        match m.fraudsters.remove(&(domain_id.to_owned(), id.to_owned())) {
            Some(old) => {
                m.count_memberships(&old, -1);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn put_blob(&self, key: &BlobKey, blob: &SealedBlob) -> StoreResult<()> {
        self.lock().blobs.insert(key.clone(), blob.clone());
        Ok(())
    }

    fn blob(&self, key: &BlobKey) -> StoreResult<Option<SealedBlob>> {
        Ok(self.lock().blobs.get(key).cloned())
    }

    fn blobs_not_under(
        &self,
        domain_id: &str,
        key_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<BlobKey>> {
        Ok(self
            .lock()
            .blobs
            .iter()
            .filter(|(k, b)| k.domain_id == domain_id && b.key_id != key_id)
            .take(limit)
            .map(|(k, _)| k.clone())
            .collect())
    }

    fn blob_keys(&self, domain_id: &str, owner_id: &str) -> StoreResult<Vec<BlobKey>> {
        Ok(self
            .lock()
            .blobs
            .keys()
            .filter(|k| k.domain_id == domain_id && k.owner_id == owner_id)
            .cloned()
            .collect())
    }

    fn delete_blobs(&self, domain_id: &str, owner_id: &str) -> StoreResult<()> {
        self.lock()
            .blobs
            .retain(|k, _| !(k.domain_id == domain_id && k.owner_id == owner_id));
        Ok(())
    }

    fn client_token(&self, scope: &str, token: &str) -> StoreResult<Option<ClientTokenRecord>> {
        Ok(self
            .lock()
            .tokens
            .get(&(scope.to_owned(), token.to_owned()))
            .cloned())
    }

    fn put_client_token(&self, r: &ClientTokenRecord) -> StoreResult<()> {
        self.lock()
            .tokens
            .entry((r.scope.clone(), r.token.clone()))
            .or_insert_with(|| r.clone());
        Ok(())
    }

    fn forget_client_tokens(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut m = self.lock();
        let n = m.tokens.len();
        m.tokens.retain(|_, t| t.created_at >= before);
        Ok((n - m.tokens.len()) as u64)
    }

    fn instance(&self, instance_id: &str) -> StoreResult<Option<InstanceRecord>> {
        Ok(self.lock().instances.get(instance_id).cloned())
    }

    fn put_instance(&self, instance: &InstanceRecord) -> StoreResult<()> {
        self.lock()
            .instances
            .insert(instance.instance_id.clone(), instance.clone());
        Ok(())
    }

    fn delete_instance(&self, instance_id: &str) -> StoreResult<bool> {
        Ok(self.lock().instances.remove(instance_id).is_some())
    }

    fn instances(&self, domain_id: &str) -> StoreResult<Vec<InstanceRecord>> {
        Ok(self
            .lock()
            .instances
            .values()
            .filter(|i| i.domain_id == domain_id)
            .cloned()
            .collect())
    }

    fn put_job(&self, job: &JobRecord) -> StoreResult<()> {
        self.lock()
            .jobs
            .insert((job.domain_id.clone(), job.job_id.clone()), job.clone());
        Ok(())
    }

    fn job(&self, domain_id: &str, job_id: &str) -> StoreResult<Option<JobRecord>> {
        let key = (domain_id.to_owned(), job_id.to_owned());
        Ok(self.lock().jobs.get(&key).cloned())
    }

    fn jobs(
        &self,
        domain_id: &str,
        kind: JobKind,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<JobRecord>> {
        let m = self.lock();
        let of_kind = in_domain(&m.jobs, domain_id)
            .filter(|(_, j)| j.kind == kind)
            .map(|(id, j)| (id.clone(), j.clone()));
        Ok(page(of_kind, after, limit))
    }

    fn active_jobs(&self) -> StoreResult<Vec<JobRecord>> {
        let m = self.lock();
        Ok(m.jobs
            .values()
            .filter(|j| j.status.is_active())
            .cloned()
            .collect())
    }
}

/// A conformance suite any [`VoiceIdStore`] must pass (used by `hark-store` on SQLite).
#[allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
pub mod conformance {
    use chrono::{DateTime, Duration, TimeZone, Utc};

    use super::VoiceIdStore;
    use crate::records::*;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    pub fn domain(id: &str) -> (DomainRecord, WatchlistRecord) {
        let wl = format!("W{}", &id[1..]);
        (
            DomainRecord {
                domain_id: id.to_owned(),
                name: format!("name-{id}"),
                description: Some("a domain".into()),
                kms_key_id: "alias/hark-default".into(),
                sse_update: None,
                default_watchlist_id: wl.clone(),
                tags: vec![Tag {
                    key: "team".into(),
                    value: "fraud".into(),
                }],
                created_at: t(0),
                updated_at: t(0),
                deleted_at: None,
            },
            WatchlistRecord {
                domain_id: id.to_owned(),
                watchlist_id: wl,
                name: "Default".into(),
                description: None,
                default_watchlist: true,
                created_at: t(0),
                updated_at: t(0),
            },
        )
    }

    pub fn speaker(domain: &str, n: u32, customer: &str) -> SpeakerRecord {
        SpeakerRecord {
            domain_id: domain.to_owned(),
            generated_id: format!("id#{n:022}"),
            customer_id: Some(customer.to_owned()),
            status: SpeakerStatus::Enrolled,
            created_at: t(0),
            updated_at: t(0),
            last_accessed_at: Some(t(3600)),
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

    /// Runs every check against an empty store.
    pub fn run(store: &dyn VoiceIdStore) {
        let mut rule = Rule("domains: insert once, read, count, page, soft delete");
        let a = "A000000000000000000000";
        let b = "B000000000000000000000";
        let (da, wa) = domain(a);
        let (db, wb) = domain(b);
        store.insert_domain(&da, &wa).unwrap();
        store.insert_domain(&db, &wb).unwrap();
        assert!(
            store.insert_domain(&da, &wa).is_err(),
            "duplicate domain id"
        );
        assert_eq!(store.domain(a).unwrap(), Some(da.clone()));
        assert_eq!(store.count_live_domains().unwrap(), 2);
        assert_eq!(store.domains(None, 1, false).unwrap(), vec![da.clone()]);
        assert_eq!(store.domains(Some(a), 10, false).unwrap(), vec![db.clone()]);
        let mut deleted = db.clone();
        deleted.deleted_at = Some(t(10));
        store.update_domain(&deleted).unwrap();
        assert_eq!(store.count_live_domains().unwrap(), 1);
        assert_eq!(
            store.domains(None, 10, true).unwrap(),
            vec![deleted.clone()]
        );
        assert_eq!(store.domain(b).unwrap(), Some(deleted));
        store.update_domain(&db).unwrap();

        // Watchlists.
        rule.now("watchlists: default and custom, paging, per domain");
        assert_eq!(store.count_watchlists(a).unwrap(), 1);
        let custom = WatchlistRecord {
            watchlist_id: "X000000000000000000000".into(),
            name: "custom".into(),
            default_watchlist: false,
            ..wa.clone()
        };
        store.put_watchlist(&custom).unwrap();
        assert_eq!(
            store.watchlists(a, None, 10).unwrap(),
            vec![wa.clone(), custom.clone()]
        );
        assert_eq!(
            store.watchlists(a, Some(&wa.watchlist_id), 10).unwrap(),
            vec![custom.clone()]
        );
        assert_eq!(store.watchlist(b, &custom.watchlist_id).unwrap(), None);
        assert!(store.delete_watchlist(a, &custom.watchlist_id).unwrap());
        assert!(!store.delete_watchlist(a, &custom.watchlist_id).unwrap());

        // Speakers: either id, isolation, paging, uniqueness of the customer id.
        rule.now("speakers: either id, isolation, paging, uniqueness of the customer id");
        let s1 = speaker(a, 1, "alice");
        let s2 = speaker(a, 2, "bob");
        let s3 = speaker(b, 1, "alice");
        for s in [&s1, &s2, &s3] {
            store.put_speaker(s).unwrap();
        }
        assert!(
            store.put_speaker(&speaker(a, 3, "alice")).is_err(),
            "customer id unique per domain"
        );
        assert_eq!(
            store.speaker(a, SpeakerRef::Customer("alice")).unwrap(),
            Some(s1.clone())
        );
        assert_eq!(
            store
                .speaker(b, SpeakerRef::Generated(&s1.generated_id))
                .unwrap(),
            Some(s3.clone())
        );
        assert_eq!(
            store.speaker(a, SpeakerRef::Customer("carol")).unwrap(),
            None
        );
        assert_eq!(store.count_speakers(a).unwrap(), 2);
        assert_eq!(store.speakers(a, None, 1).unwrap(), vec![s1.clone()]);
        assert_eq!(
            store.speakers(a, Some(&s1.generated_id), 5).unwrap(),
            vec![s2.clone()]
        );
        let mut opted = s2.clone();
        opted.status = SpeakerStatus::OptedOut;
        opted.last_accessed_at = None;
        store.put_speaker(&opted).unwrap();
        assert_eq!(
            store.speaker(a, SpeakerRef::Customer("bob")).unwrap(),
            Some(opted.clone())
        );
        let stale = store
            .stale_speakers(SpeakerStatus::Enrolled, t(3601), 10)
            .unwrap();
        assert_eq!(stale.len(), 2, "s1 and s3: {stale:?}");
        assert!(
            store
                .stale_speakers(SpeakerStatus::Enrolled, t(3600), 10)
                .unwrap()
                .is_empty()
        );

        // Blobs.
        rule.now("blobs: sealed voiceprints and audio per owner");
        let vp = BlobKey {
            domain_id: a.into(),
            owner_id: s1.generated_id.clone(),
            kind: BlobKind::Voiceprint,
        };
        let audio = BlobKey {
            kind: BlobKind::Audio("utterance-1".into()),
            ..vp.clone()
        };
        let sealed = SealedBlob {
            key_id: "k1".into(),
            sealed: vec![1, 2, 3],
        };
        store.put_blob(&vp, &sealed).unwrap();
        store.put_blob(&audio, &sealed).unwrap();
        assert_eq!(store.blob(&vp).unwrap(), Some(sealed.clone()));
        assert_eq!(store.blob(&audio).unwrap(), Some(sealed.clone()));
        assert_eq!(store.blob_keys(a, &s1.generated_id).unwrap().len(), 2);
        assert_eq!(store.blobs_not_under(a, "k2", 10).unwrap().len(), 2);
        assert!(store.blobs_not_under(a, "k1", 10).unwrap().is_empty());
        assert!(store.blobs_not_under(b, "k2", 10).unwrap().is_empty());
        let resealed = SealedBlob {
            key_id: "k2".into(),
            sealed: vec![9; 40],
        };
        store.put_blob(&audio, &resealed).unwrap();
        assert_eq!(store.blob(&audio).unwrap(), Some(resealed));
        store.delete_blobs(a, &s1.generated_id).unwrap();
        assert_eq!(store.blob(&vp).unwrap(), None);
        assert_eq!(store.blob(&audio).unwrap(), None);
        store.put_blob(&vp, &sealed).unwrap();
        assert!(store.delete_speaker(a, &s1.generated_id).unwrap());
        assert!(!store.delete_speaker(a, &s1.generated_id).unwrap());
        assert_eq!(store.blob(&vp).unwrap(), None, "speaker's blobs go with it");

        // Fraudsters.
        rule.now("fraudsters: watchlist membership, paging, counts");
        let f = FraudsterRecord {
            domain_id: a.into(),
            generated_id: format!("id#F{:021}", 1),
            watchlist_ids: vec![wa.watchlist_id.clone()],
            created_at: t(5),
        };
        store.put_fraudster(&f).unwrap();
        let f2 = FraudsterRecord {
            generated_id: format!("id#F{:021}", 2),
            watchlist_ids: vec![wa.watchlist_id.clone(), "Y000000000000000000000".into()],
            ..f.clone()
        };
        store.put_fraudster(&f2).unwrap();
        assert_eq!(
            store.fraudster(a, &f.generated_id).unwrap(),
            Some(f.clone())
        );
        assert_eq!(store.fraudster(b, &f.generated_id).unwrap(), None);
        assert_eq!(
            store
                .fraudsters(a, Some("Y000000000000000000000"), None, 10)
                .unwrap(),
            vec![f2.clone()]
        );
        assert_eq!(store.fraudsters(a, None, None, 10).unwrap().len(), 2);
        assert_eq!(
            store
                .fraudsters(a, None, Some(&f.generated_id), 10)
                .unwrap(),
            vec![f2.clone()]
        );
        assert_eq!(
            store
                .count_fraudsters_in_watchlist(a, &wa.watchlist_id)
                .unwrap(),
            2
        );
        let mut moved = f2.clone();
        moved.watchlist_ids = vec!["Y000000000000000000000".into()];
        store.put_fraudster(&moved).unwrap();
        assert_eq!(
            store
                .count_fraudsters_in_watchlist(a, &wa.watchlist_id)
                .unwrap(),
            1
        );
        assert_eq!(store.fraudster(a, &f2.generated_id).unwrap(), Some(moved));
        assert!(store.delete_fraudster(a, &f.generated_id).unwrap());
        assert!(!store.delete_fraudster(a, &f.generated_id).unwrap());

        // Client tokens.
        rule.now("client tokens: replay records per scope");
        let tok = ClientTokenRecord {
            scope: "CreateDomain".into(),
            token: "tok-1".into(),
            domain_id: Some(a.into()),
            fingerprint: "fp".into(),
            response: "{}".into(),
            created_at: t(0),
        };
        store.put_client_token(&tok).unwrap();
        let mut second = tok.clone();
        second.fingerprint = "other".into();
        store.put_client_token(&second).unwrap();
        assert_eq!(
            store.client_token("CreateDomain", "tok-1").unwrap(),
            Some(tok.clone()),
            "first use wins"
        );
        assert_eq!(
            store.client_token("CreateWatchlist", "tok-1").unwrap(),
            None
        );
        assert_eq!(store.forget_client_tokens(t(0)).unwrap(), 0);
        let old = ClientTokenRecord {
            token: "tok-old".into(),
            created_at: t(0) - Duration::days(2),
            domain_id: None,
            ..tok.clone()
        };
        store.put_client_token(&old).unwrap();
        assert_eq!(store.forget_client_tokens(t(0)).unwrap(), 1);

        // Instances.
        rule.now("instances: association with one domain");
        let i1 = InstanceRecord {
            instance_id: "inst-1".into(),
            domain_id: a.into(),
            created_at: t(0),
        };
        store.put_instance(&i1).unwrap();
        store
            .put_instance(&InstanceRecord {
                instance_id: "inst-2".into(),
                ..i1.clone()
            })
            .unwrap();
        assert_eq!(store.instance("inst-1").unwrap(), Some(i1.clone()));
        assert_eq!(store.instances(a).unwrap().len(), 2);
        assert!(store.delete_instance("inst-2").unwrap());
        assert!(!store.delete_instance("inst-2").unwrap());

        // Jobs: by kind and id, the active ones across domains.
        rule.now("jobs: by kind and id, the active ones across domains");
        let job = |domain: &str, id: &str, kind, status| JobRecord {
            domain_id: domain.to_owned(),
            job_id: id.to_owned(),
            kind,
            status,
            created_at: t(5),
            job: serde_json::json!({"JobId": id, "JobStatus": status.as_str()}),
        };
        let j1 = job(a, "J1", JobKind::SpeakerEnrollment, JobStatus::Submitted);
        store.put_job(&j1).unwrap();
        store
            .put_job(&job(
                a,
                "J2",
                JobKind::FraudsterRegistration,
                JobStatus::Completed,
            ))
            .unwrap();
        store
            .put_job(&job(a, "J3", JobKind::SpeakerEnrollment, JobStatus::Failed))
            .unwrap();
        store
            .put_job(&job(
                b,
                "J0",
                JobKind::SpeakerEnrollment,
                JobStatus::InProgress,
            ))
            .unwrap();
        assert_eq!(store.job(a, "J1").unwrap(), Some(j1.clone()));
        assert_eq!(store.job(b, "J1").unwrap(), None);
        let ids = |jobs: Vec<JobRecord>| jobs.into_iter().map(|j| j.job_id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.jobs(a, JobKind::SpeakerEnrollment, None, 10).unwrap()),
            ["J1", "J3"]
        );
        assert_eq!(
            ids(store
                .jobs(a, JobKind::SpeakerEnrollment, Some("J1"), 10)
                .unwrap()),
            ["J3"]
        );
        assert_eq!(
            ids(store.jobs(a, JobKind::SpeakerEnrollment, None, 1).unwrap()),
            ["J1"]
        );
        assert_eq!(
            ids(store
                .jobs(a, JobKind::FraudsterRegistration, None, 10)
                .unwrap()),
            ["J2"]
        );
        let mut active = ids(store.active_jobs().unwrap());
        active.sort();
        assert_eq!(active, ["J0", "J1"]);
        let mut done = j1.clone();
        done.status = JobStatus::Completed;
        done.job = serde_json::json!({"JobId": "J1", "JobStatus": "COMPLETED"});
        store.put_job(&done).unwrap();
        assert_eq!(store.job(a, "J1").unwrap(), Some(done));
        assert_eq!(ids(store.active_jobs().unwrap()), ["J0"]);

        // Purge: nothing of domain a is left; domain b untouched.
        rule.now("purge: nothing of the domain is left, others untouched");
        store.put_blob(&vp, &sealed).unwrap();
        store.purge_domain(a).unwrap();
        assert_eq!(store.domain(a).unwrap(), None);
        assert_eq!(store.count_watchlists(a).unwrap(), 0);
        assert_eq!(store.count_speakers(a).unwrap(), 0);
        assert!(store.fraudsters(a, None, None, 10).unwrap().is_empty());
        assert_eq!(store.blob(&vp).unwrap(), None);
        assert_eq!(store.client_token("CreateDomain", "tok-1").unwrap(), None);
        assert_eq!(store.instance("inst-1").unwrap(), None);
        assert!(
            store
                .jobs(a, JobKind::SpeakerEnrollment, None, 10)
                .unwrap()
                .is_empty()
        );
        assert!(store.job(b, "J0").unwrap().is_some());
        assert_eq!(store.count_speakers(b).unwrap(), 1);
        assert_eq!(store.count_watchlists(b).unwrap(), 1);
        assert!(store.domain(b).unwrap().is_some());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_store_conforms() {
        super::conformance::run(&super::MemoryStore::default());
    }
}
