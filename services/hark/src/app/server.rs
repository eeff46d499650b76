//! Starting and stopping the service: data directory, credentials, listener, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::app::config::Config;
use crate::app::credentials::{self, Credentials, CredentialsError};
use crate::app::metrics::Metrics;
use crate::app::monitoring;
use crate::app::voiceid::VoiceIdApi;
use crate::http::state::AppState;
use crate::http::{admin_listener_router, router};
use crate::ingest::hub::{InteractionHub, SharedHub};
use hark_cluster::Cluster;
use hark_http::boundary::BodyLimits;
use hark_http::listener::ListenerLimits;
use hark_recording::runtime::RecordingService;
use hark_voiceid::runtime::VoiceIdCalls;

pub use crate::app::stores::DATABASE_FILE;
use hark_audiohook::net::{Acceptor, AudioHookServer};
use hark_audiohook::proto::server::ServerConfig;
use hark_audiohook::proto::signature::ApiKeys;

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
    Store(hark_recording::store::RecordingStoreError),
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
    limits: ListenerLimits,
    admin: Option<(TcpListener, Router)>,
    credentials: Credentials,
    cluster: Option<Arc<Cluster>>,
    /// Held while this server lives.
    _data_lock: crate::app::data_lock::DataDirLock,
    hub: Arc<InteractionHub>,
    recording: Arc<RecordingService>,
    metrics: Arc<Metrics>,
    drain: Arc<crate::app::drain::DrainState>,
    drain_for: std::time::Duration,
}

/// How long a drain waits for asked-to-leave calls to close, and then for their recordings.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(15);
const DELIVERY_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// How long a drain waits for monitor streams to deliver and close.
const MONITOR_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The data directory as the fleet registers it: canonical, so `hark recover` can recognise
/// a live instance's directory.
pub fn canonical_data_dir(dir: &std::path::Path) -> String {
    dir.canonicalize()
        .unwrap_or_else(|_| dir.to_owned())
        .display()
        .to_string()
}

/// Sets the process umask to 077: files 0600, directories 0700, whatever hark inherited.
pub fn private_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates the data directory 0700, or tightens an existing one that others could enter.
fn prepare_data_dir(dir: &std::path::Path) -> Result<(), ServeError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |source| ServeError::DataDir {
        path: dir.to_owned(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(fail)?;
    let mode = std::fs::metadata(dir).map_err(fail)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %dir.display(), mode = format!("{:o}", mode & 0o777), "data directory was open to others; setting mode 0700");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    }
    Ok(())
}

/// The listener's limits from `[http]`, the cap defaulting to what the descriptor limit allows.
fn listener_limits(http: &crate::app::config::HttpConfig) -> Result<ListenerLimits, ServeError> {
    let descriptors = hark_http::listener::raise_descriptor_limit();
    let max_connections = http
        .max_connections
        .unwrap_or_else(|| hark_http::listener::default_max_connections(descriptors));
    if max_connections <= http.health_reserve {
        return Err(ServeError::Config(format!(
            "[http] max_connections ({max_connections}) must be larger than health_reserve ({})",
            http.health_reserve
        )));
    }
    let seconds = |key: &str, value: u64| {
        if value == 0 {
            Err(ServeError::Config(format!(
                "[http] {key} must be at least 1"
            )))
        } else {
            Ok(std::time::Duration::from_secs(value))
        }
    };
    Ok(ListenerLimits::new(
        seconds("header_timeout_seconds", http.header_timeout_seconds)?,
        seconds("idle_timeout_seconds", http.idle_timeout_seconds)?,
        max_connections,
        http.health_reserve,
    ))
}

