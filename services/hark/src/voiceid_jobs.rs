//! Where Voice ID batch jobs read manifests and audio and write their output: `s3://` URIs on
//! the configured S3-compatible store, `file:///` URIs inside the allowed directories only (an
//! API caller must not be able to read the server's files), and the task that runs a job.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hark_voiceid::{JobStorage, VoiceId};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use crate::config::S3Config;

/// Batch-job storage: S3 and allowed local directories.
#[derive(Debug)]
pub struct BatchStorage {
    s3: Option<S3Config>,
    roots: Vec<PathBuf>,
    runtime: tokio::runtime::Handle,
}

impl BatchStorage {
    /// Storage over `s3` and the directories `roots` (created if missing).
    pub fn new(s3: Option<S3Config>, roots: Vec<PathBuf>) -> Result<Self, String> {
        let mut canonical = Vec::new();
        for root in roots {
            std::fs::create_dir_all(&root)
                .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
            canonical.push(
                root.canonicalize()
                    .map_err(|e| format!("{}: {e}", root.display()))?,
            );
        }
        Ok(BatchStorage {
            s3,
            roots: canonical,
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// The local path of a `file:///` URI, if it lies inside an allowed directory.
    fn local_path(&self, uri: &str, creating: bool) -> Result<PathBuf, String> {
        let path = Path::new(uri.trim_start_matches("file://"));
        if !path.is_absolute() || path.components().any(|c| c.as_os_str() == "..") {
            return Err(format!("{uri} is not an absolute path without '..'"));
        }
        // The directory must exist to be resolved; symbolic links are followed, then checked.
        let parent = path
            .parent()
            .ok_or_else(|| format!("{uri} has no directory"))?;
        if creating {
            std::fs::create_dir_all(parent).map_err(|e| format!("{uri}: {e}"))?;
        }
        let resolved = parent
            .canonicalize()
            .map_err(|e| format!("{uri}: {e}"))?
            .join(
                path.file_name()
                    .ok_or_else(|| format!("{uri} names no file"))?,
            );
        if self.roots.iter().any(|r| resolved.starts_with(r)) {
            Ok(resolved)
        } else {
            Err(format!(
                "{uri} is outside the directories batch jobs may use ([voiceid] batch_file_roots)"
            ))
        }
    }

    fn bucket(&self, uri: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath), String> {
        let Some(config) = &self.s3 else {
            return Err("s3:// URIs need [voiceid.s3] (or [recording.s3]) in hark.toml".into());
        };
        let rest = uri.trim_start_matches("s3://");
        let (bucket, key) = rest
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| format!("{uri} names no object"))?;
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(config.region.as_deref().unwrap_or("us-east-1"))
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(&config.secret_access_key)
            .with_allow_http(config.allow_http)
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        let store = builder.build().map_err(|e| e.to_string())?;
        Ok((Arc::new(store), ObjectPath::from(key)))
    }
}

impl JobStorage for BatchStorage {
    fn get(&self, uri: &str, limit: u64) -> Result<Vec<u8>, String> {
        if uri.starts_with("file:///") {
            let path = self.local_path(uri, false)?;
            let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
            if size > limit {
                return Err(format!("{size} bytes; the limit is {limit}"));
            }
            return std::fs::read(&path).map_err(|e| e.to_string());
        }
        if !uri.starts_with("s3://") {
            return Err("only s3:// and file:/// URIs are supported".into());
        }
        let (store, key) = self.bucket(uri)?;
        self.runtime.block_on(async {
            let object = store.get(&key).await.map_err(|e| e.to_string())?;
            if object.meta.size > limit {
                return Err(format!("{} bytes; the limit is {limit}", object.meta.size));
            }
            let bytes = object.bytes().await.map_err(|e| e.to_string())?;
            Ok(bytes.to_vec())
        })
    }

    fn put(&self, uri: &str, bytes: Vec<u8>) -> Result<(), String> {
        if uri.starts_with("file:///") {
            let path = self.local_path(uri, true)?;
            let tmp = path.with_extension("partial");
            let mut file = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
            file.write_all(&bytes).map_err(|e| e.to_string())?;
            file.sync_all().map_err(|e| e.to_string())?;
            return std::fs::rename(&tmp, &path).map_err(|e| e.to_string());
        }
        let (store, key) = self.bucket(uri)?;
        self.runtime.block_on(async {
            store
                .put(&key, PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
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
