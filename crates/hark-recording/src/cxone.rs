//! NICE CXone record on demand, as its interaction-recording-management API names it:
//! `POST …/interactions/{operation}?userId=…[&mediaType=…]`, answered with
//! `{"description", "contactId", "httpStatus"}`. The control model does the work; this module
//! reads requests and writes answers, without I/O.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::control::{MediaType, OnDemandOutcome, RecordingControl};

/// The record-on-demand operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnDemandOperation {
    /// `start-recording-on-demand`.
    Start,
    /// `stop-recording-on-demand`.
    Stop,
    /// `do-not-record`: the customer refused; latches for the whole contact.
    DoNotRecord,
}

/// One record-on-demand request, read from its path segment and query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnDemandRequest {
    /// What to do.
    pub operation: OnDemandOperation,
    /// The agent whose interaction it concerns.
    pub user_id: String,
    /// What a start records.
    pub media: MediaType,
}

/// Why a record-on-demand request was refused before reaching the control model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OnDemandError {
    /// No (or an empty) `userId`.
    #[error("the userId query parameter is required")]
    MissingUserId,
    /// A `mediaType` CXone does not define.
    #[error("mediaType {0:?} is not voice or voiceAndScreen")]
    MediaType(String),
    /// A path segment that names no operation.
    #[error("no operation {0}")]
    UnknownOperation(String),
}

impl OnDemandRequest {
    /// Reads `operation` (the path's last segment) and the `userId` and `mediaType` parameters.
    pub fn parse(
        operation: &str,
        user_id: Option<&str>,
        media_type: Option<&str>,
    ) -> Result<Self, OnDemandError> {
        let user_id = user_id
            .filter(|u| !u.is_empty())
            .ok_or(OnDemandError::MissingUserId)?;
        let media = match media_type {
            None | Some("voice") => MediaType::Voice,
            Some("voiceAndScreen") => MediaType::VoiceAndScreen,
            Some(other) => return Err(OnDemandError::MediaType(other.to_owned())),
        };
        let operation = match operation {
            "start-recording-on-demand" => OnDemandOperation::Start,
            "stop-recording-on-demand" => OnDemandOperation::Stop,
            "do-not-record" => OnDemandOperation::DoNotRecord,
            other => return Err(OnDemandError::UnknownOperation(other.to_owned())),
        };
        Ok(OnDemandRequest {
            operation,
            user_id: user_id.to_owned(),
            media,
        })
    }

    /// Carries the request out on `control` at `now`.
    pub fn apply(&self, control: &mut RecordingControl, now: DateTime<Utc>) -> OnDemandOutcome {
        match self.operation {
            OnDemandOperation::Start => control.start_on_demand(now, &self.user_id, self.media),
            OnDemandOperation::Stop => control.stop_on_demand(now, &self.user_id),
            OnDemandOperation::DoNotRecord => control.do_not_record(now, &self.user_id),
        }
    }
}

/// The JSON body CXone answers with (the HTTP status is `outcome.status`).
pub fn answer(outcome: &OnDemandOutcome) -> Value {
    json!({
        "description": outcome.description,
        "contactId": outcome.contact_id,
        "httpStatus": outcome.status.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_media_and_users_are_read() {
        let r = OnDemandRequest::parse("start-recording-on-demand", Some("agent"), None).unwrap();
        assert_eq!(r.operation, OnDemandOperation::Start);
        assert_eq!((r.user_id.as_str(), r.media), ("agent", MediaType::Voice));
        let r = OnDemandRequest::parse(
            "stop-recording-on-demand",
            Some("a"),
            Some("voiceAndScreen"),
        );
        assert_eq!(r.unwrap().media, MediaType::VoiceAndScreen);
        let r = OnDemandRequest::parse("do-not-record", Some("a"), Some("voice")).unwrap();
        assert_eq!(r.operation, OnDemandOperation::DoNotRecord);
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        use OnDemandError::*;
        let parse = OnDemandRequest::parse;
        assert_eq!(parse("do-not-record", None, None), Err(MissingUserId));
        assert_eq!(parse("do-not-record", Some(""), None), Err(MissingUserId));
        assert_eq!(
            parse("do-not-record", Some("a"), Some("video")),
            Err(MediaType("video".into()))
        );
        assert_eq!(
            parse("pause", Some("a"), None),
            Err(UnknownOperation("pause".into()))
        );
    }

    #[test]
    fn answers_carry_the_status_as_text() {
        let outcome = OnDemandOutcome {
            status: 404,
            contact_id: None,
            description: "no active interaction".into(),
        };
        assert_eq!(
            answer(&outcome),
            json!({"description": "no active interaction", "contactId": null, "httpStatus": "404"})
        );
    }
}
