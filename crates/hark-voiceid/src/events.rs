//! Voice ID events (spec §9.7): session, enrollment and batch-job outcomes in Amazon
//! EventBridge's shape (`source: aws.voiceid`), handed to an [`EventSink`] — the service shell
//! turns them into server-sent events.
//!
//! Events identify speakers by `GeneratedSpeakerId` only. The customer's own id is personal
//! data chosen by the customer's systems; it never leaves the API that was given it.

use std::fmt::Debug;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::records::wire_enum;

wire_enum!(
    /// What an event reports.
    EventAction {
        /// A session started.
        StartSession = "START_SESSION",
        /// A session's speaker or settings changed.
        UpdateSession = "UPDATE_SESSION",
        /// A session was evaluated (a new authentication or fraud result).
        EvaluateSession = "EVALUATE_SESSION",
        /// An enrollment from a session was requested, completed or failed.
        SessionEnrollmentRequest = "SESSION_ENROLLMENT_REQUEST",
        /// A speaker enrollment job changed state.
        BatchEnrollmentRequest = "BATCH_ENROLLMENT_REQUEST",
        /// A fraudster registration job changed state.
        BatchRegistrationRequest = "BATCH_REGISTRATION_REQUEST",
    }
);

impl EventAction {
    /// The EventBridge `detail-type`.
    pub fn detail_type(self) -> &'static str {
        match self {
            EventAction::StartSession => "VoiceId Start Session Action",
            EventAction::UpdateSession => "VoiceId Update Session Action",
            EventAction::EvaluateSession => "VoiceId Evaluate Session Action",
            EventAction::SessionEnrollmentRequest => "VoiceId Session Speaker Enrollment Action",
            EventAction::BatchEnrollmentRequest => "VoiceId Batch Speaker Enrollment Action",
            EventAction::BatchRegistrationRequest => "VoiceId Batch Fraudster Registration Action",
        }
    }
}

/// Where events go.
pub trait EventSink: Send + Sync + Debug {
    /// Publishes one event (never blocks for long: a slow consumer loses events, not calls).
    fn publish(&self, event: &Value);
}

/// One event before it is published.
#[derive(Debug, Clone)]
pub struct Event {
    /// What happened.
    pub action: EventAction,
    /// `SUCCESS`, `IN_PROGRESS` or `FAILURE`.
    pub status: &'static str,
    /// The domain.
    pub domain_id: String,
    /// The session or job id it is about.
    pub source_id: String,
    /// Action-specific members of `detail` (never a `CustomerSpeakerId`).
    pub detail: Value,
    /// Why it failed.
    pub error: Option<(String, u16, String)>,
}

impl Event {
    /// The EventBridge envelope: `id`, `time`, `detail-type`, `resources` and `detail`.
    pub fn envelope(&self, id: &str, time: DateTime<Utc>, region: &str, account: &str) -> Value {
        let arn = format!(
            "arn:aws:voiceid:{region}:{account}:domain/{}",
            self.domain_id
        );
        let mut detail = json!({
            "sourceId": self.source_id,
            "domainId": self.domain_id,
            "action": self.action.as_str(),
            "status": self.status,
        });
        if let (Some(extra), Some(out)) = (self.detail.as_object(), detail.as_object_mut()) {
            for (k, v) in extra {
                out.insert(k.clone(), v.clone());
            }
        }
        if let Some((error_type, code, message)) = &self.error {
            detail["errorInfo"] = json!({
                "errorType": error_type,
                "errorCode": code,
                "errorMessage": message,
            });
        }
        json!({
            "version": "0",
            "id": id,
            "detail-type": self.action.detail_type(),
            "source": "aws.voiceid",
            "account": account,
            "time": time.to_rfc3339_opts(SecondsFormat::Secs, true),
            "region": region,
            "resources": [arn],
            "detail": detail,
        })
    }
}

/// Drops every event (the default sink).
#[derive(Debug, Default)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn publish(&self, _event: &Value) {}
}

/// Keeps every event in memory (tests, embedding).
#[derive(Debug, Default)]
pub struct EventLog(std::sync::Mutex<Vec<Value>>);

impl EventLog {
    /// The events so far.
    pub fn events(&self) -> Vec<Value> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl EventSink for EventLog {
    fn publish(&self, event: &Value) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
    }
}
