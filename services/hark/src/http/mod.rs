//! The HTTP router: health, metrics, JSON errors, and request accounting.
//!
//! Capabilities mount their routes here as they are wired in. Every error answer is JSON
//! (`{"code": CODE, "message": TEXT}`) so clients never have to parse HTML or empty bodies;
//! the boundary's rules (`hark_http::boundary`) wrap every route.

use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Serialize;

use hark_http::ApiError;
use hark_http::boundary;

use crate::app::metrics::{CONTENT_TYPE, HttpLabels};
use crate::http::auth::{Bearer, require_bearer};
use crate::http::monitor as mon;
use crate::http::recording as rec;
use crate::http::state::AppState;

pub mod audit;
pub mod auth;
pub mod monitor;
pub mod recording;
pub mod state;
pub mod voiceid_events;

/// Where AudioHook clients connect.
pub const AUDIOHOOK_PATH: &str = "/audiohook/ws";

/// Builds the router with every route the service serves.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .merge(voiceid_routes(state.clone()))
        .route(
            "/v1/voiceid/events",
            get(crate::http::voiceid_events::stream),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .route(AUDIOHOOK_PATH, get(audiohook))
        .merge(admin_routes(state.clone()))
        .merge(recording_routes(state.clone()))
        .merge(monitor_routes(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    boundary::guard(routes)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

/// The router of the optional `[admin] listen` address: metrics and health, no token (the
/// address is meant to be reachable by Prometheus and probes only).
pub fn admin_listener_router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found);
    boundary::guard(routes).with_state(state)
}

/// Operational routes: live conversation ids, the fleet, metrics — behind the admin token.
fn admin_routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/interactions", get(interactions))
        .route("/v1/cluster", get(cluster_status))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(
            Bearer {
                token: state.admin_token,
                api: "admin",
            },
            require_bearer,
        ))
}

/// the limits, the audit line (`actor` names the token), and the cluster forwarding.
/// The layers of a control API, outermost first: its bearer token, then the body read under
fn control_api(
    routes: Router<AppState>,
    state: AppState,
    bearer: Bearer,
    actor: &'static str,
) -> Router<AppState> {
    routes
        .route_layer(middleware::from_fn_with_state(
            state.cluster.clone(),
            hark_cluster::forward_control,
        ))
        .route_layer(middleware::from_fn_with_state(
            actor,
            crate::http::audit::audit_controls,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.body_limits,
            boundary::read_body,
        ))
        .route_layer(middleware::from_fn_with_state(bearer, require_bearer))
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

/// The Voice ID API (`POST /`): `hark_voiceid::http`'s router — the SigV4 headers checked
/// before the body is read, the signature over the body by the handler — with, between the body
/// read and the handler, the cluster's forwarding: requests on a live session reach the instance
/// that holds it.
fn voiceid_routes(state: AppState) -> Router<AppState> {
    let cluster = state.cluster.clone();
    Arc::clone(&state.voiceid_endpoint).router_with(|routes| {
        routes.route_layer(middleware::from_fn_with_state(
            cluster,
            hark_cluster::forward_control,
        ))
    })
}

/// The recording APIs, all behind the recording bearer token.
fn recording_routes(state: AppState) -> Router<AppState> {
    let routes = Router::new()
        .route("/v1/calls/{call_id}/actions", post(rec::call_actions))
        .route("/v1/calls/{call_id}/recording", get(rec::call_status))
        .route("/v1/recordings", get(rec::recordings))
        .route("/v1/recordings/{id}", get(rec::recording))
        .route("/v1/recordings/{id}/audio", get(rec::recording_audio))
        .route("/v1/contacts/{contact_id}/agents", post(rec::agent_joined))
        .route(
            "/v1/contacts/{contact_id}/agents/{user_id}",
            delete(rec::agent_left),
        )
        .route("/v1/contacts/{contact_id}/calls", post(rec::link_call))
        .route(
            "/v1/contacts/{contact_id}/do-not-record",
            post(rec::contact_do_not_record),
        )
        .route(
            "/interaction-recording-management-service/interactions/{operation}",
            post(rec::on_demand),
        )
        .route(
            "/interaction-recording-management-service/v1/interactions/{operation}",
            post(rec::on_demand),
        );
    let bearer = Bearer {
        token: state.recording_token.clone(),
        api: "recording",
    };
    control_api(routes, state, bearer, "recording-token")
}

/// The monitor APIs, all behind the monitor bearer token.
fn monitor_routes(state: AppState) -> Router<AppState> {
    let routes = Router::new()
        .route("/v1/monitors", get(mon::list).post(mon::create))
        .route(
            "/v1/monitors/{name}",
            get(mon::get).patch(mon::update).delete(mon::delete),
        )
        .route(
            "/v1/contacts/{contact_id}/monitoring",
            get(mon::status).post(mon::start).delete(mon::stop),
        )
        .route("/v1/contacts/{contact_id}/monitoring/stop", post(mon::stop));
    let bearer = Bearer {
        token: state.monitor_token.clone(),
        api: "monitor",
    };
    control_api(routes, state, bearer, "monitor-token")
}

async fn healthz() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness for a load balancer: 200 while this instance can serve (on a cluster: its
/// heartbeat reaches the database), 503 otherwise. `/healthz` only says the process is up.
async fn readyz(State(state): State<AppState>) -> Response {
    let ready = state.cluster.as_ref().is_none_or(|c| c.is_ready());
    let (status, text) = if state.drain.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    } else if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
    };
    (status, axum::Json(serde_json::json!({ "status": text }))).into_response()
}

