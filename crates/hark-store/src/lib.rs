//! Persistence adapters for the store traits that the domain crates define.
//!
//! [`SqliteStore`] is the embedded default: one database file in the data directory, WAL
//! journal, `synchronous = FULL` so that an acknowledged write survives power loss, versioned
//! migrations applied on open. [`PgStore`] is the scale-out store: the same traits on a
//! PostgreSQL database that several `hark serve` instances share, plus what they need to work
//! as one (instance heartbeats, the calls each holds, notifications, fleet-wide locks).

mod migrations;
mod monitor;
pub mod postgres;
mod sqlite;
mod voiceid;
mod voiceid_codec;

pub use postgres::{PgError, PgStore};
pub use sqlite::SqliteStore;
