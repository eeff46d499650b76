//! Encryption at rest: a keyring of named 256-bit keys and AES-256-GCM sealing.
//!
//! A domain's `ServerSideEncryptionConfiguration.KmsKeyId` names a key here. Every blob is
//! sealed as nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes), with the blob's domain,
//! owner and kind as associated data, so a sealed blob cannot be moved to another speaker or
//! domain without failing to open.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use crate::error::Error;
use crate::ids::random_bytes;
use crate::records::BlobKey;

/// The key generated on first start so the API works out of the box.
pub const DEFAULT_KEY_ID: &str = "alias/hark-default";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Named AES-256 keys. `Debug` shows only the names.
#[derive(Clone, Default)]
pub struct Keyring {
    keys: BTreeMap<String, [u8; 32]>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// Adds (or replaces) a key.
    pub fn insert(&mut self, id: impl Into<String>, key: [u8; 32]) {
        self.keys.insert(id.into(), key);
    }

    /// Whether a key id is known.
    pub fn contains(&self, id: &str) -> bool {
        self.keys.contains_key(id)
    }

    /// The key ids.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// A fresh random 256-bit key.
    pub fn generate_key() -> Result<[u8; 32], Error> {
        let mut key = [0u8; 32];
        random_bytes(&mut key)?;
        Ok(key)
    }

    fn cipher(&self, key_id: &str) -> Result<Aes256Gcm, Error> {
        let key = self.keys.get(key_id).ok_or_else(|| {
            Error::AccessDenied(format!(
                "the encryption key {key_id:?} is not in hark's keyring"
            ))
        })?;
        Ok(Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)))
    }

    /// Seals `plain` under `key_id`, bound to `place`.
    pub fn seal(&self, key_id: &str, place: &BlobKey, plain: &[u8]) -> Result<Vec<u8>, Error> {
        let cipher = self.cipher(key_id)?;
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let aad = associated_data(place);
        let body = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Internal("AES-GCM encryption failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + body.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens what [`Keyring::seal`] sealed; fails on any change to the bytes or the place.
    pub fn open(&self, key_id: &str, place: &BlobKey, sealed: &[u8]) -> Result<Vec<u8>, Error> {
        let cipher = self.cipher(key_id)?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(Error::Internal("sealed blob too short".into()));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| Error::Internal("sealed blob too short".into()))?;
        let aad = associated_data(place);
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                Error::Internal(format!(
                    "blob {}/{}/{} does not authenticate under key {key_id:?}",
                    place.domain_id,
                    place.owner_id,
                    place.kind.as_string()
                ))
            })
    }
}

fn associated_data(place: &BlobKey) -> Vec<u8> {
    format!(
        "hark-voiceid\0{}\0{}\0{}",
        place.domain_id,
        place.owner_id,
        place.kind.as_string()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::BlobKind;

    fn place(owner: &str) -> BlobKey {
        BlobKey {
            domain_id: "D".repeat(22),
            owner_id: owner.into(),
            kind: BlobKind::Voiceprint,
        }
    }

    #[test]
    fn seal_open_round_trip_and_tamper_evidence() {
        let mut ring = Keyring::default();
        ring.insert("k", Keyring::generate_key().unwrap());
        ring.insert("other", Keyring::generate_key().unwrap());
        let plain = vec![7u8; 1024];
        let sealed = ring.seal("k", &place("id#a"), &plain).unwrap();
        assert_eq!(sealed.len(), 12 + 1024 + 16);
        assert!(!sealed.windows(16).any(|w| w == &plain[..16]), "ciphertext");
        assert_eq!(ring.open("k", &place("id#a"), &sealed).unwrap(), plain);
        assert!(ring.open("other", &place("id#a"), &sealed).is_err());
        assert!(
            ring.open("k", &place("id#b"), &sealed).is_err(),
            "bound to its owner"
        );
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert!(ring.open("k", &place("id#a"), &flipped).is_err());
        assert!(ring.open("k", &place("id#a"), &sealed[..10]).is_err());
        assert!(matches!(
            ring.seal("missing", &place("id#a"), &plain),
            Err(Error::AccessDenied(_))
        ));
        assert!(!format!("{ring:?}").contains(&format!("{:?}", ring.keys["k"])));
    }
}
