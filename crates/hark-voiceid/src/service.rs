//! The Voice ID service: every control-plane operation, soft delete and purge, expiry,
//! encryption at rest with background re-encryption, idempotency, paging, quotas, rate limits
//! and instance association — over any [`VoiceIdStore`] and [`Clock`], without transport.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use chrono::{DateTime, Duration, Months, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::{
    self, CreateDomain, CreateWatchlist, Page, Request, UpdateDomain, UpdateWatchlist,
};
use crate::clock::Clock;
use crate::crypto::Keyring;
use crate::effects::{Effect, EffectQueue};
use crate::error::Error;
use crate::events::Event;
use crate::ids;
use crate::records::*;
use crate::session_registry::SessionRegistry;
use crate::store::VoiceIdStore;
use crate::token::TokenSigner;
use crate::watchlist_index::WatchlistIndexes;
use hark_voiceprint::encoder::Encoder;
use hark_voiceprint::{Calibration, Embedder, PartialBatcher};

/// Speakers not accessed for this many months become `EXPIRED`.
pub const EXPIRY_MONTHS: u32 = 36;
/// Soft-deleted domains are erased this many days after DeleteDomain.
pub const PURGE_AFTER_DAYS: i64 = 30;
/// Client tokens are remembered this long.
pub const CLIENT_TOKEN_HOURS: i64 = 24;
/// Name of the watchlist every domain is created with.
pub const DEFAULT_WATCHLIST_NAME: &str = "Default";

/// The quotas (AWS defaults), answered with `ServiceQuotaExceededException` (402).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quotas {
    /// Domains per account.
    pub domains: u64,
    /// Speakers per domain.
    pub speakers_per_domain: u64,
    /// Watchlists per domain, the default one included.
    pub watchlists_per_domain: u64,
    /// Fraudsters per watchlist.
    pub fraudsters_per_watchlist: u64,
    /// Sessions per domain that have not ended.
    pub sessions_per_domain: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            domains: 3,
            speakers_per_domain: 100_000,
            watchlists_per_domain: 3,
            fraudsters_per_watchlist: 500,
            sessions_per_domain: 50,
        }
    }
}

/// Service settings.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Settings {
    /// The 12-digit account id in domain ARNs.
    pub account_id: String,
    /// The region in domain ARNs.
    pub region: String,
    /// Quotas.
    pub quotas: Quotas,
    /// Requests per second per operation name (burst = rate); absent = unlimited.
    pub rate_limits: BTreeMap<String, f64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            quotas: Quotas::default(),
            rate_limits: BTreeMap::new(),
        }
    }
}

/// Settings that cannot work, naming the `hark.toml` key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// Not 12 digits.
    #[error("[voiceid] account_id {0:?} must be 12 digits")]
    AccountId(String),
    /// Empty, or would break an ARN.
    #[error("[voiceid] region {0:?} is not a region")]
    Region(String),
    /// A rate limit on an operation the model does not have.
    #[error("[voiceid.rate_limits] {0:?} is not a Voice ID operation")]
    UnknownOperation(String),
    /// A rate that is not a positive number.
    #[error("[voiceid.rate_limits] {0} = {1}: must be a positive number of requests per second")]
    Rate(String, f64),
}

impl Settings {
    /// Refuses settings that would make wrong ARNs or name no operation.
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SettingsError::AccountId(self.account_id.clone()));
        }
        if self.region.is_empty() || self.region.contains(':') {
            return Err(SettingsError::Region(self.region.clone()));
        }
        let model = crate::model::model();
        for (op, &rate) in &self.rate_limits {
            if !model.has_operation(op) {
                return Err(SettingsError::UnknownOperation(op.clone()));
            }
            if !(rate.is_finite() && rate > 0.0) {
                return Err(SettingsError::Rate(op.clone(), rate));
            }
        }
        Ok(())
    }
}

/// What one [`VoiceId::maintain`] pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Speakers that became `EXPIRED` (voiceprint and audio deleted).
    pub expired_speakers: u64,
    /// Soft-deleted domains erased for good.
    pub purged_domains: Vec<String>,
    /// Blobs re-encrypted under a domain's new key.
    pub reencrypted_blobs: u64,
    /// Whether a re-encryption is still running (call again soon).
    pub reencryption_pending: bool,
    /// Client tokens forgotten.
    pub forgotten_client_tokens: u64,
    /// Ended sessions forgotten.
    pub forgotten_sessions: u64,
    /// Watchlist indexes built ahead of the first session that needs them.
    pub warmed_watchlists: u64,
}

/// The Voice ID service.
#[derive(Debug)]
pub struct VoiceId {
    pub(crate) store: Arc<dyn VoiceIdStore>,
    clock: Arc<dyn Clock>,
    keyring: Keyring,
    tokens: TokenSigner,
    pub(crate) settings: Settings,
    writes: Mutex<()>,
    buckets: Mutex<HashMap<String, (f64, DateTime<Utc>)>>,
    /// Live sessions.
    pub(crate) sessions: SessionRegistry,
    /// Fraudster voiceprints per watchlist, decrypted.
    pub(crate) watchlist_indexes: WatchlistIndexes,
    /// Cosine similarity → 0..100 scores.
    pub(crate) calibration: Calibration,
    /// The speaker encoder, loaded with the first session, and the batcher that runs all live
    /// sessions' partials through it together.
    batcher: OnceLock<Arc<PartialBatcher>>,
    /// What the shell must carry out, in order.
    pub(crate) effects: EffectQueue,
    /// Decisions, enrolments and jobs counted for metrics.
    pub(crate) counters: crate::stats::Counters,
}

/// Told the domain id whenever fraudsters of that domain change (a shell passes
/// [`Effect::FraudstersChanged`] on to one).
pub trait FraudsterObserver: Send + Sync + std::fmt::Debug {
    /// This service changed `domain_id`'s fraudsters or their watchlists.
    fn fraudsters_changed(&self, domain_id: &str);
}

/// A timestamp as the AWS JSON protocol sends it: epoch seconds.
pub(crate) fn ts(t: DateTime<Utc>) -> Value {
    json!(t.timestamp_millis() as f64 / 1000.0)
}

fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

fn to_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(3600), 0).unwrap_or(t)
}

impl VoiceId {
    /// A service over `store`, telling time by `clock`, sealing with `keyring`, signing page
    /// tokens with `token_secret`.
    pub fn new(
        store: Arc<dyn VoiceIdStore>,
        clock: Arc<dyn Clock>,
        keyring: Keyring,
        token_secret: &[u8],
        settings: Settings,
    ) -> Self {
        VoiceId {
            store,
            clock,
            keyring,
            tokens: TokenSigner::new(token_secret),
            settings,
            writes: Mutex::new(()),
            buckets: Mutex::new(HashMap::new()),
            sessions: SessionRegistry::default(),
            watchlist_indexes: WatchlistIndexes::default(),
            calibration: Calibration::default(),
            batcher: OnceLock::new(),
            effects: EffectQueue::default(),
            counters: crate::stats::Counters::default(),
        }
    }

