//! What every HTTP handler is given: the service's parts.

use std::sync::Arc;

use hark_audiohook::net::AudioHookServer;
use hark_http::BodyLimits;
use hark_monitor::net::Monitoring;
use hark_recording::runtime::RecordingService;

use crate::app::credentials::Secret;
use crate::app::metrics::Metrics;
use crate::ingest::hub::InteractionHub;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// The AudioHook endpoint.
    pub audiohook: Arc<AudioHookServer>,
    /// Live interactions.
    pub hub: Arc<InteractionHub>,
    /// Recording control.
    pub recording: Arc<RecordingService>,
    /// The bearer token of the recording APIs.
    pub recording_token: Secret,
    /// Monitor integrations and streams.
    pub monitoring: Arc<Monitoring>,
    /// The bearer token of the monitor API.
    pub monitor_token: Secret,
    /// The Voice ID service, its events and batch storage.
    pub voiceid: Arc<crate::app::voiceid::VoiceIdApi>,
    /// The Voice ID API's HTTP endpoint (access keys, limits, hooks).
    pub voiceid_endpoint: Arc<hark_voiceid::http::VoiceIdEndpoint>,
    /// On PostgreSQL: this instance's membership of the fleet.
    pub cluster: Option<Arc<hark_cluster::Cluster>>,
    /// The bearer token of the operational routes.
    pub admin_token: Secret,
    /// Body limits of hark's own JSON APIs.
    pub body_limits: BodyLimits,
    /// Set once the instance drains (no new calls).
    pub drain: Arc<crate::app::drain::DrainState>,
}
