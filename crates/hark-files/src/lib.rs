//! Where hark may put and read files: paths that clients name, confined to the directories the
//! operator configured; files created private (0600); S3-compatible object stores.
//!
//! ```
//! use std::path::Path;
//! use hark_files::confine::{ConfineError, ConfinedRoots};
//!
//! let root = std::env::temp_dir().join(format!("hark-files-doc-{}", std::process::id()));
//! let roots = ConfinedRoots::new(&[root.clone()])?;
//! // A client-named directory inside the root is created (0700)…
//! let inside = roots.directory(Path::new("calls/2026"), true)?;
//! assert!(inside.starts_with(root.canonicalize()?));
//! // …one that climbs out, or names a place outside every root, is refused before anything
//! // is created.
//! assert!(matches!(
//!     roots.directory(Path::new("../elsewhere"), true),
//!     Err(ConfineError::NotPlain(_))
//! ));
//! assert!(matches!(
//!     roots.directory(Path::new("/etc/hark-was-here"), true),
//!     Err(ConfineError::Outside(_))
//! ));
//! # std::fs::remove_dir_all(&root)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod confine;
pub mod s3;

pub use confine::{ConfineError, ConfinedRoots, create_private};
pub use s3::{S3Config, S3ConfigError, s3_builder};
