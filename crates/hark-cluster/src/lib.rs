//! Several `hark serve` instances on one PostgreSQL working as one: membership (heartbeats),
//! the registry of which instance holds which call, and control requests forwarded to them.
//!
//! A call's AudioHook WebSocket stays on the instance that accepted it; everything else can land
//! on any instance. A control request (call-leg action, record on demand, do-not-record, agents
//! joining, monitoring start/stop) that reaches instance A is applied by A and published with
//! `pg_notify` on [`CONTROL_CHANNEL`]; every other live instance runs it through its own router
//! and answers on A's reply channel. A answers its client with the best outcome (a success from
//! whichever instance holds the call, else the most specific error). Only PostgreSQL carries
//! the messages: no other broker.
//!
//! Each instance also registers itself (heartbeat) and the calls it holds, declares instances
//! whose heartbeat stopped dead (their calls ended with them), and runs Voice ID maintenance
//! only when it wins the fleet-wide lock (see [`spawn_fleet_maintenance`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hark_store::PgStore;
use hark_store::postgres::{CallRegistration, ClusterInstance, PgError};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tower::ServiceExt;

use hark_http::ApiError;

/// The channel control requests are published on.
pub const CONTROL_CHANNEL: &str = "hark_control";
/// The channel on which an instance says it changed a Voice ID domain's fraudsters.
pub const FRAUDSTER_CHANNEL: &str = "hark_voiceid_fraudsters";
/// Marks a request one instance forwarded to another (it is applied locally, not re-published).
pub const FORWARDED_HEADER: &str = "x-hark-forwarded";
/// Marks an answer given by an instance that does not hold the call it concerns (ranked
/// below every answer of the holder; never sent to clients).
pub const NOT_HERE_HEADER: &str = "x-hark-not-here";
/// How often an instance refreshes its heartbeat and its view of the fleet.
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// An instance whose heartbeat is older than this is dead: its calls have ended.
pub const DEAD_AFTER: Duration = Duration::from_secs(5);
/// How long A waits for the other instances' answers to a control request.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest control request body forwarded (NOTIFY payloads are limited to 8000 bytes).
const MAX_FORWARDED: usize = 7000;

/// A control request as published to the other instances.
#[derive(Debug, Serialize, Deserialize)]
struct Forwarded {
    id: String,
    from: String,
    method: String,
    uri: String,
    authorization: Option<String>,
    content_type: Option<String>,
    /// SigV4-signed headers (`host`, `x-amz-*`) of a forwarded Voice ID request.
    #[serde(default)]
    signed: Vec<(String, String)>,
    body: String,
}

/// One instance's outcome of a forwarded request.
#[derive(Debug, Serialize, Deserialize)]
struct Reply {
    id: String,
    from: String,
    status: u16,
    body: String,
    /// The answering instance does not hold the call.
    #[serde(default)]
    not_here: bool,
}

/// Notifications the listener thread hands to the runtime.
#[derive(Debug)]
struct Notification {
    channel: String,
    payload: String,
}

/// This instance's membership of the fleet.
pub struct Cluster {
    store: Arc<PgStore>,
    instance_id: String,
    reply_channel: String,
    /// The other live instances, refreshed every heartbeat.
    peers: RwLock<Vec<String>>,
    /// Forwarded requests of ours still collecting replies, by id.
    pending: Mutex<HashMap<String, mpsc::UnboundedSender<Reply>>>,
    /// Requests other instances published, until [`ForwardedRequests::serve`] runs them.
    forwarded: mpsc::UnboundedSender<Forwarded>,
    /// When the heartbeat last reached the database (readiness).
    last_heartbeat: Mutex<Option<Instant>>,
    /// Since when every heartbeat has reached the database; `None` after a failure. Other
    /// instances are declared dead only by an instance that watched them for long enough.
    healthy_since: Mutex<Option<Instant>>,
    /// How this instance registers itself (again, after being declared dead).
    address: String,
    data_dir: String,
    /// The calls this instance holds: the truth the database's registry is brought back to
    /// after an outage.
    local_calls: Mutex<HashMap<String, String>>,
    /// Set when a call registration could not be written: the next heartbeat reconciles.
    calls_dirty: std::sync::atomic::AtomicBool,
    /// Counts reconnections to the database after an outage (subscribers re-read what
    /// notifications they may have missed, e.g. do-not-record latches).
    reconnects: tokio::sync::watch::Sender<u64>,
    calls: mpsc::UnboundedSender<CallEvent>,
    /// The Voice ID service whose watchlist indexes follow other instances' changes.
    voiceid: Arc<hark_voiceid::VoiceId>,
}

