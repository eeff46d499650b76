//! Admission of an upgrade request: AudioHook headers, API key and signature.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::proto::message::is_uuid;
use crate::proto::signature::{ApiKeys, AuthError, CoveredRequest, NonceCache, verify};

/// Who was admitted: the identity headers of an authenticated upgrade request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admission {
    /// `Audiohook-Session-Id`.
    pub session_id: String,
    /// `Audiohook-Organization-Id`.
    pub organization_id: String,
    /// `Audiohook-Correlation-Id`.
    pub correlation_id: String,
    /// The authenticated `X-API-KEY`.
    pub api_key: String,
}

/// Why an upgrade request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A required header is missing or malformed (HTTP 400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Authentication failed (HTTP 401; the reason is logged, not sent).
    #[error("unauthorized: {0}")]
    Unauthorized(AuthError),
}

/// Checks upgrade requests against the configured API keys and secrets.
#[derive(Debug)]
pub struct Acceptor {
    keys: ApiKeys,
    nonces: Mutex<NonceCache>,
    failure_delay: Duration,
}

impl Acceptor {
    /// An acceptor for these keys; failures are answered no sooner than 500 ms after arrival.
    pub fn new(keys: ApiKeys) -> Self {
        Acceptor {
            keys,
            nonces: Mutex::new(NonceCache::default()),
            failure_delay: Duration::from_millis(500),
        }
    }

    /// Checks headers and signature; on failure, waits out the failure delay first so the time
    /// taken tells an attacker nothing.
    pub async fn admit(&self, request: &CoveredRequest) -> Result<Admission, Rejection> {
        let started = tokio::time::Instant::now();
        let result = self.check(request, unix_now());
        if result.is_err() {
            tokio::time::sleep_until(started + self.failure_delay).await;
        }
        result
    }

    fn check(&self, request: &CoveredRequest, now: u64) -> Result<Admission, Rejection> {
        let uuid_header = |name: &str| match request.header(name) {
            Some(v) if is_uuid(&v) => Ok(v),
            Some(_) => Err(Rejection::BadRequest(format!("{name} is not a UUID"))),
            None => Err(Rejection::BadRequest(format!("{name} header missing"))),
        };
        let session_id = uuid_header("audiohook-session-id")?;
        let organization_id = uuid_header("audiohook-organization-id")?;
        let correlation_id = uuid_header("audiohook-correlation-id")?;
        let api_key = {
            // A poisoned lock only means another request panicked mid-insert; the cache is
            // still a valid map, so keep using it.
            let mut nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
            verify(request, &self.keys, &mut nonces, now).map_err(Rejection::Unauthorized)?
        };
        Ok(Admission {
            session_id,
            organization_id,
            correlation_id,
            api_key,
        })
    }
}

/// The signed parts of an HTTP upgrade request.
pub fn signed_request(
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
    scheme: &str,
) -> CoveredRequest {
    let authority = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    CoveredRequest {
        method: method.to_string(),
        scheme: scheme.to_owned(),
        authority,
        request_target: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.to_string()),
        headers: headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
