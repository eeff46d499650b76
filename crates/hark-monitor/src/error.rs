//! The one error type of this crate.

/// Why a monitor operation was refused or failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum MonitorError {
    /// The integration's settings are not valid; the message names the field.
    #[error("invalid monitor integration: {0}")]
    Invalid(String),
    /// A sixth integration was asked for; the limit of five is fixed.
    #[error(
        "at most {limit} monitor integrations are allowed (the limit is fixed); delete one first"
    )]
    LimitReached {
        /// The limit (always [`crate::MAX_MONITORS`]).
        limit: usize,
    },
    /// No integration has this name.
    #[error("no monitor integration named {0:?}")]
    NotFound(String),
    /// An integration with this name exists already.
    #[error("a monitor integration named {0:?} exists already")]
    AlreadyExists(String),
    /// No live call belongs to this contact.
    #[error("no live call for contact {0:?}")]
    NoLiveCall(String),
    /// The integration is disabled, so it takes no calls.
    #[error("monitor integration {0:?} is disabled")]
    Disabled(String),
    /// The store failed.
    #[error("monitor store: {0}")]
    Store(String),
}