/// Why this instance could not join the fleet.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// The instance could not be registered.
    #[error("cannot register the instance: {0}")]
    Store(#[from] PgError),
    /// Registering panicked.
    #[error("registering the instance panicked")]
    Panicked,
    /// The LISTEN connection ended before it was ready.
    #[error("the notification listener stopped")]
    ListenerStopped,
}

/// Control requests other instances published, waiting for this instance's router (which is
/// built after the cluster, since its routes forward through the cluster).
#[derive(Debug)]
pub struct ForwardedRequests {
    cluster: Arc<Cluster>,
    requests: mpsc::UnboundedReceiver<Forwarded>,
}

impl ForwardedRequests {
    /// Runs every forwarded request, from now on and those already waiting, through `router`
    /// and answers each on its sender's reply channel.
    pub fn serve(mut self, router: Router) {
        tokio::spawn(async move {
            while let Some(f) = self.requests.recv().await {
                tokio::spawn(Arc::clone(&self.cluster).apply_forwarded(f, router.clone()));
            }
        });
    }
}

/// A fraudster change one instance announces to the others.
#[derive(Debug, Serialize, Deserialize)]
struct FraudsterChange {
    from: String,
    domain: String,
}

/// Publishes this instance's fraudster changes on [`FRAUDSTER_CHANNEL`].
#[derive(Debug)]
struct AnnounceFraudsterChanges(std::sync::Weak<Cluster>);

