//! The HTTP listener: accepts TCP connections under a cap, serves each with hyper's HTTP/1 under
//! a header-read timeout and an idle timeout, and shuts down gracefully.
//!
//! Why not `axum::serve`: it has no timeouts and no connection cap, so slow or half-open clients
//! could hold sockets forever and exhaust the process's descriptors. Here:
//! - at most `max_connections` sockets are open (WebSocket sessions included); when the cap is
//!   reached, the connection idle the longest (no request in flight: a slow header, a quiet
//!   keep-alive) is closed to make room, and a new connection is refused only when none is idle;
//! - the last `health_reserve` places under the cap serve only health and metrics routes, so a
//!   load balancer still sees the instance when calls fill it;
//! - hyper closes a connection whose request headers do not arrive within `header_timeout`, and
//!   a sweeper closes connections idle for longer than `idle_timeout`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tower::ServiceExt;

/// Largest request head (request line and headers) hyper buffers; beyond it hyper itself
/// answers 431. The router's own, lower limits answer with JSON first.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header lines hyper parses; the router's lower limit answers with JSON first.
pub const MAX_HEADER_LINES: usize = 256;

/// The listener's limits (`[http]` in hark.toml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerLimits {
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Time a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// Sockets open at once, WebSocket sessions included.
    pub max_connections: usize,
    /// Places under the cap kept for health and metrics requests.
    pub health_reserve: usize,
}

impl ListenerLimits {
    /// Limits with these timeouts, a cap of `max_connections` and `health_reserve` places kept
    /// for health checks under it.
    pub const fn new(
        header_timeout: Duration,
        idle_timeout: Duration,
        max_connections: usize,
        health_reserve: usize,
    ) -> Self {
        ListenerLimits {
            header_timeout,
            idle_timeout,
            max_connections,
            health_reserve,
        }
    }
}

/// Which requests a connection may make: accepted within the reserve, only health checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionClass {
    /// Any route.
    General,
    /// Health, readiness and metrics only.
    HealthOnly,
}

/// What a connection is doing, for eviction and the idle sweep.
#[derive(Debug)]
struct Entry {
    /// Since when no request is in flight; `None` while one is, or after an upgrade.
    idle_since: Option<Instant>,
    evict: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    open: usize,
    entries: HashMap<u64, Entry>,
}

/// Open connections, shared by the accept loop, the connections and the sweeper.
#[derive(Debug, Default)]
struct Connections {
    table: Mutex<Table>,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a new connection: its slot (released when the socket closes) and its class, or
    /// `None` when the cap is reached and no idle connection could be closed for it.
    fn admit(self: &Arc<Self>, limits: &ListenerLimits) -> Option<(Slot, ConnectionClass)> {
        let mut table = self.lock();
        if table.open >= limits.max_connections {
            let oldest = table
                .entries
                .iter()
                .filter_map(|(id, e)| e.idle_since.map(|t| (t, *id)))
                .min();
            let (_, victim) = oldest?;
            if let Some(entry) = table.entries.remove(&victim) {
                entry.evict.notify_one();
            }
        }
        let class = if table.open + limits.health_reserve >= limits.max_connections {
            ConnectionClass::HealthOnly
        } else {
            ConnectionClass::General
        };
        table.next_id += 1;
        table.open += 1;
        let id = table.next_id;
        let evict = Arc::new(Notify::new());
        table.entries.insert(
            id,
            Entry {
                idle_since: Some(Instant::now()),
                evict: Arc::clone(&evict),
            },
        );
        Some((
            Slot {
                connections: Arc::clone(self),
                id,
                evict,
            },
            class,
        ))
    }

    fn set_idle(&self, id: u64, idle: bool) {
        if let Some(entry) = self.lock().entries.get_mut(&id) {
            entry.idle_since = idle.then(Instant::now);
        }
    }

    /// The connection left hyper (closed or upgraded): it can no longer be evicted.
    fn forget(&self, id: u64) {
        self.lock().entries.remove(&id);
    }

