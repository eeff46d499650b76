//! What a recording captures and where it goes: tracks, destinations, pause behaviour.

use serde::{Deserialize, Serialize};

/// Which audio of a call leg is recorded (Chime's names; AudioHook's channels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Track {
    /// What the customer says (AudioHook `external`): a mono file.
    Incoming,
    /// What the customer hears, i.e. the agent (AudioHook `internal`): a mono file.
    Outgoing,
    /// Both: a stereo file, customer left, agent right.
    Both,
}

/// Kinds of recording destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DestinationType {
    /// An S3-compatible bucket, `bucket` or `bucket/prefix`.
    S3,
    /// A local directory (a hark extension; the default).
    File,
}

/// Where a finished recording is delivered.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Destination {
    /// The kind.
    #[serde(rename = "Type")]
    pub kind: DestinationType,
    /// `bucket[/prefix]` for S3, a directory path for File.
    #[serde(rename = "Location")]
    pub location: String,
}

impl Destination {
    /// Checks the location is usable for its kind; `Err` says why.
    pub fn validate(&self) -> Result<(), DestinationError> {
        match self.kind {
            DestinationType::S3 => {
                let bucket = self.location.split('/').next().unwrap_or_default();
                let valid = (3..=63).contains(&bucket.len())
                    && bucket.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                    })
                    && bucket.as_bytes()[0].is_ascii_alphanumeric();
                if valid {
                    Ok(())
                } else {
                    Err(DestinationError::Bucket(bucket.to_owned()))
                }
            }
            DestinationType::File if self.location.is_empty() => {
                Err(DestinationError::EmptyDirectory)
            }
            DestinationType::File => Ok(()),
        }
    }
}

/// Why a destination is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DestinationError {
    /// Not an S3 bucket name (3–63 lowercase letters, digits, dots and hyphens).
    #[error("{0:?} is not a valid bucket name")]
    Bucket(String),
    /// A `File` destination without a directory.
    #[error("the directory is empty")]
    EmptyDirectory,
}

/// What a paused span becomes in the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PauseBehavior {
    /// Written as silence, so the file keeps the call's length (Chime, Connect, CXone).
    #[default]
    Silence,
    /// Left out of the file.
    Skip,
}

/// Everything a recorder needs to know about what to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingSpec {
    /// Tracks recorded.
    pub track: Track,
    /// Where the file goes.
    pub destination: Destination,
    /// What pauses become.
    pub pause_behavior: PauseBehavior,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_validate() {
        let s3 = |l: &str| Destination {
            kind: DestinationType::S3,
            location: l.into(),
        };
        assert!(s3("recordings").validate().is_ok());
        assert!(s3("recordings/technicalSupport/english").validate().is_ok());
        assert!(s3("Recordings").validate().is_err());
        assert!(s3("ab").validate().is_err());
        assert!(s3("").validate().is_err());
        assert!(
            Destination {
                kind: DestinationType::File,
                location: String::new()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn wire_names_follow_chime() {
        let d = Destination {
            kind: DestinationType::S3,
            location: "b-1".into(),
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"Type":"S3","Location":"b-1"}"#
        );
        assert_eq!(serde_json::to_string(&Track::Both).unwrap(), "\"BOTH\"");
        assert!(serde_json::from_str::<Track>("\"LEFT\"").is_err());
    }
}