impl hark_voiceid::service::FraudsterObserver for AnnounceFraudsterChanges {
    fn fraudsters_changed(&self, domain_id: &str) {
        let Some(cluster) = self.0.upgrade() else {
            return;
        };
        let change = FraudsterChange {
            from: cluster.instance_id.clone(),
            domain: domain_id.to_owned(),
        };
        let Ok(payload) = serde_json::to_string(&change) else {
            return;
        };
        // Called from blocking code (the Voice ID service never runs on a runtime worker).
        if let Err(e) = cluster.store.notify(FRAUDSTER_CHANNEL, &payload) {
            tracing::warn!(error = %e, "cannot announce a fraudster change to the fleet");
        }
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

/// A call starting or ending on this instance, to register in the database.
#[derive(Debug)]
enum CallEvent {
    Started { call_id: String, contact_id: String },
    Ended { call_id: String },
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain maps and instants: a panic elsewhere cannot leave them half-updated.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs a blocking store call off the runtime's worker threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

impl Cluster {
    /// Registers this instance, starts listening and heartbeating, and reloads `voiceid`'s
    /// watchlist indexes when another instance changes fraudsters; returns once notifications are being received,
    /// with the requests other instances forward (to [`ForwardedRequests::serve`]).
    pub async fn join(
        store: Arc<PgStore>,
        address: String,
        data_dir: String,
        voiceid: Arc<hark_voiceid::VoiceId>,
    ) -> Result<(Arc<Cluster>, ForwardedRequests), JoinError> {
        let instance_id = uuid::Uuid::new_v4().simple().to_string();
        let me = ClusterInstance {
            instance_id: instance_id.clone(),
            address: address.clone(),
            data_dir: data_dir.clone(),
            started_at: now_ms(),
            heartbeat_at: 0,
        };
        let registering = Arc::clone(&store);
        blocking(move || registering.register_instance(&me))
            .await
            .ok_or(JoinError::Panicked)??;
        let (calls, call_events) = mpsc::unbounded_channel();
        let (forwarded, requests) = mpsc::unbounded_channel();
        let cluster = Arc::new(Cluster {
            reply_channel: format!("hark_reply_{instance_id}"),
            store,
            instance_id,
            peers: RwLock::new(Vec::new()),
            pending: Mutex::new(HashMap::new()),
            forwarded,
            last_heartbeat: Mutex::new(Some(Instant::now())),
            healthy_since: Mutex::new(Some(Instant::now())),
            address,
            data_dir,
            local_calls: Mutex::new(HashMap::new()),
            calls_dirty: std::sync::atomic::AtomicBool::new(false),
            reconnects: tokio::sync::watch::channel(0).0,
            calls,
            voiceid,
        });
        let (notifications, ready) = cluster.spawn_listener();
        ready.await.map_err(|_| JoinError::ListenerStopped)?;
        tokio::spawn(Arc::clone(&cluster).dispatch(notifications));
        tokio::spawn(Arc::clone(&cluster).register_calls(call_events));
        tokio::spawn(Arc::clone(&cluster).heartbeat());
        tracing::info!(instance = %cluster.instance_id, "joined the cluster");
        let requests = ForwardedRequests {
            cluster: Arc::clone(&cluster),
            requests,
        };
        Ok((cluster, requests))
    }

    /// Announces this instance's fraudster changes to the others (the Voice ID service's
    /// `FraudstersChanged` effects go here); theirs reload this instance's indexes.
    pub fn fraudster_announcer(
        self: &Arc<Self>,
    ) -> Arc<dyn hark_voiceid::service::FraudsterObserver> {
        Arc::new(AnnounceFraudsterChanges(Arc::downgrade(self)))
    }

    /// This instance's id.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The shared store.
    pub fn store(&self) -> &Arc<PgStore> {
        &self.store
    }

    /// True while the heartbeat reaches the database.
    pub fn is_ready(&self) -> bool {
        lock(&self.last_heartbeat).is_some_and(|t| t.elapsed() < DEAD_AFTER)
    }

    /// Changes each time this instance reaches the database again after an outage.
    pub fn reconnects(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reconnects.subscribe()
    }

    /// A call this instance holds started (its contact registered, so other instances forward
    /// its control requests here).
    pub fn call_started(&self, call_id: &str, contact_id: &str) {
        lock(&self.local_calls).insert(call_id.to_owned(), contact_id.to_owned());
        let _ = self.calls.send(CallEvent::Started {
            call_id: call_id.to_owned(),
            contact_id: contact_id.to_owned(),
        });
    }

    /// A call this instance held ended.
    pub fn call_ended(&self, call_id: &str) {
        lock(&self.local_calls).remove(call_id);
        let _ = self.calls.send(CallEvent::Ended {
            call_id: call_id.to_owned(),
        });
    }

    /// Leaves the fleet (clean shutdown): the others stop waiting for this instance at once.
    pub async fn leave(&self) {
        let store = Arc::clone(&self.store);
        let id = self.instance_id.clone();
        if let Some(Err(e)) = blocking(move || store.remove_instance(&id)).await {
            tracing::warn!(error = %e, "could not deregister from the cluster");
        }
    }

    /// This instance, the live ones and their calls (blocking: queries the database).
    pub fn status(&self) -> Result<serde_json::Value, PgError> {
        let instances = self.store.live_instances(DEAD_AFTER)?;
        let calls = self.store.cluster_calls()?;
        Ok(serde_json::json!({
            "instance": self.instance_id,
            "peers": self.peers(),
            "instances": instances.iter().map(|i| serde_json::json!({
                "instanceId": i.instance_id,
                "address": i.address,
                "startedAt": i.started_at,
                "heartbeatAt": i.heartbeat_at,
            })).collect::<Vec<_>>(),
            "calls": calls.iter().map(|c| serde_json::json!({
                "callId": c.call_id,
                "contactId": c.contact_id,
                "instanceId": c.instance_id,
                "startedAt": c.started_at,
            })).collect::<Vec<_>>(),
        }))
    }

    fn peers(&self) -> Vec<String> {
        self.peers
            .read()
            .map(|p| p.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

mod fleet;
mod forward;
mod listen;

pub use fleet::spawn_fleet_maintenance;
pub use forward::forward_control;

/// Applies the do-not-record latches stored elsewhere during an outage, each time `cluster`
/// reaches the database again: recordings of those contacts in progress here stop.
pub fn apply_latches_on_reconnect(
    cluster: &Cluster,
    recording: &Arc<hark_recording::runtime::RecordingService>,
) {
    let mut reconnects = cluster.reconnects();
    let recording = Arc::downgrade(recording);
    tokio::spawn(async move {
        while reconnects.changed().await.is_ok() {
            let Some(recording) = recording.upgrade() else {
                return;
            };
            match tokio::task::spawn_blocking(move || recording.apply_stored_latches()).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::warn!(
                    contacts = n,
                    "do-not-record latches stored elsewhere during an outage applied here"
                ),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot read do-not-record latches after an outage")
                }
                Err(e) => tracing::error!(error = %e, "applying stored latches panicked"),
            }
        }
    });
}
