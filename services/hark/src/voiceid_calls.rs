//! Voice ID on live calls: an AudioHook call whose organization (contact-center instance) is
//! associated with a Voice ID domain, or whose `customConfig` carries
//! `{"voiceId": {"domainId": …, "speakerId": …, "watchlistId": …}}`, feeds its customer
//! (external) channel into the Voice ID session named by its conversation id.
//!
//! The AudioHook task only decodes and queues (bounded, never waiting); one task per call
//! embeds the audio on the blocking pool, in order, so a slow CPU delays decisions, not calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hark_audio::Channel;
use hark_audiohook::proto::media::MediaFormat;
use hark_audiohook::proto::message::OpenParameters;
use hark_audiohook::proto::server::AudioChunk;
use hark_voiceid::{Error, SessionStream, StreamRequest, VoiceId};
use serde_json::Value;
use tokio::sync::mpsc;

/// Audio chunks queued per call; beyond, new audio is dropped and counted (200 ms chunks: 12.8 s).
const QUEUE_CHUNKS: usize = 64;

/// Starts Voice ID sessions for calls.
#[derive(Debug)]
pub struct VoiceIdCalls {
    service: Arc<VoiceId>,
    /// Audio chunks dropped because a call's embedding fell behind.
    pub dropped_chunks: AtomicU64,
}

/// How a call asks for Voice ID.
#[derive(Debug, Clone)]
enum Binding {
    /// `customConfig.voiceId`.
    Explicit(StreamRequest),
    /// Whatever domain the organization is associated with, if any.
    Instance {
        organization_id: String,
        session_name: String,
    },
}

/// One call's link to its Voice ID session.
#[derive(Debug)]
pub struct CallVoiceId {
    audio: mpsc::Sender<Vec<f32>>,
    calls: Arc<VoiceIdCalls>,
}

impl VoiceIdCalls {
    /// Sessions on `service`.
    pub fn new(service: Arc<VoiceId>) -> Self {
        VoiceIdCalls {
            service,
            dropped_chunks: AtomicU64::new(0),
        }
    }

    /// A call opened: starts its session task when it has customer audio.
    pub fn call_opened(
        self: &Arc<Self>,
        open: &OpenParameters,
        media: MediaFormat,
    ) -> Option<CallVoiceId> {
        media.layout.index_of(Channel::External)?;
        let binding = match open.custom_config.as_ref().and_then(|c| c.get("voiceId")) {
            Some(v) => Binding::Explicit(explicit_request(v, &open.conversation_id)?),
            None => Binding::Instance {
                organization_id: open.organization_id.clone(),
                session_name: open.conversation_id.clone(),
            },
        };
        let (tx, rx) = mpsc::channel(QUEUE_CHUNKS);
        tokio::spawn(run_session(
            Arc::clone(&self.service),
            binding,
            media.rate,
            rx,
        ));
        Some(CallVoiceId {
            audio: tx,
            calls: Arc::clone(self),
        })
    }
}

/// `customConfig.voiceId` → the session request; a malformed one is logged and ignored.
fn explicit_request(v: &Value, conversation_id: &str) -> Option<StreamRequest> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let Some(domain_id) = text("domainId") else {
        tracing::warn!("customConfig.voiceId without a domainId string: no Voice ID session");
        return None;
    };
    Some(StreamRequest {
        domain_id,
        session_name: conversation_id.to_owned(),
        speaker_id: text("speakerId"),
        watchlist_id: text("watchlistId"),
    })
}

impl CallVoiceId {
    /// Queues a chunk's customer audio; never waits.
    pub fn audio(&self, chunk: &AudioChunk) {
        if self.audio.is_closed() {
            return; // no session for this call
        }
        let samples = match chunk.decode().and_then(|f| f.channel(Channel::External)) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "undecodable audio not heard by Voice ID");
                return;
            }
        };
        let samples = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
        if self.audio.try_send(samples).is_err() && !self.audio.is_closed() {
            self.calls.dropped_chunks.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Opens the session, hears the call's audio in order, and ends the session with the call.
async fn run_session(
    service: Arc<VoiceId>,
    binding: Binding,
    rate: u32,
    mut audio: mpsc::Receiver<Vec<f32>>,
) {
    let svc = Arc::clone(&service);
    let opened = tokio::task::spawn_blocking(move || open(&svc, &binding, rate)).await;
    let stream = match opened {
        Ok(Ok(Some(stream))) => stream,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::warn!(code = e.code(), error = %e, "no Voice ID session for the call");
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "opening a Voice ID session panicked");
            return;
        }
    };
    tracing::debug!(session = %stream.session_id, "Voice ID session streaming");
    while let Some(mut batch) = audio.recv().await {
        while let Ok(more) = audio.try_recv() {
            batch.extend(more);
        }
        let (svc, st) = (Arc::clone(&service), stream.clone());
        match tokio::task::spawn_blocking(move || svc.hear(&st, &batch)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(session = %stream.session_id, error = %e, "Voice ID could not hear the call")
            }
            Err(e) => tracing::error!(error = %e, "Voice ID audio panicked"),
        }
    }
    let svc = Arc::clone(&service);
    let closed = tokio::task::spawn_blocking(move || svc.close_stream(&stream)).await;
    if let Ok(Err(e)) = closed {
        tracing::warn!(error = %e, "ending a Voice ID session failed");
    }
}

fn open(service: &VoiceId, binding: &Binding, rate: u32) -> Result<Option<SessionStream>, Error> {
    let request = match binding {
        Binding::Explicit(r) => r.clone(),
        Binding::Instance {
            organization_id,
            session_name,
        } => match service.instance_domain(organization_id)? {
            Some(domain_id) => StreamRequest {
                domain_id,
                session_name: session_name.clone(),
                ..StreamRequest::default()
            },
            None => return Ok(None),
        },
    };
    service.open_stream(&request, rate).map(Some)
}
