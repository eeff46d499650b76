//! Bearer-token authentication of hark's control APIs, compared in constant time.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hark_http::ApiError;
use subtle::ConstantTimeEq;

use crate::app::credentials::Secret;

/// Checks `Authorization: Bearer <token>` against `expected` in constant time; `api` names the
/// API in the error message.
pub fn check_bearer(headers: &HeaderMap, expected: &Secret, api: &str) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(presented) = presented else {
        return Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "Unauthorized",
            message: format!("a bearer token for the {api} API is required"),
        });
    };
    if bool::from(presented.as_bytes().ct_eq(expected.expose().as_bytes())) {
        Ok(())
    } else {
        Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "Unauthorized",
            message: "invalid bearer token".into(),
        })
    }
}

/// The bearer token a group of routes requires, and the API's name for messages and logs.
#[derive(Clone, Debug)]
pub struct Bearer {
    /// The expected token.
    pub token: Secret,
    /// e.g. `recording`.
    pub api: &'static str,
}

/// Middleware: `Authorization: Bearer <token>` (compared in constant time); refusals are
/// logged with the peer.
pub async fn require_bearer(
    State(bearer): State<Bearer>,
    request: Request,
    next: Next,
) -> Response {
    match check_bearer(request.headers(), &bearer.token, bearer.api) {
        Ok(()) => next.run(request).await,
        Err(e) => {
            hark_http::boundary::log_refused(&request, bearer.api);
            e.into_response()
        }
    }
}
