//! The audit trail of controls: one `hark::audit` line for every change request to the
//! recording and monitor APIs — who (the token's name, never its value), what (method, route,
//! ids in the path, the user in the query, Chime action types), the outcome, and whether another
//! instance forwarded it. Secure pauses and Voice ID changes are audited where they happen
//! (`hub`, `voiceid`).

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Middleware: audits the change requests of an API; `actor` names its credential.
pub async fn audit_controls(
    State(actor): State<&'static str>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return next.run(request).await;
    }
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(String::new, |p| p.as_str().to_owned());
    let path = request.uri().path().to_owned();
    let user = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|p| p.strip_prefix("userId="))
        .unwrap_or_default()
        .to_owned();
    let forwarded = request
        .headers()
        .contains_key(hark_cluster::FORWARDED_HEADER);
    // The body was read (and capped) by the boundary before this layer: collecting it again
    // only takes the buffer, and never cuts it.
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return hark_http::boundary::BodyError::Broken(e.to_string())
                .to_api_error()
                .into_response();
        }
    };
    let actions = chime_actions(&bytes);
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    tracing::info!(
        target: crate::app::logging::AUDIT,
        actor,
        method,
        route,
        path,
        user,
        actions,
        status = response.status().as_u16(),
        forwarded,
        "audit"
    );
    response
}

/// The `Type`s of a Chime action list, e.g. `StartCallRecording,PauseCallRecording`.
fn chime_actions(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    value["Actions"]
        .as_array()
        .map(|actions| {
            actions
                .iter()
                .filter_map(|a| a["Type"].as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chime_action_types_are_named() {
        let body = br#"{"SchemaVersion":"1.0","Actions":[{"Type":"StartCallRecording"},{"Type":"PauseCallRecording"}]}"#;
        assert_eq!(chime_actions(body), "StartCallRecording,PauseCallRecording");
        assert_eq!(chime_actions(b"not json"), "");
    }
}
