//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while handling audio in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// A file could not be read, written, synced or renamed.
    #[error("{op} {path}: {source}")]
    File {
        /// What was being done (`create`, `rename`, ...).
        op: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An I/O error on an already opened stream.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// L16 payloads carry two bytes per sample; an odd length cannot be decoded.
    #[error("L16 payload has an odd length of {0} bytes")]
    OddL16Length(usize),
    /// The number of samples is not a whole number of frames for the layout.
    #[error("{samples} samples do not make whole frames of {channels} channels")]
    PartialFrame {
        /// Samples given.
        samples: usize,
        /// Channels per frame.
        channels: usize,
    },
    /// The channel layout is empty, too large or repeats a channel.
    #[error("invalid channel layout: {0}")]
    InvalidLayout(String),
    /// A channel was asked for that the frame does not carry.
    #[error("channel {0} is not in the frame's layout")]
    MissingChannel(&'static str),
    /// Channels given to a merge have different lengths.
    #[error("channels have different lengths: {0:?}")]
    UnequalChannels(Vec<usize>),
    /// A name such as `PCMU` or `external` was not recognised.
    #[error("unknown {kind} {name:?}")]
    UnknownName {
        /// What kind of name (`encoding`, `channel`).
        kind: &'static str,
        /// The name as given.
        name: String,
    },
    /// A sample rate of zero or beyond what the operation supports.
    #[error("unsupported sample rate {0} Hz")]
    UnsupportedRate(u32),
    /// The input is not in any container or codec this crate decodes.
    #[error("unsupported audio format: {0}")]
    UnsupportedFormat(String),
    /// The input is recognised but damaged.
    #[error("corrupt audio: {0}")]
    Corrupt(String),
    /// The input ends in the middle of the audio.
    #[error("audio is truncated after {decoded_frames} frames")]
    Truncated {
        /// Frames decoded before the end was hit.
        decoded_frames: u64,
    },
    /// The input holds no audio track, or an audio track without samples.
    #[error("no audio in input")]
    NoAudio,
    /// Decoding would exceed the caller's limit.
    #[error("audio exceeds the limit of {max_frames} frames")]
    TooLong {
        /// The limit in frames.
        max_frames: u64,
    },
    /// A WAV file cannot hold more than 4 GiB of data.
    #[error("WAV data would exceed the 4 GiB RIFF limit")]
    WavTooLarge,
    /// A `.part` file cannot be turned into a WAV.
    #[error("cannot repair {path}: {reason}")]
    NotRepairable {
        /// The file concerned.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// The resampler refused its configuration or input.
    #[error("resampler: {0}")]
    Resample(String),
}

impl AudioError {
    pub(crate) fn file(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| AudioError::File { op, path, source }
    }
}
