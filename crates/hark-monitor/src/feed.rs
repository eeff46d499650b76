//! A monitor's bounded queue: the call's audio and secure-pause marks, in call order, waiting
//! for the monitor's connection to take them. Pushing never waits; when the audio held would
//! exceed the limit, the oldest audio is dropped and counted, so a slow monitor costs the call
//! nothing but the memory of its limit.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use hark_audiohook::proto::Position;

use crate::block::SharedBlock;

/// Pause marks kept before the oldest pause–resume pair is dropped (its span then reaches the
/// monitor as `discarded`). Paused audio never enters the queue, so a pair is always adjacent.
pub const MAX_MARKS: usize = 16;

/// One thing for the monitor, stamped with its place on the call's timeline.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedItem {
    /// A block of the call's audio starting at `start`.
    Audio {
        /// Where it starts on the call's timeline.
        start: Position,
        /// The decoded audio, shared (with its encodings) by every monitor of the call.
        frame: Arc<SharedBlock>,
    },
    /// The call entered a secure pause at `at`.
    Pause {
        /// The call's position at the pause.
        at: Position,
    },
    /// The call left its secure pause; audio resumes at `at`.
    Resume {
        /// The call's position after the gap.
        at: Position,
    },
}

/// How much a queue holds before dropping the oldest audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    /// Audio duration held at most.
    pub audio: Duration,
    /// Items held at most (bounds the overhead of tiny frames).
    pub items: usize,
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits {
            audio: Duration::from_secs(5),
            items: 2048,
        }
    }
}

/// Audio dropped from a queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Audio blocks dropped.
    pub blocks: u64,
    /// Their total duration.
    pub duration: Duration,
}

impl Dropped {
    fn add(&mut self, other: Dropped) {
        self.blocks += other.blocks;
        self.duration += other.duration;
    }
}

/// The bounded, drop-oldest queue of one monitor stream.
#[derive(Debug)]
pub struct FeedQueue {
    items: VecDeque<FeedItem>,
    audio: Duration,
    marks: usize,
    limits: QueueLimits,
    dropped: Dropped,
}

impl FeedQueue {
    /// An empty queue with these limits.
    pub fn new(limits: QueueLimits) -> Self {
        FeedQueue {
            items: VecDeque::new(),
            audio: Duration::ZERO,
            marks: 0,
            limits,
            dropped: Dropped::default(),
        }
    }

    /// Adds a block of audio, first dropping the oldest audio as needed to stay in limits;
    /// returns what was dropped now.
    pub fn push_audio(&mut self, start: Position, frame: Arc<SharedBlock>) -> Dropped {
        let length = frame.duration();
        let mut dropped = Dropped::default();
        while (self.audio + length > self.limits.audio || self.items.len() >= self.limits.items)
            && let Some(oldest) = self.drop_oldest_audio()
        {
            dropped.add(oldest);
        }
        self.audio += length;
        self.items.push_back(FeedItem::Audio { start, frame });
        self.dropped.add(dropped);
        dropped
    }

    /// Adds a secure-pause mark; past [`MAX_MARKS`] the oldest pause–resume pair goes.
    pub fn push_mark(&mut self, mark: FeedItem) {
        if matches!(mark, FeedItem::Audio { .. }) {
            return;
        }
        self.items.push_back(mark);
        self.marks += 1;
        if self.marks > MAX_MARKS {
            self.drop_oldest_pair();
        }
    }

    /// The next item for the monitor.
    pub fn pop(&mut self) -> Option<FeedItem> {
        let item = self.items.pop_front()?;
        match &item {
            FeedItem::Audio { frame, .. } => {
                self.audio = self.audio.saturating_sub(frame.duration())
            }
            _ => self.marks -= 1,
        }
        Some(item)
    }

