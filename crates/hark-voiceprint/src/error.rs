//! The one error type of the crate.

use std::time::Duration;

/// Everything that can go wrong while turning audio into voiceprints.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VoiceprintError {
    /// The audio holds less speech than the operation needs.
    #[error("not enough speech: {speech:?} of net speech, {required:?} required")]
    NotEnoughSpeech {
        /// Net speech found (voice-activity kept duration).
        speech: Duration,
        /// Net speech the operation needs.
        required: Duration,
    },
    /// The audio could not be decoded or resampled.
    #[error(transparent)]
    Audio(#[from] hark_audio::AudioError),
    /// The audio is longer than the embedder accepts in one piece.
    #[error("audio of {seconds:.0} s exceeds the limit of {limit:.0} s")]
    TooLong {
        /// Length of the input in seconds.
        seconds: f64,
        /// The limit in seconds.
        limit: f64,
    },
    /// A sample is not a finite number.
    #[error("audio contains a non-finite sample at index {0}")]
    NonFiniteSample(usize),
    /// The weights file is damaged or holds the wrong tensors.
    #[error("weights: {0}")]
    Weights(String),
    /// The legacy PyTorch checkpoint could not be read.
    #[error("legacy checkpoint: {0}")]
    Checkpoint(String),
    /// A voiceprint of the wrong size or with invalid values was given.
    #[error("invalid voiceprint: {0}")]
    InvalidVoiceprint(String),
    /// An evaluation corpus is unusable.
    #[error("corpus: {0}")]
    Corpus(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file concerned.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl VoiceprintError {
    pub(crate) fn file(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| VoiceprintError::File {
            path: path.to_path_buf(),
            source,
        }
    }
}
