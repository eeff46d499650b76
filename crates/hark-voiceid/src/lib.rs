//! Voice ID: domains, speakers, fraudsters, watchlists, sessions and jobs.
//!
//! Planned shape (issues 6 and 7): the AWS Voice ID JSON API types and handlers without any
//! transport, store traits with in-memory implementations, expiry and purge on an injected
//! clock. Nothing is implemented yet; this crate only reserves its place in the workspace.
