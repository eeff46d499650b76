//! `NextToken`s: opaque, tamper-evident, bound to the request's arguments, valid 24 hours.
//!
//! A token is `base64url(payload) "." base64url(tag)` where the payload is JSON
//! `{"o": operation, "a": hash of the filter arguments, "c": cursor, "t": issued at}` and the
//! tag is HMAC-SHA256 over the payload with a secret of the service. The cursor is the last id
//! of the page, so paging is keyset paging: stable under inserts and deletes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// How long a token stays valid.
pub const TOKEN_LIFETIME_HOURS: i64 = 24;

#[derive(Serialize, Deserialize)]
struct Payload {
    o: String,
    a: String,
    c: String,
    t: i64,
}

/// Issues and checks page tokens with one secret.
#[derive(Clone)]
pub struct TokenSigner {
    secret: Vec<u8>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(***)")
    }
}

fn arguments_hash(args: &[&str]) -> String {
    let mut h = Sha256::new();
    for a in args {
        h.update(a.as_bytes());
        h.update([0]);
    }
    B64.encode(&h.finalize()[..12])
}

impl TokenSigner {
    /// A signer with `secret` (at least 32 bytes recommended).
    pub fn new(secret: &[u8]) -> Self {
        TokenSigner {
            secret: secret.to_vec(),
        }
    }

    fn tag(&self, payload: &[u8]) -> Result<Hmac<Sha256>, Error> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
            .map_err(|_| Error::Internal("bad token secret".into()))?;
        mac.update(payload);
        Ok(mac)
    }

    /// A token resuming `operation` with these filter `args` after `cursor`.
    pub fn issue(
        &self,
        operation: &str,
        args: &[&str],
        cursor: &str,
        now: DateTime<Utc>,
    ) -> Result<String, Error> {
        let payload = serde_json::to_vec(&Payload {
            o: operation.to_owned(),
            a: arguments_hash(args),
            c: cursor.to_owned(),
            t: now.timestamp(),
        })
        .map_err(|e| Error::Internal(e.to_string()))?;
        let tag = self.tag(&payload)?.finalize().into_bytes();
        Ok(format!("{}.{}", B64.encode(&payload), B64.encode(&tag[..])))
    }

    /// The cursor of a token presented with `operation` and `args`, or a `ValidationException`
    /// when it was altered, expired, or issued for other arguments.
    pub fn check(
        &self,
        token: &str,
        operation: &str,
        args: &[&str],
        now: DateTime<Utc>,
    ) -> Result<String, Error> {
        let invalid = || Error::Validation("The NextToken is invalid".into());
        let (payload, tag) = token.split_once('.').ok_or_else(invalid)?;
        let payload = B64.decode(payload).map_err(|_| invalid())?;
        let tag = B64.decode(tag).map_err(|_| invalid())?;
        self.tag(&payload)?
            .verify_slice(&tag)
            .map_err(|_| invalid())?;
        let p: Payload = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if p.o != operation || p.a != arguments_hash(args) {
            return Err(Error::Validation(
                "The NextToken was issued for a different request; repeat the call with the same arguments"
                    .into(),
            ));
        }
        let issued = DateTime::<Utc>::from_timestamp(p.t, 0).ok_or_else(invalid)?;
        if now - issued > Duration::hours(TOKEN_LIFETIME_HOURS) {
            return Err(Error::Validation(
                "The NextToken has expired (tokens are valid for 24 hours)".into(),
            ));
        }
        Ok(p.c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn tokens_round_trip_and_reject_tampering_expiry_and_other_arguments() {
        let s = TokenSigner::new(&[1; 32]);
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let t = s.issue("ListSpeakers", &["D1"], "id#abc", now).unwrap();
        assert!(t.is_ascii());
        assert_eq!(s.check(&t, "ListSpeakers", &["D1"], now).unwrap(), "id#abc");
        assert!(s.check(&t, "ListSpeakers", &["D2"], now).is_err());
        assert!(s.check(&t, "ListFraudsters", &["D1"], now).is_err());
        assert!(
            s.check(&t, "ListSpeakers", &["D1"], now + Duration::hours(25))
                .unwrap_err()
                .to_string()
                .contains("expired")
        );
        let mut bytes = t.clone().into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(bytes).unwrap();
        assert!(s.check(&forged, "ListSpeakers", &["D1"], now).is_err());
        assert!(
            TokenSigner::new(&[2; 32])
                .check(&t, "ListSpeakers", &["D1"], now)
                .is_err()
        );
        for junk in ["", ".", "abc", "a.b", "é.é"] {
            assert!(s.check(junk, "ListSpeakers", &["D1"], now).is_err());
        }
    }
}
