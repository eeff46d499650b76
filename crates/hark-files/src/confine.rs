//! Paths that clients name (recording destinations, batch-job `file:///` URIs) confined to the
//! directories the operator configured.
//!
//! A path is resolved before anything is created: `..` is refused outright, the longest part of
//! it that exists is canonicalised (every symbolic link followed, the last component included)
//! and must lie inside a root; only then are the missing directories created, one at a time,
//! mode 0700. Files are opened without following a symbolic link in their last component, so a
//! link swapped in after the check is refused too.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// Why a path was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfineError {
    /// The path names `..` or is empty.
    #[error("{0} is not a plain path (no '..' allowed)")]
    NotPlain(String),
    /// The path resolves outside every root.
    #[error("{0} is outside the directories allowed for it")]
    Outside(String),
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The path as named.
        path: String,
        /// The operating system's error.
        source: io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ConfineError + '_ {
    move |source| ConfineError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Canonical directories that client-named paths must stay inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfinedRoots {
    roots: Vec<PathBuf>,
}

impl ConfinedRoots {
    /// The roots, created (0700) when missing and canonicalised; the first is where relative
    /// paths are taken from.
    pub fn new(roots: &[PathBuf]) -> Result<Self, ConfineError> {
        let mut canonical = Vec::new();
        for root in roots {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .map_err(io_error(root))?;
            canonical.push(root.canonicalize().map_err(io_error(root))?);
        }
        Ok(ConfinedRoots { roots: canonical })
    }

    /// The canonical roots.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    fn inside(&self, path: &Path) -> bool {
        self.roots.iter().any(|r| path.starts_with(r))
    }

    /// Resolves `path` inside a root; with `create`, creates its missing directories (all of
    /// them when `path` is a directory, its parents when it is a file).
    fn resolve(&self, path: &Path, create: bool, is_file: bool) -> Result<PathBuf, ConfineError> {
        let named = path.display().to_string();
        if path.as_os_str().is_empty()
            || path.components().any(|c| matches!(c, Component::ParentDir))
        {
            return Err(ConfineError::NotPlain(named));
        }
        let absolute = match (path.is_absolute(), self.roots.first()) {
            (true, _) => path.to_owned(),
            (false, Some(first)) => first.join(path),
            (false, None) => return Err(ConfineError::Outside(named)),
        };
        // The longest existing ancestor, resolved; what is missing below it has no links.
        let mut existing = absolute.as_path();
        let mut missing = Vec::new();
        while std::fs::symlink_metadata(existing).is_err() {
            let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
                return Err(ConfineError::Outside(named));
            };
            missing.push(name.to_owned());
            existing = parent;
        }
        let resolved = existing.canonicalize().map_err(io_error(existing))?;
        if !self.inside(&resolved) {
            return Err(ConfineError::Outside(named));
        }
        let mut full = resolved;
        let directories = if is_file {
            missing.len().saturating_sub(1)
        } else {
            missing.len()
        };
        for (i, name) in missing.iter().rev().enumerate() {
            full.push(name);
            if create && i < directories {
                match DirBuilder::new().mode(0o700).create(&full) {
                    Ok(()) => {}
                    // Created meanwhile by someone else: check it like any existing path.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let again = full.canonicalize().map_err(io_error(&full))?;
                        if again != full || !self.inside(&again) {
                            return Err(ConfineError::Outside(named));
                        }
                    }
                    Err(e) => return Err(io_error(&full)(e)),
                }
            }
        }
        Ok(full)
    }

    /// A directory inside a root; created (0700) when `create` is set.
    pub fn directory(&self, path: &Path, create: bool) -> Result<PathBuf, ConfineError> {
        let dir = self.resolve(path, create, false)?;
        if create && !dir.is_dir() {
            return Err(ConfineError::Io {
                path: path.display().to_string(),
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        Ok(dir)
    }

    /// A directory inside a root, created if missing, that this process can write to (checked
    /// by creating and removing a file in it).
    pub fn writable_directory(&self, path: &Path) -> Result<PathBuf, ConfineError> {
        let dir = self.directory(path, true)?;
        let probe = dir.join(format!(".hark-probe-{}", uuid::Uuid::new_v4()));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&probe)
            .map_err(io_error(path))?;
        let _ = std::fs::remove_file(&probe);
        Ok(dir)
    }

    /// Opens an existing file inside a root for reading (no link followed in its last
    /// component).
    pub fn open_file(&self, path: &Path) -> Result<File, ConfineError> {
        let resolved = self.resolve(path, false, true)?;
        OpenOptions::new()
            .read(true)
            .custom_flags(nofollow())
            .open(&resolved)
            .map_err(io_error(path))
    }

    /// The path of a file to write inside a root, its directories created (0700).
    pub fn file_to_write(&self, path: &Path) -> Result<PathBuf, ConfineError> {
        self.resolve(path, true, true)
    }
}

/// `O_NOFOLLOW`: opening a symbolic link fails instead of following it.
fn nofollow() -> i32 {
    i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0)
}

/// Creates a new file 0600 that does not follow a link in its last component.
pub fn create_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nofollow())
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn setup() -> (tempfile::TempDir, ConfinedRoots) {
        let dir = tempfile::tempdir().unwrap();
        let roots = ConfinedRoots::new(&[dir.path().join("root")]).unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        std::fs::write(dir.path().join("outside/secret"), "s").unwrap();
        (dir, roots)
    }

    #[test]
    fn relative_and_absolute_paths_inside_a_root_resolve() {
        let (dir, roots) = setup();
        let root = dir.path().join("root").canonicalize().unwrap();
        assert_eq!(
            roots.directory(Path::new("a/b"), true).unwrap(),
            root.join("a/b")
        );
        assert!(root.join("a/b").is_dir());
        let mode = std::fs::metadata(root.join("a"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(
            roots.directory(&root.join("c"), false).unwrap(),
            root.join("c")
        );
        assert!(!root.join("c").exists(), "nothing created without create");
    }

    #[test]
    fn dot_dot_absolute_paths_and_links_out_are_refused_before_anything_is_created() {
        let (dir, roots) = setup();
        let root = dir.path().join("root");
        for hostile in ["../outside", "a/../../outside", "/tmp", "/etc/passwd"] {
            assert!(
                roots.directory(Path::new(hostile), true).is_err(),
                "{hostile}"
            );
        }
        // A link inside the root that points out, as a directory or as the last component.
        symlink(dir.path().join("outside"), root.join("door")).unwrap();
        assert!(matches!(
            roots.directory(Path::new("door/new/deeper"), true),
            Err(ConfineError::Outside(_))
        ));
        assert!(
            !dir.path().join("outside/new").exists(),
            "nothing created outside"
        );
        symlink(dir.path().join("outside/secret"), root.join("secret")).unwrap();
        assert!(matches!(
            roots.open_file(&root.join("secret")),
            Err(ConfineError::Outside(_))
        ));
        assert!(matches!(
            roots.file_to_write(Path::new("door/out.json")),
            Err(ConfineError::Outside(_))
        ));
    }

    #[test]
    fn an_unwritable_directory_is_reported_at_once() {
        let (dir, roots) = setup();
        let ro = dir.path().join("root/ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
        // Root may write anywhere; the probe is only meaningful for other users.
        let is_root = rustix::process::geteuid().is_root();
        assert_eq!(roots.writable_directory(&ro).is_err(), !is_root);
        // A file where a directory is needed fails whoever runs it.
        std::fs::write(dir.path().join("root/file"), "x").unwrap();
        assert!(roots.writable_directory(Path::new("file/sub")).is_err());
    }
}
