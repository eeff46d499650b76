//! HTTP for recording control: Chime-style call-leg actions, CXone-style record on demand,
//! contacts (agents and linked legs), and recording status. All need the recording bearer token.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hark_recording::chime::{action_failed, action_successful, invalid_action_list, parse_actions};
use hark_recording::control::MediaType;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::{ApiError, AppState, check_bearer};

/// Middleware for every recording route: `Authorization: Bearer <token>` must match the
/// recording token (compared in constant time).
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match check_bearer(request.headers(), &state.recording_token, "recording") {
        Ok(()) => next.run(request).await,
        Err(e) => {
            crate::boundary::log_refused(&request, "recording");
            e.into_response()
        }
    }
}

/// `POST /v1/calls/{callId}/actions` with a Chime action list; answers the invocation events.
pub async fn call_actions(
    State(state): State<AppState>,
    Path(call_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            let err = hark_recording::ActionError {
                error_type: hark_recording::ActionErrorType::InvalidActionParameter,
                message: format!("the body is not JSON: {e}"),
            };
            return (StatusCode::BAD_REQUEST, Json(invalid_action_list(1, &err))).into_response();
        }
    };
    let pause_behavior = hark_recording::PauseBehavior::Silence;
    let actions = match parse_actions(&body, &call_id, pause_behavior) {
        Ok(a) => a,
        Err(err) => {
            return (StatusCode::BAD_REQUEST, Json(invalid_action_list(1, &err))).into_response();
        }
    };
    let events: Vec<Value> = actions
        .iter()
        .enumerate()
        .map(
            |(i, (raw, action))| match state.recording.call_action(action) {
                Ok(destination) => action_successful(i as u64 + 1, raw, destination.as_ref()),
                Err(err) => action_failed(i as u64 + 1, raw, &err),
            },
        )
        .collect();
    Json(json!({ "Events": events })).into_response()
}

/// Query of the record-on-demand endpoints.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnDemandQuery {
    user_id: Option<String>,
    media_type: Option<String>,
}

/// `POST /interaction-recording-management-service/[v1/]interactions/{operation}?userId=…`.
pub async fn on_demand(
    State(state): State<AppState>,
    Path(operation): Path<String>,
    Query(query): Query<OnDemandQuery>,
) -> Response {
    let Some(user_id) = query.user_id.filter(|u| !u.is_empty()) else {
        return ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "BadRequest",
            message: "the userId query parameter is required".into(),
        }
        .into_response();
    };
    let media = match query.media_type.as_deref() {
        None | Some("voice") => MediaType::Voice,
        Some("voiceAndScreen") => MediaType::VoiceAndScreen,
        Some(other) => {
            return ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "BadRequest",
                message: format!("mediaType {other:?} is not voice or voiceAndScreen"),
            }
            .into_response();
        }
    };
    let outcome = match operation.as_str() {
        "start-recording-on-demand" => state.recording.start_on_demand(&user_id, media),
        "stop-recording-on-demand" => state.recording.stop_on_demand(&user_id),
        "do-not-record" => state.recording.do_not_record(&user_id),
        _ => {
            return ApiError {
                status: StatusCode::NOT_FOUND,
                code: "NotFound",
                message: format!("no operation {operation}"),
            }
            .into_response();
        }
    };
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"description": outcome.description, "contactId": outcome.contact_id, "httpStatus": status.as_u16().to_string()});
    (status, Json(body)).into_response()
}

/// Body of the contacts endpoints.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactRequest {
    call_id: String,
    user_id: Option<String>,
}

/// `POST /v1/contacts/{contactId}/agents` `{callId, userId}`: an agent joins a leg.
pub async fn agent_joined(
    State(state): State<AppState>,
    Path(_contact): Path<String>,
    Json(req): Json<ContactRequest>,
) -> Response {
    let Some(user) = req.user_id else {
        return ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "BadRequest",
            message: "userId is required".into(),
        }
        .into_response();
    };
    if state
        .recording
        .with_control(|c| c.agent_joined(&req.call_id, &user))
    {
        StatusCode::NO_CONTENT.into_response()
    } else {
        unknown_call(&req.call_id)
    }
}

