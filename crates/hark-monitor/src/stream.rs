//! One (call, monitor) stream's shared state: the queue the call fills, the usage, the
//! counters and the phase of the connection that drains it. The call side and the connection
//! side each hold it briefly under a lock; neither ever waits for the other.

use std::sync::Arc;
use std::time::Instant;

use hark_audiohook::proto::Position;
use serde::Serialize;

use crate::block::SharedBlock;
use crate::feed::{Dropped, FeedItem, FeedQueue, QueueLimits};
use crate::usage::{Usage, UsageSeconds};

/// Where a stream's connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Connecting or waiting for `opened`.
    Connecting,
    /// Streaming.
    Open,
    /// Waiting to try again after a failure.
    Retrying,
    /// Done.
    Finished,
}

/// Why a stream is ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Ending {
    /// The call ended: deliver what is queued, then close.
    CallEnded,
    /// Streaming was stopped (API, or the integration was disabled or deleted): close now.
    Stopped,
}

/// Counters of a stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamCounters {
    /// Connection attempts.
    pub attempts: u64,
    /// Attempts that failed and sessions that dropped.
    pub failures: u64,
    /// Sessions that opened.
    pub sessions: u64,
    /// Audio blocks handed to the monitor's connection (what was neither dropped nor withheld
    /// by the monitor's own pause), so sent + discarded (+ the monitor's pauses) is the call.
    pub frames_sent: u64,
    /// Audio bytes written to the connection.
    pub bytes_sent: u64,
    /// Audio blocks dropped (queue overflow, or left when the stream ended).
    pub discarded_blocks: u64,
    /// Their duration in seconds.
    pub discarded_seconds: f64,
}

/// A stream as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamSnapshot {
    /// The monitor integration.
    pub monitor: String,
    /// The call (ingest session id).
    pub call_id: String,
    /// Connection phase.
    pub phase: Phase,
    /// Why it is ending, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending: Option<Ending>,
    /// The current AudioHook session id towards the monitor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Whether the call is in a secure pause.
    pub secure_paused: bool,
    /// Whether the monitor has paused its stream.
    pub monitor_paused: bool,
    /// Seconds of audio waiting in the queue.
    pub queued_seconds: f64,
    /// Counters.
    #[serde(flatten)]
    pub counters: StreamCounters,
    /// Usage so far.
    pub usage: UsageSeconds,
}

/// The shared state of one stream.
#[derive(Debug)]
pub struct MonitorStream {
    monitor: String,
    call_id: String,
    queue: FeedQueue,
    usage: Usage,
    counters: StreamCounters,
    phase: Phase,
    ending: Option<Ending>,
    session_id: Option<String>,
    monitor_paused: bool,
}

impl MonitorStream {
    /// A stream of `call_id` to `monitor`, connecting.
    pub fn new(monitor: &str, call_id: &str, limits: QueueLimits) -> Self {
        MonitorStream {
            monitor: monitor.to_owned(),
            call_id: call_id.to_owned(),
            queue: FeedQueue::new(limits),
            usage: Usage::default(),
            counters: StreamCounters::default(),
            phase: Phase::Connecting,
            ending: None,
            session_id: None,
            monitor_paused: false,
        }
    }

    // ---- the call's side ----

    /// Queues a block of the call's audio (ignored once ending or inside a secure pause);
    /// returns what overflow dropped.
    pub fn push_audio(&mut self, start: Position, frame: Arc<SharedBlock>) -> Dropped {
        if self.ending.is_some() || self.usage.is_secure_paused() {
            return Dropped::default();
        }
        let dropped = self.queue.push_audio(start, frame);
        self.count_dropped(dropped);
        dropped
    }

    /// The call entered a secure pause at `at` (repeats ignored).
    pub fn secure_pause(&mut self, now: Instant, at: Position) {
        if self.ending.is_none() && !self.usage.is_secure_paused() {
            self.usage.set_secure_paused(now, true);
            self.queue.push_mark(FeedItem::Pause { at });
        }
    }

    /// The call left its secure pause; audio resumes at `at`.
    pub fn secure_resume(&mut self, now: Instant, at: Position) {
        if self.ending.is_none() && self.usage.is_secure_paused() {
            self.usage.set_secure_paused(now, false);
            self.queue.push_mark(FeedItem::Resume { at });
        }
    }

    /// Asks the stream to end (a stop overrides a call end).
    pub fn end(&mut self, ending: Ending) {
        if self.ending != Some(Ending::Stopped) {
            self.ending = Some(ending);
        }
    }

    // ---- the connection's side ----

    /// Why the stream is ending, if it is.
    pub fn ending(&self) -> Option<Ending> {
        self.ending
    }

    /// The next item, unless the stream was stopped.
    pub fn next_item(&mut self) -> Option<FeedItem> {
        if self.ending == Some(Ending::Stopped) {
            return None;
        }
        self.queue.pop()
    }

    /// True when the call ended and everything queued has been taken (or it was stopped).
    pub fn is_drained(&self) -> bool {
        match self.ending {
            Some(Ending::Stopped) => true,
            Some(Ending::CallEnded) => self.queue.is_empty(),
            None => false,
        }
    }

    /// A connection attempt starts; returns its number (1-based).
    pub fn attempt(&mut self) -> u64 {
        self.phase = Phase::Connecting;
        self.counters.attempts += 1;
        self.counters.attempts
    }

