//! The Voice ID API over HTTP (feature `http`): what an application mounts to answer the AWS JSON
//! protocol as Amazon Connect Voice ID did, so the AWS SDKs and CLI work against it.
//!
//! [`VoiceIdEndpoint`] is the engine plus who may call it: SigV4 access keys, the `Host` policy,
//! body limits, and [`EndpointHooks`] for what the application adds (a fleet-wide section around
//! changes, an audit line, metrics). [`VoiceIdEndpoint::router`] is the axum `Router` for
//! `POST /`: the SigV4 headers are checked before a byte of the body is read, the signature over
//! exactly the bytes received, the operation runs on the blocking pool (it queries the store), and
//! every answer carries `x-amzn-RequestId` and, for errors, `x-amzn-ErrorType`. The `hark`
//! service mounts this same router.

mod router;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
pub use hark_http::boundary::BodyLimits;
use serde_json::Value;

use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::service::VoiceId;
use crate::sigv4::{self, Caller, SignedRequest};

pub use router::answer;

/// The content type of every Voice ID request and response.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// What the application adds around requests; every method has a do-nothing default.
pub trait EndpointHooks: Send + Sync + 'static {
    /// Runs a change (any operation that is not read-only) — e.g. inside a fleet-wide lock so
    /// that quota checks see every instance's writes. The default just runs it.
    fn around_change(
        &self,
        target: &str,
        change: &mut dyn FnMut() -> Result<Value, Error>,
    ) -> Result<Value, Error> {
        let _ = target;
        change()
    }

    /// A change was attempted by `caller` (for an audit log); `body` is the request.
    fn changed(&self, caller: &Caller, target: &str, body: &[u8], result: &Result<Value, Error>) {
        let _ = (caller, target, body, result);
    }

    /// A request was answered: its operation (`unknown` unless signed and known), the outcome
    /// (`ok` or the AWS error code) and how long it took (for metrics).
    fn answered(&self, operation: &str, outcome: &str, elapsed: Duration) {
        let _ = (operation, outcome, elapsed);
    }
}

/// Hooks that add nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;
impl EndpointHooks for NoHooks {}

/// The Voice ID API of one engine: who may call it and how requests are read.
pub struct VoiceIdEndpoint {
    service: Arc<VoiceId>,
    secrets: HashMap<String, String>,
    policy: sigv4::Policy,
    limits: BodyLimits,
    hooks: Arc<dyn EndpointHooks>,
}

impl std::fmt::Debug for VoiceIdEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Access keys are listed by id only: the secrets never reach a log.
        f.debug_struct("VoiceIdEndpoint")
            .field("access_keys", &self.secrets.keys().collect::<Vec<_>>())
            .field("policy", &self.policy)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl VoiceIdEndpoint {
    /// An endpoint for `service` accepting no access key yet (add some with
    /// [`Self::with_access_key`]); bodies up to the largest request of the AWS model, read within
    /// 10 s; any `Host`.
    pub fn new(service: Arc<VoiceId>) -> Self {
        VoiceIdEndpoint {
            service,
            secrets: HashMap::new(),
            policy: sigv4::Policy::default(),
            limits: BodyLimits::new(max_body_bytes(), Duration::from_secs(10)),
            hooks: Arc::new(NoHooks),
        }
    }

    /// Accepts requests signed with this access key pair.
    pub fn with_access_key(mut self, access_key_id: &str, secret_access_key: &str) -> Self {
        self.secrets
            .insert(access_key_id.to_owned(), secret_access_key.to_owned());
        self
    }

    /// Accepts only the `Host` values of `policy` (when it lists any).
    pub fn with_policy(mut self, policy: sigv4::Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Reads bodies within `limits` (the size is capped at the model's largest request).
    pub fn with_body_limits(mut self, limits: BodyLimits) -> Self {
        self.limits = BodyLimits::new(limits.max_bytes.min(max_body_bytes()), limits.timeout);
        self
    }

    /// Calls `hooks` around changes and after every answer.
    pub fn with_hooks(mut self, hooks: Arc<dyn EndpointHooks>) -> Self {
        self.hooks = hooks;
        self
    }

    /// The engine behind the endpoint.
    pub fn service(&self) -> &Arc<VoiceId> {
        &self.service
    }

    /// The body limits in force.
    pub fn body_limits(&self) -> BodyLimits {
        self.limits
    }

    /// Checks what a request's headers alone decide (scope, date, key, signed headers, host),
    /// before its body is read.
    pub fn precheck(&self, headers: &HeaderMap) -> Result<(), Error> {
        sigv4::precheck(
            &header_pairs(headers),
            SystemClock.now(),
            &self.policy,
            |key| self.secrets.get(key).cloned(),
        )
    }

    /// Checks a whole request's SigV4 signature; who signed it.
    pub fn authenticate(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Caller, Error> {
        let pairs = header_pairs(headers);
        let request = SignedRequest {
            method,
            path,
            query,
            headers: &pairs,
            body,
        };
        sigv4::verify(&request, SystemClock.now(), &self.policy, |key| {
            self.secrets.get(key).cloned()
        })
    }

    /// Authenticates and answers one `POST` (blocking: it queries the store).
    pub fn serve(
        &self,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, Error> {
        let caller = self.authenticate("POST", path, query, headers, body)?;
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Error::UnknownOperation(
                    "Missing X-Amz-Target header: expected VoiceID.<Operation>".into(),
                )
            })?;
        if crate::api::is_read_only(target) {
            return self.service.handle(target, body);
        }
        let result = self
            .hooks
            .around_change(target, &mut || self.service.handle(target, body));
        self.hooks.changed(&caller, target, body, &result);
        result
    }
}

/// The largest request body of the AWS model (about 320 KB: CreateDomain with 200 tags).
pub fn max_body_bytes() -> usize {
    crate::model::model().max_input_bytes()
}

/// The request headers as name/value pairs (values that are not text are left out).
pub fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}
