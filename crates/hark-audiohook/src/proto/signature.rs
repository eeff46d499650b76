//! HTTP message signatures (the RFC 9421 subset AudioHook uses) on the WebSocket upgrade request.
//!
//! The client signs six components — `@request-target`, `@authority` and the four AudioHook
//! headers — with HMAC-SHA256 keyed by its base64-decoded client secret, under the label `sig1`.
//! The server parses `Signature-Input` and `Signature` as RFC 8941 dictionaries, rebuilds the
//! signature base in the order the client listed the components, checks freshness with 3 s of
//! clock skew, compares the MAC in constant time and refuses a nonce it has seen before.
//! Everything here is pure: the current time is an argument.

use std::collections::{HashMap, VecDeque};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::sfv::{self, BareItem, Item, Member, Parameters};

/// The components Genesys signs, in its order; all are required.
pub const REQUIRED_COMPONENTS: [&str; 6] = [
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
];
/// The only algorithm accepted.
pub const ALGORITHM: &str = "hmac-sha256";
/// Seconds a peer's clock may be ahead of or behind ours.
pub const MAX_CLOCK_SKEW: u64 = 3;
/// Seconds after `created` that a signature stays acceptable (minus the skew).
pub const MAX_SIGNATURE_AGE: u64 = 10;
/// Shortest nonce accepted.
pub const MIN_NONCE_LEN: usize = 22;
/// Signature label.
pub const LABEL: &str = "sig1";

type HmacSha256 = Hmac<Sha256>;

/// The parts of an HTTP request that signatures cover.
#[derive(Clone, Debug, Default)]
pub struct CoveredRequest {
    /// `GET`.
    pub method: String,
    /// `http` or `https` (`ws`/`wss` map to these).
    pub scheme: String,
    /// The `Host` header value, e.g. `audiohook.example.com` or `127.0.0.1:3000`.
    pub authority: String,
    /// Path and query as received, e.g. `/audiohook/ws?x=1`.
    pub request_target: String,
    /// Header fields as (name, value); names compared case-insensitively.
    pub headers: Vec<(String, String)>,
}

impl CoveredRequest {
    /// The field value of `name`: trimmed, several lines joined with `", "`.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    fn component(&self, id: &str) -> Result<String, AuthError> {
        let (path, query) = match self.request_target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.request_target.as_str(), None),
        };
        Ok(match id {
            "@request-target" => self.request_target.clone(),
            "@authority" => self.authority.to_ascii_lowercase(),
            "@method" => self.method.to_ascii_uppercase(),
            "@scheme" => self.scheme.to_ascii_lowercase(),
            "@target-uri" => format!(
                "{}://{}{}",
                self.scheme.to_ascii_lowercase(),
                self.authority.to_ascii_lowercase(),
                self.request_target
            ),
            "@path" => path.to_owned(),
            "@query" => format!("?{}", query.unwrap_or("")),
            derived if derived.starts_with('@') => {
                return Err(AuthError::Malformed(format!(
                    "component {derived} not supported"
                )));
            }
            header => self
                .header(header)
                .ok_or_else(|| AuthError::MissingHeader(header.to_owned()))?
                .split(['\r', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        })
    }
}

/// Why a request failed authentication. Logged on the server; never sent to the client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `X-API-KEY` header.
    #[error("X-API-KEY header missing")]
    MissingApiKey,
    /// The API key is not configured.
    #[error("unknown API key")]
    UnknownKey,
    /// The key has a client secret but the request is unsigned (or half-signed).
    #[error("request is not signed but the API key requires a signature")]
    MissingSignature,
    /// A header the signature covers is absent.
    #[error("signed header {0} missing")]
    MissingHeader(String),
    /// The signature headers do not parse or lack a required part.
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// A required component is not covered.
    #[error("component {0} not covered by the signature")]
    MissingComponent(&'static str),
    /// An algorithm other than `hmac-sha256`.
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// `keyid` differs from `X-API-KEY`.
    #[error("keyid does not match X-API-KEY")]
    KeyIdMismatch,
    /// The nonce is missing or shorter than 22 characters.
    #[error("nonce missing or shorter than 22 characters")]
    WeakNonce,
    /// `created` is in the future beyond the allowed skew.
    #[error("signature created in the future")]
    NotYetValid,
    /// `expires` has passed (or passes within the skew).
    #[error("signature expired")]
    Expired,
    /// `created` is too long ago.
    #[error("signature too old")]
    TooOld,
    /// The MAC does not match.
    #[error("signatures do not match")]
    BadSignature,
    /// The nonce was used before.
    #[error("nonce replayed")]
    ReplayedNonce,
}

/// The API keys a server accepts, each with its client secret (raw bytes) or none.
#[derive(Clone, Debug, Default)]
pub struct ApiKeys {
    keys: HashMap<String, Option<Vec<u8>>>,
}

