//! One call's streams: the call's audio and secure pauses pushed to each, streams started and
//! stopped while the call runs.

use std::sync::{Arc, Mutex, MutexGuard};

use hark_audio::AudioFrame;
use hark_audiohook::proto::Position;
use hark_audiohook::proto::message::Gap;
use hark_audiohook::proto::server::AudioChunk;

use super::handle::{Shared, StreamHandle};
use super::task::StreamTask;
use super::{ObserverFactory, StreamSettings};
use crate::block::SharedBlock;
use crate::call::CallIdentity;
use crate::filter::CallInfo;
use crate::integration::MonitorIntegration;
use crate::stream::{Ending, MonitorStream, StreamSnapshot};

/// A live call and the monitor streams it feeds.
pub struct CallFanout {
    call: CallIdentity,
    info: CallInfo,
    settings: StreamSettings,
    observers: Arc<dyn ObserverFactory>,
    state: Mutex<FanoutState>,
}

#[derive(Default)]
struct FanoutState {
    streams: Vec<StreamHandle>,
    /// Where the call's timeline is (end of the last audio, or a pause's gap).
    position: Position,
    /// Where the running secure pause began, if one runs.
    secure_pause: Option<Position>,
    ended: bool,
}

impl std::fmt::Debug for CallFanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFanout")
            .field("call", &self.call.call_id)
            .finish_non_exhaustive()
    }
}

impl CallFanout {
    /// A call with no streams yet.
    pub fn new(
        call: CallIdentity,
        info: CallInfo,
        settings: StreamSettings,
        observers: Arc<dyn ObserverFactory>,
    ) -> Self {
        CallFanout {
            call,
            info,
            settings,
            observers,
            state: Mutex::new(FanoutState::default()),
        }
    }

    /// The call.
    pub fn call(&self) -> &CallIdentity {
        &self.call
    }

    /// What monitors' filters see of the call.
    pub fn info(&self) -> &CallInfo {
        &self.info
    }

    /// Starts a stream to each monitor that has none running; returns the names started.
    pub fn start(&self, monitors: &[MonitorIntegration]) -> Vec<String> {
        let mut state = self.lock();
        if state.ended {
            return Vec::new();
        }
        state.streams.retain(|s| s.shared.lock().ending().is_none());
        let mut started = Vec::new();
        for monitor in monitors {
            if state.streams.iter().any(|s| s.monitor() == monitor.name) {
                continue;
            }
            let handle = self.spawn(monitor.clone(), state.secure_pause);
            state.streams.push(handle);
            started.push(monitor.name.clone());
        }
        started
    }

    /// Stops the streams to the named monitors (all when `None`); returns the names stopped.
    pub fn stop(&self, names: Option<&[String]>) -> Vec<String> {
        let mut state = self.lock();
        let mut stopped = Vec::new();
        state.streams.retain(|s| {
            let name = s.monitor();
            if names.is_none_or(|n| n.contains(&name)) {
                s.end(Ending::Stopped);
                stopped.push(name);
                false
            } else {
                true
            }
        });
        stopped
    }

    /// A block of the call's audio: decoded once, queued for every stream.
    pub fn audio(&self, chunk: &AudioChunk) {
        self.audio_with(chunk, || chunk.decode().ok().map(Arc::new));
    }

    /// A block of the call's audio whose samples `frame` gives (decoded once by the caller and
    /// shared with recording and Voice ID); `frame` is not asked when no stream is live.
    pub fn audio_with(&self, chunk: &AudioChunk, frame: impl FnOnce() -> Option<Arc<AudioFrame>>) {
        let mut state = self.lock();
        let length = Position::from_samples(chunk.frames(), chunk.format.rate);
        state.position = chunk.timeline_start.saturating_add(length);
        if state.streams.is_empty() {
            return;
        }
        // The ingest session only delivers whole samples in its format, so this decodes.
        let Some(frame) = frame() else {
            return;
        };
        // One block for all the call's monitors: each format is encoded once, by whichever
        // monitor's task sends it first.
        let block = Arc::new(SharedBlock::new(frame));
        for stream in &state.streams {
            stream.push_audio(chunk.timeline_start, Arc::clone(&block));
        }
    }

    /// The ingest client paused (secure pause) at `at`.
    pub fn paused(&self, at: Position) {
        let mut state = self.lock();
        if state.secure_pause.is_none() {
            state.secure_pause = Some(at);
            for stream in &state.streams {
                stream.secure_pause(at);
            }
        }
    }

    /// The ingest client resumed after `gap`.
    pub fn resumed(&self, gap: Gap) {
        let mut state = self.lock();
        let at = gap.start.saturating_add(gap.discarded);
        state.secure_pause = None;
        state.position = state.position.max(at);
        for stream in &state.streams {
            stream.secure_resume(at);
        }
    }

    /// The call ended: streams deliver what is queued and close.
    pub fn end(&self) {
        let mut state = self.lock();
        state.ended = true;
        for stream in state.streams.drain(..) {
            stream.end(Ending::CallEnded);
        }
    }

    /// The streams' states.
    pub fn snapshots(&self) -> Vec<StreamSnapshot> {
        self.lock()
            .streams
            .iter()
            .map(StreamHandle::snapshot)
            .collect()
    }

    fn spawn(&self, monitor: MonitorIntegration, secure_pause: Option<Position>) -> StreamHandle {
        let stream = MonitorStream::new(&monitor.name, &self.call.call_id, self.settings.limits);
        let shared = Arc::new(Shared::new(stream));
        let observer = self.observers.observer(&self.call, &monitor.name);
        let handle = StreamHandle {
            shared: Arc::clone(&shared),
            observer: Arc::clone(&observer),
        };
        if let Some(at) = secure_pause {
            handle.secure_pause(at);
        }
        let task = StreamTask {
            shared,
            observer,
            monitor,
            call: self.call.clone(),
            settings: self.settings.clone(),
        };
        tokio::spawn(task.run());
        handle
    }

    fn lock(&self) -> MutexGuard<'_, FanoutState> {
        // Plain data changed in single steps.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
