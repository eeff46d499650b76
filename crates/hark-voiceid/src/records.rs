//! What is stored: domains, watchlists, speakers, fraudsters, sealed blobs, client tokens and
//! instance associations, plus the model's enums.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize,
        )]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire spelling.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Lets other modules declare wire enums the same way.
pub(crate) use wire_enum;

wire_enum!(
    /// `ResourceType` of a `ResourceNotFoundException`.
    ResourceType {
        /// A batch job.
        BatchJob = "BATCH_JOB",
        /// The account's biometric consent.
        ComplianceConsent = "COMPLIANCE_CONSENT",
        /// A domain.
        Domain = "DOMAIN",
        /// A fraudster.
        Fraudster = "FRAUDSTER",
        /// A session.
        Session = "SESSION",
        /// A speaker.
        Speaker = "SPEAKER",
        /// A watchlist.
        Watchlist = "WATCHLIST",
    }
);

wire_enum!(
    /// `ConflictType` of a `ConflictException`.
    ConflictType {
        /// A second stream for one session.
        AnotherActiveStream = "ANOTHER_ACTIVE_STREAM",
        /// The domain is not active.
        DomainNotActive = "DOMAIN_NOT_ACTIVE",
        /// The session's speaker cannot change after an enrollment request.
        CannotChangeSpeakerAfterEnrollment = "CANNOT_CHANGE_SPEAKER_AFTER_ENROLLMENT",
        /// The session already has an enrollment.
        EnrollmentAlreadyExists = "ENROLLMENT_ALREADY_EXISTS",
        /// Enrollment requested before a speaker id was set.
        SpeakerNotSet = "SPEAKER_NOT_SET",
        /// Enrollment requested for an opted-out speaker.
        SpeakerOptedOut = "SPEAKER_OPTED_OUT",
        /// Another request changed the resource meanwhile.
        ConcurrentChanges = "CONCURRENT_CHANGES",
        /// A key change while re-encryption still runs.
        DomainLockedFromEncryptionUpdates = "DOMAIN_LOCKED_FROM_ENCRYPTION_UPDATES",
        /// DeleteWatchlist on a watchlist with fraudsters.
        CannotDeleteNonEmptyWatchlist = "CANNOT_DELETE_NON_EMPTY_WATCHLIST",
        /// Disassociating a fraudster from its last watchlist.
        FraudsterMustBelongToAtLeastOneWatchlist = "FRAUDSTER_MUST_BELONG_TO_AT_LEAST_ONE_WATCHLIST",
    }
);

wire_enum!(
    /// `DomainStatus`.
    DomainStatus {
        /// Usable.
        Active = "ACTIVE",
        /// Being set up.
        Pending = "PENDING",
        /// Its encryption key is not in the keyring (or suspended by an operator).
        Suspended = "SUSPENDED",
    }
);

wire_enum!(
    /// `SpeakerStatus`.
    SpeakerStatus {
        /// A voiceprint exists.
        Enrolled = "ENROLLED",
        /// Not accessed for three years; must be re-enrolled.
        Expired = "EXPIRED",
        /// The speaker refused voice authentication.
        OptedOut = "OPTED_OUT",
        /// Enrollment requested, voiceprint not built yet.
        Pending = "PENDING",
    }
);

wire_enum!(
    /// `ServerSideEncryptionUpdateStatus`.
    SseUpdateStatus {
        /// Re-encryption is running.
        InProgress = "IN_PROGRESS",
        /// Everything is under the new key.
        Completed = "COMPLETED",
        /// Re-encryption stopped; `Message` says why.
        Failed = "FAILED",
    }
);

/// `ServerSideEncryptionUpdateDetails`: the state of the last key change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SseUpdate {
    /// The key the data was under before.
    pub old_kms_key_id: String,
    /// Progress.
    pub status: SseUpdateStatus,
    /// Why it failed, when it did.
    pub message: Option<String>,
}

/// A `Tag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The key.
    #[serde(rename = "Key")]
    pub key: String,
    /// The value.
    #[serde(rename = "Value")]
    pub value: String,
}

