//! What the SQLite and PostgreSQL Voice ID stores encode alike: times as Unix milliseconds,
//! small records as JSON, the speaker columns.

use chrono::{DateTime, Utc};
use hark_voiceid::store::{StoreResult, VoiceIdStoreError};

/// The speaker table's columns, in the order both stores read them.
pub(crate) const SPEAKER_COLUMNS: &str =
    "domain_id, generated_id, customer_id, status, created_at, updated_at, last_accessed_at";

/// A store error from anything printable.
pub(crate) fn e(x: impl std::fmt::Display) -> VoiceIdStoreError {
    VoiceIdStoreError(x.to_string())
}

/// A time as stored: Unix milliseconds.
pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A record as stored: JSON text.
pub(crate) fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(e)
}
