//! Voice ID on live calls: a call bound to Voice ID ([`CallBinding`]) feeds its customer
//! (external) channel into the Voice ID session named by its conversation id.
//!
//! The ingest task only queues (bounded, never waiting); one task per call
//! embeds the audio on the blocking pool, in order, so a slow CPU delays decisions, not calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::call_binding::CallBinding;
use crate::{Error, SessionStream, StreamRequest, VoiceId};
use hark_audio::{AudioFrame, Channel};
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

    /// A call opened, bound to Voice ID by `binding`, with customer audio at `rate`: starts its
    /// session task.
    pub fn call_opened(self: &Arc<Self>, binding: CallBinding, rate: u32) -> CallVoiceId {
        let (tx, rx) = mpsc::channel(QUEUE_CHUNKS);
        tokio::spawn(run_session(Arc::clone(&self.service), binding, rate, rx));
        CallVoiceId {
            audio: tx,
            calls: Arc::clone(self),
        }
    }
}

impl CallVoiceId {
    /// Queues the customer channel of a block of audio (`frame` decodes it, shared with the
    /// other consumers); never waits.
    pub fn audio(&self, frame: impl FnOnce() -> Option<Arc<AudioFrame>>) {
        if self.audio.is_closed() {
            return; // no session for this call
        }
        let Some(frame) = frame() else {
            return;
        };
        let samples = match frame.channel(Channel::External) {
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
    binding: CallBinding,
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

fn open(
    service: &VoiceId,
    binding: &CallBinding,
    rate: u32,
) -> Result<Option<SessionStream>, Error> {
    let request = match binding {
        CallBinding::Explicit(r) => r.clone(),
        CallBinding::Instance {
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