/// `DELETE /v1/contacts/{contactId}/agents/{userId}?callId=…`: an agent leaves a leg.
pub async fn agent_left(
    State(state): State<AppState>,
    Path((_contact, user)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let call_id = q.get("callId").cloned().unwrap_or_default();
    if state
        .recording
        .with_control(|c| c.agent_left(&call_id, &user))
    {
        StatusCode::NO_CONTENT.into_response()
    } else {
        unknown_call(&call_id)
    }
}

/// `POST /v1/contacts/{contactId}/calls` `{callId}`: a leg (consult, transfer) joins the contact.
pub async fn link_call(
    State(state): State<AppState>,
    Path(contact): Path<String>,
    Json(req): Json<ContactRequest>,
) -> Response {
    if state
        .recording
        .with_control(|c| c.link_call(chrono::Utc::now(), &req.call_id, &contact))
    {
        StatusCode::NO_CONTENT.into_response()
    } else {
        unknown_call(&req.call_id)
    }
}

/// `POST /v1/contacts/{contactId}/do-not-record`: the customer refused consent.
pub async fn contact_do_not_record(
    State(state): State<AppState>,
    Path(contact): Path<String>,
) -> Response {
    state
        .recording
        .with_control(|c| c.latch_contact(chrono::Utc::now(), &contact));
    Json(json!({"contactId": contact, "doNotRecord": true})).into_response()
}

/// `GET /v1/calls/{callId}/recording`: the leg's recording status.
pub async fn call_status(State(state): State<AppState>, Path(call_id): Path<String>) -> Response {
    match state.recording.status(&call_id) {
        Some(status) => Json(status).into_response(),
        None => unknown_call(&call_id),
    }
}

fn unknown_call(call_id: &str) -> Response {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "NotFound",
        message: format!("no active call {call_id:?}"),
    }
    .into_response()
}

/// Filters of `GET /v1/recordings`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingFilter {
    contact_id: Option<String>,
    call_id: Option<String>,
    agent_id: Option<String>,
    /// Started at or after (RFC 3339).
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Started before (RFC 3339).
    to: Option<chrono::DateTime<chrono::Utc>>,
}

/// `GET /v1/recordings?contactId=&callId=&agentId=&from=&to=`: finished recordings.
pub async fn recordings(
    State(state): State<AppState>,
    Query(f): Query<RecordingFilter>,
) -> Response {
    let list: Vec<_> = state
        .recording
        .finished()
        .into_iter()
        .filter(|r| f.contact_id.as_ref().is_none_or(|c| *c == r.contact_id))
        .filter(|r| f.call_id.as_ref().is_none_or(|c| *c == r.call_id))
        .filter(|r| f.agent_id.as_ref().is_none_or(|a| r.agents.contains(a)))
        .filter(|r| f.from.is_none_or(|t| r.started_at >= t))
        .filter(|r| f.to.is_none_or(|t| r.started_at < t))
        .collect();
    Json(json!({ "recordings": list })).into_response()
}

/// `GET /v1/recordings/{id}`: one recording's metadata.
pub async fn recording(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.recording.finished().into_iter().find(|r| r.id == id) {
        Some(r) => Json(r).into_response(),
        None => unknown_recording(&id),
    }
}

/// `GET /v1/recordings/{id}/audio`: the WAV file, with single `Range: bytes=` requests.
pub async fn recording_audio(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(r) = state
        .recording
        .finished()
        .into_iter()
        .find(|r| r.id == id && r.error.is_none())
    else {
        return unknown_recording(&id);
    };
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = std::path::PathBuf::from(&r.location);
    let read = tokio::task::spawn_blocking(move || read_range(&path, range.as_deref())).await;
    match read {
        Ok(Ok(part)) => part.into_response(),
        Ok(Err(e)) => ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalError",
            message: format!("cannot read the recording: {e}"),
        }
        .into_response(),
        Err(e) => ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalError",
            message: e.to_string(),
        }
        .into_response(),
    }
}

