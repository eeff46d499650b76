//! The axum side of [`VoiceIdEndpoint`]: the route, its two guarding layers, the AWS answer.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hark_http::boundary;
use serde_json::Value;

use super::{CONTENT_TYPE, VoiceIdEndpoint};
use crate::error::Error;

/// The router's state.
type Endpoint = Arc<VoiceIdEndpoint>;

impl VoiceIdEndpoint {
    /// The Voice ID API as an axum router: `POST /`. It needs no state of the application's
    /// (`S` is whatever the router it is merged into carries).
    pub fn router<S: Clone + Send + Sync + 'static>(self: Arc<Self>) -> Router<S> {
        self.router_with(|routes| routes)
    }

    /// [`Self::router`] with the application's own layers between the body read and the
    /// handler: `inner` gets the bare route and may add `route_layer`s, which then see only
    /// requests whose headers passed the SigV4 precheck and whose body was read within limits
    /// (the `hark` service forwards requests on a live session to the instance holding it there).
    pub fn router_with<S: Clone + Send + Sync + 'static>(
        self: Arc<Self>,
        inner: impl FnOnce(Router<Endpoint>) -> Router<Endpoint>,
    ) -> Router<S> {
        let routes = Router::new().route("/", post(handle));
        inner(routes)
            .route_layer(middleware::from_fn_with_state(Arc::clone(&self), read_body))
            .route_layer(middleware::from_fn_with_state(Arc::clone(&self), precheck))
            .with_state(self)
    }
}

/// An answer in the AWS JSON protocol's shape: the result or the error body, its status,
/// `x-amzn-RequestId`, and `x-amzn-ErrorType` for errors.
pub fn answer(request_id: &str, result: Result<Value, Error>) -> Response {
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

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Refuses a request whose SigV4 headers cannot be right — unknown key, wrong scope, stale
/// date, unsigned operation — before a byte of its body is read.
async fn precheck(State(endpoint): State<Endpoint>, request: Request, next: Next) -> Response {
    match endpoint.precheck(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => {
            boundary::log_refused(&request, "voiceid");
            boundary::closing(answer(&new_request_id(), Err(e)))
        }
    }
}

/// Buffers the body within the endpoint's size and time limits, answering in the AWS shape.
async fn read_body(State(endpoint): State<Endpoint>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match boundary::read_limited(&parts.headers, body, endpoint.body_limits()).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(e) => boundary::closing(answer(
            &new_request_id(),
            Err(Error::Validation(e.to_string())),
        )),
    }
}

/// `POST /`: one operation, run on the blocking pool (the body was read by [`read_body`]).
async fn handle(State(endpoint): State<Endpoint>, request: Request) -> Response {
    let request_id = new_request_id();
    let (parts, body) = request.into_parts();
    let limit = endpoint.body_limits().max_bytes;
    let body: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return answer(
                &request_id,
                Err(Error::Validation(format!(
                    "The request body is larger than {limit} bytes or was cut off"
                ))),
            );
        }
    };
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .filter(|t| crate::api::split_target(t).is_ok())
        .unwrap_or("unknown")
        .to_owned();
    let started = std::time::Instant::now();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let serving = Arc::clone(&endpoint);
    let result =
        tokio::task::spawn_blocking(move || serving.serve(&path, &query, &parts.headers, &body))
            .await
            .unwrap_or_else(|e| Err(Error::Internal(format!("handler panicked: {e}"))));
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    };
    // Only operations of signed requests the model knows are reported: a client cannot grow a
    // metric's label set with made-up targets.
    let refused = matches!(
        &result,
        Err(Error::Unauthenticated { .. } | Error::UnknownOperation(_))
    );
    let operation = if refused { "unknown" } else { &operation };
    endpoint
        .hooks
        .answered(operation, outcome, started.elapsed());
    answer(&request_id, result)
}
