//! A server application that keeps everything its sessions deliver: for test suites that use
//! hark as the AudioHook server on the other end (monitors under test, load checks).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::accept::Admission;
use super::server::{HandlerFactory, SessionControl, SessionHandler};
use crate::proto::media::MediaFormat;
use crate::proto::message::OpenParameters;
use crate::proto::position::Position;
use crate::proto::server::{AudioChunk, SessionEvent, SessionStats};

/// One block of audio as received.
#[derive(Clone, Debug)]
pub struct RecordedChunk {
    /// Where it starts on the client's timeline.
    pub timeline_start: Position,
    /// When it arrived.
    pub received_at: Instant,
    /// The audio decoded to 16-bit samples, interleaved in the negotiated channel order.
    pub samples: Vec<i16>,
    /// The raw payload size.
    pub bytes: usize,
}

/// Everything one session delivered.
#[derive(Clone, Debug)]
pub struct RecordedSession {
    /// The session id.
    pub session_id: String,
    /// The client's `open`, once received.
    pub open: Option<OpenParameters>,
    /// The negotiated format.
    pub media: Option<MediaFormat>,
    /// Audio, in arrival order.
    pub chunks: Vec<RecordedChunk>,
    /// Session events (paused, resumed, discarded, closing, ...), in order.
    pub events: Vec<SessionEvent>,
    /// Whether the socket has closed.
    pub ended: bool,
}

impl RecordedSession {
    /// All samples received, in order.
    pub fn samples(&self) -> Vec<i16> {
        self.chunks
            .iter()
            .flat_map(|c| c.samples.iter().copied())
            .collect()
    }
}

/// Records every session it is the handler factory of. Clones share the recordings.
#[derive(Clone, Default)]
pub struct SessionCapture {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    sessions: Mutex<Vec<Arc<Mutex<RecordedSession>>>>,
    changed: Notify,
}

impl std::fmt::Debug for SessionCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCapture").finish_non_exhaustive()
    }
}

impl SessionCapture {
    /// An empty recorder.
    pub fn new() -> Self {
        SessionCapture::default()
    }

    /// A copy of every session so far, in the order they started.
    pub fn sessions(&self) -> Vec<RecordedSession> {
        lock(&self.inner.sessions)
            .iter()
            .map(|s| lock(s).clone())
            .collect()
    }

    /// Waits until `done` holds for the sessions (checked at every change), up to `timeout`;
    /// returns them, or `None` on timeout.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&[RecordedSession]) -> bool,
    ) -> Option<Vec<RecordedSession>> {
        tokio::time::timeout(timeout, async {
            loop {
                let changed = self.inner.changed.notified();
                let sessions = self.sessions();
                if done(&sessions) {
                    return sessions;
                }
                changed.await;
            }
        })
        .await
        .ok()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data appended in single steps.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl HandlerFactory for SessionCapture {
    fn handler(&self, admission: &Admission, _control: SessionControl) -> Box<dyn SessionHandler> {
        let session = Arc::new(Mutex::new(RecordedSession {
            session_id: admission.session_id.clone(),
            open: None,
            media: None,
            chunks: Vec::new(),
            events: Vec::new(),
            ended: false,
        }));
        lock(&self.inner.sessions).push(Arc::clone(&session));
        self.inner.changed.notify_waiters();
        Box::new(RecordingHandler {
            session,
            inner: Arc::clone(&self.inner),
        })
    }
}

struct RecordingHandler {
    session: Arc<Mutex<RecordedSession>>,
    inner: Arc<Inner>,
}

impl SessionHandler for RecordingHandler {
    fn on_event(&mut self, event: &SessionEvent) {
        {
            let mut s = lock(&self.session);
            if let SessionEvent::Opened { open, media, .. } = event {
                s.open = Some((**open).clone());
                s.media = *media;
            }
            s.events.push(event.clone());
        }
        self.inner.changed.notify_waiters();
    }

    fn on_audio(&mut self, chunk: AudioChunk) {
        let samples = chunk
            .decode()
            .map(hark_audio::AudioFrame::into_samples)
            .unwrap_or_default();
        lock(&self.session).chunks.push(RecordedChunk {
            timeline_start: chunk.timeline_start,
            received_at: Instant::now(),
            samples,
            bytes: chunk.payload.len(),
        });
        self.inner.changed.notify_waiters();
    }

    fn on_end(&mut self, _stats: &SessionStats) {
        lock(&self.session).ended = true;
        self.inner.changed.notify_waiters();
    }
}
