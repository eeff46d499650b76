//! The Voice ID I/O shell (feature `runtime`): live calls fed into sessions on the blocking
//! pool, batch jobs reading and writing `s3://` and confined `file:///` URIs, and events
//! broadcast to listeners.

mod calls;
mod events;
mod jobs;

pub use calls::{CallVoiceId, VoiceIdCalls};
pub use events::{BroadcastEvents, EVENT_BUFFER, PublishedEvent};
pub use jobs::{BatchStorage, spawn_job};