impl ApiKeys {
    /// Adds a key; `client_secret` is the base64 text as configured in Genesys (or `None`).
    pub fn insert(
        &mut self,
        api_key: &str,
        client_secret: Option<&str>,
    ) -> Result<(), base64::DecodeError> {
        let secret = client_secret.map(|s| STANDARD.decode(s)).transpose()?;
        self.keys.insert(api_key.to_owned(), secret);
        Ok(())
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Nonces seen recently, remembered only as long as a signature using them could still be fresh.
#[derive(Debug)]
pub struct NonceCache {
    seen: HashMap<String, u64>,
    expiry: VecDeque<(u64, String)>,
    capacity: usize,
}

impl NonceCache {
    /// A cache holding at most `capacity` nonces at once.
    pub fn new(capacity: usize) -> Self {
        NonceCache {
            seen: HashMap::new(),
            expiry: VecDeque::new(),
            capacity,
        }
    }

    /// Records `nonce` until `forget_at`; false if it is already known (a replay) or the cache is
    /// full of still-fresh nonces (refusing is safer than forgetting).
    fn insert(&mut self, nonce: &str, forget_at: u64, now: u64) -> bool {
        while let Some((at, _)) = self.expiry.front() {
            if *at > now {
                break;
            }
            if let Some((_, old)) = self.expiry.pop_front() {
                self.seen.remove(&old);
            }
        }
        if self.seen.contains_key(nonce) || self.seen.len() >= self.capacity {
            return false;
        }
        self.seen.insert(nonce.to_owned(), forget_at);
        // Signatures are checked in arrival order and all live ~10 s, so forget times arrive
        // nearly sorted; keeping the queue sorted by inserting from the back is cheap.
        let pos = self
            .expiry
            .iter()
            .rposition(|(at, _)| *at <= forget_at)
            .map_or(0, |p| p + 1);
        self.expiry.insert(pos, (forget_at, nonce.to_owned()));
        true
    }
}

impl Default for NonceCache {
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

/// The signature parameters a client chooses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureParams {
    /// The API key.
    pub key_id: String,
    /// At least 22 characters, random.
    pub nonce: String,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds (Genesys: created + 30).
    pub expires: u64,
}

/// The two headers a signed request carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// `Signature-Input` value.
    pub signature_input: String,
    /// `Signature` value.
    pub signature: String,
}

/// Signs `request` over [`REQUIRED_COMPONENTS`]; the request must already carry the headers.
pub fn sign(
    request: &CoveredRequest,
    client_secret: &[u8],
    params: &SignatureParams,
) -> Result<SignatureHeaders, AuthError> {
    let items: Vec<Item> = REQUIRED_COMPONENTS
        .iter()
        .map(|c| Item {
            bare: BareItem::String((*c).to_owned()),
            params: vec![],
        })
        .collect();
    let list_params: Parameters = vec![
        ("keyid".into(), BareItem::String(params.key_id.clone())),
        ("nonce".into(), BareItem::String(params.nonce.clone())),
        ("alg".into(), BareItem::String(ALGORITHM.into())),
        ("created".into(), BareItem::Integer(params.created as i64)),
        ("expires".into(), BareItem::Integer(params.expires as i64)),
    ];
    let base = signature_base(request, &items, &list_params)?;
    let mac = hmac(client_secret, base.as_bytes());
    Ok(SignatureHeaders {
        signature_input: format!(
            "{LABEL}={}",
            sfv::serialize_inner_list(&items, &list_params)
        ),
        signature: format!("{LABEL}=:{}:", STANDARD.encode(mac)),
    })
}

/// Verifies the API key and, when its secret requires it, the signature of an upgrade request
/// at Unix time `now`; returns the authenticated API key.
pub fn verify(
    request: &CoveredRequest,
    keys: &ApiKeys,
    nonces: &mut NonceCache,
    now: u64,
) -> Result<String, AuthError> {
    let api_key = request
        .header("x-api-key")
        .ok_or(AuthError::MissingApiKey)?;
    let (input, signature) = (
        request.header("signature-input"),
        request.header("signature"),
    );
    let secret = keys.keys.get(&api_key);
    let (input, signature) = match (input, signature, secret) {
        (None, None, Some(None)) => return Ok(api_key),
        (None, None, None) => return Err(AuthError::UnknownKey),
        (Some(i), Some(s), _) => (i, s),
        _ => return Err(AuthError::MissingSignature),
    };
    let parsed = ParsedSignature::parse(&input, &signature)?;
    parsed.check_parameters(&api_key, now)?;
    let base = signature_base(request, &parsed.items, &parsed.params)?;
    // An unknown key (or a key without secret that still signed) gets a MAC with a throwaway
    // key, so the time taken does not tell whether the key exists.
    let key: &[u8] = match secret {
        Some(Some(s)) => s,
        _ => &[0u8; 32],
    };
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| AuthError::BadSignature)?;
    mac.update(base.as_bytes());
    let matches = mac.verify_slice(&parsed.mac).is_ok();
    match secret {
        None => return Err(AuthError::UnknownKey),
        Some(None) => return Err(AuthError::BadSignature),
        Some(Some(_)) if !matches => return Err(AuthError::BadSignature),
        Some(Some(_)) => {}
    }
    let forget_at = parsed.created + MAX_SIGNATURE_AGE + MAX_CLOCK_SKEW;
    if !nonces.insert(&parsed.nonce, forget_at, now) {
        return Err(AuthError::ReplayedNonce);
    }
    Ok(api_key)
}

