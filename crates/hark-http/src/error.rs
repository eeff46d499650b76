//! The JSON error answer of hark's own HTTP APIs: `{"code": CODE, "message": TEXT}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A JSON error answer: `{"code": CODE, "message": TEXT}` with an HTTP status.
#[derive(Debug, Serialize)]
pub struct ApiError {
    /// HTTP status of the answer.
    #[serde(skip)]
    pub status: StatusCode,
    /// A stable machine-readable code, e.g. `NotFound`.
    pub code: &'static str,
    /// A sentence for the human reading the response.
    pub message: String,
}

impl ApiError {
    /// 503 with `Retry-After: seconds`: the request was not carried out and may be retried.
    pub fn unavailable(code: &'static str, message: String, seconds: &'static str) -> Response {
        let mut response = ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code,
            message,
        }
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(&self)).into_response()
    }
}