    /// Closes connections idle since before `deadline`.
    fn sweep(&self, deadline: Instant) {
        let mut table = self.lock();
        let stale: Vec<u64> = table
            .entries
            .iter()
            .filter(|(_, e)| e.idle_since.is_some_and(|t| t < deadline))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some(entry) = table.entries.remove(&id) {
                entry.evict.notify_one();
            }
        }
    }

    fn open(&self) -> usize {
        self.lock().open
    }
}

/// A connection's place under the cap; freed when the socket (or its upgrade) is dropped.
#[derive(Debug)]
struct Slot {
    connections: Arc<Connections>,
    id: u64,
    evict: Arc<Notify>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.connections.lock();
        table.open = table.open.saturating_sub(1);
        table.entries.remove(&self.id);
    }
}

/// Marks its connection idle when dropped (the response body was sent or abandoned).
struct IdleWhenDropped {
    tracker: Arc<Connections>,
    id: u64,
}

impl Drop for IdleWhenDropped {
    fn drop(&mut self) {
        self.tracker.set_idle(self.id, true);
    }
}

/// A response body that keeps its connection busy until it has been sent.
struct TrackedBody {
    body: axum::body::Body,
    _idle: IdleWhenDropped,
}

impl hyper::body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A TCP stream that holds its slot, so an upgraded WebSocket keeps counting against the cap
/// until it closes.
struct CountedStream {
    stream: TcpStream,
    _slot: Arc<Slot>,
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish (upgraded WebSocket sessions are their owners' to end).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ListenerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let connections = Arc::new(Connections::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a sender; when all are gone, `recv` answers `None`.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let sweeper = tokio::spawn(sweep_idle(Arc::clone(&connections), limits.idle_timeout));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: back off briefly
                    // instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some((slot, class)) = connections.admit(&limits) else {
            tracing::warn!(peer = %peer, open = connections.open(), "connection refused: the connection cap is reached");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(
            stream,
            peer,
            class,
            slot,
            router.clone(),
            limits,
            stop_rx.clone(),
            alive_tx.clone(),
        ));
    }
    sweeper.abort();
    let _ = stop_tx.send(true);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
    Ok(())
}

/// Closes connections that stayed idle too long, once a second.
async fn sweep_idle(connections: Arc<Connections>, idle_timeout: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if let Some(deadline) = Instant::now().checked_sub(idle_timeout) {
            connections.sweep(deadline);
        }
    }
}

#[allow(clippy::too_many_arguments)] // one connection's whole context, passed once
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    class: ConnectionClass,
    slot: Slot,
    router: Router,
    limits: ListenerLimits,
    mut stop: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
) {
    let slot = Arc::new(slot);
    let (id, evict) = (slot.id, Arc::clone(&slot.evict));
    let connections = Arc::clone(&slot.connections);
    let io = TokioIo::new(CountedStream {
        stream,
        _slot: Arc::clone(&slot),
    });
    let tracker = Arc::clone(&connections);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        let tracker = Arc::clone(&tracker);
        async move {
            tracker.set_idle(id, false);
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(class);
            let response = router.oneshot(request).await;
            Ok::<_, std::convert::Infallible>(match response {
                // An upgraded connection is a call now: never idle, never evicted.
                Ok(r) if r.status() == axum::http::StatusCode::SWITCHING_PROTOCOLS => {
                    tracker.forget(id);
                    r
                }
                // Idle again once the whole body is sent: a stream (SSE) is a request in flight.
                Ok(r) => r.map(|body| {
                    axum::body::Body::new(TrackedBody {
                        body,
                        _idle: IdleWhenDropped { tracker, id },
                    })
                }),
                Err(never) => match never {},
            })
        }
    });
    let connection = http1(limits.header_timeout)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(connection);
    drop(slot);
    let stopping = async {
        while !*stop.borrow_and_update() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        result = connection.as_mut() => log_connection_end(peer, result),
        () = evict.notified() => {
            tracing::debug!(peer = %peer, "idle connection closed");
        }
        () = stopping => {
            connection.as_mut().graceful_shutdown();
            log_connection_end(peer, connection.await);
        }
    }
    connections.forget(id);
}