/// A domain as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRecord {
    /// 22 alphanumerics.
    pub domain_id: String,
    /// `DomainName`.
    pub name: String,
    /// `Description`.
    pub description: Option<String>,
    /// The keyring key voiceprints and audio are encrypted with.
    pub kms_key_id: String,
    /// The last key change, if any.
    pub sse_update: Option<SseUpdate>,
    /// The default watchlist (created with the domain, never deleted).
    pub default_watchlist_id: String,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When DeleteDomain was called; the domain is invisible from then on and purged 30 days later.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A watchlist as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchlistRecord {
    /// Its domain.
    pub domain_id: String,
    /// 22 alphanumerics.
    pub watchlist_id: String,
    /// `WatchlistName`.
    pub name: String,
    /// `WatchlistDescription`.
    pub description: Option<String>,
    /// The domain's default watchlist.
    pub default_watchlist: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A speaker as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeakerRecord {
    /// Its domain.
    pub domain_id: String,
    /// `id#` + 22 alphanumerics.
    pub generated_id: String,
    /// The client's id, unique in the domain.
    pub customer_id: Option<String>,
    /// Status as stored (see [`VoiceId::speaker_status`](crate::VoiceId::speaker_status) for expiry).
    pub status: SpeakerStatus,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last enrollment or successful authentication, to the hour.
    pub last_accessed_at: Option<DateTime<Utc>>,
}

/// A fraudster as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudsterRecord {
    /// Its domain.
    pub domain_id: String,
    /// `id#` + 22 alphanumerics.
    pub generated_id: String,
    /// The watchlists it belongs to (at least one), sorted.
    pub watchlist_ids: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// What a sealed blob holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BlobKind {
    /// A speaker's or fraudster's voiceprint.
    Voiceprint,
    /// Stored audio (enrollment utterances), by name.
    Audio(String),
}

impl BlobKind {
    /// The stored spelling: `voiceprint` or `audio:<name>`.
    pub fn as_string(&self) -> String {
        match self {
            BlobKind::Voiceprint => "voiceprint".to_owned(),
            BlobKind::Audio(name) => format!("audio:{name}"),
        }
    }

    /// Parses [`BlobKind::as_string`].
    pub fn parse(text: &str) -> Option<BlobKind> {
        match text {
            "voiceprint" => Some(BlobKind::Voiceprint),
            _ => text
                .strip_prefix("audio:")
                .map(|n| BlobKind::Audio(n.to_owned())),
        }
    }
}

/// Where a blob belongs: domain, owner (speaker or fraudster generated id) and kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlobKey {
    /// The domain.
    pub domain_id: String,
    /// The speaker's or fraudster's generated id.
    pub owner_id: String,
    /// What it is.
    pub kind: BlobKind,
}

/// An encrypted blob: the key it is sealed under and nonce ‖ ciphertext ‖ tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBlob {
    /// The keyring key id.
    pub key_id: String,
    /// 12-byte nonce, ciphertext and 16-byte tag.
    pub sealed: Vec<u8>,
}

/// A remembered `ClientToken`: which request used it and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTokenRecord {
    /// Operation (and domain) the token is scoped to.
    pub scope: String,
    /// The token.
    pub token: String,
    /// The domain whose data this is (erased with it), if any.
    pub domain_id: Option<String>,
    /// SHA-256 of the request without its token.
    pub fingerprint: String,
    /// The response body given the first time.
    pub response: String,
    /// When it was first used.
    pub created_at: DateTime<Utc>,
}

/// A contact-center instance and the one domain it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    /// The instance id (e.g. an Amazon Connect instance id or a Genesys org).
    pub instance_id: String,
    /// The domain it uses.
    pub domain_id: String,
    /// When it was associated.
    pub created_at: DateTime<Utc>,
}

/// How a speaker is named in a request: by the client's id or by the generated one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeakerRef<'a> {
    /// `id#…`.
    Generated(&'a str),
    /// The client's `CustomerSpeakerId`.
    Customer(&'a str),
}

impl<'a> SpeakerRef<'a> {
    /// Classifies a `SpeakerId`: customer ids cannot contain `#`, so `id#…` is generated.
    pub fn of(speaker_id: &'a str) -> SpeakerRef<'a> {
        if speaker_id.starts_with("id#") {
            SpeakerRef::Generated(speaker_id)
        } else {
            SpeakerRef::Customer(speaker_id)
        }
    }
}

wire_enum!(
    /// Which batch operation a job runs.
    JobKind {
        /// `StartSpeakerEnrollmentJob`.
        SpeakerEnrollment = "SPEAKER_ENROLLMENT",
        /// `StartFraudsterRegistrationJob`.
        FraudsterRegistration = "FRAUDSTER_REGISTRATION",
    }
);

wire_enum!(
    /// `SpeakerEnrollmentJobStatus` / `FraudsterRegistrationJobStatus`.
    JobStatus {
        /// Accepted, not started.
        Submitted = "SUBMITTED",
        /// Running.
        InProgress = "IN_PROGRESS",
        /// Every request succeeded.
        Completed = "COMPLETED",
        /// Some requests failed (see the output file).
        CompletedWithErrors = "COMPLETED_WITH_ERRORS",
        /// The job as a whole failed (`FailureDetails`).
        Failed = "FAILED",
    }
);

impl JobStatus {
    /// Whether the job is still to run or running.
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Submitted | JobStatus::InProgress)
    }
}

/// A batch job: what listing needs, plus the job structure exactly as the API returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// Its domain.
    pub domain_id: String,
    /// 22 alphanumerics.
    pub job_id: String,
    /// Enrollment or registration.
    pub kind: JobKind,
    /// Where it stands (also in `job`).
    pub status: JobStatus,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// The `Job` structure of the Describe call.
    pub job: serde_json::Value,
}
