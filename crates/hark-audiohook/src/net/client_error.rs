//! Why a client connection or session could not run.

/// Why a client session could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL or headers are invalid.
    #[error("invalid request: {0}")]
    Request(String),
    /// The server refused the upgrade with an HTTP status.
    #[error("server answered HTTP {status}")]
    Http {
        /// The status code.
        status: u16,
    },
    /// The connection failed or broke.
    #[error("connection failed: {0}")]
    Connection(String),
}