/// hyper's HTTP/1 server with the listener's protocol limits.
fn http1(header_timeout: Duration) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADER_LINES);
    builder
}

/// Serves one HTTP/1 connection over any byte stream with the listener's protocol limits but
/// without the cap and idle bookkeeping: how the `http_front` fuzz target reaches the same
/// parser and boundary in memory.
pub async fn serve_stream<I>(
    io: I,
    router: Router,
    header_timeout: Duration,
) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        router.clone().oneshot(request.map(axum::body::Body::new))
    });
    http1(header_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades()
        .await
}

fn log_connection_end(peer: SocketAddr, result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        if e.is_timeout() {
            tracing::debug!(peer = %peer, "connection closed: request headers did not arrive in time");
        } else {
            tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
        }
    }
}

/// The descriptor limit of this process after raising the soft limit to the hard one (as
/// servers with many sockets must); `None` if it cannot be read.
pub fn raise_descriptor_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(max)) = (limit.current, limit.maximum)
        && current < max
    {
        limit.current = Some(max);
        if setrlimit(Resource::Nofile, limit).is_err() {
            limit.current = Some(current);
        }
    }
    limit.current
}

/// The default connection cap: three quarters of the descriptor limit, leaving the rest for
/// recording files, monitor sockets and the database.
pub fn default_max_connections(descriptor_limit: Option<u64>) -> usize {
    let limit = descriptor_limit.unwrap_or(1024).min(1 << 20);
    usize::try_from(limit * 3 / 4).unwrap_or(768).max(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, reserve: usize) -> ListenerLimits {
        ListenerLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: max,
            health_reserve: reserve,
        }
    }

    #[test]
    fn the_reserve_serves_health_only_and_the_cap_evicts_the_longest_idle() {
        let connections = Arc::new(Connections::default());
        let l = limits(4, 1);
        let mut slots = Vec::new();
        for _ in 0..3 {
            let (slot, class) = connections.admit(&l).unwrap();
            assert_eq!(class, ConnectionClass::General);
            slots.push(slot);
        }
        let (fourth, class) = connections.admit(&l).unwrap();
        assert_eq!(class, ConnectionClass::HealthOnly);
        // Every connection busy: nothing to evict, the fifth is refused.
        for s in slots.iter().chain([&fourth]) {
            connections.set_idle(s.id, false);
        }
        assert!(connections.admit(&l).is_none());
        // The second goes idle: it is the one closed for the newcomer.
        connections.set_idle(slots[1].id, true);
        let evicted = Arc::clone(&slots[1].evict);
        let (_fifth, _) = connections.admit(&l).unwrap();
        let notified = evicted.notified();
        tokio::pin!(notified);
        // `notify_one` stored a permit: the eviction is seen even by a late listener.
        assert!(
            futures_util::FutureExt::now_or_never(notified).is_some(),
            "the idle connection was told to close"
        );
        drop(slots);
        drop(fourth);
        assert_eq!(connections.open(), 1);
    }

    #[test]
    fn the_sweep_closes_only_connections_idle_past_the_deadline() {
        let connections = Arc::new(Connections::default());
        let l = limits(10, 1);
        let (busy, _) = connections.admit(&l).unwrap();
        let (idle, _) = connections.admit(&l).unwrap();
        connections.set_idle(busy.id, false);
        connections.sweep(Instant::now() + Duration::from_secs(1));
        assert!(
            futures_util::FutureExt::now_or_never(idle.evict.notified()).is_some(),
            "idle connection closed"
        );
        assert!(
            futures_util::FutureExt::now_or_never(busy.evict.notified()).is_none(),
            "busy connection kept"
        );
    }

    #[test]
    fn the_default_cap_leaves_descriptors_for_files_and_monitors() {
        assert_eq!(default_max_connections(Some(20_000)), 15_000);
        assert_eq!(default_max_connections(Some(1024)), 768);
        assert_eq!(default_max_connections(Some(8)), 16);
    }
}
