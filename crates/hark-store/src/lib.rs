//! Persistence adapters for the store traits that the domain crates define.
//!
//! [`SqliteStore`] is the embedded default: one database file in the data directory, WAL
//! journal, `synchronous = FULL` so that an acknowledged write survives power loss, versioned
//! migrations applied on open. It implements the recording and monitor stores. PostgreSQL for
//! scale-out follows (issue 9).

mod migrations;
mod monitor;
mod sqlite;
mod voiceid;

pub use sqlite::SqliteStore;
