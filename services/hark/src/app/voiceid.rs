//! Voice ID wiring: the keyring file, the service over the embedded store, `POST /` (AWS JSON
//! 1.0 with SigV4), the maintenance loop, and the `hark voiceid` operator commands. The rules
//! themselves live in `hark-voiceid`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hark_voiceid::crypto::DEFAULT_KEY_ID;
use hark_voiceid::http::{BodyLimits, EndpointHooks, VoiceIdEndpoint, max_body_bytes};
use hark_voiceid::sigv4;
use hark_voiceid::{Error, Keyring, Quotas, Settings, SystemClock, VoiceId};
use serde::{Deserialize, Serialize};

use crate::app::config::{Config, VoiceIdConfig};
use crate::app::credentials::{self, Credentials, CredentialsError, Secret};
use crate::app::metrics::{Metrics, OperationLabels, VoiceIdLabels};
use hark_voiceid::runtime::{BatchStorage, BroadcastEvents};

/// The keyring file inside the data directory (mode 0600).
pub const KEYRING_FILE: &str = "voiceid-keyring.toml";

/// What `DATA_DIR/voiceid-keyring.toml` holds: the page-token secret and generated keys.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    token_secret: Secret,
    #[serde(default)]
    keys: BTreeMap<String, Secret>,
}

/// The Voice ID endpoint: the service and the access keys it accepts.
#[derive(Debug)]
pub struct VoiceIdApi {
    /// The service.
    pub service: Arc<VoiceId>,
    /// Voice ID events, as JSON text, for `GET /v1/voiceid/events`.
    pub events: Arc<BroadcastEvents>,
    /// Where batch jobs read and write.
    pub batch: Arc<BatchStorage>,
    secrets: HashMap<String, Secret>,
    policy: sigv4::Policy,
    /// On a cluster: the database whose fleet-wide lock Voice ID writes take, so that quota
    /// checks and client-token replays (read, then write) see every instance's writes, as they
    /// see this process's writes through the service's own lock.
    fleet: Option<Arc<hark_store::PgStore>>,
}