    /// Empties the queue, counting the audio in it as dropped (the monitor will never get it).
    pub fn abandon(&mut self) -> Dropped {
        let mut dropped = Dropped::default();
        while let Some(oldest) = self.drop_oldest_audio() {
            dropped.add(oldest);
        }
        self.items.clear();
        self.marks = 0;
        self.dropped.add(dropped);
        dropped
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Audio waiting.
    pub fn queued_audio(&self) -> Duration {
        self.audio
    }

    /// Everything dropped so far.
    pub fn dropped(&self) -> Dropped {
        self.dropped
    }

    fn drop_oldest_audio(&mut self) -> Option<Dropped> {
        let index = self
            .items
            .iter()
            .position(|i| matches!(i, FeedItem::Audio { .. }))?;
        let Some(FeedItem::Audio { frame, .. }) = self.items.remove(index) else {
            return None;
        };
        let duration = frame.duration();
        self.audio = self.audio.saturating_sub(duration);
        Some(Dropped {
            blocks: 1,
            duration,
        })
    }

    fn drop_oldest_pair(&mut self) {
        let pair = self
            .items
            .iter()
            .zip(self.items.iter().skip(1))
            .position(|pair| matches!(pair, (FeedItem::Pause { .. }, FeedItem::Resume { .. })));
        if let Some(index) = pair {
            self.items.drain(index..index + 2);
            self.marks -= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hark_audio::{AudioFrame, ChannelLayout};

    fn block(ms: u64) -> Arc<SharedBlock> {
        let frames = (ms * 8) as usize;
        Arc::new(
            AudioFrame::silence(ChannelLayout::CUSTOMER_LEFT, 8000, frames)
                .unwrap()
                .into(),
        )
    }

    fn at(ms: u64) -> Position {
        Position::from(Duration::from_millis(ms))
    }

    fn starts(q: &mut FeedQueue) -> Vec<String> {
        std::iter::from_fn(|| q.pop())
            .map(|i| match i {
                FeedItem::Audio { start, .. } => format!("a{}", start.as_duration().as_millis()),
                FeedItem::Pause { at } => format!("p{}", at.as_duration().as_millis()),
                FeedItem::Resume { at } => format!("r{}", at.as_duration().as_millis()),
            })
            .collect()
    }

    #[test]
    fn overflow_drops_the_oldest_audio_and_counts_it() {
        let mut q = FeedQueue::new(QueueLimits {
            audio: Duration::from_millis(600),
            items: 100,
        });
        for i in 0..3 {
            assert_eq!(q.push_audio(at(i * 200), block(200)), Dropped::default());
        }
        let d = q.push_audio(at(600), block(200));
        assert_eq!((d.blocks, d.duration), (1, Duration::from_millis(200)));
        q.push_audio(at(800), block(200));
        assert_eq!(q.queued_audio(), Duration::from_millis(600));
        assert_eq!(q.dropped().blocks, 2);
        assert_eq!(starts(&mut q), ["a400", "a600", "a800"]);
        assert_eq!(q.queued_audio(), Duration::ZERO);
    }

    #[test]
    fn marks_are_never_dropped_for_audio_and_the_item_limit_holds() {
        let mut q = FeedQueue::new(QueueLimits {
            audio: Duration::from_secs(60),
            items: 3,
        });
        q.push_audio(at(0), block(20));
        q.push_mark(FeedItem::Pause { at: at(20) });
        q.push_mark(FeedItem::Resume { at: at(1000) });
        q.push_audio(at(1000), block(20));
        q.push_audio(at(1020), block(20));
        assert_eq!(starts(&mut q), ["p20", "r1000", "a1020"]);
        assert_eq!(q.dropped().blocks, 2);
    }

    #[test]
    fn too_many_marks_drop_the_oldest_pause_resume_pair() {
        let mut q = FeedQueue::new(QueueLimits::default());
        for i in 0..9 {
            q.push_mark(FeedItem::Pause { at: at(i * 10) });
            q.push_mark(FeedItem::Resume { at: at(i * 10 + 5) });
        }
        let got = starts(&mut q);
        assert_eq!(got.len(), MAX_MARKS);
        assert_eq!(got[0], "p10");
    }

    #[test]
    fn abandoning_counts_the_audio_left() {
        let mut q = FeedQueue::new(QueueLimits::default());
        q.push_audio(at(0), block(200));
        q.push_mark(FeedItem::Pause { at: at(200) });
        let d = q.abandon();
        assert_eq!((d.blocks, d.duration), (1, Duration::from_millis(200)));
        assert!(q.is_empty());
        assert_eq!(q.dropped(), d);
    }
}
