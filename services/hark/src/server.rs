//! Starting and stopping the service: data directory, credentials, listener, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::cluster::Cluster;
use crate::config::Config;
use crate::credentials::{self, Credentials, CredentialsError};
use crate::http::{AppState, router};
use crate::hub::{InteractionHub, SharedHub};
use crate::metrics::Metrics;
use crate::monitoring;
use crate::recording::RecordingService;
use crate::voiceid::VoiceIdApi;
use crate::voiceid_calls::VoiceIdCalls;

pub use crate::stores::DATABASE_FILE;
use hark_audiohook::net::{Acceptor, AudioHookServer};
use hark_audiohook::proto::server::ServerConfig;
use hark_audiohook::proto::signature::Keyring;

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The credentials file could not be loaded or written.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened or used.
    #[error("{0}")]
    Store(hark_recording::store::StoreError),
    /// A configured value is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The server failed while running.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// A bound, ready-to-run service instance.
pub struct Server {
    listener: TcpListener,
    router: Router,
    local_addr: SocketAddr,
    credentials: Credentials,
    cluster: Option<Arc<Cluster>>,
}

impl Server {
    /// Prepares the data directory and credentials and binds the listener; nothing is served
    /// until [`Server::run`].
    pub async fn bind(config: Config) -> Result<Server, ServeError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&config.data_dir)
            .map_err(|source| ServeError::DataDir {
                path: config.data_dir.clone(),
                source,
            })?;
        let loaded = credentials::load_or_generate(&config.data_dir)?;
        if let Some(notice) = loaded.first_start_notice(&config.data_dir) {
            // The console, not the log: secrets never go through tracing.
            eprintln!(
                "{}",
                notice.replace("HOST:PORT", &config.listen.to_string())
            );
            tracing::info!(tables = %loaded.generated.join(","), "generated credentials on first start");
        }
        let metrics = Arc::new(Metrics::new());
        let stores = crate::stores::open(config.database_url.as_deref(), &config.data_dir)
            .map_err(ServeError::Store)?;
        let store_for_monitors = Arc::clone(&stores.monitor);
        let voiceid = Arc::new(
            VoiceIdApi::new(&config, &loaded.credentials, Arc::clone(&stores.voiceid))
                .map_err(ServeError::Config)?,
        );
        let cluster = match &stores.postgres {
            Some(pg) => Some(
                Cluster::join(
                    Arc::clone(pg),
                    config.listen.to_string(),
                    config.data_dir.display().to_string(),
                )
                .await
                .map_err(ServeError::Config)?,
            ),
            None => None,
        };
        if let Some(pg) = &stores.postgres {
            voiceid.serialise_writes_across(Arc::clone(pg));
        }
        if let Some(c) = &cluster {
            c.share_fraudster_changes(&voiceid.service);
        }
        let every =
            std::time::Duration::from_secs(config.voiceid.maintenance_interval_seconds.max(1));
        match &cluster {
            Some(c) => crate::cluster::spawn_fleet_maintenance(
                Arc::clone(c),
                Arc::clone(&voiceid.service),
                every,
            ),
            None => voiceid.spawn_maintenance(every),
        }
        let recording = Arc::new(
            RecordingService::new(
                &config.data_dir,
                &config.recording,
                Arc::clone(&metrics),
                Arc::clone(&stores.recording),
            )
            .map_err(ServeError::Store)?,
        );
        if let Some(c) = &cluster {
            recording.join_cluster(Arc::clone(c));
        }
        let recovered = recording.recover();
        if recovered > 0 {
            tracing::info!(recovered, "recordings recovered from the spool");
        }
        let monitoring = Arc::new(
            monitoring::build(&config.monitor, store_for_monitors, Arc::clone(&metrics))
                .map_err(ServeError::Config)?,
        );
        let voiceid_calls = Arc::new(VoiceIdCalls::new(Arc::clone(&voiceid.service)));
        let hub = Arc::new(InteractionHub::new(
            Arc::clone(&metrics),
            Arc::clone(&recording),
            Arc::clone(&monitoring),
            voiceid_calls,
        ));
        let audiohook = Arc::new(AudioHookServer::new(
            Acceptor::new(audiohook_keys(&loaded.credentials, &config)?),
            ServerConfig::default(),
            Arc::new(SharedHub(Arc::clone(&hub))),
        ));
        let state = AppState {
            metrics,
            audiohook,
            hub,
            recording,
            recording_token: loaded.credentials.recording.token.clone(),
            monitoring,
            monitor_token: loaded.credentials.monitor.token.clone(),
            voiceid,
            cluster: cluster.clone(),
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr()?;
        tracing::info!(data_dir = %config.data_dir.display(), "data directory ready");
        let router = router(state);
        if let Some(c) = &cluster {
            c.set_router(router.clone());
        }
        Ok(Server {
            listener,
            router,
            local_addr,
            credentials: loaded.credentials,
            cluster,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The credentials in force.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        tracing::info!(addr = %self.local_addr, "listening");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await?;
        if let Some(cluster) = &self.cluster {
            cluster.leave().await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The AudioHook keys: the generated pair plus any configured in `hark.toml`.
fn audiohook_keys(credentials: &Credentials, config: &Config) -> Result<Keyring, ServeError> {
    let mut keys = Keyring::default();
    let generated = &credentials.audiohook;
    keys.insert(
        generated.api_key.expose(),
        Some(generated.client_secret.expose()),
    )
    .map_err(|e| {
        ServeError::Config(format!(
            "[audiohook] client_secret in credentials.toml is not base64: {e}"
        ))
    })?;
    for pair in &config.audiohook_credentials {
        keys.insert(&pair.api_key, pair.client_secret.as_deref())
            .map_err(|e| {
                ServeError::Config(format!(
                    "client_secret of AudioHook key {:?} is not base64: {e}",
                    pair.api_key
                ))
            })?;
    }
    Ok(keys)
}

/// SIGINT and SIGTERM handlers, installed when created so no signal is missed between start-up
/// and serving; [`ShutdownSignal::recv`] completes on the first of them.
pub struct ShutdownSignal {
    interrupt: Signal,
    terminate: Signal,
}

impl ShutdownSignal {
    /// Installs the handlers; from now on SIGINT and SIGTERM no longer kill the process.
    pub fn install() -> std::io::Result<Self> {
        Ok(ShutdownSignal {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Completes when SIGINT or SIGTERM arrives.
    pub async fn recv(mut self) {
        let name = tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        };
        tracing::info!(signal = name, "shutting down");
    }
}