    fn fraudsters_changed(&self, domain_id: &str) {
        self.effects.push(Effect::FraudstersChanged {
            domain_id: domain_id.to_owned(),
        });
    }

    /// The next effect, if one is queued.
    pub fn poll_effect(&self) -> Option<Effect> {
        self.effects.lock().pop_front()
    }

    /// The next effect, waiting up to `timeout` for one (for a shell's effect thread).
    pub fn wait_effect(&self, timeout: std::time::Duration) -> Option<Effect> {
        let queue = self.effects.lock();
        let (mut queue, _) = self
            .effects
            .ready
            .wait_timeout_while(queue, timeout, |q| q.is_empty())
            .unwrap_or_else(|p| p.into_inner());
        queue.pop_front()
    }

    /// Effects dropped because nobody took them (the queue holds [`crate::effects::EFFECT_CAPACITY`]).
    pub fn dropped_effects(&self) -> u64 {
        self.effects
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What the service has counted so far, and its live levels.
    pub fn stats(&self) -> crate::stats::Stats {
        let tallies = self.counters.lock().clone();
        let bounds = crate::stats::DECISION_BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds.zip(tallies.first_decision).collect();
        crate::stats::Stats {
            live_sessions: self.sessions.live(),
            decisions: tallies
                .decisions
                .into_iter()
                .map(|((kind, result), n)| (kind.to_owned(), result, n))
                .collect(),
            enrolments: tallies
                .enrolments
                .into_iter()
                .map(|(s, n)| (s.to_owned(), n))
                .collect(),
            jobs: tallies
                .jobs
                .into_iter()
                .map(|(s, n)| (s.to_owned(), n))
                .collect(),
            first_decision_count: buckets.iter().map(|(_, n)| n).sum(),
            first_decision_buckets: buckets,
            first_decision_sum: tallies.first_decision_sum,
            watchlist_fraudsters: self.watchlist_indexes.sizes(),
        }
    }

    /// Drops and rebuilds a domain's watchlist indexes: another process changed its fraudsters.
    pub fn reload_watchlists(&self, domain_id: &str) -> Result<u64, Error> {
        self.watchlist_indexes.forget_domain(domain_id);
        self.warm_watchlists()
    }

    /// Publishes an event in its EventBridge envelope.
    pub(crate) fn publish(&self, event: Event) {
        let Ok(id) = ids::unique_id() else { return };
        let envelope = event.envelope(
            &id,
            self.now(),
            &self.settings.region,
            &self.settings.account_id,
        );
        self.effects.push(Effect::Event(envelope));
    }

    /// The speaker encoder (the embedded GE2E weights), loaded on first use.
    pub(crate) fn encoder(&self) -> Result<Arc<Encoder>, Error> {
        Ok(Arc::clone(self.batcher()?.encoder()))
    }

    /// The batcher shared by every live session's audio, around [`Self::encoder`].
    pub(crate) fn batcher(&self) -> Result<Arc<PartialBatcher>, Error> {
        if let Some(b) = self.batcher.get() {
            return Ok(Arc::clone(b));
        }
        let embedder = Embedder::embedded()
            .map_err(|e| Error::Internal(format!("cannot load the voiceprint encoder: {e}")))?;
        Ok(Arc::clone(self.batcher.get_or_init(|| {
            Arc::new(PartialBatcher::new(Arc::clone(embedder.encoder())))
        })))
    }

    /// Scores with `calibration` instead of the built-in one (fitted with `hark voiceprint eval`).
    pub fn set_calibration(&mut self, calibration: Calibration) {
        self.calibration = calibration;
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The store (for operator tools).
    pub fn store(&self) -> &Arc<dyn VoiceIdStore> {
        &self.store
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        to_millis(self.clock.now())
    }

    pub(crate) fn write(&self) -> MutexGuard<'_, ()> {
        self.writes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers one request: `target` is the `X-Amz-Target` value, `body` the raw body. The
    /// result is the response body (200) or the error to send.
    pub fn handle(&self, target: &str, body: &[u8]) -> Result<Value, Error> {
        let (request, raw) = api::decode(target, body)?;
        self.throttle(request.operation())?;
        self.execute(request, &raw)
    }

    fn throttle(&self, operation: &str) -> Result<(), Error> {
        let Some(&rate) = self.settings.rate_limits.get(operation) else {
            return Ok(());
        };
        let now = self.clock.now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets
            .entry(operation.to_owned())
            .or_insert((rate.max(1.0), now));
        let elapsed = (now - *last).num_milliseconds().max(0) as f64 / 1000.0;
        *tokens = (*tokens + elapsed * rate).min(rate.max(1.0));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Error::Throttling(format!(
                "Rate exceeded: {operation} is limited to {rate} requests per second"
            )))
        }
    }

