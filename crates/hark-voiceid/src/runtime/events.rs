//! Voice ID events (sessions, enrollments, batch jobs) for any number of listeners: a
//! broadcast channel behind the service's [`EventSink`]. Slow listeners are told how many they
//! missed; publishing never waits.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::EventSink;

/// Events buffered for slow consumers.
pub const EVENT_BUFFER: usize = 4096;

/// One published event: its detail-type, domain and JSON text.
#[derive(Debug, Clone)]
pub struct PublishedEvent {
    /// The EventBridge `detail-type`.
    pub detail_type: String,
    /// The domain it belongs to.
    pub domain_id: String,
    /// The envelope as JSON text.
    pub json: Arc<str>,
}

/// The event sink behind the endpoint: a broadcast channel.
#[derive(Debug)]
pub struct BroadcastEvents {
    sender: broadcast::Sender<PublishedEvent>,
}

impl BroadcastEvents {
    /// A sink nobody listens to yet.
    pub fn new() -> Self {
        BroadcastEvents {
            sender: broadcast::channel(EVENT_BUFFER).0,
        }
    }

    /// A new listener, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<PublishedEvent> {
        self.sender.subscribe()
    }
}

impl Default for BroadcastEvents {
    fn default() -> Self {
        Self::new()
    }
}

impl EventSink for BroadcastEvents {
    fn publish(&self, event: &Value) {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        // No listener is not an error: events are best-effort, as in AWS.
        let _ = self.sender.send(PublishedEvent {
            detail_type: text(&event["detail-type"]),
            domain_id: text(&event["detail"]["domainId"]),
            json: event.to_string().into(),
        });
    }
}