impl Server {
    /// Prepares the data directory and credentials and binds the listener; nothing is served
    /// until [`Server::run`].
    pub async fn bind(config: Config) -> Result<Server, ServeError> {
        prepare_data_dir(&config.data_dir)?;
        let data_lock = crate::app::data_lock::DataDirLock::acquire(&config.data_dir)
            .map_err(|e| ServeError::Config(e.to_string()))?;
        let limits = listener_limits(&config.http)?;
        let body_timeout = std::time::Duration::from_secs(config.http.body_timeout_seconds.max(1));
        // Bound before anything is generated or printed: a busy port fails the start early,
        // and the fleet registers the address actually bound.
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr()?;
        // Generated in memory; saved and shown only once everything else is in place.
        let loaded = credentials::load_or_create(&config.data_dir)?;
        let stores = crate::app::stores::open(&config).map_err(ServeError::Store)?;
        let store_for_monitors = Arc::clone(&stores.monitor);
        let voiceid = Arc::new(
            VoiceIdApi::new(
                &config,
                &loaded.credentials,
                Arc::clone(&stores.voiceid),
                stores.postgres.clone(),
            )
            .map_err(ServeError::Config)?,
        );
        let metrics = Arc::new(Metrics::new().with_voiceid(Arc::clone(&voiceid.service)));
        let (cluster, forwarded) = match &stores.postgres {
            Some(pg) => {
                let (cluster, forwarded) = Cluster::join(
                    Arc::clone(pg),
                    local_addr.to_string(),
                    canonical_data_dir(&config.data_dir),
                    Arc::clone(&voiceid.service),
                )
                .await
                .map_err(|e| ServeError::Config(e.to_string()))?;
                (Some(cluster), Some(forwarded))
            }
            None => (None, None),
        };
        hark_voiceid::runtime::spawn_effect_pump(
            &voiceid.service,
            hark_voiceid::runtime::EffectHandlers {
                events: Arc::clone(&voiceid.events) as _,
                fraudsters: cluster.as_ref().map(|c| c.fraudster_announcer()),
                jobs: Arc::clone(&voiceid.batch),
            },
        )?;
        let every =
            std::time::Duration::from_secs(config.voiceid.maintenance_interval_seconds.max(1));
        match &cluster {
            Some(c) => hark_cluster::spawn_fleet_maintenance(
                Arc::clone(c),
                Arc::clone(&voiceid.service),
                every,
            ),
            None => hark_voiceid::runtime::spawn_maintenance(Arc::clone(&voiceid.service), every),
        }
        let recording = Arc::new(
            RecordingService::new(
                &config.data_dir,
                &config.recording,
                Arc::clone(&metrics) as Arc<dyn hark_recording::runtime::RecordingObserver>,
                Arc::clone(&stores.recording),
            )
            .map_err(|e| ServeError::Config(e.to_string()))?,
        );
        if let Some(c) = &cluster {
            hark_cluster::apply_latches_on_reconnect(c, &recording);
        }
        let recovered = recording.recover();
        if recovered > 0 {
            tracing::info!(recovered, "recordings recovered from the spool");
        }
        let monitoring = Arc::new(
            monitoring::build(&config.monitor, store_for_monitors, Arc::clone(&metrics))
                .map_err(|e| ServeError::Config(e.to_string()))?,
        );
        let voiceid_calls = Arc::new(VoiceIdCalls::new(Arc::clone(&voiceid.service)));
        let hub = Arc::new(InteractionHub::new(
            Arc::clone(&metrics),
            Arc::clone(&recording),
            Arc::clone(&monitoring),
            voiceid_calls,
            cluster.clone(),
        ));
        let audiohook = Arc::new(AudioHookServer::new(
            Acceptor::new(audiohook_keys(&loaded.credentials, &config)?),
            ServerConfig::default(),
            Arc::new(SharedHub(Arc::clone(&hub))),
        ));
        let drain = Arc::new(crate::app::drain::DrainState::default());
        let state = AppState {
            metrics: Arc::clone(&metrics),
            audiohook,
            hub: Arc::clone(&hub),
            recording: Arc::clone(&recording),
            recording_token: loaded.credentials.recording.token.clone(),
            monitoring,
            monitor_token: loaded.credentials.monitor.token.clone(),
            voiceid_endpoint: Arc::new(voiceid.endpoint(Arc::clone(&metrics), body_timeout)),
            voiceid,
            cluster: cluster.clone(),
            admin_token: loaded.credentials.admin.token.clone(),
            body_limits: BodyLimits::new(config.http.max_body_bytes, body_timeout),
            drain: Arc::clone(&drain),
        };
        let admin = match &config.admin.listen {
            None => None,
            Some(text) => {
                let addr: SocketAddr = text.parse().map_err(|_| {
                    ServeError::Config(format!(
                        "[admin] listen {text:?} is not IP:PORT, e.g. 127.0.0.1:9090"
                    ))
                })?;
                let admin_listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServeError::Bind { addr, source })?;
                Some((admin_listener, admin_listener_router(state.clone())))
            }
        };
        loaded.save(&config.data_dir)?;
        if let Some(notice) = loaded.first_start_notice(&config.data_dir) {
            // The console, not the log: secrets never go through tracing.
            eprintln!("{}", notice.replace("HOST:PORT", &local_addr.to_string()));
            tracing::info!(tables = %loaded.generated.join(","), "generated credentials on first start");
        }
        tracing::info!(data_dir = %config.data_dir.display(), "data directory ready");
        let router = router(state);
        if let Some(forwarded) = forwarded {
            forwarded.serve(router.clone());
        }
        Ok(Server {
            listener,
            router,
            local_addr,
            limits,
            admin,
            credentials: loaded.credentials,
            cluster,
            _data_lock: data_lock,
            hub,
            recording,
            metrics,
            drain,
            drain_for: std::time::Duration::from_secs(config.drain_seconds),
        })
    }

    /// The address of the `[admin] listen` listener, when configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The credentials in force.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Serves until `shutdown` completes, then drains (see [`Server::run_draining`]) for as
    /// long as `drain_seconds` allows.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        self.run_draining(shutdown, std::future::pending()).await
    }

    /// Serves until `shutdown` completes, then drains: no new calls, `/readyz` 503, live calls
    /// go on until they end, `drain_seconds` pass or `force` completes; then the rest are asked
    /// to reconnect and end, recordings are finalized and delivered, and the server stops.
    pub async fn run_draining(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        force: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        tracing::info!(addr = %self.local_addr, max_connections = self.limits.max_connections, "listening");
        let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
        let http = tokio::spawn(hark_http::listener::serve(
            self.listener,
            self.router,
            self.limits,
            async {
                let _ = http_stopped.await;
            },
        ));
        let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
        let admin = self.admin.map(|(listener, router)| {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(addr = %addr, "admin listener (metrics and health) ready");
            }
            let limits =
                ListenerLimits::new(self.limits.header_timeout, self.limits.idle_timeout, 64, 0);
            tokio::spawn(hark_http::listener::serve(
                listener,
                router,
                limits,
                async {
                    let _ = admin_stopped.await;
                },
            ))
        });
        shutdown.await;
        drain(
            &self.hub,
            &self.recording,
            &self.metrics,
            &self.drain,
            self.drain_for,
            force,
        )
        .await;
        let _ = stop_http.send(());
        match http.await {
            Ok(result) => result?,
            Err(e) => tracing::error!(error = %e, "the listener task failed"),
        }
        let _ = stop_admin.send(());
        if let Some(task) = admin {
            let _ = task.await;
        }
        if let Some(cluster) = &self.cluster {
            cluster.leave().await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The drain: no new calls; live ones end on their own within `drain_for` (or `force`), the
/// rest are asked to leave; then their recordings are delivered.
async fn drain(
    hub: &InteractionHub,
    recording: &RecordingService,
    metrics: &Metrics,
    state: &crate::app::drain::DrainState,
    drain_for: std::time::Duration,
    force: impl Future<Output = ()>,
) {
    state.start();
    let started = std::time::Instant::now();
    tracing::info!(
        live_sessions = hub.live_sessions(),
        drain_seconds = drain_for.as_secs(),
        "draining: no new calls; live calls go on until they end"
    );
    tokio::select! {
        () = hub.all_ended() => {}
        () = tokio::time::sleep(drain_for) => {
            tracing::warn!(live_sessions = hub.live_sessions(), "drain time is up");
        }
        () = force => tracing::warn!("second signal: not waiting for live calls"),
    }
    let asked = hub.ask_to_leave();
    if asked > 0 {
        tracing::info!(
            sessions = asked,
            "asked the live calls to reconnect elsewhere and end"
        );
        if tokio::time::timeout(CLOSE_WAIT, hub.all_ended())
            .await
            .is_err()
        {
            tracing::warn!(
                live_sessions = hub.live_sessions(),
                "calls still connected; closing anyway"
            );
        }
    }
    // Recorders finalize when their call ends; deliveries and uploads follow.
    let left = pending_after(DELIVERY_WAIT, || recording.deliveries_in_progress()).await;
    if left > 0 {
        tracing::warn!(
            recordings = left,
            "recordings not delivered yet: they stay in the spool and are delivered at the next start"
        );
    }
    // Monitor streams deliver what they queued and close on their own after their call (within
    // `[monitor] drain_seconds`); the process waits for them.
    let streams = pending_after(MONITOR_WAIT, || {
        usize::try_from(metrics.monitor.streams.get()).unwrap_or(0)
    })
    .await;
    if streams > 0 {
        tracing::warn!(streams, "monitor streams still open; closing anyway");
    }
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "drained");
}

/// Waits (checking every 50 ms) until `pending` counts nothing or `limit` passes; returns what
/// is still pending.
async fn pending_after(limit: std::time::Duration, pending: impl Fn() -> usize) -> usize {
    let deadline = tokio::time::Instant::now() + limit;
    while pending() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    pending()
}

/// The AudioHook keys: the generated pair plus any configured in `hark.toml`.
fn audiohook_keys(credentials: &Credentials, config: &Config) -> Result<ApiKeys, ServeError> {
    let mut keys = ApiKeys::default();
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

    /// Completes when SIGINT or SIGTERM arrives (again, when called again).
    pub async fn recv(&mut self) {
        let name = tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        };
        tracing::info!(signal = name, "shutting down");
    }
}
