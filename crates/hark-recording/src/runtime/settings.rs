//! The `[recording]` settings the runtime starts from.

use std::path::PathBuf;

use hark_files::S3Config;
use serde::Deserialize;

/// The `[recording]` table: which calls are recorded automatically, how, and where.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RecordingSettings {
    /// `none` (default: only on request), `every`, or `matching` the rules.
    #[serde(default)]
    pub policy: crate::policy::PolicyScope,
    /// Rules for `matching`: `instance` and/or `custom_config` key-values.
    #[serde(default)]
    pub rules: Vec<crate::policy::PolicyRule>,
    /// Tracks of automatic and on-demand recordings: `BOTH` (default), `INCOMING`, `OUTGOING`.
    pub track: Option<crate::Track>,
    /// What pauses become: `silence` (default) or `skip`.
    #[serde(default)]
    pub pause_behavior: crate::PauseBehavior,
    /// Directory for recordings [default: DATA_DIR/recordings].
    pub directory: Option<PathBuf>,
    /// The S3-compatible store that `S3` destinations upload to.
    pub s3: Option<S3Config>,
    /// Where policy and on-demand recordings go: a directory or `s3://bucket/prefix`
    /// (overrides `directory`; `--recordings-url`).
    pub url: Option<String>,
    /// Directories a `File` destination of a recording action may name (a relative location
    /// is taken inside the first) [default: the recordings directory only].
    #[serde(default)]
    pub destination_roots: Vec<PathBuf>,
}
