//! Control requests across instances: the middleware that publishes a request landing here,
//! and the handler that applies one published by another instance.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::timeout_at;

use super::*;

/// True for the requests every instance must apply: those acting on a live call or contact
/// (the instance holding the call's AudioHook session acts) — every non-GET recording request,
/// monitoring start/stop — and monitor integration changes (each instance caches them).
/// A new per-call control route (e.g. a Voice ID session update) joins by matching here.
pub fn is_call_control(method: &Method, path: &str) -> bool {
    if method == Method::GET || method == Method::HEAD {
        return false;
    }
    path.starts_with("/v1/calls/")
        || path.starts_with("/v1/contacts/")
        || path.starts_with("/interaction-recording-management-service/")
        || path.starts_with("/v1/monitors")
}

/// True for a Voice ID request (`POST /`) acting on a live session (the rule is
/// `hark_voiceid::api::targets_live_session`).
pub fn is_voiceid_session_request(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    *method == Method::POST && path == "/" && hark_voiceid::api::targets_live_session(target)
}

/// The headers a SigV4 signature may cover besides `authorization` and `content-type`: a
/// forwarded Voice ID request is verified again by the instance that applies it.
const SIGNED_HEADERS: [&str; 5] = [
    "host",
    "x-amz-date",
    "x-amz-target",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

/// Middleware: on a cluster, a call-control request is applied here and by every other live
/// instance; the answer is the best of their outcomes. Elsewhere it passes through.
pub async fn forward_control(
    State(cluster): State<Option<Arc<Cluster>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(cluster) = cluster else {
        return without_marker(next.run(request).await);
    };
    let (method, path) = (request.method(), request.uri().path());
    let controls = is_call_control(method, path)
        || is_voiceid_session_request(method, path, request.headers());
    if request.headers().contains_key(FORWARDED_HEADER) || !controls {
        return next.run(request).await;
    }
    cluster.forward(request, next).await
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    ApiError {
        status,
        code,
        message: message.into(),
    }
    .into_response()
}

/// How good an outcome is to answer with: success, then a specific refusal, then a failure,
/// then "not here" (the instances that do not hold the call answer 404, or say so in
/// [`NOT_HERE_HEADER`] when the API's shape answers 200 anyway, as Chime's events do).
fn rank(status: u16, not_here: bool) -> u8 {
    match status {
        _ if not_here => 3,
        200..=299 => 0,
        404 => 3,
        400..=499 => 1,
        _ => 2,
    }
}

/// The answer without the internal not-here marker.
fn without_marker(mut response: Response) -> Response {
    response.headers_mut().remove(NOT_HERE_HEADER);
    response
}

fn says_not_here(response: &Response) -> bool {
    response.headers().contains_key(NOT_HERE_HEADER)
}

/// 503 with `Retry-After`: the request could not reach the instance that holds the call.
fn unreachable_holder(why: &str) -> Response {
    ApiError::unavailable(
        "HolderUnreachable",
        format!("this instance does not hold the call and {why}; retry the request"),
        "1",
    )
}

impl Cluster {
    async fn forward(self: Arc<Self>, request: Request, next: Next) -> Response {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = to_bytes(body, MAX_FORWARDED).await else {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                format!("control request bodies are limited to {MAX_FORWARDED} bytes"),
            );
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "the request body is not UTF-8",
            );
        };
        let header_text = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let message = Forwarded {
            id: uuid::Uuid::new_v4().simple().to_string(),
            from: self.instance_id.clone(),
            method: parts.method.to_string(),
            uri: parts.uri.to_string(),
            authorization: header_text(header::AUTHORIZATION),
            content_type: header_text(header::CONTENT_TYPE),
            signed: SIGNED_HEADERS
                .iter()
                .filter_map(|name| {
                    let value = parts.headers.get(*name)?.to_str().ok()?;
                    Some((name.to_string(), value.to_owned()))
                })
                .collect(),
            body: text.to_owned(),
        };
        let published = self.publish(&message).await;
        let local = next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
        let local_rank = rank(local.status().as_u16(), says_not_here(&local));
        let (replies, peers) = match published {
            Ok((_, 0)) => {
                lock(&self.pending).remove(&message.id);
                return without_marker(local);
            }
            Ok(published) => published,
            Err(e) => {
                // A success here stands (this instance holds the call, and what must be
                // durable was stored by the handler); anything else may be the holder's to
                // answer, which cannot be asked now: never a 404 that is not true.
                tracing::error!(error = %e, "cannot publish a control request");
                return if local_rank == 0 {
                    without_marker(local)
                } else {
                    unreachable_holder("the cluster's database is unreachable")
                };
            }
        };
        let (best, heard_all) = self.collect(&message.id, replies, peers).await;
        let best_rank = best
            .as_ref()
            .map_or(u8::MAX, |r| rank(r.status, r.not_here));
        if !heard_all && local_rank.min(best_rank) >= 2 {
            return unreachable_holder("not every instance answered in time");
        }
        match best {
            Some(reply) if best_rank < local_rank => {
                tracing::debug!(instance = %reply.from, status = reply.status, "answered by another instance");
                let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
                (
                    status,
                    [(header::CONTENT_TYPE, "application/json")],
                    reply.body,
                )
                    .into_response()
            }
            _ => without_marker(local),
        }
    }

    /// Registers for replies, then publishes `message` to every instance; returns the replies
    /// to come and how many other instances are live (asked now: one that joined since the
    /// last heartbeat counts too).
    async fn publish(
        self: &Arc<Self>,
        message: &Forwarded,
    ) -> Result<(mpsc::UnboundedReceiver<Reply>, usize), String> {
        let payload = serde_json::to_string(message).map_err(|e| e.to_string())?;
        if payload.len() > MAX_FORWARDED {
            return Err(format!(
                "the request is too large to forward ({} bytes)",
                payload.len()
            ));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.pending).insert(message.id.clone(), tx);
        let store = Arc::clone(&self.store);
        let me = self.instance_id.clone();
        let sent = blocking(move || {
            store.notify(CONTROL_CHANNEL, &payload)?;
            let live = store.live_instances(DEAD_AFTER)?;
            Ok::<_, hark_store::PgError>(live.iter().filter(|i| i.instance_id != me).count())
        })
        .await;
        match sent {
            Some(Ok(peers)) => Ok((rx, peers)),
            other => {
                lock(&self.pending).remove(&message.id);
                Err(match other {
                    Some(Err(e)) => e.to_string(),
                    _ => "publishing panicked".into(),
                })
            }
        }
    }

    /// Waits for a success or for every peer's answer (bounded); returns the best answer.
    async fn collect(
        &self,
        id: &str,
        mut replies: mpsc::UnboundedReceiver<Reply>,
        peers: usize,
    ) -> (Option<Reply>, bool) {
        let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
        let mut best: Option<Reply> = None;
        let mut heard = 0;
        while heard < peers {
            let Ok(Some(reply)) = timeout_at(deadline, replies.recv()).await else {
                tracing::warn!(
                    heard,
                    peers,
                    "not every instance answered a control request in time"
                );
                break;
            };
            heard += 1;
            let this = rank(reply.status, reply.not_here);
            let done = this == 0;
            if best
                .as_ref()
                .is_none_or(|b| this < rank(b.status, b.not_here))
            {
                best = Some(reply);
            }
            if done {
                lock(&self.pending).remove(id);
                return (best, true);
            }
        }
        lock(&self.pending).remove(id);
        (best, heard >= peers)
    }

    /// Applies a request another instance published, through this instance's router, and
    /// answers on that instance's reply channel.
    pub(super) async fn apply_forwarded(self: Arc<Self>, f: Forwarded, router: Router) {
        let mut builder = Request::builder()
            .method(f.method.as_str())
            .uri(f.uri.as_str())
            .header(FORWARDED_HEADER, "1");
        for (name, value) in [
            (header::AUTHORIZATION, &f.authorization),
            (header::CONTENT_TYPE, &f.content_type),
        ] {
            if let Some(v) = value {
                builder = builder.header(name, v.as_str());
            }
        }
        for (name, value) in f
            .signed
            .iter()
            .filter(|(n, _)| SIGNED_HEADERS.contains(&n.as_str()))
        {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let (status, body, not_here) = match builder.body(Body::from(f.body)) {
            Ok(request) => match router.oneshot(request).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let not_here = says_not_here(&response);
                    let body = to_bytes(response.into_body(), MAX_FORWARDED)
                        .await
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    (status, body, not_here)
                }
                Err(never) => match never {},
            },
            Err(e) => (
                400,
                serde_json::json!({"code": "BadRequest", "message": e.to_string()}).to_string(),
                false,
            ),
        };
        let reply = Reply {
            id: f.id,
            from: self.instance_id.clone(),
            status,
            body,
            not_here,
        };
        let Ok(payload) = serde_json::to_string(&reply) else {
            return;
        };
        let channel = format!("hark_reply_{}", f.from);
        let store = Arc::clone(&self.store);
        if let Some(Err(e)) = blocking(move || store.notify(&channel, &payload)).await {
            tracing::warn!(error = %e, "cannot answer a forwarded control request");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rank;

    #[test]
    fn the_holders_answer_outranks_every_not_here() {
        // Chime answers 200 either way: the instance without the call marks its answer.
        assert!(rank(200, false) < rank(200, true));
        assert!(
            rank(409, false) < rank(200, true),
            "a holder's refusal beats 'not here'"
        );
        assert!(rank(500, false) < rank(404, false));
        assert_eq!(rank(404, false), rank(200, true));
    }
}