    /// Runs a decoded request.
    pub fn execute(&self, request: Request, raw: &Value) -> Result<Value, Error> {
        match request {
            Request::CreateDomain(c) => self.create_domain(c, raw),
            Request::DescribeDomain { domain_id } => {
                let d = self.live_domain(&domain_id)?;
                Ok(json!({ "Domain": self.domain_json(&d) }))
            }
            Request::UpdateDomain(u) => self.update_domain(u),
            Request::DeleteDomain { domain_id } => {
                let _w = self.write();
                let mut d = self.live_domain(&domain_id)?;
                d.deleted_at = Some(self.now());
                self.store.update_domain(&d)?;
                Ok(json!({}))
            }
            Request::ListDomains(page) => self.list_domains(&page),
            Request::DescribeSpeaker {
                domain_id,
                speaker_id,
            } => {
                self.active_domain(&domain_id)?;
                let s = self.find_speaker(&domain_id, &speaker_id)?;
                Ok(json!({ "Speaker": self.speaker_json(&s) }))
            }
            Request::DeleteSpeaker {
                domain_id,
                speaker_id,
            } => {
                let _w = self.write();
                self.active_domain(&domain_id)?;
                let s = self.find_speaker(&domain_id, &speaker_id)?;
                self.store.delete_speaker(&domain_id, &s.generated_id)?;
                Ok(json!({}))
            }
            Request::OptOutSpeaker {
                domain_id,
                speaker_id,
            } => self.opt_out(&domain_id, &speaker_id),
            Request::ListSpeakers { domain_id, page } => {
                self.active_domain(&domain_id)?;
                let (after, limit) = self.page_start("ListSpeakers", &[&domain_id], &page, 100)?;
                let items = self
                    .store
                    .speakers(&domain_id, after.as_deref(), limit + 1)?;
                self.page_json(
                    "ListSpeakers",
                    &[&domain_id],
                    "SpeakerSummaries",
                    items,
                    limit,
                    |s| s.generated_id.clone(),
                    |s| self.speaker_json(s),
                )
            }
            Request::DescribeFraudster {
                domain_id,
                fraudster_id,
            } => {
                self.active_domain(&domain_id)?;
                let f = self.find_fraudster(&domain_id, &fraudster_id)?;
                Ok(json!({ "Fraudster": fraudster_json(&f) }))
            }
            Request::DeleteFraudster {
                domain_id,
                fraudster_id,
            } => {
                let _w = self.write();
                self.active_domain(&domain_id)?;
                self.find_fraudster(&domain_id, &fraudster_id)?;
                self.store.delete_fraudster(&domain_id, &fraudster_id)?;
                self.watchlist_indexes
                    .removed(&domain_id, None, &fraudster_id);
                self.fraudsters_changed(&domain_id);
                Ok(json!({}))
            }
            Request::ListFraudsters {
                domain_id,
                watchlist_id,
                page,
            } => {
                self.active_domain(&domain_id)?;
                if let Some(w) = &watchlist_id {
                    self.find_watchlist(&domain_id, w)?;
                }
                let filter = watchlist_id.clone().unwrap_or_default();
                let args = [domain_id.as_str(), filter.as_str()];
                let (after, limit) = self.page_start("ListFraudsters", &args, &page, 100)?;
                let items = self.store.fraudsters(
                    &domain_id,
                    watchlist_id.as_deref(),
                    after.as_deref(),
                    limit + 1,
                )?;
                self.page_json(
                    "ListFraudsters",
                    &args,
                    "FraudsterSummaries",
                    items,
                    limit,
                    |f| f.generated_id.clone(),
                    fraudster_json,
                )
            }
            Request::CreateWatchlist(c) => self.create_watchlist(c, raw),
            Request::DescribeWatchlist {
                domain_id,
                watchlist_id,
            } => {
                self.active_domain(&domain_id)?;
                let w = self.find_watchlist(&domain_id, &watchlist_id)?;
                Ok(json!({ "Watchlist": watchlist_json(&w) }))
            }
            Request::UpdateWatchlist(u) => self.update_watchlist(u),
            Request::DeleteWatchlist {
                domain_id,
                watchlist_id,
            } => self.delete_watchlist(&domain_id, &watchlist_id),
            Request::ListWatchlists { domain_id, page } => {
                self.active_domain(&domain_id)?;
                let (after, limit) =
                    self.page_start("ListWatchlists", &[&domain_id], &page, 100)?;
                let items = self
                    .store
                    .watchlists(&domain_id, after.as_deref(), limit + 1)?;
                self.page_json(
                    "ListWatchlists",
                    &[&domain_id],
                    "WatchlistSummaries",
                    items,
                    limit,
                    |w| w.watchlist_id.clone(),
                    watchlist_json,
                )
            }
            Request::AssociateFraudster {
                domain_id,
                fraudster_id,
                watchlist_id,
            } => self.associate(&domain_id, &fraudster_id, &watchlist_id),
            Request::DisassociateFraudster {
                domain_id,
                fraudster_id,
                watchlist_id,
            } => self.disassociate(&domain_id, &fraudster_id, &watchlist_id),
            Request::TagResource { resource_arn, tags } => {
                let _w = self.write();
                let mut d = self.domain_by_arn(&resource_arn)?;
                for tag in tags {
                    d.tags.retain(|t| t.key != tag.key);
                    d.tags.push(tag);
                }
                if d.tags.len() > 200 {
                    return Err(Error::Validation(format!(
                        "A resource can have at most 200 tags; this request would give it {}",
                        d.tags.len()
                    )));
                }
                d.tags.sort_by(|a, b| a.key.cmp(&b.key));
                self.store.update_domain(&d)?;
                Ok(json!({}))
            }
            Request::UntagResource {
                resource_arn,
                tag_keys,
            } => {
                let _w = self.write();
                let mut d = self.domain_by_arn(&resource_arn)?;
                d.tags.retain(|t| !tag_keys.contains(&t.key));
                self.store.update_domain(&d)?;
                Ok(json!({}))
            }
            Request::ListTagsForResource { resource_arn } => {
                let d = self.domain_by_arn(&resource_arn)?;
                Ok(json!({ "Tags": d.tags }))
            }
            Request::Other {
                operation,
                domain_id,
                body,
            } => self.batch_job(&operation, &domain_id, &body),
            Request::EvaluateSession {
                domain_id,
                session_name_or_id,
            } => self.evaluate_session(&domain_id, &session_name_or_id),
            Request::StartSession(r) => self.start_session(*r),
            Request::UpdateSession(r) => self.update_session(*r),
            Request::DescribeSession {
                domain_id,
                session_name_or_id,
            } => self.describe_session(&domain_id, &session_name_or_id),
            Request::EnrollBySession {
                domain_id,
                session_name_or_id,
                overwrite,
            } => self.enroll_by_session(&domain_id, &session_name_or_id, overwrite),
            Request::EndSession {
                domain_id,
                session_name_or_id,
            } => self.end_session(&domain_id, &session_name_or_id),
            Request::AssociateInstance {
                instance_id,
                domain_id,
            } => self.associate_instance(&instance_id, &domain_id),
            Request::DisassociateInstance { instance_id } => {
                let _w = self.write();
                if self.store.delete_instance(&instance_id)? {
                    Ok(json!({}))
                } else {
                    Err(Error::not_found(
                        ResourceType::Domain,
                        format!("Instance {instance_id} is not associated with a domain"),
                    ))
                }
            }
            Request::DescribeInstance { instance_id } => {
                match self.instance_domain(&instance_id)? {
                    Some(domain_id) => {
                        Ok(json!({"InstanceId": instance_id, "DomainId": domain_id}))
                    }
                    None => Err(Error::not_found(
                        ResourceType::Domain,
                        format!("Instance {instance_id} is not associated with a domain"),
                    )),
                }
            }
            Request::ListInstances { domain_id } => {
                self.live_domain(&domain_id)?;
                let list: Vec<Value> = self
                    .store
                    .instances(&domain_id)?
                    .iter()
                    .map(|i| json!({"InstanceId": i.instance_id, "DomainId": i.domain_id, "CreatedAt": ts(i.created_at)}))
                    .collect();
                Ok(json!({ "Instances": list }))
            }
        }
    }

    // ---- lookups -------------------------------------------------------------------------

    /// A domain that exists and is not soft-deleted (else 404 `DOMAIN`).
    pub fn live_domain(&self, domain_id: &str) -> Result<DomainRecord, Error> {
        match self.store.domain(domain_id)? {
            Some(d) if d.deleted_at.is_none() => Ok(d),
            _ => Err(Error::domain_not_found(domain_id)),
        }
    }

    /// A live domain whose key is usable (else 403, as AWS answers for a revoked KMS key).
    pub fn active_domain(&self, domain_id: &str) -> Result<DomainRecord, Error> {
        let d = self.live_domain(domain_id)?;
        if !self.keyring.contains(&d.kms_key_id) {
            return Err(Error::AccessDenied(format!(
                "The domain's encryption key {:?} is not in hark's keyring; add it to [voiceid.keys] and restart",
                d.kms_key_id
            )));
        }
        Ok(d)
    }

