//! `GET /v1/voiceid/events`: Voice ID events (sessions, enrollments, batch jobs) as
//! server-sent events, signed like the Voice ID API (SigV4 with the same access keys, e.g.
//! `curl --aws-sigv4 aws:amz:us-east-1:voiceid --user KEY:SECRET -N URL`).
//!
//! Each event is one SSE message: `event:` the EventBridge detail-type, `data:` the JSON
//! envelope. `?domainId=…` keeps one domain's events. A consumer that falls more than
//! `hark_voiceid::runtime::EVENT_BUFFER` events behind is told how many it missed (an SSE comment) and carries on.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use hark_voiceid::runtime::PublishedEvent;
use tokio::sync::broadcast;

use crate::http::state::AppState;

/// `GET /v1/voiceid/events[?domainId=…]`.
pub async fn stream(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let authenticated =
        state
            .voiceid_endpoint
            .authenticate("GET", parts.uri.path(), &query, &parts.headers, b"");
    if let Err(e) = authenticated {
        return hark_voiceid::http::answer(&uuid::Uuid::new_v4().to_string(), Err(e));
    }
    let domain = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("domainId="))
        .map(str::to_owned);
    let receiver = state.voiceid.events.subscribe();
    Sse::new(events(receiver, domain))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn events(
    receiver: broadcast::Receiver<PublishedEvent>,
    domain: Option<String>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold((receiver, domain), |(mut rx, domain)| async move {
        loop {
            let event = match rx.recv().await {
                Ok(e) if domain.as_ref().is_some_and(|d| *d != e.domain_id) => continue,
                Ok(e) => Event::default().event(e.detail_type).data(&*e.json),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    Event::default().comment(format!("missed {n} events"))
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            return Some((Ok(event), (rx, domain)));
        }
    })
}
