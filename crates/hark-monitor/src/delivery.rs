//! Turning queued items into an AudioHook client session's messages, on the call's timeline.
//!
//! A monitor session's positions are the call's: a session that opens late (started mid-call,
//! or reconnected) first reports what it missed with `discarded`, audio dropped from the queue
//! is reported the same way, and a secure pause becomes `paused` … `resumed` with the gap. So
//! `position`s, `discarded` and `resumed` spans from every monitor line up with the ingest.
//! A monitor's `opened.discardTo` is honoured to the sample: its `discarded` spans exactly from
//! the stream start to `discardTo`, and the audio it gets starts there.

use hark_audio::{AudioError, AudioFrame};
use hark_audiohook::proto::Position;
use hark_audiohook::proto::client::{AudioOutcome, ClientSession};

use crate::feed::FeedItem;

/// What applying one item did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Audio handed to the session, with its outcome (sent, or withheld by the monitor's pause).
    Audio(AudioOutcome),
    /// The session entered the call's secure pause.
    Paused,
    /// The session left the call's secure pause.
    Resumed,
}

/// The consumer's place in the call, carried across the stream's sessions.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    /// How far along the call's timeline items have been taken.
    cursor: Position,
    /// Whether the call is in a secure pause, as far as taken items tell.
    secure_paused: bool,
}

impl Delivery {
    /// How far along the call's timeline items have been taken.
    pub fn cursor(&self) -> Position {
        self.cursor
    }

    /// A session just opened: brings it to the call's position and into a running secure pause.
    pub fn session_opened(&self, session: &mut ClientSession) {
        session.skip_to(self.cursor);
        if self.secure_paused {
            session.pause();
        }
    }

    /// Hands one item to an open session.
    pub fn apply(
        &mut self,
        session: &mut ClientSession,
        item: FeedItem,
    ) -> Result<Applied, AudioError> {
        match item {
            FeedItem::Audio { start, frame } => {
                let end = start.saturating_add(Position::from(frame.duration()));
                session.skip_to(start);
                let outcome = match session.discarding_to() {
                    // The monitor's `discardTo` falls inside this block: skip exactly up to it
                    // (which reports the discarded span) and send the rest.
                    Some(to) if start < to && to < end => {
                        session.skip_to(to);
                        let rate = frame.rate();
                        let skip = to.to_samples(rate).saturating_sub(start.to_samples(rate));
                        session.send_audio(&tail(&frame, skip)?)?
                    }
                    _ => session.send_audio(frame.as_ref())?,
                };
                self.advance(end);
                Ok(Applied::Audio(outcome))
            }
            FeedItem::Pause { at } => {
                session.skip_to(at);
                session.pause();
                self.secure_paused = true;
                self.advance(at);
                Ok(Applied::Paused)
            }
            FeedItem::Resume { at } => {
                // Inside the pause, so the skipped span is the gap `resumed` reports.
                session.skip_to(at);
                session.resume();
                self.secure_paused = false;
                self.advance(at);
                Ok(Applied::Resumed)
            }
        }
    }

    fn advance(&mut self, to: Position) {
        self.cursor = self.cursor.max(to);
    }
}

/// `frame` without its first `frames` frames.
fn tail(frame: &AudioFrame, frames: u64) -> Result<AudioFrame, AudioError> {
    let channels = frame.layout().len();
    let skip = usize::try_from(frames)
        .unwrap_or(usize::MAX)
        .saturating_mul(channels)
        .min(frame.samples().len());
    AudioFrame::new(
        frame.layout(),
        frame.rate(),
        frame.samples()[skip..].to_vec(),
    )
}

#[cfg(test)]
mod tests;
