//! HTTP for recording control: Chime-style call-leg actions, CXone-style record on demand,
//! contacts (agents and linked legs), and recording status. All need the recording bearer token.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hark_recording::chime::{action_failed, action_successful, invalid_action_list, parse_actions};
use hark_recording::control::MediaType;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::http::{ApiError, AppState};

/// Checks `Authorization: Bearer <token>` against the recording token, in constant time.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError {
            status: StatusCode::UNAUTHORIZED,
            error: "Unauthorized",
            message: "a bearer token with the recording:on-demand permission is required".into(),
        })?;
    let expected = state.recording_token.expose().as_bytes();
    if bool::from(presented.as_bytes().ct_eq(expected)) {
        Ok(())
    } else {
        Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            error: "Unauthorized",
            message: "invalid bearer token".into(),
        })
    }
}

/// `POST /v1/calls/{callId}/actions` with a Chime action list; answers the invocation events.
pub async fn call_actions(
    State(state): State<AppState>,
    Path(call_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(e) = authorize(&state, &headers) {
        return e.into_response();
    }
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
    headers: HeaderMap,
    Query(query): Query<OnDemandQuery>,
) -> Response {
    if let Err(e) = authorize(&state, &headers) {
        return e.into_response();
    }
    let Some(user_id) = query.user_id.filter(|u| !u.is_empty()) else {
        return ApiError {
            status: StatusCode::BAD_REQUEST,
            error: "BadRequest",
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
                error: "BadRequest",
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
                error: "NotFound",
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
    headers: HeaderMap,
    Json(req): Json<ContactRequest>,
) -> Response {
    if let Err(e) = authorize(&state, &headers) {
        return e.into_response();
    }
    let Some(user) = req.user_id else {
        return ApiError {
            status: StatusCode::BAD_REQUEST,
            error: "BadRequest",
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
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(e) = authorize(&state, &headers) {
        return e.into_response();
    }
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
    headers: HeaderMap,
    Json(req): Json<ContactRequest>,
) -> Response {
    if let Err(e) = authorize(&state, &headers) {
        return e.into_response();
    }
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
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authorize(&state, &headers) {
        return e.into_response();
    }
    state
        .recording
        .with_control(|c| c.latch_contact(chrono::Utc::now(), &contact));
    Json(json!({"contactId": contact, "doNotRecord": true})).into_response()
}

/// `GET /v1/calls/{callId}/recording`: the leg's recording status.
pub async fn call_status(
    State(state): State<AppState>,
    Path(call_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authorize(&state, &headers) {
        return e.into_response();
    }
    match state.recording.status(&call_id) {
        Some(status) => Json(status).into_response(),
        None => unknown_call(&call_id),
    }
}

/// `GET /v1/recordings`: recordings finished since start.
pub async fn recordings(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&state, &headers) {
        return e.into_response();
    }
    Json(json!({ "recordings": state.recording.finished() })).into_response()
}

fn unknown_call(call_id: &str) -> Response {
    ApiError {
        status: StatusCode::NOT_FOUND,
        error: "NotFound",
        message: format!("no active call {call_id:?}"),
    }
    .into_response()
}