/// A whole file, a byte range of it, or the reason the range cannot be served.
enum FilePart {
    Whole(Vec<u8>),
    Range {
        bytes: Vec<u8>,
        start: u64,
        end: u64,
        total: u64,
    },
    Unsatisfiable {
        total: u64,
    },
}

impl IntoResponse for FilePart {
    fn into_response(self) -> Response {
        let wav = [
            (header::CONTENT_TYPE, "audio/wav".to_owned()),
            (header::ACCEPT_RANGES, "bytes".to_owned()),
        ];
        match self {
            FilePart::Whole(bytes) => (StatusCode::OK, wav, bytes).into_response(),
            FilePart::Range {
                bytes,
                start,
                end,
                total,
            } => {
                let range = (
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{end}/{total}"),
                );
                (StatusCode::PARTIAL_CONTENT, wav, [range], bytes).into_response()
            }
            FilePart::Unsatisfiable { total } => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{total}"))],
            )
                .into_response(),
        }
    }
}

/// Reads `path`, or the one range `bytes=a-b`, `bytes=a-` or `bytes=-n` of it.
fn read_range(path: &std::path::Path, range: Option<&str>) -> std::io::Result<FilePart> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let total = file.metadata()?.len();
    let Some(spec) = range
        .and_then(|r| r.strip_prefix("bytes="))
        .filter(|s| !s.contains(','))
    else {
        let mut bytes = Vec::with_capacity(total as usize);
        file.read_to_end(&mut bytes)?;
        return Ok(FilePart::Whole(bytes));
    };
    let parsed = match spec.split_once('-') {
        Some(("", suffix)) => suffix
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| (total.saturating_sub(n), total.saturating_sub(1))),
        Some((a, "")) => a.parse::<u64>().ok().map(|a| (a, total.saturating_sub(1))),
        Some((a, b)) => a
            .parse::<u64>()
            .ok()
            .zip(b.parse::<u64>().ok())
            .map(|(a, b)| (a, b.min(total.saturating_sub(1)))),
        None => None,
    };
    let Some((start, end)) = parsed.filter(|(a, b)| a <= b && *a < total) else {
        return Ok(FilePart::Unsatisfiable { total });
    };
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = vec![0; (end - start + 1) as usize];
    file.read_exact(&mut bytes)?;
    Ok(FilePart::Range {
        bytes,
        start,
        end,
        total,
    })
}

fn unknown_recording(id: &str) -> Response {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "NotFound",
        message: format!("no recording {id:?}"),
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.wav");
        std::fs::write(&path, (0u8..100).collect::<Vec<u8>>()).unwrap();
        let range = |r: Option<&str>| read_range(&path, r).unwrap();
        assert!(matches!(range(None), FilePart::Whole(b) if b.len() == 100));
        assert!(
            matches!(range(Some("bytes=10-19")), FilePart::Range { bytes, start: 10, end: 19, total: 100 } if bytes[0] == 10 && bytes.len() == 10)
        );
        assert!(matches!(
            range(Some("bytes=90-")),
            FilePart::Range {
                start: 90,
                end: 99,
                ..
            }
        ));
        assert!(matches!(
            range(Some("bytes=-5")),
            FilePart::Range {
                start: 95,
                end: 99,
                ..
            }
        ));
        assert!(matches!(
            range(Some("bytes=95-500")),
            FilePart::Range {
                start: 95,
                end: 99,
                ..
            }
        ));
        assert!(matches!(
            range(Some("bytes=100-")),
            FilePart::Unsatisfiable { total: 100 }
        ));
        assert!(matches!(
            range(Some("bytes=9-3")),
            FilePart::Unsatisfiable { .. }
        ));
        assert!(matches!(
            range(Some("bytes=x-3")),
            FilePart::Unsatisfiable { .. }
        ));
        assert!(
            matches!(range(Some("bytes=0-1,5-6")), FilePart::Whole(_)),
            "several ranges: the whole file"
        );
    }
}
