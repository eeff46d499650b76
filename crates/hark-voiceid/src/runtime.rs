//! The Voice ID I/O shell (feature `runtime`): live calls fed into sessions on the blocking
//! pool, maintenance on a timer, batch jobs reading and writing `s3://` and confined `file:///` URIs, and events
//! broadcast to listeners.

mod calls;
mod effects;
mod events;
mod jobs;
mod maintenance;

pub use calls::{CallVoiceId, VoiceIdCalls};
pub use effects::{EffectHandlers, spawn_effect_pump};
pub use events::{BroadcastEvents, EVENT_BUFFER, PublishedEvent};
pub use jobs::{BatchStorage, BatchStorageError, spawn_job};
pub use maintenance::{log_maintenance, spawn_maintenance};
