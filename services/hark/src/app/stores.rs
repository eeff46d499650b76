//! Which store backs the service: the embedded SQLite file in the data directory, or a shared
//! PostgreSQL database when `database_url` is set. Each capability gets its trait object.

use std::sync::Arc;

use hark_monitor::MonitorStore;
use hark_recording::store::{RecordingStore, RecordingStoreError};
use hark_store::postgres::{DEFAULT_POOL_SIZE, is_postgres_url, redact_url};
use hark_store::{PgStore, SqliteStore};
use hark_voiceid::store::VoiceIdStore;

use crate::app::config::Config;

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

/// Opens (creating and migrating) the configured database: PostgreSQL for a `postgres://` URL
/// (over TLS when it says `sslmode=require`, trusting `database_ca_file` too), else SQLite in
/// the data directory.
pub fn open(config: &Config) -> Result<Stores, RecordingStoreError> {
    let data_dir = &config.data_dir;
    match config.database_url.as_deref() {
        Some(url) if is_postgres_url(url) => {
            let ca = match &config.database_ca_file {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    RecordingStoreError(format!("database_ca_file {}: {e}", path.display()))
                })?),
                None => None,
            };
            let store = PgStore::connect_verified(url, DEFAULT_POOL_SIZE, ca.as_deref())
                .map_err(|e| RecordingStoreError(format!("database {}: {e}", redact_url(url))))?;
            let store = Arc::new(store);
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
            let store = Arc::new(
                SqliteStore::open(&data_dir.join(DATABASE_FILE))
                    .map_err(|e| RecordingStoreError(e.to_string()))?,
            );
            Ok(Stores {
                recording: store.clone(),
                monitor: store.clone(),
                voiceid: store,
                postgres: None,
            })
        }
    }
}
