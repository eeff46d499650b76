//! The HTTP boundary's rules, applied before any handler runs: request-head limits answered in
//! JSON, health-only connections, request bodies read under a deadline and a size cap (after
//! the route's authentication, never before), and every error answer as JSON `{code, message}`.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::listener::ConnectionClass;

/// Wraps a router in the boundary's rules (outermost first): JSON error bodies, request-head
/// limits, health-only connections.
pub fn guard<S: Clone + Send + Sync + 'static>(router: axum::Router<S>) -> axum::Router<S> {
    router
        .layer(axum::middleware::from_fn(restrict_health_only))
        .layer(axum::middleware::from_fn(check_head))
        .layer(axum::middleware::from_fn(json_errors))
}

/// Longest request target (path and query) accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header lines a request may carry.
pub const MAX_HEADERS: usize = 100;
/// Most bytes of header names and values a request may carry.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Routes a health-only connection may use.
const HEALTH_ROUTES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];
/// Error bodies read back to be rewritten as JSON are at most this long.
const MAX_ERROR_TEXT: usize = 4 * 1024;

/// How a route group reads request bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BodyLimits {
    /// Largest body accepted.
    pub max_bytes: usize,
    /// Time the whole body may take to arrive.
    pub timeout: Duration,
}

impl BodyLimits {
    /// Bodies up to `max_bytes`, arriving within `timeout`.
    pub const fn new(max_bytes: usize, timeout: Duration) -> Self {
        BodyLimits { max_bytes, timeout }
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// Longer than the route accepts.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// Not complete within the deadline.
    #[error("the request body did not arrive within {0} s")]
    Timeout(u64),
    /// The connection broke or the body was malformed.
    #[error("the request body could not be read: {0}")]
    Broken(String),
}

impl BodyError {
    /// The JSON error answer for hark's own APIs.
    pub fn to_api_error(&self) -> ApiError {
        let (status, code) = match self {
            BodyError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge"),
            BodyError::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "RequestTimeout"),
            BodyError::Broken(_) => (StatusCode::BAD_REQUEST, "BadRequest"),
        };
        ApiError {
            status,
            code,
            message: self.to_string(),
        }
    }
}

/// Reads a whole body within `limits`; a declared length above the cap is refused unread.
pub async fn read_limited(
    headers: &axum::http::HeaderMap,
    body: Body,
    limits: BodyLimits,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return Err(BodyError::TooLarge(limits.max_bytes));
    }
    match tokio::time::timeout(limits.timeout, axum::body::to_bytes(body, limits.max_bytes)).await {
        Err(_) => Err(BodyError::Timeout(limits.timeout.as_secs())),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let text = e.to_string();
            if text.contains("length limit") {
                Err(BodyError::TooLarge(limits.max_bytes))
            } else {
                Err(BodyError::Broken(text))
            }
        }
    }
}

/// Buffers the request body within the route group's limits, answering 413/408/400 in JSON.
pub async fn read_body(State(limits): State<BodyLimits>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match read_limited(&parts.headers, body, limits).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => closing(e.to_api_error().into_response()),
    }
}

/// Marks an answer as the connection's last (the rest of an unread body is not waited for).
pub fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Logs a request refused for its credentials, with the peer it came from (never what it sent
/// as a credential).
pub fn log_refused(request: &Request, api: &str) {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "forwarded".to_owned(), |c| c.0.to_string());
    tracing::warn!(peer = %peer, api, path = %request.uri().path(), "request refused: missing or invalid credentials");
}

/// Refuses request targets and header sections above the limits, in JSON (hyper's own, higher
/// limits answer with empty bodies).
pub async fn check_head(request: Request, next: Next) -> Response {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return closing(
            ApiError {
                status: StatusCode::URI_TOO_LONG,
                code: "UriTooLong",
                message: format!(
                    "the request target is {uri_len} bytes; at most {MAX_URI_BYTES} are accepted"
                ),
            }
            .into_response(),
        );
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return closing(
            ApiError {
                status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                code: "HeadersTooLarge",
                message: format!(
                    "the request has {} headers of {bytes} bytes; at most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes are accepted",
                    headers.len()
                ),
            }
            .into_response(),
        );
    }
    next.run(request).await
}

/// On a connection accepted within the health reserve, only health and metrics are served.
pub async fn restrict_health_only(request: Request, next: Next) -> Response {
    let health_only =
        request.extensions().get::<ConnectionClass>() == Some(&ConnectionClass::HealthOnly);
    if health_only && !HEALTH_ROUTES.contains(&request.uri().path()) {
        return closing(ApiError::unavailable(
            "ServerBusy",
            "this instance is at its connection limit; try again later".into(),
            "1",
        ));
    }
    next.run(request).await
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

/// The stable code of an error status, for answers that did not name one.
fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        408 => "RequestTimeout",
        409 => "Conflict",
        413 => "PayloadTooLarge",
        414 => "UriTooLong",
        415 => "UnsupportedMediaType",
        422 => "UnprocessableEntity",
        426 => "UpgradeRequired",
        429 => "TooManyRequests",
        431 => "HeadersTooLarge",
        503 => "ServiceUnavailable",
        s if s >= 500 => "InternalError",
        _ => "BadRequest",
    }
}

/// Rewrites error answers that are not JSON (extractor rejections, bare status codes) as
/// `{code, message}`, keeping their status and headers.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_ERROR_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::json!({ "code": code_of(status), "message": message }).to_string();
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_are_capped_by_declared_and_by_actual_length() {
        let limits = BodyLimits {
            max_bytes: 8,
            timeout: Duration::from_secs(5),
        };
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(
            read_limited(&headers, Body::from("12345678"), limits).await,
            Ok(Bytes::from("12345678"))
        );
        assert_eq!(
            read_limited(&headers, Body::from("123456789"), limits).await,
            Err(BodyError::TooLarge(8))
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("1000000"));
        // Refused from the header alone: the (empty) body is never waited for.
        assert_eq!(
            read_limited(&headers, Body::empty(), limits).await,
            Err(BodyError::TooLarge(8))
        );
    }

    #[tokio::test]
    async fn a_body_that_never_ends_times_out() {
        let limits = BodyLimits {
            max_bytes: 1024,
            timeout: Duration::from_millis(50),
        };
        let (_tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let body = Body::from_stream(stream);
        let headers = axum::http::HeaderMap::new();
        assert_eq!(
            read_limited(&headers, body, limits).await,
            Err(BodyError::Timeout(0))
        );
    }

    #[test]
    fn every_error_status_has_a_code() {
        assert_eq!(code_of(StatusCode::PAYLOAD_TOO_LARGE), "PayloadTooLarge");
        assert_eq!(code_of(StatusCode::BAD_GATEWAY), "InternalError");
        assert_eq!(code_of(StatusCode::IM_A_TEAPOT), "BadRequest");
    }
}
