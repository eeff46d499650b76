//! The call's handle on one stream: push audio and pause marks, end, look.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::block::SharedBlock;
use hark_audiohook::proto::Position;
use tokio::sync::{Notify, watch};

use super::{StreamEvent, StreamObserver};
use crate::stream::{Ending, MonitorStream, StreamSnapshot};

/// What the call side and the stream's task share.
pub(crate) struct Shared {
    stream: Mutex<MonitorStream>,
    /// Something was queued (or the stream is ending): the task has work.
    pub(crate) work: Notify,
    /// Why the stream is ending, once it is: the task stops waiting, retrying and, after a
    /// grace period, writing.
    pub(crate) ending: watch::Sender<Option<Ending>>,
}

impl Shared {
    pub(crate) fn new(stream: MonitorStream) -> Self {
        Shared {
            stream: Mutex::new(stream),
            work: Notify::new(),
            ending: watch::Sender::new(None),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, MonitorStream> {
        // Plain data updated in single steps; a panic elsewhere cannot leave it half-changed.
        self.stream.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The call side of a stream. Every method returns at once.
#[derive(Clone)]
pub struct StreamHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) observer: Arc<dyn StreamObserver>,
}

impl std::fmt::Debug for StreamHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamHandle")
            .field("monitor", &self.shared.lock().monitor())
            .finish_non_exhaustive()
    }
}

impl StreamHandle {
    /// Queues a block of audio starting at `start` on the call's timeline.
    pub fn push_audio(&self, start: Position, frame: Arc<SharedBlock>) {
        let dropped = self.shared.lock().push_audio(start, frame);
        self.shared.work.notify_one();
        if dropped.blocks > 0 {
            self.observer.on_event(StreamEvent::Dropped(dropped));
        }
    }

    /// The call entered a secure pause at `at`.
    pub fn secure_pause(&self, at: Position) {
        self.shared.lock().secure_pause(Instant::now(), at);
        self.shared.work.notify_one();
    }

    /// The call left its secure pause; audio resumes at `at`.
    pub fn secure_resume(&self, at: Position) {
        self.shared.lock().secure_resume(Instant::now(), at);
        self.shared.work.notify_one();
    }

    /// Ends the stream.
    pub fn end(&self, ending: Ending) {
        let now_ending = {
            let mut stream = self.shared.lock();
            stream.end(ending);
            stream.ending()
        };
        self.shared.work.notify_one();
        self.shared.ending.send_replace(now_ending);
    }

    /// The monitor's name.
    pub fn monitor(&self) -> String {
        self.shared.lock().monitor().to_owned()
    }

    /// The stream's state now.
    pub fn snapshot(&self) -> StreamSnapshot {
        self.shared.lock().snapshot(Instant::now())
    }
}
