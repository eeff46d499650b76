//! The recording I/O shell (feature `runtime`): the writer pool, the spool, delivery to a
//! directory or an S3-compatible store, and rows queued for the database.
//!
//! It carries out what [`crate::control::RecordingControl`] decides; the service hands it
//! [`RecordingSettings`] and a [`RecordingObserver`] (its metrics), never its own types.

mod completion;
mod outbox;
mod service;
mod settings;
mod upload;
mod writers;

use std::path::PathBuf;

pub use outbox::RowOutbox;
pub use service::{RecordingService, SpoolBacklog};
pub use settings::RecordingSettings;
pub use upload::{S3Uploads, Upload};

use crate::store::{RecordingMetadata, RecordingStoreError};

/// What the recording runtime reports as it works (the service counts it in its metrics).
pub trait RecordingObserver: Send + Sync + std::fmt::Debug {
    /// A recorder started.
    fn started(&self);
    /// A recording stopped after `billable_seconds` of enabled recording, pauses included.
    fn stopped(&self, billable_seconds: f64);
    /// A recording finished: delivered, waiting for delivery, recovered or failed.
    fn finished(&self, recording: &RecordingMetadata);
    /// An upload attempt failed; it is retried.
    fn upload_failed(&self);
    /// An upload was confirmed by the store.
    fn uploaded(&self);
}

/// An observer that ignores everything (tools and tests that keep no metrics).
#[derive(Debug, Default)]
pub struct Unobserved;

impl RecordingObserver for Unobserved {
    fn started(&self) {}
    fn stopped(&self, _billable_seconds: f64) {}
    fn finished(&self, _recording: &RecordingMetadata) {}
    fn upload_failed(&self) {}
    fn uploaded(&self) {}
}

/// Why recording could not start with the given settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The spool directory could not be created.
    #[error("cannot create {}: {source}", path.display())]
    Spool {
        /// The spool directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The writer threads could not be started.
    #[error("cannot start the recording writers: {0}")]
    Writers(std::io::Error),
    /// `s3://` with no bucket.
    #[error("recordings URL {0:?} names no bucket")]
    NoBucket(String),
    /// `s3://` without `[recording.s3]`.
    #[error("recordings URL {0:?} needs [recording.s3] (endpoint and keys) in hark.toml")]
    NoS3Store(String),
    /// Neither a directory nor `s3://`.
    #[error("recordings URL {0:?}: expected a directory, file:///path or s3://bucket/prefix")]
    NotADestination(String),
    /// The directory or a destination root cannot be resolved.
    #[error("[recording] directory or destination_roots: {0}")]
    Roots(hark_files::ConfineError),
    /// The default directory cannot take files.
    #[error("[recording] directory {}: not usable for recordings: {source}", path.display())]
    Unusable {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: hark_files::ConfineError,
    },
    /// `[recording.s3]` cannot work.
    #[error(transparent)]
    S3(#[from] hark_files::S3ConfigError),
    /// The do-not-record latches could not be read.
    #[error(transparent)]
    Store(#[from] RecordingStoreError),
}
