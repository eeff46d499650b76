//! HTTP for recording control: Chime-style call-leg actions, CXone-style record on demand,
//! contacts (agents and linked legs), and recording status. All need the recording bearer token.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hark_recording::chime::{action_failed, action_successful, invalid_action_list, parse_actions};
use hark_recording::cxone::{self, OnDemandError, OnDemandRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use hark_http::ApiError;
use hark_http::range::ByteRange;

use crate::http::state::AppState;

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
    // Chime answers an unknown call with ACTION_FAILED events; on a cluster, the instances
    // that do not hold the call say so, so the holder's answer wins.
    let held_here = state.recording.status(&call_id).is_some();
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
    let mut response = Json(json!({ "Events": events })).into_response();
    if !held_here {
        response.headers_mut().insert(
            hark_cluster::NOT_HERE_HEADER,
            axum::http::HeaderValue::from_static("1"),
        );
    }
    response
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
    let request = match OnDemandRequest::parse(
        &operation,
        query.user_id.as_deref(),
        query.media_type.as_deref(),
    ) {
        Ok(request) => request,
        Err(e) => {
            let status = match e {
                OnDemandError::UnknownOperation(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_REQUEST,
            };
            let code = if status == StatusCode::NOT_FOUND {
                "NotFound"
            } else {
                "BadRequest"
            };
            return ApiError {
                status,
                code,
                message: e.to_string(),
            }
            .into_response();
        }
    };
    let outcome = state.recording.on_demand_request(&request);
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Json(cxone::answer(&outcome))).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
    }
    response
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
    match state
        .recording
        .with_control(|c| c.agent_joined(&req.call_id, &user))
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => unknown_call(&req.call_id),
        Err(e) => not_durable(&e),
    }
}

/// `DELETE /v1/contacts/{contactId}/agents/{userId}?callId=…`: an agent leaves a leg.
pub async fn agent_left(
    State(state): State<AppState>,
    Path((_contact, user)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let call_id = q.get("callId").cloned().unwrap_or_default();
    match state
        .recording
        .with_control(|c| c.agent_left(&call_id, &user))
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => unknown_call(&call_id),
        Err(e) => not_durable(&e),
    }
}

/// `POST /v1/contacts/{contactId}/calls` `{callId}`: a leg (consult, transfer) joins the contact.
pub async fn link_call(
    State(state): State<AppState>,
    Path(contact): Path<String>,
    Json(req): Json<ContactRequest>,
) -> Response {
    match state
        .recording
        .with_control(|c| c.link_call(chrono::Utc::now(), &req.call_id, &contact))
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => unknown_call(&req.call_id),
        Err(e) => not_durable(&e),
    }
}

/// `POST /v1/contacts/{contactId}/do-not-record`: the customer refused consent.
pub async fn contact_do_not_record(
    State(state): State<AppState>,
    Path(contact): Path<String>,
) -> Response {
    match state
        .recording
        .with_control(|c| c.latch_contact(chrono::Utc::now(), &contact))
    {
        Ok(()) => Json(json!({"contactId": contact, "doNotRecord": true})).into_response(),
        Err(e) => not_durable(&e),
    }
}

/// 503 for a control that took effect here but could not be stored: the client must retry
/// (never acknowledged, never lost).
pub fn not_durable(e: &hark_recording::store::RecordingStoreError) -> Response {
    tracing::error!(error = %e, "a control request could not be stored; answered 503");
    ApiError::unavailable(
        "NotStored",
        format!("the request could not be stored durably; retry it: {e}"),
        "1",
    )
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
    let all = match state.recording.finished() {
        Ok(all) => all,
        Err(e) => return database_unavailable(&e),
    };
    let list: Vec<_> = all
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
    match state.recording.finished() {
        Ok(all) => match all.into_iter().find(|r| r.id == id) {
            Some(r) => Json(r).into_response(),
            None => unknown_recording(&id),
        },
        Err(e) => database_unavailable(&e),
    }
}

/// `GET /v1/recordings/{id}/audio`: the WAV file, with single `Range: bytes=` requests.
pub async fn recording_audio(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let all = match state.recording.finished() {
        Ok(all) => all,
        Err(e) => return database_unavailable(&e),
    };
    // Delivered, or waiting for its delivery (served from the spool meanwhile).
    let Some(r) = all
        .into_iter()
        .find(|r| r.id == id && (r.error.is_none() || r.pending_upload.is_some()))
    else {
        return unknown_recording(&id);
    };
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(object) = r.location.strip_prefix("s3://") {
        return s3_audio(&state, object, range.as_deref()).await;
    }
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

/// A recording stored in S3 (`bucket/key`), whole or the requested range, from whichever
/// instance is asked.
async fn s3_audio(state: &AppState, object: &str, range: Option<&str>) -> Response {
    let unavailable = |message: String| {
        ApiError {
            status: StatusCode::BAD_GATEWAY,
            code: "StorageUnavailable",
            message,
        }
        .into_response()
    };
    let Some(s3) = state.recording.s3() else {
        return unavailable(
            "the recording is in S3, which this instance is not configured for".into(),
        );
    };
    let Some((bucket, key)) = object.split_once('/') else {
        return unavailable(format!("malformed recording location s3://{object}"));
    };
    let total = match s3.size(bucket, key).await {
        Ok(total) => total,
        Err(e) => return unavailable(format!("cannot read the recording from S3: {e}")),
    };
    let (wanted, part): (Option<std::ops::Range<u64>>, _) = match ByteRange::parse(range, total) {
        ByteRange::Unsatisfiable => return FilePart::Unsatisfiable { total }.into_response(),
        ByteRange::Whole => (None, None),
        ByteRange::Part { first, last } => (Some(first..last + 1), Some((first, last))),
    };
    let body = match s3.get(bucket, key, wanted).await {
        Ok(stream) => axum::body::Body::from_stream(stream),
        Err(e) => return unavailable(format!("cannot read the recording from S3: {e}")),
    };
    let wav = [
        (header::CONTENT_TYPE, "audio/wav".to_owned()),
        (header::ACCEPT_RANGES, "bytes".to_owned()),
    ];
    match part {
        None => (
            StatusCode::OK,
            wav,
            [(header::CONTENT_LENGTH, total.to_string())],
            body,
        )
            .into_response(),
        Some((start, end)) => (
            StatusCode::PARTIAL_CONTENT,
            wav,
            [
                (
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{end}/{total}"),
                ),
                (header::CONTENT_LENGTH, (end - start + 1).to_string()),
            ],
            body,
        )
            .into_response(),
    }
}

/// 503 for a database that cannot be read (`Retry-After: 5`).
fn database_unavailable(e: &hark_recording::store::RecordingStoreError) -> Response {
    tracing::warn!(error = %e, "recordings cannot be read from the database");
    ApiError::unavailable(
        "DatabaseUnavailable",
        format!("the recordings cannot be read now: {e}"),
        "5",
    )
}

/// Reads `path`, or the one range `bytes=a-b`, `bytes=a-` or `bytes=-n` of it.
fn read_range(path: &std::path::Path, range: Option<&str>) -> std::io::Result<FilePart> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let total = file.metadata()?.len();
    let (start, end) = match ByteRange::parse(range, total) {
        ByteRange::Whole => {
            let mut bytes = Vec::with_capacity(total as usize);
            file.read_to_end(&mut bytes)?;
            return Ok(FilePart::Whole(bytes));
        }
        ByteRange::Unsatisfiable => return Ok(FilePart::Unsatisfiable { total }),
        ByteRange::Part { first, last } => (first, last),
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
