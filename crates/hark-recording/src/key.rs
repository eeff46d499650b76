//! Where a recording lands: Amazon Chime's object key layout.
//!
//! `<bucket>/<prefix>/YYYY/MM/DD/YYYY-MM-DD-HH-MM-SS-mmm_<transactionId>_<callId>.wav`, with the
//! prefix `Amazon-Chime-SMA-Call-Recordings` when the destination names a bucket only. In hark
//! the transaction id is the contact and the call id the leg; the time is the recording's start.

use chrono::{DateTime, Utc};

use crate::spec::{Destination, DestinationType};

/// The prefix Chime uses when the destination is a bare bucket.
pub const DEFAULT_PREFIX: &str = "Amazon-Chime-SMA-Call-Recordings";

/// The bucket (or directory) and the object key of a recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectLocation {
    /// Bucket name (S3) or base directory (File).
    pub container: String,
    /// Key inside it, `/`-separated.
    pub key: String,
}

impl ObjectLocation {
    /// `container/key`, as `CallRecordingDestination.Location` reports it.
    pub fn full(&self) -> String {
        format!("{}/{}", self.container, self.key)
    }
}

/// The location of the recording of leg `call_id` in contact `contact_id` started at `started_at`.
pub fn recording_location(
    destination: &Destination,
    started_at: DateTime<Utc>,
    contact_id: &str,
    call_id: &str,
) -> ObjectLocation {
    let (container, prefix) = match destination.kind {
        DestinationType::S3 => match destination.location.split_once('/') {
            Some((bucket, prefix)) if !prefix.trim_matches('/').is_empty() => {
                (bucket.to_owned(), prefix.trim_matches('/').to_owned())
            }
            _ => (
                destination.location.trim_end_matches('/').to_owned(),
                DEFAULT_PREFIX.to_owned(),
            ),
        },
        DestinationType::File => (
            destination.location.trim_end_matches('/').to_owned(),
            String::new(),
        ),
    };
    let date = started_at.format("%Y/%m/%d");
    let stamp = started_at.format("%Y-%m-%d-%H-%M-%S-%3f");
    let file = format!("{stamp}_{}_{}.wav", safe(contact_id), safe(call_id));
    let key = if prefix.is_empty() {
        format!("{date}/{file}")
    } else {
        format!("{prefix}/{date}/{file}")
    };
    ObjectLocation { container, key }
}

/// Keeps ids usable as file and object names: anything but `[A-Za-z0-9._-]` becomes `_`.
fn safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2019, 3, 1, 17, 10, 0)
            .single()
            .unwrap()
            + chrono::TimeDelta::milliseconds(10)
    }

    #[test]
    fn chime_examples() {
        let bucket = Destination {
            kind: DestinationType::S3,
            location: "myRecordingBucket".into(),
        };
        let loc = recording_location(&bucket, at(), "txn", "call-id-1");
        assert_eq!(
            loc.full(),
            "myRecordingBucket/Amazon-Chime-SMA-Call-Recordings/2019/03/01/2019-03-01-17-10-00-010_txn_call-id-1.wav"
        );
        let prefixed = Destination {
            kind: DestinationType::S3,
            location: "myRecordingBucket/technicalSupport/english/".into(),
        };
        let loc = recording_location(&prefixed, at(), "txn", "call-id-1");
        assert_eq!(loc.container, "myRecordingBucket");
        assert_eq!(
            loc.key,
            "technicalSupport/english/2019/03/01/2019-03-01-17-10-00-010_txn_call-id-1.wav"
        );
    }

    #[test]
    fn local_directories_and_unsafe_ids() {
        let dir = Destination {
            kind: DestinationType::File,
            location: "/var/lib/hark/recordings/".into(),
        };
        let loc = recording_location(&dir, at(), "a/b", "../x");
        assert_eq!(
            loc.full(),
            "/var/lib/hark/recordings/2019/03/01/2019-03-01-17-10-00-010_a_b_.._x.wav"
        );
        assert!(!loc.key.contains("/../"));
    }
}
