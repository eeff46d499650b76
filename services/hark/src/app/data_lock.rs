//! The data directory's lock: `hark serve` holds an exclusive `flock` on `DATA_DIR/serve.lock`
//! for its whole life (the kernel releases it when the process ends, even killed), so a second
//! `hark serve` or a `hark recover` cannot take a live instance's spool from under it.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

/// The lock file inside the data directory.
pub const LOCK_FILE: &str = "serve.lock";

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum DataDirLockError {
    /// Another process holds it.
    #[error(
        "a hark serve is running with the data directory {0} (it holds serve.lock); stop it first"
    )]
    Held(PathBuf),
    /// The lock file could not be opened.
    #[error("cannot open {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// An exclusive lock on a data directory, released when dropped or when the process ends.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock of `data_dir` without waiting.
    pub fn acquire(data_dir: &Path) -> Result<Self, DataDirLockError> {
        let path = data_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|source| DataDirLockError::Io {
                path: path.clone(),
                source,
            })?;
        flock(&file, FlockOperation::NonBlockingLockExclusive)
            .map_err(|_| DataDirLockError::Held(data_dir.to_owned()))?;
        Ok(DataDirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_free_again_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            DataDirLock::acquire(dir.path()),
            Err(DataDirLockError::Held(_))
        ));
        drop(first);
        assert!(DataDirLock::acquire(dir.path()).is_ok());
    }
}
