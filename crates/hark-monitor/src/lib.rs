//! Monitor streams: an interaction's audio fanned out to at most five monitor integrations.
//!
//! Planned shape (issue 8): each monitor is an AudioHook client session with its own bounded
//! queue, secure pause propagation, retry with backoff and usage accounting. Nothing is
//! implemented yet; this crate only reserves its place in the workspace.
