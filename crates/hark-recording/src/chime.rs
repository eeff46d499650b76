//! The Amazon Chime wire format of call-leg recording actions and their outcome events.
//!
//! Requests are Chime's action lists — `{"SchemaVersion": "1.0", "Actions": [{"Type":
//! "StartCallRecording", "Parameters": {...}}]}` — and each action is answered by an invocation
//! event, `ACTION_SUCCESSFUL` (for a start, with `CallRecordingDestination`) or `ACTION_FAILED`
//! with `ErrorType` and `ErrorMessage`. An action list that cannot be read at all is answered
//! by one `INVALID_LAMBDA_RESPONSE` event, as Chime does.

use serde_json::{Map, Value, json};

use crate::control::{ActionError, ActionErrorType, CallAction};
use crate::spec::{Destination, RecordingSpec, Track};

/// Reads an action list addressed to leg `call_id` (a `CallId` in the parameters must match);
/// actions start with `pause_behavior` from configuration.
pub fn parse_actions(
    body: &Value,
    call_id: &str,
    pause_behavior: crate::spec::PauseBehavior,
) -> Result<Vec<(Value, CallAction)>, ActionError> {
    let invalid = |m: String| ActionError {
        error_type: ActionErrorType::InvalidActionParameter,
        message: m,
    };
    let obj = body
        .as_object()
        .ok_or_else(|| invalid("the body must be a JSON object".into()))?;
    match obj.get("SchemaVersion").and_then(Value::as_str) {
        Some("1.0") => {}
        Some(other) => {
            return Err(invalid(format!(
                "SchemaVersion must be \"1.0\", not \"{}\"",
                other.escape_debug()
            )));
        }
        None => return Err(invalid("SchemaVersion \"1.0\" is required".into())),
    }
    let actions = obj
        .get("Actions")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| invalid("Actions must be a non-empty array".into()))?;
    actions
        .iter()
        .map(|action| parse_action(action, call_id, pause_behavior).map(|a| (action.clone(), a)))
        .collect()
}

