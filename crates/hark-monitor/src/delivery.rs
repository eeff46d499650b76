//! Turning queued items into an AudioHook client session's messages, on the call's timeline.
//!
//! A monitor session's positions are the call's: a session that opens late (started mid-call,
//! or reconnected) first reports what it missed with `discarded`, audio dropped from the queue
//! is reported the same way, and a secure pause becomes `paused` … `resumed` with the gap. So
//! `position`s, `discarded` and `resumed` spans from every monitor line up with the ingest.

use hark_audio::AudioError;
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
                session.skip_to(start);
                let outcome = session.send_audio(&frame)?;
                self.advance(start.saturating_add(Position::from(frame.duration())));
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

#[cfg(test)]
mod tests;
