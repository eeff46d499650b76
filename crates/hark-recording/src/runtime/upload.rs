//! Upload of finished recordings to an S3-compatible object store, with retries.
//!
//! The spool is the durable queue: a finished file and its journal stay in `recordings/.spool`
//! until the store has confirmed the upload, so a crash or an outage loses nothing — uploads
//! that were pending are found again at start-up. Each upload retries with exponential backoff
//! (0.5 s doubling to 30 s) until it succeeds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{BoxStream, StreamExt};
use hark_files::{S3Config, s3_builder};
use object_store::path::Path as ObjectPath;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};

use super::RecordingObserver;
use super::outbox::RowOutbox;
use crate::store::RecordingMetadata;

/// One file to upload.
#[derive(Clone, Debug)]
pub struct Upload {
    /// The finished WAV in the spool.
    pub file: PathBuf,
    /// Its journal, removed with it once uploaded.
    pub journal: PathBuf,
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// The metadata to store once uploaded (location and error are filled in then).
    pub metadata: RecordingMetadata,
}

/// Uploads finished recordings.
#[derive(Debug)]
pub struct S3Uploads {
    config: S3Config,
    rows: RowOutbox,
    observer: Arc<dyn RecordingObserver>,
    runtime: tokio::runtime::Handle,
    /// Uploads not confirmed yet.
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

impl S3Uploads {
    /// Uploads on the current tokio runtime.
    pub fn new(config: S3Config, rows: RowOutbox, observer: Arc<dyn RecordingObserver>) -> Self {
        S3Uploads {
            config,
            rows,
            observer,
            runtime: tokio::runtime::Handle::current(),
            in_flight: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        }
    }

    /// Uploads not confirmed yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Starts uploading `upload` (from any thread); it is retried until it succeeds.
    pub fn enqueue(self: &Arc<Self>, upload: Upload) {
        let delivery = Arc::clone(self);
        self.in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.runtime.spawn(async move {
            delivery.upload_until_done(upload).await;
            delivery
                .in_flight
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        });
    }

    async fn upload_until_done(&self, upload: Upload) {
        let mut backoff = Duration::from_millis(500);
        loop {
            match self.upload_once(&upload).await {
                Ok(()) => break,
                Err(e) => {
                    self.observer.upload_failed();
                    tracing::warn!(recording = %upload.metadata.id, bucket = %upload.bucket, error = %e, retry_in = ?backoff, "upload failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        self.observer.uploaded();
        let mut metadata = upload.metadata.clone();
        metadata.location = format!("s3://{}/{}", upload.bucket, upload.key);
        metadata.error = None;
        tracing::info!(recording = %metadata.id, location = %metadata.location, "recording uploaded");
        // The object is stored; its row is stored now or queued durably in the spool (and
        // retried) before the spool copy goes, so an outage never leaves a recording in S3
        // that no listing shows.
        let rows = self.rows.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || rows.save(&metadata)).await {
            tracing::error!(error = %e, "storing recording metadata panicked; keeping the spool copy");
            return;
        }
        let _ = std::fs::remove_file(&upload.file);
        let _ = std::fs::remove_file(&upload.journal);
    }

    /// A client for `bucket` with short attempts (callers retry).
    fn client(&self, bucket: &str) -> Result<object_store::aws::AmazonS3, object_store::Error> {
        // Our own loop retries forever; keep each attempt short.
        s3_builder(&self.config, bucket, 1, Duration::from_secs(10)).build()
    }

    /// The size of an uploaded object.
    pub async fn size(&self, bucket: &str, key: &str) -> Result<u64, object_store::Error> {
        let s3 = self.client(bucket)?;
        Ok(s3.head(&ObjectPath::from(key)).await?.size)
    }

    /// An uploaded object, or the bytes `range` of it, as a stream (never whole in memory).
    pub async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<BoxStream<'static, Result<bytes::Bytes, object_store::Error>>, object_store::Error>
    {
        let s3 = self.client(bucket)?;
        let options = object_store::GetOptions {
            range: range.map(object_store::GetRange::Bounded),
            ..object_store::GetOptions::default()
        };
        let object = s3.get_opts(&ObjectPath::from(key), options).await?;
        Ok(object.into_stream().boxed())
    }

    async fn upload_once(&self, upload: &Upload) -> Result<(), UploadError> {
        let s3 = self.client(&upload.bucket)?;
        let file = upload.file.clone();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(file))
            .await
            .map_err(|e| UploadError::Read(std::io::Error::other(e)))?
            .map_err(UploadError::Read)?;
        let m = &upload.metadata;
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, "audio/wav".into());
        attributes.insert(
            Attribute::Metadata("transaction-id".into()),
            m.contact_id.clone().into(),
        );
        attributes.insert(
            Attribute::Metadata("call-id".into()),
            m.call_id.clone().into(),
        );
        attributes.insert(
            Attribute::Metadata("recording-duration".into()),
            format!("{:.3}", m.duration_seconds).into(),
        );
        attributes.insert(
            Attribute::Metadata("recording-audio-file-format".into()),
            "audio/wav".into(),
        );
        let options = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        s3.put_opts(
            &ObjectPath::from(upload.key.as_str()),
            PutPayload::from(bytes),
            options,
        )
        .await?;
        Ok(())
    }
}

/// Why one upload attempt failed (it is retried).
#[derive(Debug, thiserror::Error)]
enum UploadError {
    /// The spooled file could not be read.
    #[error("cannot read the spooled file: {0}")]
    Read(std::io::Error),
    /// The store refused or could not be reached.
    #[error(transparent)]
    Store(#[from] object_store::Error),
}