fn parse_action(
    action: &Value,
    call_id: &str,
    pause_behavior: crate::spec::PauseBehavior,
) -> Result<CallAction, ActionError> {
    let invalid = |m: String| ActionError {
        error_type: ActionErrorType::InvalidActionParameter,
        message: m,
    };
    let kind = action
        .get("Type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("every action needs a Type".into()))?;
    let empty = Map::new();
    let params = match action.get("Parameters") {
        Some(Value::Object(p)) => p,
        None => &empty,
        Some(_) => return Err(invalid(format!("{kind}: Parameters must be an object"))),
    };
    match params.get("CallId") {
        None => {}
        Some(Value::String(id)) if id == call_id => {}
        Some(_) => return Err(invalid("`CallId` parameter for action is invalid".into())),
    }
    let call_id = call_id.to_owned();
    Ok(match kind {
        "StartCallRecording" => {
            let track: Track =
                serde_json::from_value(params.get("Track").cloned().unwrap_or(Value::Null))
                    .map_err(|_| {
                        invalid(
                    "`Track` parameter for action is invalid: use BOTH, INCOMING or OUTGOING"
                        .into(),
                )
                    })?;
            let destination: Destination = serde_json::from_value(params.get("Destination").cloned().unwrap_or(Value::Null))
                .map_err(|_| invalid("`Destination` parameter for action is invalid: {\"Type\": \"S3\" or \"File\", \"Location\": ...}".into()))?;
            CallAction::Start {
                call_id,
                spec: RecordingSpec {
                    track,
                    destination,
                    pause_behavior,
                },
            }
        }
        "PauseCallRecording" => CallAction::Pause { call_id },
        "ResumeCallRecording" => CallAction::Resume { call_id },
        "StopCallRecording" => CallAction::Stop { call_id },
        other => {
            return Err(invalid(format!(
                "action type \"{}\" is not a recording action",
                other.escape_debug()
            )));
        }
    })
}

/// `ACTION_SUCCESSFUL` for `action`; a start reports where the file will be delivered.
pub fn action_successful(
    sequence: u64,
    action: &Value,
    recording_destination: Option<&Destination>,
) -> Value {
    let mut data = action_data(action);
    if let Some(d) = recording_destination {
        data.insert(
            "CallRecordingDestination".into(),
            json!({"Type": d.kind, "Location": d.location}),
        );
    }
    json!({"SchemaVersion": "1.0", "Sequence": sequence, "InvocationEventType": "ACTION_SUCCESSFUL", "ActionData": data})
}

/// `ACTION_FAILED` for `action`.
pub fn action_failed(sequence: u64, action: &Value, error: &ActionError) -> Value {
    let mut data = action_data(action);
    data.insert("ErrorType".into(), json!(error.error_type));
    data.insert("ErrorMessage".into(), json!(error.message));
    json!({"SchemaVersion": "1.0", "Sequence": sequence, "InvocationEventType": "ACTION_FAILED", "ActionData": data})
}

/// `INVALID_LAMBDA_RESPONSE`: the action list itself could not be read.
pub fn invalid_action_list(sequence: u64, error: &ActionError) -> Value {
    json!({"SchemaVersion": "1.0", "Sequence": sequence, "InvocationEventType": "INVALID_LAMBDA_RESPONSE",
           "ErrorType": error.error_type, "ErrorMessage": error.message})
}

fn action_data(action: &Value) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert(
        "Type".into(),
        action.get("Type").cloned().unwrap_or(Value::Null),
    );
    data.insert(
        "Parameters".into(),
        action
            .get("Parameters")
            .cloned()
            .unwrap_or_else(|| json!({})),
    );
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{DestinationType, PauseBehavior};

    #[test]
    fn reads_the_chime_examples() {
        let body = json!({"SchemaVersion": "1.0", "Actions": [
            {"Type": "StartCallRecording", "Parameters": {"CallId": "call-id-1", "Track": "BOTH",
             "Destination": {"Type": "S3", "Location": "valid-bucket-name-and-optional-prefix"}}},
            {"Type": "PauseCallRecording", "Parameters": {"CallId": "call-id-1"}},
            {"Type": "ResumeCallRecording", "Parameters": {"CallId": "call-id-1"}},
            {"Type": "StopCallRecording"}
        ]});
        let actions = parse_actions(&body, "call-id-1", PauseBehavior::Skip).unwrap();
        assert_eq!(actions.len(), 4);
        let CallAction::Start { spec, .. } = &actions[0].1 else {
            panic!()
        };
        assert_eq!(
            (spec.track, spec.destination.kind, spec.pause_behavior),
            (Track::Both, DestinationType::S3, PauseBehavior::Skip)
        );
        assert_eq!(
            actions[3].1,
            CallAction::Stop {
                call_id: "call-id-1".into()
            }
        );
    }

    #[test]
    fn refuses_what_chime_would() {
        let wrong = |body: Value| {
            parse_actions(&body, "call-id-1", PauseBehavior::Silence)
                .unwrap_err()
                .message
        };
        assert!(wrong(json!({"Actions": []})).starts_with("SchemaVersion"));
        // Messages are sentences for the client, never Rust's Debug of an Option.
        assert_eq!(
            wrong(json!({"Actions": []})),
            "SchemaVersion \"1.0\" is required"
        );
        assert!(!wrong(json!({"SchemaVersion": "2.0"})).contains("Some("));
        assert!(wrong(json!({"SchemaVersion": "1.0", "Actions": []})).starts_with("Actions"));
        assert_eq!(
            wrong(
                json!({"SchemaVersion": "1.0", "Actions": [{"Type": "StopCallRecording", "Parameters": {"CallId": "other"}}]})
            ),
            "`CallId` parameter for action is invalid"
        );
        assert!(wrong(json!({"SchemaVersion": "1.0", "Actions": [{"Type": "StartCallRecording", "Parameters": {"Track": "LEFT", "Destination": {"Type": "S3", "Location": "b"}}}]})).starts_with("`Track`"));
        assert!(wrong(json!({"SchemaVersion": "1.0", "Actions": [{"Type": "StartCallRecording", "Parameters": {"Track": "BOTH", "Destination": {"Type": "GCS", "Location": "b"}}}]})).starts_with("`Destination`"));
        assert!(
            wrong(json!({"SchemaVersion": "1.0", "Actions": [{"Type": "Hangup"}]}))
                .contains("not a recording action")
        );
    }

    #[test]
    fn writes_invocation_events() {
        let action = json!({"Type": "StartCallRecording", "Parameters": {"CallId": "c", "Track": "BOTH", "Destination": {"Type": "S3", "Location": "b"}}});
        let dest = Destination {
            kind: DestinationType::S3,
            location: "b/Amazon-Chime-SMA-Call-Recordings/x.wav".into(),
        };
        let ok = action_successful(3, &action, Some(&dest));
        assert_eq!(ok["InvocationEventType"], "ACTION_SUCCESSFUL");
        assert_eq!(
            ok["ActionData"]["CallRecordingDestination"]["Location"],
            dest.location
        );
        assert_eq!(ok["ActionData"]["Parameters"]["Track"], "BOTH");
        let err = ActionError {
            error_type: ActionErrorType::InvalidActionParameter,
            message: "`CallId` parameter for action is invalid".into(),
        };
        let failed = action_failed(4, &action, &err);
        assert_eq!(
            (
                failed["ActionData"]["ErrorType"].as_str(),
                failed["Sequence"].as_u64()
            ),
            (Some("InvalidActionParameter"), Some(4))
        );
        assert_eq!(
            invalid_action_list(5, &err)["InvocationEventType"],
            "INVALID_LAMBDA_RESPONSE"
        );
    }
}
