//! HTTP for monitor streams: the integrations (`/v1/monitors`, secrets never shown) and
//! per-contact monitoring (start, stop, streams and usage). All need the monitor bearer token.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hark_monitor::{MAX_MONITORS, MonitorError, MonitorIntegration, MonitorUpdate};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::app::monitoring::status_of;
use {crate::http::state::AppState, hark_http::ApiError};

/// `GET /v1/monitors`: every integration, without secrets.
pub async fn list(State(state): State<AppState>) -> Response {
    match state.monitoring.registry().list() {
        Ok(all) => {
            let views: Vec<_> = all.iter().map(MonitorIntegration::view).collect();
            Json(json!({ "monitors": views, "limit": MAX_MONITORS })).into_response()
        }
        Err(e) => error(&e),
    }
}

/// `POST /v1/monitors`: a new integration (at most five in all).
pub async fn create(State(state): State<AppState>, body: Bytes) -> Response {
    let monitor: MonitorIntegration = match parse(&body) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let view = monitor.view();
    match state.monitoring.create_monitor(monitor) {
        Ok(()) => (StatusCode::CREATED, Json(view)).into_response(),
        Err(e) => error(&e),
    }
}

/// `GET /v1/monitors/{name}`.
pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.monitoring.registry().get(&name) {
        Ok(m) => Json(m.view()).into_response(),
        Err(e) => error(&e),
    }
}

/// `PATCH /v1/monitors/{name}`: the fields given replace the integration's.
pub async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let update: MonitorUpdate = match parse(&body) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    match state.monitoring.update_monitor(&name, update) {
        Ok(m) => Json(m.view()).into_response(),
        Err(e) => error(&e),
    }
}

/// `DELETE /v1/monitors/{name}`: removes it and stops its live streams.
pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.monitoring.delete_monitor(&name) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(&e),
    }
}

/// Body of the start and stop requests: which monitors (all that apply when absent).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringRequest {
    monitors: Option<Vec<String>>,
}

/// `POST /v1/contacts/{contactId}/monitoring`: starts streaming the contact's live calls.
pub async fn start(
    State(state): State<AppState>,
    Path(contact): Path<String>,
    body: Bytes,
) -> Response {
    let request: MonitoringRequest = match parse_optional(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    respond(
        &state,
        &contact,
        state
            .monitoring
            .start(&contact, request.monitors.as_deref()),
    )
}

/// `POST /v1/contacts/{contactId}/monitoring/stop` (body like start) and
/// `DELETE /v1/contacts/{contactId}/monitoring[?monitors=a,b]`: stops streaming.
pub async fn stop(
    State(state): State<AppState>,
    Path(contact): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut request: MonitoringRequest = match parse_optional(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if let Some(list) = query.get("monitors") {
        request.monitors = Some(list.split(',').map(str::to_owned).collect());
    }
    respond(
        &state,
        &contact,
        state.monitoring.stop(&contact, request.monitors.as_deref()),
    )
}

/// `GET /v1/contacts/{contactId}/monitoring`: live streams and the usage of finished ones.
pub async fn status(State(state): State<AppState>, Path(contact): Path<String>) -> Response {
    let live = state.monitoring.is_live(&contact);
    let streams = state.monitoring.streams(&contact);
    if !live && streams.is_empty() {
        let usage = usage_of(&state, &contact);
        return match usage {
            Ok(u) if u.is_empty() => error(&MonitorError::NoLiveCall(contact)),
            Ok(u) => Json(json!({"contactId": contact, "live": false, "streams": [], "usage": u}))
                .into_response(),
            Err(e) => error(&e),
        };
    }
    respond(&state, &contact, Ok(streams))
}

fn respond(
    state: &AppState,
    contact: &str,
    streams: Result<Vec<hark_monitor::stream::StreamSnapshot>, MonitorError>,
) -> Response {
    let streams = match streams {
        Ok(s) => s,
        Err(e) => return error(&e),
    };
    match usage_of(state, contact) {
        Ok(usage) => Json(json!({
            "contactId": contact,
            "live": state.monitoring.is_live(contact),
            "streams": streams,
            "usage": usage,
        }))
        .into_response(),
        Err(e) => error(&e),
    }
}

fn usage_of(
    state: &AppState,
    contact: &str,
) -> Result<Vec<hark_monitor::UsageRecord>, MonitorError> {
    state.monitoring.registry().store().usage(contact)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "BadRequest",
        message: format!("invalid JSON body: {e}"),
    })
}

fn parse_optional<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(body)
}

fn error(e: &MonitorError) -> Response {
    let (status, code) = status_of(e);
    if matches!(e, MonitorError::Store(_)) {
        tracing::error!(error = %e, "monitor store failed");
    }
    ApiError {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        code,
        message: e.to_string(),
    }
    .into_response()
}
