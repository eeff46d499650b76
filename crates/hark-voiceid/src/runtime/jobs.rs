//! Where Voice ID batch jobs read manifests and audio and write their output: `s3://` URIs on
//! the configured S3-compatible store, `file:///` URIs inside the allowed directories only (an
//! API caller must not be able to read the server's files), and the task that runs a job.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::{JobStorage, StorageError, VoiceId};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use hark_files::{ConfineError, ConfinedRoots, S3Config};

/// Batch-job storage: S3 and allowed local directories.
#[derive(Debug)]
pub struct BatchStorage {
    s3: Option<S3Config>,
    roots: ConfinedRoots,
    runtime: tokio::runtime::Handle,
}

/// Why batch-job storage could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchStorageError {
    /// `[voiceid.s3]` (or `[recording.s3]`) cannot work.
    #[error(transparent)]
    S3(#[from] hark_files::S3ConfigError),
    /// A batch directory cannot be resolved.
    #[error("[voiceid] batch_file_roots: {0}")]
    Roots(#[from] ConfineError),
}

impl BatchStorage {
    /// Storage over `s3` and the directories `roots` (created if missing).
    pub fn new(s3: Option<S3Config>, roots: Vec<PathBuf>) -> Result<Self, BatchStorageError> {
        if let Some(s3) = &s3 {
            s3.check("[voiceid.s3] (or [recording.s3])")?;
        }
        Ok(BatchStorage {
            s3,
            roots: ConfinedRoots::new(&roots)?,
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// The local path named by a `file:///` URI: absolute, without `..`.
    fn local_path(uri: &str) -> Result<&Path, StorageError> {
        let path = Path::new(uri.trim_start_matches("file://"));
        if !path.is_absolute() {
            return Err(StorageError::Refused(format!(
                "{uri} is not an absolute file:/// URI"
            )));
        }
        Ok(path)
    }

    fn refused(uri: &str, e: ConfineError) -> StorageError {
        match e {
            ConfineError::Outside(_) | ConfineError::NotPlain(_) => StorageError::Refused(format!(
                "{uri} is outside the directories batch jobs may use ([voiceid] batch_file_roots)"
            )),
            ConfineError::Io { source, .. } => failed(format!("{uri}: {source}")),
            other => failed(format!("{uri}: {other}")),
        }
    }

    fn bucket(&self, uri: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath), StorageError> {
        let Some(config) = &self.s3 else {
            return Err(StorageError::Refused(
                "s3:// URIs need [voiceid.s3] (or [recording.s3]) in hark.toml".into(),
            ));
        };
        let rest = uri.trim_start_matches("s3://");
        let (bucket, key) = rest
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| StorageError::Refused(format!("{uri} names no object")))?;
        let store = hark_files::s3_builder(config, bucket, 2, Duration::from_secs(30))
            .build()
            .map_err(failed)?;
        Ok((Arc::new(store), ObjectPath::from(key)))
    }
}

/// A failure of the store or file system, as text for the job's output.
fn failed(e: impl std::fmt::Display) -> StorageError {
    StorageError::Failed(e.to_string())
}

impl JobStorage for BatchStorage {
    fn get(&self, uri: &str, limit: u64) -> Result<Vec<u8>, StorageError> {
        if uri.starts_with("file:///") {
            let file = self
                .roots
                .open_file(Self::local_path(uri)?)
                .map_err(|e| Self::refused(uri, e))?;
            let size = file.metadata().map_err(failed)?.len();
            if size > limit {
                return Err(StorageError::TooLarge { size, limit });
            }
            let mut bytes = Vec::new();
            file.take(limit).read_to_end(&mut bytes).map_err(failed)?;
            return Ok(bytes);
        }
        if !uri.starts_with("s3://") {
            return Err(StorageError::Refused(
                "only s3:// and file:/// URIs are supported".into(),
            ));
        }
        let (store, key) = self.bucket(uri)?;
        self.runtime.block_on(async {
            let object = store.get(&key).await.map_err(|e| match e {
                object_store::Error::NotFound { .. } => StorageError::NotFound,
                e => failed(e),
            })?;
            if object.meta.size > limit {
                let size = object.meta.size;
                return Err(StorageError::TooLarge { size, limit });
            }
            let bytes = object.bytes().await.map_err(failed)?;
            Ok(bytes.to_vec())
        })
    }

    fn put(&self, uri: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        if uri.starts_with("file:///") {
            let path = self
                .roots
                .file_to_write(Self::local_path(uri)?)
                .map_err(|e| Self::refused(uri, e))?;
            let tmp = path.with_extension("partial");
            let mut file = hark_files::create_private(&tmp).map_err(failed)?;
            file.write_all(&bytes).map_err(failed)?;
            file.sync_all().map_err(failed)?;
            return std::fs::rename(&tmp, &path).map_err(failed);
        }
        let (store, key) = self.bucket(uri)?;
        self.runtime.block_on(async {
            store
                .put(&key, PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(failed)
        })
    }
}

/// Runs a submitted job on the blocking pool.
pub fn spawn_job(
    service: Arc<VoiceId>,
    storage: Arc<BatchStorage>,
    domain_id: String,
    job_id: String,
) {
    tokio::task::spawn_blocking(move || {
        if let Err(e) = service.run_job(&domain_id, &job_id, storage.as_ref()) {
            tracing::error!(job = %job_id, error = %e, "voiceid batch job could not run");
        }
    });
}