    /// An attempt failed or a session dropped; a retry follows unless the stream is ending.
    pub fn failed(&mut self, now: Instant) {
        self.counters.failures += 1;
        self.disconnected(now);
        self.phase = Phase::Retrying;
    }

    /// The monitor answered `open`.
    pub fn opened(&mut self, now: Instant, session_id: &str) {
        self.phase = Phase::Open;
        self.counters.sessions += 1;
        self.session_id = Some(session_id.to_owned());
        self.usage.set_connected(now, true);
    }

    /// The session ended (cleanly or not).
    pub fn disconnected(&mut self, now: Instant) {
        self.usage.set_connected(now, false);
        self.monitor_paused = false;
        self.session_id = None;
    }

    /// The monitor paused or resumed its stream.
    pub fn monitor_paused(&mut self, now: Instant, paused: bool) {
        self.monitor_paused = paused;
        self.usage.set_monitor_paused(now, paused);
    }

    /// An audio block was handed to the monitor's session to send.
    pub fn sent_frame(&mut self) {
        self.counters.frames_sent += 1;
    }

    /// A binary message of `bytes` was written to the connection.
    pub fn wrote(&mut self, bytes: usize) {
        self.counters.bytes_sent += bytes as u64;
    }

    /// The stream is over: what is still queued counts as discarded, usage stops.
    pub fn finish(&mut self, now: Instant) -> Dropped {
        self.disconnected(now);
        self.phase = Phase::Finished;
        let dropped = self.queue.abandon();
        self.count_dropped(dropped);
        dropped
    }

    /// The monitor's name.
    pub fn monitor(&self) -> &str {
        &self.monitor
    }

    /// The state as of `now`.
    pub fn snapshot(&self, now: Instant) -> StreamSnapshot {
        StreamSnapshot {
            monitor: self.monitor.clone(),
            call_id: self.call_id.clone(),
            phase: self.phase,
            ending: self.ending,
            session_id: self.session_id.clone(),
            secure_paused: self.usage.is_secure_paused(),
            monitor_paused: self.monitor_paused,
            queued_seconds: self.queue.queued_audio().as_secs_f64(),
            counters: self.counters.clone(),
            usage: self.usage.totals(now),
        }
    }

    fn count_dropped(&mut self, dropped: Dropped) {
        self.counters.discarded_blocks += dropped.blocks;
        self.counters.discarded_seconds += dropped.duration.as_secs_f64();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hark_audio::{AudioFrame, ChannelLayout};
    use std::time::Duration;

    fn block() -> Arc<SharedBlock> {
        Arc::new(
            AudioFrame::silence(ChannelLayout::CUSTOMER_LEFT, 8000, 1600)
                .unwrap()
                .into(),
        )
    }

    #[test]
    fn audio_inside_a_secure_pause_never_enters_the_queue() {
        let t0 = Instant::now();
        let mut s = MonitorStream::new("m", "c", QueueLimits::default());
        s.push_audio(Position::ZERO, block());
        s.secure_pause(t0, Position::from(Duration::from_millis(200)));
        s.push_audio(Position::from(Duration::from_millis(200)), block());
        s.secure_resume(t0, Position::from(Duration::from_secs(1)));
        let items: Vec<FeedItem> = std::iter::from_fn(|| s.next_item()).collect();
        assert_eq!(items.len(), 3);
        assert!(matches!(items[1], FeedItem::Pause { .. }));
        assert!(matches!(items[2], FeedItem::Resume { .. }));
    }

    #[test]
    fn stopping_ends_delivery_and_counts_what_is_left() {
        let t0 = Instant::now();
        let mut s = MonitorStream::new("m", "c", QueueLimits::default());
        s.push_audio(Position::ZERO, block());
        s.end(Ending::CallEnded);
        assert!(!s.is_drained());
        s.end(Ending::Stopped);
        s.end(Ending::CallEnded);
        assert_eq!(s.ending(), Some(Ending::Stopped));
        assert!(s.is_drained() && s.next_item().is_none());
        assert_eq!(s.finish(t0).blocks, 1);
        let snap = s.snapshot(t0);
        assert_eq!(snap.phase, Phase::Finished);
        assert_eq!(snap.counters.discarded_seconds, 0.2);
        // Audio after the end is refused.
        assert_eq!(s.push_audio(Position::ZERO, block()).blocks, 0);
    }

    #[test]
    fn usage_follows_the_connection_and_both_pauses() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let mut s = MonitorStream::new("m", "c", QueueLimits::default());
        s.attempt();
        s.opened(at(0), "s1");
        s.monitor_paused(at(1), true);
        s.failed(at(3)); // dropping ends the monitor's pause
        s.attempt();
        s.opened(at(4), "s2");
        s.secure_pause(at(5), Position::ZERO);
        s.secure_resume(at(7), Position::ZERO);
        let snap = s.snapshot(at(10));
        assert_eq!(snap.counters.attempts, 2);
        assert_eq!(snap.counters.failures, 1);
        assert_eq!(snap.usage.connected_seconds, 9.0);
        assert_eq!(snap.usage.monitor_paused_seconds, 2.0);
        assert_eq!(snap.usage.secure_paused_seconds, 2.0);
        assert_eq!(snap.usage.billable_seconds, 5.0);
        assert!(!snap.monitor_paused);
    }
}