/// `Signature-Input` and `Signature` for our label, parsed and typed.
struct ParsedSignature {
    items: Vec<Item>,
    params: Parameters,
    mac: Vec<u8>,
    key_id: String,
    nonce: String,
    created: u64,
    expires: u64,
}

impl ParsedSignature {
    fn parse(input: &str, signature: &str) -> Result<Self, AuthError> {
        let malformed = |what: &str| AuthError::Malformed(what.to_owned());
        let input = sfv::parse_dictionary(input)
            .map_err(|e| AuthError::Malformed(format!("Signature-Input: {e}")))?;
        let signature = sfv::parse_dictionary(signature)
            .map_err(|e| AuthError::Malformed(format!("Signature: {e}")))?;
        // With several labels, use the first, as the reference verifier does.
        let (label, member) = input
            .into_iter()
            .next()
            .ok_or_else(|| malformed("Signature-Input is empty"))?;
        let Member::InnerList { items, params } = member else {
            return Err(malformed("Signature-Input member is not an inner list"));
        };
        let mac = match signature.into_iter().find(|(l, _)| *l == label) {
            Some((
                _,
                Member::Item(Item {
                    bare: BareItem::ByteSequence(b),
                    ..
                }),
            )) => b,
            Some(_) => return Err(malformed("Signature member is not a byte sequence")),
            None => return Err(malformed("no Signature for the Signature-Input label")),
        };
        let mut ids = Vec::new();
        for item in &items {
            match &item.bare {
                BareItem::String(id) if id == "@signature-params" => {
                    return Err(malformed("@signature-params must not be covered"));
                }
                BareItem::String(id) if id.chars().all(|c| !c.is_ascii_uppercase()) => {
                    ids.push(id.as_str())
                }
                _ => return Err(malformed("components must be lower-case strings")),
            }
        }
        if let Some(missing) = REQUIRED_COMPONENTS.iter().find(|c| !ids.contains(c)) {
            return Err(AuthError::MissingComponent(missing));
        }
        let (mut key_id, mut nonce, mut alg, mut created, mut expires) =
            (None, None, None, None, None);
        for (key, value) in &params {
            match (key.as_str(), value) {
                ("keyid", BareItem::String(s)) => key_id = Some(s.clone()),
                ("nonce", BareItem::String(s)) => nonce = Some(s.clone()),
                ("alg", BareItem::String(s)) => alg = Some(s.clone()),
                ("created", BareItem::Integer(n)) if *n >= 0 => created = Some(*n as u64),
                ("expires", BareItem::Integer(n)) if *n >= 0 => expires = Some(*n as u64),
                (k, _) => {
                    return Err(AuthError::Malformed(format!(
                        "signature parameter {k} unknown or mistyped"
                    )));
                }
            }
        }
        match alg {
            Some(a) if a == ALGORITHM => {}
            Some(a) => return Err(AuthError::UnsupportedAlgorithm(a)),
            None => return Err(malformed("alg missing")),
        }
        Ok(ParsedSignature {
            items,
            params,
            mac,
            key_id: key_id.ok_or_else(|| malformed("keyid missing"))?,
            nonce: nonce.ok_or(AuthError::WeakNonce)?,
            created: created.ok_or_else(|| malformed("created missing"))?,
            expires: expires.ok_or_else(|| malformed("expires missing"))?,
        })
    }

    fn check_parameters(&self, api_key: &str, now: u64) -> Result<(), AuthError> {
        if self.key_id != api_key {
            return Err(AuthError::KeyIdMismatch);
        }
        if self.nonce.chars().count() < MIN_NONCE_LEN {
            return Err(AuthError::WeakNonce);
        }
        if self.created > now + MAX_CLOCK_SKEW {
            return Err(AuthError::NotYetValid);
        }
        if self.expires < now + MAX_CLOCK_SKEW {
            return Err(AuthError::Expired);
        }
        if self.created + MAX_SIGNATURE_AGE < now + MAX_CLOCK_SKEW {
            return Err(AuthError::TooOld);
        }
        Ok(())
    }
}

/// The signature base: one `"id": value` line per component in the listed order, then the
/// `@signature-params` line; LF-separated, no trailing newline.
pub fn signature_base(
    request: &CoveredRequest,
    items: &[Item],
    params: &Parameters,
) -> Result<String, AuthError> {
    let mut base = String::new();
    for item in items {
        let BareItem::String(id) = &item.bare else {
            return Err(AuthError::Malformed("components must be strings".into()));
        };
        base.push_str(&format!("\"{id}\": {}\n", request.component(id)?));
    }
    base.push_str(&format!(
        "\"@signature-params\": {}",
        sfv::serialize_inner_list(items, params)
    ));
    Ok(base)
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = HmacSha256::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests;