    fn domain_status(&self, d: &DomainRecord) -> DomainStatus {
        if self.keyring.contains(&d.kms_key_id) {
            DomainStatus::Active
        } else {
            DomainStatus::Suspended
        }
    }

    fn find_speaker(&self, domain_id: &str, speaker_id: &str) -> Result<SpeakerRecord, Error> {
        self.store
            .speaker(domain_id, SpeakerRef::of(speaker_id))?
            .ok_or_else(|| Error::not_found(ResourceType::Speaker, "Speaker not found"))
    }

    fn find_fraudster(&self, domain_id: &str, id: &str) -> Result<FraudsterRecord, Error> {
        self.store
            .fraudster(domain_id, id)?
            .ok_or_else(|| Error::not_found(ResourceType::Fraudster, "Fraudster not found"))
    }

    pub(crate) fn find_watchlist(
        &self,
        domain_id: &str,
        id: &str,
    ) -> Result<WatchlistRecord, Error> {
        self.store.watchlist(domain_id, id)?.ok_or_else(|| {
            Error::not_found(ResourceType::Watchlist, format!("Watchlist {id} not found"))
        })
    }

    fn domain_by_arn(&self, arn: &str) -> Result<DomainRecord, Error> {
        // The model's pattern was checked: arn:aws(-x)?:voiceid:<region>:<account>:domain/<id>.
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let domain_id = arn.rsplit('/').next().unwrap_or_default();
        if parts.len() != 6
            || parts[3] != self.settings.region
            || parts[4] != self.settings.account_id
        {
            return Err(Error::not_found(
                ResourceType::Domain,
                format!("Resource {arn} not found"),
            ));
        }
        self.live_domain(domain_id)
    }

    /// The status a speaker has now (`ENROLLED` past its three years reads as `EXPIRED`).
    pub fn speaker_status(&self, s: &SpeakerRecord) -> SpeakerStatus {
        if s.status == SpeakerStatus::Enrolled && self.is_stale(s, self.now()) {
            SpeakerStatus::Expired
        } else {
            s.status
        }
    }

    fn expiry_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_sub_months(Months::new(EXPIRY_MONTHS))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    fn is_stale(&self, s: &SpeakerRecord, now: DateTime<Utc>) -> bool {
        s.last_accessed_at.unwrap_or(s.created_at) <= Self::expiry_cutoff(now)
    }

    // ---- JSON shapes ---------------------------------------------------------------------

    fn arn(&self, domain_id: &str) -> String {
        format!(
            "arn:aws:voiceid:{}:{}:domain/{domain_id}",
            self.settings.region, self.settings.account_id
        )
    }

    fn domain_json(&self, d: &DomainRecord) -> Value {
        let mut v = json!({
            "Arn": self.arn(&d.domain_id),
            "CreatedAt": ts(d.created_at),
            "DomainId": d.domain_id,
            "DomainStatus": self.domain_status(d).as_str(),
            "Name": d.name,
            "ServerSideEncryptionConfiguration": {"KmsKeyId": d.kms_key_id},
            "UpdatedAt": ts(d.updated_at),
            "WatchlistDetails": {"DefaultWatchlistId": d.default_watchlist_id},
        });
        if let Some(desc) = &d.description {
            v["Description"] = json!(desc);
        }
        if let Some(u) = &d.sse_update {
            let mut details =
                json!({"OldKmsKeyId": u.old_kms_key_id, "UpdateStatus": u.status.as_str()});
            if let Some(m) = &u.message {
                details["Message"] = json!(m);
            }
            v["ServerSideEncryptionUpdateDetails"] = details;
        }
        v
    }

    fn speaker_json(&self, s: &SpeakerRecord) -> Value {
        let mut v = json!({
            "CreatedAt": ts(s.created_at),
            "DomainId": s.domain_id,
            "GeneratedSpeakerId": s.generated_id,
            "Status": self.speaker_status(s).as_str(),
            "UpdatedAt": ts(s.updated_at),
        });
        if let Some(c) = &s.customer_id {
            v["CustomerSpeakerId"] = json!(c);
        }
        if let Some(t) = s.last_accessed_at {
            v["LastAccessedAt"] = ts(t);
        }
        v
    }

    // ---- paging --------------------------------------------------------------------------

