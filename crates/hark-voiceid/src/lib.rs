//! Voice ID, self-hosted: the Amazon Connect Voice ID JSON API (awsJson1_0, API version
//! 2021-09-27) and its semantics, without any transport.
//!
//! * [`api`] decodes `X-Amz-Target` + body into a typed [`api::Request`], validated against the
//!   embedded AWS model ([`model`]): lengths, ranges, patterns and enums, AWS-style messages.
//! * [`service::VoiceId`] runs requests over a [`store::VoiceIdStore`] and a [`clock::Clock`]:
//!   domains (soft delete, restore, purge after 30 days), speakers (either id, opt-out, expiry
//!   after 3 years), fraudsters, watchlists, tags, idempotency, paging, quotas, rate limits and
//!   instance association; voiceprints and audio sealed with AES-256-GCM ([`crypto`]) under the
//!   domain's key, re-encrypted in the background when the key changes.
//! * Live sessions ([`live`], [`session`]): a call's customer audio feeds a session's
//!   streaming voiceprint; EvaluateSession authenticates the claimed speaker and screens the
//!   caller against a watchlist ([`watchlist_index`]); enrollment by session at 30 s of speech;
//!   outcomes go out as EventBridge-shaped [`events`].
//! * Batch jobs ([`jobs`]): speaker enrollment and fraudster registration from a manifest and
//!   audio files read through a [`jobs::JobStorage`] (S3 or local files, provided by the shell).
//! * [`sigv4`] verifies AWS Signature Version 4 (signing name `voiceid`).
//! * [`error::Error`] is the one error type; it knows its `__type`, HTTP status and body.
//!
//! The HTTP shell lives in the `hark` service; SQLite persistence in `hark-store`.
//!
//! ```
//! use std::sync::Arc;
//! use hark_voiceid::{Keyring, MemoryStore, Settings, SystemClock, VoiceId};
//!
//! let mut keyring = Keyring::default();
//! keyring.insert("main", Keyring::generate_key()?);
//! let voiceid = VoiceId::new(
//!     Arc::new(MemoryStore::default()),
//!     Arc::new(SystemClock),
//!     keyring,
//!     &Keyring::generate_key()?,
//!     Settings::default(),
//! );
//! // Requests as the AWS SDKs send them: the `X-Amz-Target` and the JSON body.
//! let created = voiceid.handle(
//!     "VoiceID.CreateDomain",
//!     br#"{"Name": "calls", "ServerSideEncryptionConfiguration": {"KmsKeyId": "main"}}"#,
//! )?;
//! assert_eq!(created["Domain"]["DomainStatus"], "ACTIVE");
//! // Bad input is refused as AWS refuses it.
//! let refused = voiceid.handle("VoiceID.CreateDomain", br#"{"Name": ""}"#).unwrap_err();
//! assert_eq!(refused.code(), "ValidationException");
//! # Ok::<(), hark_voiceid::Error>(())
//! ```

// docs.rs builds with every feature and marks what each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod api;
mod batch;
pub mod call_binding;
pub mod clock;
pub mod crypto;
mod decision;
pub mod effects;
pub mod error;
pub mod events;
#[cfg(feature = "http")]
pub mod http;
pub mod ids;
pub mod jobs;
pub mod live;
pub mod model;
pub mod records;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod service;
pub mod session;
mod session_registry;
pub mod sigv4;
pub mod stats;
pub mod store;
pub mod token;
pub mod watchlist_index;

pub use call_binding::CallBinding;
pub use clock::{Clock, ManualClock, SystemClock};
pub use crypto::Keyring;
pub use effects::Effect;
pub use error::Error;
pub use events::{EventLog, EventSink};
pub use jobs::{JobStorage, StorageError};
pub use live::{SessionStream, StreamRequest};
pub use service::{Quotas, Settings, SettingsError, VoiceId};
pub use store::{MemoryStore, VoiceIdStore, VoiceIdStoreError};
