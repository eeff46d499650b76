//! Where hark may put and read files: paths that clients name, confined to the directories the
//! operator configured; files created private (0600); S3-compatible object stores.

pub mod confine;
pub mod s3;

pub use confine::{ConfineError, ConfinedRoots, create_private};
pub use s3::{S3Config, S3ConfigError, s3_builder};
