//! The Voice ID HTTP API: AWS JSON requests authenticated with SigV4, answered in the AWS
//! error shape.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hark_voiceid::Error;

use crate::app::voiceid::CONTENT_TYPE;
use crate::http::state::AppState;

pub(crate) fn respond(request_id: &str, result: Result<serde_json::Value, Error>) -> Response {
    let (status, body, error_type) = match result {
        Ok(v) => (StatusCode::OK, v.to_string(), None),
        Err(e) => {
            if let Error::Internal(detail) = &e {
                tracing::error!(request_id, error = %detail, "voiceid internal error");
            } else {
                tracing::debug!(request_id, code = e.code(), message = %e, "voiceid error");
            }
            (
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                e.body().to_string(),
                Some(e.code()),
            )
        }
    };
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(code) = error_type {
        h.insert("x-amzn-errortype", HeaderValue::from_static(code));
    }
    response
}

/// Refuses a request whose SigV4 headers cannot be right — unknown key, wrong scope, stale
/// date, unsigned operation — before a byte of its body is read.
pub async fn precheck(
    State(state): State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    match state.voiceid.precheck(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => {
            hark_http::boundary::log_refused(&request, "voiceid");
            hark_http::boundary::closing(respond(&uuid::Uuid::new_v4().to_string(), Err(e)))
        }
    }
}

/// Buffers a Voice ID body within the model's bound and the body deadline, answering in the
/// AWS error shape.
pub async fn read_body(
    State(state): State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    match hark_http::boundary::read_limited(&parts.headers, body, state.voiceid_body_limits).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(e) => hark_http::boundary::closing(respond(
            &uuid::Uuid::new_v4().to_string(),
            Err(Error::Validation(e.to_string())),
        )),
    }
}

/// `POST /`: the Voice ID JSON API (the body was read by [`read_body`]).
pub async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let limit = state.voiceid_body_limits.max_bytes;
    let body: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return respond(
                &request_id,
                Err(Error::Validation(format!(
                    "The request body is larger than {limit} bytes or was cut off"
                ))),
            );
        }
    };
    let api = Arc::clone(&state.voiceid);
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .filter(|t| hark_voiceid::api::split_target(t).is_ok())
        .unwrap_or("unknown")
        .to_owned();
    let started = std::time::Instant::now();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let result =
        tokio::task::spawn_blocking(move || api.serve(&path, &query, &parts.headers, &body))
            .await
            .unwrap_or_else(|e| Err(Error::Internal(format!("handler panicked: {e}"))));
    let code = match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    };
    // Only operations of signed requests that hark knows become label values: a client
    // cannot grow the series with made-up targets.
    let refused = matches!(
        &result,
        Err(Error::Unauthenticated { .. } | Error::UnknownOperation(_))
    );
    let operation = if refused {
        "unknown".to_owned()
    } else {
        operation
    };
    let m = &state.metrics;
    m.voiceid_duration
        .get_or_create(&crate::app::metrics::OperationLabels {
            operation: operation.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    m.voiceid_requests
        .get_or_create(&crate::app::metrics::VoiceIdLabels {
            operation,
            code: code.to_owned(),
        })
        .inc();
    respond(&request_id, result)
}
