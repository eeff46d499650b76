//! The interaction hub: every live conversation and the AudioHook sessions feeding it.
//!
//! Each admitted AudioHook session gets a `HubSession` handler. When the session opens, its
//! conversation is registered (probes are not); audio and pauses are counted; when the socket
//! closes, the session leaves its interaction. Recording and the monitor streams are fed here,
//! without ever waiting: both take the audio into bounded queues.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use hark_audiohook::net::{
    Admission, HandlerFactory, ServerCommand, SessionControl, SessionHandler,
};
use hark_audiohook::proto::message::DisconnectReason;
use hark_audiohook::proto::server::{AudioChunk, SessionEvent, SessionStats};
use serde::Serialize;

use crate::app::metrics::{Metrics, ProtocolErrorLabels};
use hark_audio::Channel;
use hark_audiohook::proto::media::MediaFormat;
use hark_audiohook::proto::message::OpenParameters;
use hark_cluster::Cluster;
use hark_monitor::net::{CallFanout, Monitoring};
use hark_monitor::{CallIdentity, CallInfo};
use hark_recording::control::CallStarted;
use hark_recording::runtime::RecordingService;
use hark_voiceid::CallBinding;
use hark_voiceid::runtime::{CallVoiceId, VoiceIdCalls};

/// One live conversation as seen by hark.
#[derive(Clone, Debug, Serialize)]
pub struct Interaction {
    /// The Genesys conversation id (the contact).
    pub conversation_id: String,
    /// AudioHook sessions currently streaming it.
    pub sessions: Vec<String>,
    /// When the first session opened.
    #[serde(with = "epoch_seconds")]
    pub started_at: SystemTime,
}

/// All live interactions.
#[derive(Debug)]
pub struct InteractionHub {
    interactions: Mutex<HashMap<String, Interaction>>,
    /// Every admitted AudioHook session, to ask them to leave when draining.
    sessions: Mutex<HashMap<String, SessionControl>>,
    /// Notified whenever a session ends.
    ended: tokio::sync::Notify,
    metrics: Arc<Metrics>,
    recording: Arc<RecordingService>,
    monitoring: Arc<Monitoring>,
    voiceid: Arc<VoiceIdCalls>,
    /// On a cluster: where the calls this instance holds are registered.
    cluster: Option<Arc<Cluster>>,
}

impl InteractionHub {
    /// An empty hub reporting into `metrics` and feeding `recording`, `monitoring` and
    /// Voice ID sessions.
    pub fn new(
        metrics: Arc<Metrics>,
        recording: Arc<RecordingService>,
        monitoring: Arc<Monitoring>,
        voiceid: Arc<VoiceIdCalls>,
        cluster: Option<Arc<Cluster>>,
    ) -> Self {
        InteractionHub {
            interactions: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            ended: tokio::sync::Notify::new(),
            metrics,
            recording,
            monitoring,
            voiceid,
            cluster,
        }
    }

