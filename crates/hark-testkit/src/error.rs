//! What can go wrong starting or driving a test hark.

use crate::voiceid::VoiceIdError;

/// A test hark could not start, stop, or be driven.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// The temporary data directory could not be made.
    #[error("cannot create a temporary data directory: {0}")]
    TempDir(#[source] std::io::Error),
    /// The configuration was refused.
    #[error("configuration: {0}")]
    Config(#[from] hark::config::ConfigError),
    /// The server did not start or did not stop cleanly.
    #[error("server: {0}")]
    Serve(#[from] hark::server::ServeError),
    /// The server task panicked or was cancelled.
    #[error("the server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// An audio file could not be read.
    #[error("audio: {0}")]
    Audio(#[from] hark_audio::AudioError),
    /// An AudioHook client session failed.
    #[error("AudioHook client: {0}")]
    AudioHook(#[from] hark_audiohook::net::ClientError),
    /// A Voice ID call failed.
    #[error(transparent)]
    VoiceId(#[from] VoiceIdError),
}