    pub(crate) fn page_start(
        &self,
        operation: &str,
        args: &[&str],
        page: &Page,
        max: u32,
    ) -> Result<(Option<String>, usize), Error> {
        let limit = page.max_results.unwrap_or(max).clamp(1, max) as usize;
        let after = match &page.next_token {
            Some(t) => Some(self.tokens.check(t, operation, args, self.now())?),
            None => None,
        };
        Ok((after, limit))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn page_json<T>(
        &self,
        operation: &str,
        args: &[&str],
        key: &str,
        mut items: Vec<T>,
        limit: usize,
        id: impl Fn(&T) -> String,
        render: impl Fn(&T) -> Value,
    ) -> Result<Value, Error> {
        let more = items.len() > limit;
        items.truncate(limit);
        let mut out = json!({ key: items.iter().map(render).collect::<Vec<_>>() });
        if more && let Some(last) = items.last() {
            out["NextToken"] = json!(self.tokens.issue(operation, args, &id(last), self.now())?);
        }
        Ok(out)
    }

    // ---- idempotency ---------------------------------------------------------------------

    fn fingerprint(raw: &Value) -> String {
        let mut v = raw.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("ClientToken");
        }
        let digest = Sha256::digest(v.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub(crate) fn replay(
        &self,
        scope: &str,
        token: Option<&str>,
        raw: &Value,
    ) -> Result<Option<Value>, Error> {
        let Some(token) = token else { return Ok(None) };
        let Some(seen) = self.store.client_token(scope, token)? else {
            return Ok(None);
        };
        if seen.fingerprint != Self::fingerprint(raw) {
            return Err(Error::Validation(format!(
                "ClientToken {token:?} was already used with different parameters"
            )));
        }
        serde_json::from_str(&seen.response)
            .map(Some)
            .map_err(|e| Error::Internal(format!("stored response: {e}")))
    }

    pub(crate) fn remember(
        &self,
        scope: &str,
        token: Option<&str>,
        domain_id: &str,
        raw: &Value,
        response: &Value,
    ) -> Result<(), Error> {
        if let Some(token) = token {
            self.store.put_client_token(&ClientTokenRecord {
                scope: scope.to_owned(),
                token: token.to_owned(),
                domain_id: Some(domain_id.to_owned()),
                fingerprint: Self::fingerprint(raw),
                response: response.to_string(),
                created_at: self.now(),
            })?;
        }
        Ok(())
    }

    // ---- domains -------------------------------------------------------------------------

    fn known_key(&self, key_id: &str) -> Result<(), Error> {
        if self.keyring.contains(key_id) {
            return Ok(());
        }
        let known: Vec<&str> = self.keyring.ids().collect();
        Err(Error::Validation(format!(
            "KmsKeyId {key_id:?} is not a key in hark's keyring (known keys: {}); add it under [voiceid.keys] in hark.toml",
            known.join(", ")
        )))
    }

    fn create_domain(&self, c: CreateDomain, raw: &Value) -> Result<Value, Error> {
        let _w = self.write();
        let token = c.client_token.as_deref();
        if let Some(previous) = self.replay("CreateDomain", token, raw)? {
            return Ok(previous);
        }
        let key = &c.server_side_encryption_configuration.kms_key_id;
        self.known_key(key)?;
        let quota = self.settings.quotas.domains;
        if self.store.count_live_domains()? >= quota {
            return Err(Error::QuotaExceeded(format!(
                "The account already has {quota} domains, the maximum"
            )));
        }
        let now = self.now();
        let domain_id = ids::unique_id()?;
        let mut tags: Vec<Tag> = Vec::new();
        for tag in c.tags {
            tags.retain(|t| t.key != tag.key);
            tags.push(tag);
        }
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        let watchlist = WatchlistRecord {
            domain_id: domain_id.clone(),
            watchlist_id: ids::unique_id()?,
            name: DEFAULT_WATCHLIST_NAME.into(),
            description: Some("Default watchlist of the domain".into()),
            default_watchlist: true,
            created_at: now,
            updated_at: now,
        };
        let domain = DomainRecord {
            domain_id: domain_id.clone(),
            name: c.name,
            description: c.description,
            kms_key_id: key.clone(),
            sse_update: None,
            default_watchlist_id: watchlist.watchlist_id.clone(),
            tags,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        self.store.insert_domain(&domain, &watchlist)?;
        let response = json!({ "Domain": self.domain_json(&domain) });
        self.remember("CreateDomain", token, &domain_id, raw, &response)?;
        Ok(response)
    }

    fn update_domain(&self, u: UpdateDomain) -> Result<Value, Error> {
        let _w = self.write();
        let mut d = self.live_domain(&u.domain_id)?;
        let new_key = u.server_side_encryption_configuration.kms_key_id;
        self.known_key(&new_key)?;
        let running = d
            .sse_update
            .as_ref()
            .is_some_and(|s| s.status == SseUpdateStatus::InProgress);
        if new_key != d.kms_key_id {
            if running {
                return Err(Error::conflict(
                    ConflictType::DomainLockedFromEncryptionUpdates,
                    "The domain is being re-encrypted under its new key; change the key again once ServerSideEncryptionUpdateDetails.UpdateStatus is COMPLETED",
                ));
            }
            d.sse_update = Some(SseUpdate {
                old_kms_key_id: std::mem::replace(&mut d.kms_key_id, new_key),
                status: SseUpdateStatus::InProgress,
                message: None,
            });
        } else if let Some(u) = &mut d.sse_update
            && u.status == SseUpdateStatus::Failed
        {
            // Same configuration again after a failure: retry (as AWS documents).
            u.status = SseUpdateStatus::InProgress;
            u.message = None;
        }
        d.name = u.name;
        d.description = u.description;
        d.updated_at = self.now();
        self.store.update_domain(&d)?;
        Ok(json!({ "Domain": self.domain_json(&d) }))
    }

    fn list_domains(&self, page: &Page) -> Result<Value, Error> {
        let (after, limit) = self.page_start("ListDomains", &[], page, 10)?;
        let items = self.store.domains(after.as_deref(), limit + 1, false)?;
        self.page_json(
            "ListDomains",
            &[],
            "DomainSummaries",
            items,
            limit,
            |d| d.domain_id.clone(),
            |d| self.domain_json(d),
        )
    }

    /// Brings a soft-deleted domain back (operator command `hark voiceid restore-domain`).
    pub fn restore_domain(&self, domain_id: &str) -> Result<DomainRecord, Error> {
        let _w = self.write();
        let mut d = self.store.domain(domain_id)?.ok_or_else(|| {
            Error::not_found(
                ResourceType::Domain,
                format!("Domain {domain_id} does not exist (never created, or already purged)"),
            )
        })?;
        if d.deleted_at.is_none() {
            return Err(Error::Validation(format!(
                "Domain {domain_id} is not deleted"
            )));
        }
        d.deleted_at = None;
        d.updated_at = self.now();
        self.store.update_domain(&d)?;
        Ok(d)
    }

    // ---- speakers ------------------------------------------------------------------------

    fn opt_out(&self, domain_id: &str, speaker_id: &str) -> Result<Value, Error> {
        let _w = self.write();
        self.active_domain(domain_id)?;
        let now = self.now();
        let speaker = match self.store.speaker(domain_id, SpeakerRef::of(speaker_id))? {
            Some(mut s) => {
                s.status = SpeakerStatus::OptedOut;
                s.updated_at = now;
                self.store.delete_blobs(domain_id, &s.generated_id)?;
                s
            }
            None => {
                if let SpeakerRef::Generated(_) = SpeakerRef::of(speaker_id) {
                    return Err(Error::not_found(
                        ResourceType::Speaker,
                        "Speaker not found: a new speaker can only be created with a CustomerSpeakerId",
                    ));
                }
                self.new_speaker(domain_id, speaker_id, SpeakerStatus::OptedOut)?
            }
        };
        self.store.put_speaker(&speaker)?;
        Ok(json!({ "Speaker": self.speaker_json(&speaker) }))
    }

    /// A new speaker record for a customer id (not stored yet), within the domain's quota.
    pub(crate) fn new_speaker(
        &self,
        domain_id: &str,
        customer_id: &str,
        status: SpeakerStatus,
    ) -> Result<SpeakerRecord, Error> {
        self.check_speaker_quota(domain_id)?;
        let now = self.now();
        Ok(SpeakerRecord {
            domain_id: domain_id.to_owned(),
            generated_id: ids::generated_id()?,
            customer_id: Some(customer_id.to_owned()),
            status,
            created_at: now,
            updated_at: now,
            last_accessed_at: None,
        })
    }

    pub(crate) fn check_speaker_quota(&self, domain_id: &str) -> Result<(), Error> {
        let quota = self.settings.quotas.speakers_per_domain;
        if self.store.count_speakers(domain_id)? >= quota {
            return Err(Error::QuotaExceeded(format!(
                "The domain already has {quota} speakers, the maximum"
            )));
        }
        Ok(())
    }

    // ---- watchlists and fraudsters -------------------------------------------------------

    fn create_watchlist(&self, c: CreateWatchlist, raw: &Value) -> Result<Value, Error> {
        let _w = self.write();
        self.active_domain(&c.domain_id)?;
        let scope = format!("CreateWatchlist/{}", c.domain_id);
        let token = c.client_token.as_deref();
        if let Some(previous) = self.replay(&scope, token, raw)? {
            return Ok(previous);
        }
        let quota = self.settings.quotas.watchlists_per_domain;
        if self.store.count_watchlists(&c.domain_id)? >= quota {
            return Err(Error::QuotaExceeded(format!(
                "The domain already has {quota} watchlists (the default one included), the maximum"
            )));
        }
        let now = self.now();
        let w = WatchlistRecord {
            domain_id: c.domain_id.clone(),
            watchlist_id: ids::unique_id()?,
            name: c.name,
            description: c.description,
            default_watchlist: false,
            created_at: now,
            updated_at: now,
        };
        self.store.put_watchlist(&w)?;
        let response = json!({ "Watchlist": watchlist_json(&w) });
        self.remember(&scope, token, &c.domain_id, raw, &response)?;
        Ok(response)
    }

    fn update_watchlist(&self, u: UpdateWatchlist) -> Result<Value, Error> {
        let _w = self.write();
        self.active_domain(&u.domain_id)?;
        let mut w = self.find_watchlist(&u.domain_id, &u.watchlist_id)?;
        if w.default_watchlist {
            return Err(Error::Validation(
                "The default watchlist cannot be updated".into(),
            ));
        }
        if let Some(name) = u.name {
            w.name = name;
        }
        if let Some(description) = u.description {
            w.description = Some(description);
        }
        w.updated_at = self.now();
        self.store.put_watchlist(&w)?;
        Ok(json!({ "Watchlist": watchlist_json(&w) }))
    }

    fn delete_watchlist(&self, domain_id: &str, watchlist_id: &str) -> Result<Value, Error> {
        let _w = self.write();
        self.active_domain(domain_id)?;
        let w = self.find_watchlist(domain_id, watchlist_id)?;
        if w.default_watchlist {
            return Err(Error::Validation(
                "The default watchlist cannot be deleted".into(),
            ));
        }
        if self
            .store
            .count_fraudsters_in_watchlist(domain_id, watchlist_id)?
            > 0
        {
            return Err(Error::conflict(
                ConflictType::CannotDeleteNonEmptyWatchlist,
                "The watchlist still has fraudsters; disassociate or delete them first",
            ));
        }
        self.store.delete_watchlist(domain_id, watchlist_id)?;
        Ok(json!({}))
    }

    fn check_watchlist_room(&self, domain_id: &str, watchlist_id: &str) -> Result<(), Error> {
        let quota = self.settings.quotas.fraudsters_per_watchlist;
        if self
            .store
            .count_fraudsters_in_watchlist(domain_id, watchlist_id)?
            >= quota
        {
            return Err(Error::QuotaExceeded(format!(
                "Watchlist {watchlist_id} already has {quota} fraudsters, the maximum"
            )));
        }
        Ok(())
    }

    fn associate(
        &self,
        domain_id: &str,
        fraudster_id: &str,
        watchlist_id: &str,
    ) -> Result<Value, Error> {
        let _w = self.write();
        self.active_domain(domain_id)?;
        let mut f = self.find_fraudster(domain_id, fraudster_id)?;
        self.find_watchlist(domain_id, watchlist_id)?;
        if !f.watchlist_ids.iter().any(|w| w == watchlist_id) {
            self.check_watchlist_room(domain_id, watchlist_id)?;
            f.watchlist_ids.push(watchlist_id.to_owned());
            f.watchlist_ids.sort();
            self.store.put_fraudster(&f)?;
            match self.stored_voiceprint(domain_id, fraudster_id) {
                Ok(Some(vp)) => {
                    self.watchlist_indexes
                        .added(domain_id, watchlist_id, fraudster_id, &vp)
                }
                Ok(None) => {}
                Err(_) => self.watchlist_indexes.forget_domain(domain_id),
            }
            self.fraudsters_changed(domain_id);
        }
        Ok(json!({ "Fraudster": fraudster_json(&f) }))
    }

    fn disassociate(
        &self,
        domain_id: &str,
        fraudster_id: &str,
        watchlist_id: &str,
    ) -> Result<Value, Error> {
        let _w = self.write();
        self.active_domain(domain_id)?;
        let mut f = self.find_fraudster(domain_id, fraudster_id)?;
        self.find_watchlist(domain_id, watchlist_id)?;
        if !f.watchlist_ids.iter().any(|w| w == watchlist_id) {
            return Err(Error::Validation(format!(
                "Fraudster {fraudster_id} is not in watchlist {watchlist_id}"
            )));
        }
        if f.watchlist_ids.len() == 1 {
            return Err(Error::conflict(
                ConflictType::FraudsterMustBelongToAtLeastOneWatchlist,
                "A fraudster must belong to at least one watchlist; associate it with another one first or delete it",
            ));
        }
        f.watchlist_ids.retain(|w| w != watchlist_id);
        self.store.put_fraudster(&f)?;
        self.watchlist_indexes
            .removed(domain_id, Some(watchlist_id), fraudster_id);
        self.fraudsters_changed(domain_id);
        Ok(json!({ "Fraudster": fraudster_json(&f) }))
    }

    // ---- operations of the model served elsewhere ----------------------------------------

    // ---- instances -----------------------------------------------------------------------

    fn associate_instance(&self, instance_id: &str, domain_id: &str) -> Result<Value, Error> {
        let _w = self.write();
        self.live_domain(domain_id)?;
        if let Some(existing) = self.store.instance(instance_id)? {
            if existing.domain_id == domain_id {
                return Ok(json!({"InstanceId": instance_id, "DomainId": domain_id}));
            }
            return Err(Error::Conflict {
                conflict: None,
                message: format!(
                    "Instance {instance_id} already uses domain {}; an instance uses at most one domain, so disassociate it first",
                    existing.domain_id
                ),
            });
        }
        self.store.put_instance(&InstanceRecord {
            instance_id: instance_id.to_owned(),
            domain_id: domain_id.to_owned(),
            created_at: self.now(),
        })?;
        Ok(json!({"InstanceId": instance_id, "DomainId": domain_id}))
    }

    /// The live domain a contact-center instance uses, if any.
    pub fn instance_domain(&self, instance_id: &str) -> Result<Option<String>, Error> {
        Ok(match self.store.instance(instance_id)? {
            Some(i) if self.live_domain(&i.domain_id).is_ok() => Some(i.domain_id),
            _ => None,
        })
    }

    // ---- voiceprints and audio (for enrollment, authentication and registration) ---------

    fn blob_key(domain_id: &str, owner_id: &str, kind: BlobKind) -> BlobKey {
        BlobKey {
            domain_id: domain_id.to_owned(),
            owner_id: owner_id.to_owned(),
            kind,
        }
    }

    fn put_sealed(&self, domain: &DomainRecord, key: &BlobKey, plain: &[u8]) -> Result<(), Error> {
        let sealed = self.keyring.seal(&domain.kms_key_id, key, plain)?;
        self.store.put_blob(
            key,
            &SealedBlob {
                key_id: domain.kms_key_id.clone(),
                sealed,
            },
        )?;
        Ok(())
    }

    pub(crate) fn get_sealed(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, Error> {
        match self.store.blob(key)? {
            Some(b) => self.keyring.open(&b.key_id, key, &b.sealed).map(Some),
            None => Ok(None),
        }
    }

    /// Enrolls (or re-enrolls) a speaker by customer id with a voiceprint: `ENROLLED`,
    /// `LastAccessedAt` now (to the hour), voiceprint sealed under the domain key. Opted-out
    /// speakers are refused with `SPEAKER_OPTED_OUT`.
    pub fn enroll_speaker(
        &self,
        domain_id: &str,
        speaker_id: &str,
        voiceprint: &[u8],
    ) -> Result<SpeakerRecord, Error> {
        let _w = self.write();
        let domain = self.active_domain(domain_id)?;
        let now = self.now();
        let mut speaker = match self.store.speaker(domain_id, SpeakerRef::of(speaker_id))? {
            Some(s) if s.status == SpeakerStatus::OptedOut => {
                return Err(Error::conflict(
                    ConflictType::SpeakerOptedOut,
                    "The speaker opted out; delete the speaker before enrolling again",
                ));
            }
            Some(s) => s,
            None => {
                let SpeakerRef::Customer(customer) = SpeakerRef::of(speaker_id) else {
                    return Err(Error::not_found(ResourceType::Speaker, "Speaker not found"));
                };
                self.new_speaker(domain_id, customer, SpeakerStatus::Pending)?
            }
        };
        speaker.status = SpeakerStatus::Enrolled;
        speaker.updated_at = now;
        speaker.last_accessed_at = Some(to_hour(now));
        self.store.put_speaker(&speaker)?;
        let key = Self::blob_key(domain_id, &speaker.generated_id, BlobKind::Voiceprint);
        self.put_sealed(&domain, &key, voiceprint)?;
        Ok(speaker)
    }

    /// Records a successful authentication: `LastAccessedAt` moves to now (to the hour).
    pub fn record_authentication(
        &self,
        domain_id: &str,
        speaker_id: &str,
    ) -> Result<SpeakerRecord, Error> {
        let _w = self.write();
        self.active_domain(domain_id)?;
        let mut s = self.find_speaker(domain_id, speaker_id)?;
        s.last_accessed_at = Some(to_hour(self.now()));
        self.store.put_speaker(&s)?;
        Ok(s)
    }

    /// A speaker by either id, with its current status applied.
    pub fn speaker(&self, domain_id: &str, speaker_id: &str) -> Result<SpeakerRecord, Error> {
        self.active_domain(domain_id)?;
        let mut s = self.find_speaker(domain_id, speaker_id)?;
        s.status = self.speaker_status(&s);
        Ok(s)
    }

    /// A speaker's or fraudster's voiceprint bytes, decrypted; `None` when it has none.
    pub fn voiceprint(&self, domain_id: &str, owner_id: &str) -> Result<Option<Vec<u8>>, Error> {
        self.active_domain(domain_id)?;
        self.get_sealed(&Self::blob_key(domain_id, owner_id, BlobKind::Voiceprint))
    }

    /// Stores (replacing) the voiceprint of an existing speaker or fraudster (by generated id).
    pub fn set_voiceprint(
        &self,
        domain_id: &str,
        owner_id: &str,
        voiceprint: &[u8],
    ) -> Result<(), Error> {
        let _w = self.write();
        let domain = self.active_domain(domain_id)?;
        self.check_owner(domain_id, owner_id)?;
        self.put_sealed(
            &domain,
            &Self::blob_key(domain_id, owner_id, BlobKind::Voiceprint),
            voiceprint,
        )
    }

    /// Stores (replacing) a named piece of audio of an existing speaker or fraudster.
    pub fn put_audio(
        &self,
        domain_id: &str,
        owner_id: &str,
        name: &str,
        audio: &[u8],
    ) -> Result<(), Error> {
        let _w = self.write();
        let domain = self.active_domain(domain_id)?;
        self.check_owner(domain_id, owner_id)?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::Validation(format!(
                "audio name {name:?} must be [A-Za-z0-9_-]+"
            )));
        }
        self.put_sealed(
            &domain,
            &Self::blob_key(domain_id, owner_id, BlobKind::Audio(name.to_owned())),
            audio,
        )
    }

    /// A named piece of stored audio, decrypted.
    pub fn audio(
        &self,
        domain_id: &str,
        owner_id: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, Error> {
        self.active_domain(domain_id)?;
        self.get_sealed(&Self::blob_key(
            domain_id,
            owner_id,
            BlobKind::Audio(name.to_owned()),
        ))
    }

    /// Deletes a voiceprint and all audio of a speaker or fraudster.
    pub fn delete_biometrics(&self, domain_id: &str, owner_id: &str) -> Result<(), Error> {
        let _w = self.write();
        self.live_domain(domain_id)?;
        Ok(self.store.delete_blobs(domain_id, owner_id)?)
    }

    fn check_owner(&self, domain_id: &str, owner_id: &str) -> Result<(), Error> {
        let speaker = self
            .store
            .speaker(domain_id, SpeakerRef::Generated(owner_id))?;
        match speaker {
            Some(s) if s.status == SpeakerStatus::OptedOut => Err(Error::conflict(
                ConflictType::SpeakerOptedOut,
                "The speaker opted out; no voiceprint or audio is kept",
            )),
            Some(_) => Ok(()),
            None if self.store.fraudster(domain_id, owner_id)?.is_some() => Ok(()),
            None => Err(Error::not_found(
                ResourceType::Speaker,
                format!("No speaker or fraudster {owner_id}"),
            )),
        }
    }

    /// Registers a new fraudster in a watchlist (the default one when `None`), optionally with
    /// its voiceprint. Registration jobs use this; so does `hark voiceid add-fraudster`.
    pub fn register_fraudster(
        &self,
        domain_id: &str,
        watchlist_id: Option<&str>,
        voiceprint: Option<&[u8]>,
    ) -> Result<FraudsterRecord, Error> {
        let _w = self.write();
        let domain = self.active_domain(domain_id)?;
        let watchlist_id = watchlist_id.unwrap_or(&domain.default_watchlist_id);
        self.find_watchlist(domain_id, watchlist_id)?;
        self.check_watchlist_room(domain_id, watchlist_id)?;
        let f = FraudsterRecord {
            domain_id: domain_id.to_owned(),
            generated_id: ids::generated_id()?,
            watchlist_ids: vec![watchlist_id.to_owned()],
            created_at: self.now(),
        };
        self.store.put_fraudster(&f)?;
        if let Some(vp) = voiceprint {
            let key = Self::blob_key(domain_id, &f.generated_id, BlobKind::Voiceprint);
            self.put_sealed(&domain, &key, vp)?;
            match hark_voiceprint::Voiceprint::from_bytes(vp) {
                Ok(print) => {
                    self.watchlist_indexes
                        .added(domain_id, watchlist_id, &f.generated_id, &print)
                }
                // Not a voiceprint this engine reads: the watchlist is rebuilt (and says so).
                Err(_) => self.watchlist_indexes.forget_domain(domain_id),
            }
        }
        self.fraudsters_changed(domain_id);
        Ok(f)
    }

    // ---- maintenance ---------------------------------------------------------------------

    /// One maintenance pass at the clock's now: speakers past three years become `EXPIRED`
    /// (their voiceprints and audio are deleted), domains soft-deleted 30 days ago are erased,
    /// re-encryptions advance (in batches; see [`Maintenance::reencryption_pending`]), old
    /// client tokens are forgotten.
    pub fn maintain(&self) -> Result<Maintenance, Error> {
        let now = self.now();
        let mut report = Maintenance::default();
        // Expiry.
        let cutoff = Self::expiry_cutoff(now);
        loop {
            let _w = self.write();
            // `stale_speakers` is strict (<); expiry is at exactly three years, so nudge by 1 ms.
            let batch = self.store.stale_speakers(
                SpeakerStatus::Enrolled,
                cutoff + Duration::milliseconds(1),
                500,
            )?;
            if batch.is_empty() {
                break;
            }
            for mut s in batch {
                s.status = SpeakerStatus::Expired;
                s.updated_at = now;
                self.store.delete_blobs(&s.domain_id, &s.generated_id)?;
                self.store.put_speaker(&s)?;
                report.expired_speakers += 1;
            }
        }
        // Purge.
        let mut after: Option<String> = None;
        loop {
            let page = self.store.domains(after.as_deref(), 100, true)?;
            let Some(last) = page.last() else { break };
            after = Some(last.domain_id.clone());
            for d in page {
                if let Some(at) = d.deleted_at
                    && now - at >= Duration::days(PURGE_AFTER_DAYS)
                {
                    let _w = self.write();
                    self.store.purge_domain(&d.domain_id)?;
                    self.watchlist_indexes.forget_domain(&d.domain_id);
                    self.fraudsters_changed(&d.domain_id);
                    report.purged_domains.push(d.domain_id);
                }
            }
        }
        // Re-encryption.
        let mut after: Option<String> = None;
        loop {
            let page = self.store.domains(after.as_deref(), 100, false)?;
            let Some(last) = page.last() else { break };
            after = Some(last.domain_id.clone());
            for d in page {
                if d.sse_update
                    .as_ref()
                    .is_some_and(|u| u.status == SseUpdateStatus::InProgress)
                {
                    let (n, pending) = self.reencrypt_batch(&d.domain_id, 256)?;
                    report.reencrypted_blobs += n;
                    report.reencryption_pending |= pending;
                }
            }
        }
        report.warmed_watchlists = self.warm_watchlists()?;
        report.forgotten_sessions = self
            .sessions
            .sweep(now - Duration::minutes(crate::session_registry::SESSION_RETENTION_MINUTES));
        report.forgotten_client_tokens = self
            .store
            .forget_client_tokens(now - Duration::hours(CLIENT_TOKEN_HOURS))?;
        Ok(report)
    }

    /// Re-seals up to `limit` blobs of a domain under its current key; marks the update
    /// `COMPLETED` when none is left or `FAILED` when an old blob cannot be opened.
    fn reencrypt_batch(&self, domain_id: &str, limit: usize) -> Result<(u64, bool), Error> {
        let _w = self.write();
        let Some(mut d) = self.store.domain(domain_id)? else {
            return Ok((0, false));
        };
        let keys = self
            .store
            .blobs_not_under(domain_id, &d.kms_key_id, limit)?;
        let mut done = 0;
        let mut failure = None;
        for key in &keys {
            let Some(blob) = self.store.blob(key)? else {
                continue;
            };
            let resealed = self
                .keyring
                .open(&blob.key_id, key, &blob.sealed)
                .and_then(|plain| self.keyring.seal(&d.kms_key_id, key, &plain));
            match resealed {
                Ok(sealed) => {
                    self.store.put_blob(
                        key,
                        &SealedBlob {
                            key_id: d.kms_key_id.clone(),
                            sealed,
                        },
                    )?;
                    done += 1;
                }
                Err(e) => {
                    failure = Some(match e {
                        Error::AccessDenied(m) => m,
                        _ => format!(
                            "a voiceprint or audio blob could not be decrypted under key {:?}",
                            blob.key_id
                        ),
                    });
                    break;
                }
            }
        }
        let finished = failure.is_some() || keys.len() < limit;
        if finished && let Some(u) = &mut d.sse_update {
            match failure {
                Some(message) => {
                    u.status = SseUpdateStatus::Failed;
                    u.message = Some(message);
                }
                None => u.status = SseUpdateStatus::Completed,
            }
            self.store.update_domain(&d)?;
        }
        Ok((done, !finished))
    }
}

fn fraudster_json(f: &FraudsterRecord) -> Value {
    json!({
        "CreatedAt": ts(f.created_at),
        "DomainId": f.domain_id,
        "GeneratedFraudsterId": f.generated_id,
        "WatchlistIds": f.watchlist_ids,
    })
}

fn watchlist_json(w: &WatchlistRecord) -> Value {
    let mut v = json!({
        "CreatedAt": ts(w.created_at),
        "DefaultWatchlist": w.default_watchlist,
        "DomainId": w.domain_id,
        "Name": w.name,
        "UpdatedAt": ts(w.updated_at),
        "WatchlistId": w.watchlist_id,
    });
    if let Some(d) = &w.description {
        v["Description"] = json!(d);
    }
    v
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    #[test]
    fn settings_that_make_wrong_arns_or_name_no_operation_are_refused() {
        assert_eq!(Settings::default().check(), Ok(()));
        let with = |f: &dyn Fn(&mut Settings)| {
            let mut s = Settings::default();
            f(&mut s);
            s.check()
        };
        assert!(matches!(
            with(&|s| s.account_id = "12".into()),
            Err(SettingsError::AccountId(_))
        ));
        assert!(matches!(
            with(&|s| s.account_id = "12345678901x".into()),
            Err(SettingsError::AccountId(_))
        ));
        assert!(matches!(
            with(&|s| s.region = "us:east".into()),
            Err(SettingsError::Region(_))
        ));
        assert!(matches!(
            with(&|s| s.region.clear()),
            Err(SettingsError::Region(_))
        ));
        let e = with(&|s| {
            s.rate_limits.insert("ListSpeekers".into(), 1.0);
        });
        assert_eq!(
            e,
            Err(SettingsError::UnknownOperation("ListSpeekers".into()))
        );
        let e = with(&|s| {
            s.rate_limits.insert("ListSpeakers".into(), 0.0);
        });
        assert_eq!(e, Err(SettingsError::Rate("ListSpeakers".into(), 0.0)));
        assert_eq!(
            with(&|s| {
                s.rate_limits.insert("ListSpeakers".into(), 5.0);
            }),
            Ok(())
        );
    }
}
