//! Persistence adapters for the store traits that the domain crates define.
//!
//! [`SqliteStore`] is the embedded default: one database file in the data directory, WAL
//! journal, `synchronous = FULL` so that an acknowledged write survives power loss, versioned
//! migrations applied on open. [`PgStore`] is the scale-out store: the same traits on a
//! PostgreSQL database that several `hark serve` instances share, plus what they need to work
//! as one (instance heartbeats, the calls each holds, notifications, fleet-wide locks).
//!
//! ```
//! # #[cfg(feature = "recording")] {
//! use hark_recording::store::RecordingStore;
//! use hark_store::SqliteStore;
//!
//! let dir = std::env::temp_dir().join(format!("hark-store-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let store = SqliteStore::open(&dir.join("hark.db"))?;
//! let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
//! store.latch_do_not_record("contact-1", at)?;
//! drop(store);
//! // Reopened (a restart): the latch is still there.
//! let store = SqliteStore::open(&dir.join("hark.db"))?;
//! assert_eq!(store.do_not_record_latches()?, vec![("contact-1".to_owned(), at)]);
//! # std::fs::remove_dir_all(&dir)?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// docs.rs builds with every feature and marks what each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

//!
//! Each capability's store is behind a feature of the same name — `recording`, `monitor`,
//! `voiceid`, all on by default — so an application that uses one capability compiles only that
//! capability's crate (e.g. `default-features = false, features = ["voiceid"]`). The schema is
//! the same whatever the features: a database can be shared by builds with different ones.

mod migrations;
#[cfg(feature = "monitor")]
mod monitor;
pub mod postgres;
#[cfg(feature = "recording")]
mod recording;
mod sqlite;
#[cfg(feature = "voiceid")]
mod voiceid;
#[cfg(feature = "voiceid")]
mod voiceid_codec;

pub use postgres::{PgError, PgStore};
pub use sqlite::{SqliteError, SqliteStore};
