//! Which store backs the service: the embedded SQLite file in the data directory, or a shared
//! PostgreSQL database when `database_url` is set. Each capability gets its trait object.

use std::path::Path;
use std::sync::Arc;

use hark_monitor::MonitorStore;
use hark_recording::store::{RecordingStore, RecordingStoreError};
use hark_store::postgres::{is_postgres_url, redact_url};
use hark_store::{PgStore, SqliteStore};
use hark_voiceid::store::VoiceIdStore;

/// The embedded database inside the data directory.
pub const DATABASE_FILE: &str = "hark.db";

/// The stores of every capability, all backed by one database.
#[derive(Clone, Debug)]
pub struct Stores {
    /// Recording control: latches, recordings.
    pub recording: Arc<dyn RecordingStore>,
    /// Monitor integrations and usage.
    pub monitor: Arc<dyn MonitorStore>,
    /// Voice ID.
    pub voiceid: Arc<dyn VoiceIdStore>,
    /// The PostgreSQL store when the service runs on one (cluster mode).
    pub postgres: Option<Arc<PgStore>>,
}

/// Opens (creating and migrating) the configured database: PostgreSQL for a `postgres://` URL,
/// else SQLite in `data_dir`.
pub fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Stores, RecordingStoreError> {
    match database_url {
        Some(url) if is_postgres_url(url) => {
            let store =
                Arc::new(PgStore::connect(url).map_err(|e| {
                    RecordingStoreError(format!("database {}: {e}", redact_url(url)))
                })?);
            Ok(Stores {
                recording: store.clone(),
                monitor: store.clone(),
                voiceid: store.clone(),
                postgres: Some(store),
            })
        }
        Some(url) => Err(RecordingStoreError(format!(
            "database URL {} is not postgres:// or postgresql:// (leave it out for the embedded SQLite)",
            redact_url(url)
        ))),
        None => {
            let store = Arc::new(SqliteStore::open(&data_dir.join(DATABASE_FILE))?);
            Ok(Stores {
                recording: store.clone(),
                monitor: store.clone(),
                voiceid: store,
                postgres: None,
            })
        }
    }
}