/// `GET /v1/cluster`: the live instances and the calls each holds (404 without PostgreSQL).
async fn cluster_status(State(state): State<AppState>) -> Response {
    let Some(cluster) = state.cluster.clone() else {
        return ApiError {
            status: StatusCode::NOT_FOUND,
            code: "NotFound",
            message: "this instance runs on the embedded store: there is no cluster".into(),
        }
        .into_response();
    };
    match tokio::task::spawn_blocking(move || cluster.status()).await {
        Ok(Ok(status)) => axum::Json(status).into_response(),
        Ok(Err(e)) => ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "DatabaseUnavailable",
            message: e.to_string(),
        }
        .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The OpenAPI document of every route above.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics.read_process();
    let recording = Arc::clone(&state.recording);
    // The spool is a directory listing: off the runtime's workers.
    if let Ok(backlog) = tokio::task::spawn_blocking(move || recording.spool_backlog()).await {
        let g = &state.metrics.scrape;
        g.spool_files.set(backlog.files);
        g.spool_bytes.set(backlog.bytes);
        g.spool_oldest_seconds.set(backlog.oldest_seconds);
        g.rows_pending.set(backlog.rows_pending);
    }
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}

async fn audiohook(State(state): State<AppState>, request: Request) -> Response {
    if state.drain.is_draining() {
        // Genesys retries a refused connection: it lands on an instance that takes calls.
        return ApiError::unavailable(
            "ServerDraining",
            "this instance is shutting down and takes no new calls".into(),
            "1",
        );
    }
    state
        .audiohook
        .handle(request, "http")
        .await
        .into_response()
}

async fn interactions(State(state): State<AppState>) -> Response {
    axum::Json(serde_json::json!({ "interactions": state.hub.interactions() })).into_response()
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "NotFound",
        message: format!("no route for {method} {}", uri.path()),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "MethodNotAllowed",
        message: format!("{method} is not allowed on {}", uri.path()),
    }
}

/// Counts every request by route template, method and status.
async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    // Everything logged while the request is handled carries its route and method.
    let span = tracing::info_span!("request", method = %method, route = %route);
    let response = tracing::Instrument::instrument(next.run(request), span).await;
    state
        .metrics
        .http_duration
        .get_or_create(&crate::app::metrics::RouteLabels {
            route: route.clone(),
            method: method.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .http_requests
        .get_or_create(&HttpLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_lists_every_route() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        for route in [
            "/",
            "/healthz",
            "/metrics",
            "/openapi.json",
            AUDIOHOOK_PATH,
            "/v1/interactions",
            "/v1/calls/{callId}/actions",
            "/v1/calls/{callId}/recording",
            "/v1/recordings",
            "/v1/recordings/{id}",
            "/v1/recordings/{id}/audio",
            "/v1/contacts/{contactId}/agents",
            "/v1/contacts/{contactId}/agents/{userId}",
            "/v1/contacts/{contactId}/calls",
            "/v1/contacts/{contactId}/do-not-record",
            "/interaction-recording-management-service/interactions/start-recording-on-demand",
            "/interaction-recording-management-service/v1/interactions/do-not-record",
            "/v1/monitors",
            "/v1/monitors/{name}",
            "/v1/contacts/{contactId}/monitoring",
            "/v1/contacts/{contactId}/monitoring/stop",
        ] {
            assert!(paths.contains_key(route), "{route} is not documented");
        }
    }
}