fn decode_key(id: &str, b64: &Secret) -> Result<[u8; 32], String> {
    let bytes = B64
        .decode(b64.expose().trim())
        .map_err(|e| format!("key {id:?} is not base64: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("key {id:?} must be 32 bytes (AES-256), got {}", bytes.len()))
}

/// Loads the keyring: generated keys from DATA_DIR (creating `alias/hark-default` and the token
/// secret on first start when `generate` is set) plus `[voiceid.keys]` from the configuration.
/// Returns the keyring, the page-token secret, and whether the file was just created.
pub fn load_keyring(
    data_dir: &Path,
    config: &VoiceIdConfig,
    generate: bool,
) -> Result<(Keyring, Vec<u8>, bool), String> {
    let path = data_dir.join(KEYRING_FILE);
    let (file, created) = match std::fs::read_to_string(&path) {
        Ok(text) => {
            credentials::tighten_permissions(&path).map_err(|e| {
                format!(
                    "{} is readable by others and cannot be made private: {e}",
                    path.display()
                )
            })?;
            (
                toml::from_str::<KeyringFile>(&text)
                    .map_err(|e| format!("invalid {}: {e}", path.display()))?,
                false,
            )
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && generate => {
            let random =
                |what: &str| credentials::random_bytes::<32>().map_err(|e| format!("{what}: {e}"));
            let file = KeyringFile {
                token_secret: Secret::new(B64.encode(random("token secret")?)),
                keys: BTreeMap::from([(
                    DEFAULT_KEY_ID.to_owned(),
                    Secret::new(B64.encode(random("key")?)),
                )]),
            };
            let body = toml::to_string(&file).map_err(|e| e.to_string())?;
            credentials::write_private_text(
                &path,
                &format!(
                    "# hark Voice ID keyring, generated on first start: AES-256 keys that encrypt voiceprints\n\
                     # and audio at rest, and the secret that signs page tokens. Back it up; keep it secret.\n\n{body}"
                ),
            )
            .map_err(|e: CredentialsError| e.to_string())?;
            (file, true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
            KeyringFile {
                token_secret: Secret::new(B64.encode([0u8; 32])),
                keys: BTreeMap::new(),
            },
            false,
        ),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut keyring = Keyring::default();
    for (id, b64) in file.keys.iter().chain(config.keys.iter()) {
        keyring.insert(id.clone(), decode_key(id, b64)?);
    }
    let token_secret = B64
        .decode(file.token_secret.expose())
        .map_err(|e| format!("token_secret in {} is not base64: {e}", path.display()))?;
    Ok((keyring, token_secret, created))
}

pub(crate) fn settings(config: &VoiceIdConfig) -> Result<Settings, String> {
    let q = &config.quotas;
    let mut quotas = Quotas::default();
    quotas.domains = q.domains;
    quotas.speakers_per_domain = q.speakers_per_domain;
    quotas.watchlists_per_domain = q.watchlists_per_domain;
    quotas.fraudsters_per_watchlist = q.fraudsters_per_watchlist;
    quotas.sessions_per_domain = q.sessions_per_domain;
    let mut settings = Settings::default();
    settings.account_id = config.account_id.clone();
    settings.region = config.region.clone();
    settings.quotas = quotas;
    settings.rate_limits = config.rate_limits.clone();
    settings.check().map_err(|e| e.to_string())?;
    Ok(settings)
}

impl VoiceIdApi {
    /// Builds the endpoint over `store`: keyring from DATA_DIR and config, access keys from
    /// the credentials file and config; on a cluster, writes serialised across `fleet`.
    pub fn new(
        config: &Config,
        credentials: &Credentials,
        store: Arc<dyn hark_voiceid::store::VoiceIdStore>,
        fleet: Option<Arc<hark_store::PgStore>>,
    ) -> Result<VoiceIdApi, String> {
        let (keyring, token_secret, created) =
            load_keyring(&config.data_dir, &config.voiceid, true)?;
        if created {
            tracing::info!(
                file = KEYRING_FILE,
                key = DEFAULT_KEY_ID,
                "generated the Voice ID keyring"
            );
        }
        let service = VoiceId::new(
            store,
            Arc::new(SystemClock),
            keyring,
            &token_secret,
            settings(&config.voiceid)?,
        );
        let events = Arc::new(BroadcastEvents::new());
        let roots = if config.voiceid.batch_file_roots.is_empty() {
            vec![config.data_dir.join("voiceid-batch")]
        } else {
            config.voiceid.batch_file_roots.clone()
        };
        let s3 = config
            .voiceid
            .s3
            .clone()
            .or_else(|| config.recording.s3.clone());
        let batch = Arc::new(BatchStorage::new(s3, roots).map_err(|e| e.to_string())?);
        // One process per SQLite file: a job still running in the store was this process's.
        // On PostgreSQL another live instance may be running it.
        if config.database_url.is_none() {
            let interrupted = service.fail_interrupted_jobs().map_err(|e| e.to_string())?;
            if interrupted > 0 {
                tracing::warn!(
                    jobs = interrupted,
                    "voiceid batch jobs interrupted by a restart marked FAILED"
                );
            }
        }
        let mut secrets = HashMap::new();
        secrets.insert(
            credentials.voiceid.access_key_id.clone(),
            credentials.voiceid.secret_access_key.clone(),
        );
        for k in &config.voiceid.access_keys {
            secrets.insert(k.access_key_id.clone(), k.secret_access_key.clone());
        }
        Ok(VoiceIdApi {
            service: Arc::new(service),
            events,
            batch,
            secrets,
            policy: sigv4::Policy {
                allowed_hosts: config.voiceid.allowed_hosts.clone(),
            },
            fleet,
        })
    }

    /// The HTTP endpoint of the service: the accepted access keys and `Host` policy, bodies read
    /// within `body_timeout`, and the service's hooks — on a cluster, changes inside the
    /// fleet-wide lock; an audit line per change; request metrics.
    pub fn endpoint(&self, metrics: Arc<Metrics>, body_timeout: Duration) -> VoiceIdEndpoint {
        let mut endpoint = VoiceIdEndpoint::new(Arc::clone(&self.service))
            .with_policy(self.policy.clone())
            .with_body_limits(BodyLimits::new(max_body_bytes(), body_timeout))
            .with_hooks(Arc::new(ServiceHooks {
                fleet: self.fleet.clone(),
                metrics,
            }));
        for (id, secret) in &self.secrets {
            endpoint = endpoint.with_access_key(id, secret.expose());
        }
        endpoint
    }
}

/// What the service adds around Voice ID requests.
struct ServiceHooks {
    /// On a cluster: the database whose fleet-wide lock Voice ID writes take, so that quota
    /// checks and client-token replays (read, then write) see every instance's writes, as they
    /// see this process's writes through the service's own lock.
    fleet: Option<Arc<hark_store::PgStore>>,
    metrics: Arc<Metrics>,
}

impl EndpointHooks for ServiceHooks {
    fn around_change(
        &self,
        _target: &str,
        change: &mut dyn FnMut() -> Result<serde_json::Value, Error>,
    ) -> Result<serde_json::Value, Error> {
        let _fleet = match &self.fleet {
            Some(store) => Some(
                store
                    .lock_exclusive(VOICEID_WRITES)
                    .map_err(|e| Error::Internal(e.to_string()))?,
            ),
            None => None,
        };
        change()
    }

    fn changed(
        &self,
        caller: &sigv4::Caller,
        target: &str,
        body: &[u8],
        result: &Result<serde_json::Value, Error>,
    ) {
        audit_change(caller, target, body, result);
    }

    fn answered(&self, operation: &str, outcome: &str, elapsed: Duration) {
        let m = &self.metrics;
        m.voiceid_duration
            .get_or_create(&OperationLabels {
                operation: operation.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
        m.voiceid_requests
            .get_or_create(&VoiceIdLabels {
                operation: operation.to_owned(),
                code: outcome.to_owned(),
            })
            .inc();
    }
}

/// One audit line for a Voice ID change: who (access key id), which operation, which domain,
/// the outcome. Customer speaker ids never appear: only generated ids from the answer.
fn audit_change(
    caller: &sigv4::Caller,
    target: &str,
    body: &[u8],
    result: &Result<serde_json::Value, Error>,
) {
    let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let domain = request["DomainId"].as_str().unwrap_or_default();
    let outcome = match result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    };
    let answer = result.as_ref().ok();
    let generated = answer
        .and_then(|v| {
            v["Speaker"]["GeneratedSpeakerId"]
                .as_str()
                .or(v["Fraudster"]["GeneratedFraudsterId"].as_str())
        })
        .unwrap_or_default();
    tracing::info!(
        target: crate::app::logging::AUDIT,
        actor = %caller.access_key_id,
        action = target,
        domain,
        generated_id = generated,
        outcome,
        "audit"
    );
}

/// The fleet-wide lock Voice ID writes take on a cluster.
pub const VOICEID_WRITES: &str = "voiceid-writes";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keyring_is_generated_once_privately_and_merged_with_config() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut config = VoiceIdConfig::default();
        let (ring, secret, created) = load_keyring(dir.path(), &config, true).unwrap();
        assert!(created && ring.contains(DEFAULT_KEY_ID) && secret.len() == 32);
        let path = dir.path().join(KEYRING_FILE);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        config
            .keys
            .insert("alias/mine".into(), Secret::new(B64.encode([1u8; 32])));
        let (ring2, secret2, created) = load_keyring(dir.path(), &config, true).unwrap();
        assert!(!created && ring2.contains("alias/mine") && ring2.contains(DEFAULT_KEY_ID));
        assert_eq!(secret, secret2);
        config
            .keys
            .insert("alias/short".into(), Secret::new(B64.encode([1u8; 16])));
        let e = load_keyring(dir.path(), &config, true).unwrap_err();
        assert!(e.contains("32 bytes"), "{e}");
    }

    #[test]
    fn a_keyring_left_readable_by_others_is_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let config = VoiceIdConfig::default();
        load_keyring(dir.path(), &config, true).unwrap();
        let path = dir.path().join(KEYRING_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        load_keyring(dir.path(), &config, true).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn settings_are_checked() {
        let mut c = VoiceIdConfig::default();
        assert!(settings(&c).is_ok());
        c.rate_limits.insert("ListSpeekers".into(), 1.0);
        assert!(
            settings(&c)
                .unwrap_err()
                .contains("not a Voice ID operation")
        );
        c.rate_limits.clear();
        c.account_id = "12".into();
        assert!(settings(&c).is_err());
    }
}