    /// The live interactions, oldest first.
    pub fn interactions(&self) -> Vec<Interaction> {
        let mut all: Vec<Interaction> = self.lock().values().cloned().collect();
        all.sort_by_key(|i| i.started_at);
        all
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionControl>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// AudioHook sessions still connected (probes and not-yet-open ones included).
    pub fn live_sessions(&self) -> usize {
        self.sessions().len()
    }

    /// Completes once no AudioHook session is connected.
    pub async fn all_ended(&self) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.live_sessions() == 0 {
                return;
            }
            ended.await;
        }
    }

    /// Asks every live session to reconnect elsewhere, then to end (`disconnect` completed):
    /// the last step of a drain.
    pub fn ask_to_leave(&self) -> usize {
        let sessions = self.sessions();
        for control in sessions.values() {
            control.send(ServerCommand::Reconnect {
                info: Some("server draining".into()),
            });
            control.send(ServerCommand::Disconnect {
                reason: DisconnectReason::Completed,
                info: Some("server shutting down".into()),
                output_variables: None,
            });
        }
        sessions.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Interaction>> {
        // The map holds plain data; a panic elsewhere cannot leave it half-updated.
        self.interactions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn join(&self, conversation_id: &str, session_id: &str) {
        self.lock()
            .entry(conversation_id.to_owned())
            .or_insert_with(|| Interaction {
                conversation_id: conversation_id.to_owned(),
                sessions: Vec::new(),
                started_at: SystemTime::now(),
            })
            .sessions
            .push(session_id.to_owned());
        self.metrics.audiohook.sessions_open.inc();
    }

    /// A call's recording ends and it leaves the cluster's registry (idempotent).
    fn call_ended(&self, session_id: &str) {
        if let Some(cluster) = &self.cluster {
            cluster.call_ended(session_id);
        }
        self.recording.call_ended(session_id);
    }

    fn leave(&self, conversation_id: &str, session_id: &str) {
        let mut interactions = self.lock();
        if let Some(interaction) = interactions.get_mut(conversation_id) {
            interaction.sessions.retain(|s| s != session_id);
            if interaction.sessions.is_empty() {
                interactions.remove(conversation_id);
            }
        }
        self.metrics.audiohook.sessions_open.dec();
    }
}

/// The hub as the AudioHook server's handler factory.
#[derive(Clone, Debug)]
pub struct SharedHub(pub Arc<InteractionHub>);

impl HandlerFactory for SharedHub {
    fn handler(&self, admission: &Admission, control: SessionControl) -> Box<dyn SessionHandler> {
        self.0
            .sessions()
            .insert(admission.session_id.clone(), control);
        Box::new(HubSession {
            hub: Arc::clone(&self.0),
            session_id: admission.session_id.clone(),
            conversation_id: None,
            monitors: None,
            voiceid: None,
            opened_at: None,
            upgraded_at: std::time::Instant::now(),
        })
    }
}

/// One AudioHook session's link to the hub.
struct HubSession {
    hub: Arc<InteractionHub>,
    session_id: String,
    conversation_id: Option<String>,
    /// The call's monitor fan-out, once it opened with audio.
    monitors: Option<Arc<CallFanout>>,
    /// The call's Voice ID session feed, when it has one.
    voiceid: Option<CallVoiceId>,
    /// When the call opened (probes never do).
    opened_at: Option<std::time::Instant>,
    /// When the WebSocket upgrade was accepted (open latency is measured from here).
    upgraded_at: std::time::Instant,
}

impl HubSession {
    /// Registers the call for monitor streams (calls without audio have nothing to stream).
    fn start_monitors(&mut self, open: &OpenParameters, media: Option<MediaFormat>) {
        let Some(media) = media else {
            return;
        };
        let call = CallIdentity {
            call_id: self.session_id.clone(),
            organization_id: open.organization_id.clone(),
            conversation_id: open.conversation_id.clone(),
            participant: open.participant.clone(),
            language: open.language.clone(),
            media,
        };
        let info = CallInfo::new(
            &open.organization_id,
            open.custom_config.clone().unwrap_or_default(),
        );
        self.monitors = Some(self.hub.monitoring.call_opened(call, info));
    }

    /// Binds the call to Voice ID when it has customer audio and asks for it (or its
    /// organization is associated with a domain).
    fn start_voiceid(&mut self, open: &OpenParameters, media: Option<MediaFormat>) {
        let Some(media) = media.filter(|m| m.layout.index_of(Channel::External).is_some()) else {
            return;
        };
        match CallBinding::for_call(
            &open.organization_id,
            &open.conversation_id,
            open.custom_config.as_ref(),
        ) {
            Ok(binding) => self.voiceid = Some(self.hub.voiceid.call_opened(binding, media.rate)),
            Err(e) => {
                tracing::warn!(session = %self.session_id, error = %e, "no Voice ID for the call")
            }
        }
    }

    fn end_monitors(&mut self) {
        if self.monitors.take().is_some() {
            self.hub.monitoring.call_ended(&self.session_id);
        }
    }
}

impl SessionHandler for HubSession {
    fn on_event(&mut self, event: &SessionEvent) {
        let metrics = &self.hub.metrics.audiohook;
        match event {
            SessionEvent::Opened { open, probe, media } => {
                metrics.sessions.inc();
                metrics
                    .open_latency
                    .observe(self.upgraded_at.elapsed().as_secs_f64());
                if *probe {
                    metrics.probes.inc();
                } else {
                    tracing::info!(
                        session = %self.session_id,
                        conversation = %open.conversation_id,
                        organization = %open.organization_id,
                        "call opened"
                    );
                    self.opened_at = Some(std::time::Instant::now());
                    self.hub.join(&open.conversation_id, &self.session_id);
                    self.conversation_id = Some(open.conversation_id.clone());
                    if let Some(cluster) = &self.hub.cluster {
                        cluster.call_started(&self.session_id, &open.conversation_id);
                    }
                    self.hub
                        .recording
                        .call_started(CallStarted::from_custom_config(
                            &self.session_id,
                            &open.conversation_id,
                            Some(&open.organization_id),
                            open.custom_config.clone().unwrap_or_default(),
                        ));
                    self.start_monitors(open, *media);
                    self.start_voiceid(open, *media);
                }
            }
            SessionEvent::Paused { position } => {
                tracing::info!(
                    target: crate::app::logging::AUDIT,
                    actor = "audiohook-client",
                    action = "secure_pause",
                    session = %self.session_id,
                    conversation = self.conversation_id.as_deref().unwrap_or_default(),
                    position = %position,
                    "audit"
                );
                if let Some(monitors) = &self.monitors {
                    monitors.paused(*position);
                }
            }
            SessionEvent::Resumed(gap) => {
                tracing::info!(
                    target: crate::app::logging::AUDIT,
                    actor = "audiohook-client",
                    action = "secure_resume",
                    session = %self.session_id,
                    conversation = self.conversation_id.as_deref().unwrap_or_default(),
                    paused_seconds = gap.discarded.as_duration().as_secs_f64(),
                    "audit"
                );
                metrics
                    .paused_seconds
                    .inc_by(gap.discarded.as_duration().as_secs_f64());
                if let Some(monitors) = &self.monitors {
                    monitors.resumed(*gap);
                }
            }
            SessionEvent::ClientError(e) => {
                let labels = ProtocolErrorLabels {
                    source: "client",
                    code: e.code.to_string(),
                };
                metrics.protocol_errors.get_or_create(&labels).inc();
                tracing::info!(session = %self.session_id, code = e.code, message = %e.message, "AudioHook client reported an error");
            }
            SessionEvent::Disconnected { reason, detail } => {
                let code = serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                if code != "completed" {
                    metrics
                        .protocol_errors
                        .get_or_create(&ProtocolErrorLabels {
                            source: "server",
                            code,
                        })
                        .inc();
                }
                tracing::info!(session = %self.session_id, ?reason, %detail, "AudioHook session disconnected");
            }
            SessionEvent::Closing { .. } => {
                self.hub.call_ended(&self.session_id);
                self.end_monitors();
                // Dropping the feed ends the Voice ID session once its queue is heard.
                self.voiceid = None;
            }
            SessionEvent::TimedOut(what) => {
                tracing::info!(session = %self.session_id, what, "AudioHook session timed out")
            }
            _ => {}
        }
    }

    fn on_audio(&mut self, chunk: AudioChunk) {
        let metrics = &self.hub.metrics.audiohook;
        metrics.frames.inc();
        metrics.bytes.inc_by(chunk.payload.len() as u64);
        // Decoded once, on first use, and shared by whoever needs samples.
        let decoded = std::cell::OnceCell::new();
        let frame = || {
            decoded
                .get_or_init(|| match chunk.decode() {
                    Ok(frame) => Some(Arc::new(frame)),
                    Err(e) => {
                        tracing::warn!(session = %self.session_id, error = %e, "undecodable audio");
                        None
                    }
                })
                .clone()
        };
        let rate = chunk.format.rate;
        let timeline = chunk.timeline_start.to_samples(rate);
        self.hub.recording.audio(&self.session_id, timeline, frame);
        if let Some(monitors) = &self.monitors {
            monitors.audio_with(&chunk, frame);
        }
        if let Some(voiceid) = &self.voiceid {
            voiceid.audio(frame);
        }
    }

    fn on_end(&mut self, stats: &SessionStats) {
        self.end_monitors();
        self.voiceid = None;
        if let Some(opened) = self.opened_at.take() {
            tracing::info!(
                session = %self.session_id,
                conversation = self.conversation_id.as_deref().unwrap_or_default(),
                seconds = opened.elapsed().as_secs_f64(),
                paused_seconds = stats.paused.as_duration().as_secs_f64(),
                frames = stats.frames,
                "call closed"
            );
        }
        if let Some(conversation) = self.conversation_id.take() {
            self.hub.call_ended(&self.session_id);
            self.hub.leave(&conversation, &self.session_id);
        }
    }
}

impl Drop for HubSession {
    /// However the session ended, it no longer holds the instance (a drain waits for this).
    fn drop(&mut self) {
        self.hub.sessions().remove(&self.session_id);
        self.hub.ended.notify_waiters();
    }
}

mod epoch_seconds {
    use std::time::{SystemTime, UNIX_EPOCH};

    pub fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }
}
