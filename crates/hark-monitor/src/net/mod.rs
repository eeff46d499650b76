//! The tokio shell: one task per (call, monitor) stream that connects to the monitor as an
//! AudioHook client, drains the stream's queue into the session, and retries with backoff
//! until the call ends; [`CallFanout`] runs a call's streams and [`Monitoring`] all calls.
//!
//! The call side never waits: it pushes into each stream's bounded queue under a short lock
//! and wakes the stream's task. Only the task touches the socket.

mod fanout;
mod handle;
mod journal;
mod monitoring;
mod session;
mod settings;
mod task;

use std::sync::Arc;
use std::time::Duration;

use hark_audiohook::net::Transport;
use hark_audiohook::proto::media::MediaFormat;

pub use fanout::CallFanout;
pub use handle::StreamHandle;
pub use monitoring::Monitoring;
pub use settings::{MAX_DRAIN_SECONDS, MAX_QUEUE_SECONDS, MonitorSettings, SetupError, start};

use crate::call::CallIdentity;
use crate::feed::{Dropped, QueueLimits};
use crate::stream::StreamSnapshot;

/// How streams connect, queue and retry.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StreamSettings {
    /// The queue limits of each stream.
    pub limits: QueueLimits,
    /// Time allowed to connect (TCP and WebSocket upgrade).
    pub connect_timeout: Duration,
    /// Time allowed for `opened`.
    pub open_timeout: Duration,
    /// Time a stream may take to deliver its queue and close after the call ended.
    pub drain_timeout: Duration,
    /// Time a stopped stream may take to close.
    pub stop_timeout: Duration,
    /// First retry delay.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How connections are made: the kernel send buffer cap (bounds what a stalled monitor
    /// holds) and TLS for `wss://`.
    pub transport: Transport,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            limits: QueueLimits::default(),
            connect_timeout: Duration::from_secs(5),
            open_timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(15),
            stop_timeout: Duration::from_secs(2),
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(5),
            transport: Transport {
                send_buffer: Some(32 * 1024),
                ..Transport::default()
            },
        }
    }
}

/// Something that happened to a stream, for logs and metrics.
#[derive(Debug)]
pub enum StreamEvent<'a> {
    /// A connection attempt starts.
    Attempt {
        /// Its number, from 1.
        attempt: u64,
    },
    /// It failed before `opened`.
    ConnectFailed {
        /// Its number.
        attempt: u64,
        /// Why (never contains secrets).
        error: &'a str,
    },
    /// The monitor answered `open`.
    Opened {
        /// The AudioHook session id towards the monitor.
        session_id: &'a str,
        /// The format it chose (`None`: it takes no audio).
        media: Option<MediaFormat>,
    },
    /// An open session ended; `failed` sessions are retried.
    SessionEnded {
        /// The session id.
        session_id: &'a str,
        /// Why.
        reason: &'a str,
        /// Whether it ended abnormally (a retry follows unless the stream is ending).
        failed: bool,
    },
    /// The next attempt follows after `delay`.
    Retrying {
        /// The delay.
        delay: Duration,
    },
    /// Audio was dropped from the queue.
    Dropped(Dropped),
    /// An audio block was handed to the monitor's session to send.
    FrameSent,
    /// A binary audio message of `bytes` was written to the connection.
    Wrote {
        /// Its size.
        bytes: usize,
    },
    /// The monitor paused (`true`) or resumed its stream.
    MonitorPaused(bool),
    /// The stream is over; final state.
    Finished(&'a StreamSnapshot),
}

/// Receives a stream's events. Called on the stream's task and, for drops, on the call's:
/// return quickly.
pub trait StreamObserver: Send + Sync {
    /// One event.
    fn on_event(&self, event: StreamEvent<'_>);
}

/// Makes the observer of each new stream.
pub trait ObserverFactory: Send + Sync {
    /// The observer of the stream of `call` to `monitor`.
    fn observer(&self, call: &CallIdentity, monitor: &str) -> Arc<dyn StreamObserver>;
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct IgnoreEvents;

impl StreamObserver for IgnoreEvents {
    fn on_event(&self, _event: StreamEvent<'_>) {}
}

impl ObserverFactory for IgnoreEvents {
    fn observer(&self, _call: &CallIdentity, _monitor: &str) -> Arc<dyn StreamObserver> {
        Arc::new(IgnoreEvents)
    }
}
