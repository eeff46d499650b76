//! A stream's task: connect, run a session, and on failure retry with backoff until the call
//! ends or the stream is stopped; then account for what was never delivered.

use std::sync::Arc;
use std::time::Instant;

use hark_audiohook::net::{ClientOptions, connect};

use super::handle::Shared;
use super::session::{self, SessionEnd};
use super::{StreamEvent, StreamObserver, StreamSettings};
use crate::backoff::Backoff;
use crate::call::CallIdentity;
use crate::delivery::Delivery;
use crate::integration::MonitorIntegration;
use crate::stream::Ending;

/// Everything a stream's task needs.
pub(crate) struct StreamTask {
    pub(crate) shared: Arc<Shared>,
    pub(crate) observer: Arc<dyn StreamObserver>,
    pub(crate) monitor: MonitorIntegration,
    pub(crate) call: CallIdentity,
    pub(crate) settings: StreamSettings,
}

impl StreamTask {
    /// Runs the stream to its end: attempts until everything is delivered or the stream is
    /// stopped, bounded by a grace period once it is ending; then accounts for what is left.
    pub(crate) async fn run(self) {
        tokio::select! {
            () = self.attempts() => {}
            () = self.hard_stop() => {}
        }
        let summary = {
            let mut stream = self.shared.lock();
            stream.finish(Instant::now());
            stream.snapshot(Instant::now())
        };
        self.observer.on_event(StreamEvent::Finished(&summary));
    }

    /// Connects, streams and retries with backoff while there is something to deliver.
    async fn attempts(&self) {
        let mut delivery = Delivery::default();
        let mut backoff = Backoff::new(self.settings.backoff_initial, self.settings.backoff_max);
        while !self.shared.lock().is_drained() {
            let attempt = self.shared.lock().attempt();
            self.observer.on_event(StreamEvent::Attempt { attempt });
            match self.attempt(attempt, &mut delivery).await {
                Attempted::Over => return,
                Attempted::Opened => backoff.reset(),
                Attempted::Failed => {}
            }
            if self.shared.lock().is_drained() {
                return;
            }
            let delay = backoff.next_delay(random_unit());
            self.observer.on_event(StreamEvent::Retrying { delay });
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.stopped() => return,
            }
        }
    }

    /// One connection: connect, run the session, report how it went.
    async fn attempt(&self, attempt: u64, delivery: &mut Delivery) -> Attempted {
        let session_id = new_session_id();
        let mut session = self
            .call
            .client_config(&session_id, self.settings.open_timeout);
        // The integration's own `customConfig` switches services on at the monitor.
        session.custom_config = self.monitor.custom_config.clone();
        let options = ClientOptions::new(
            self.monitor.uri.clone(),
            self.monitor.api_key.clone(),
            self.monitor.client_secret.clone(),
            session,
        );
        let connecting = tokio::time::timeout(
            self.settings.connect_timeout,
            connect(&options, &self.settings.transport),
        );
        let ws = match connecting.await {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => return self.connect_failed(attempt, &e.to_string()),
            Err(_) => return self.connect_failed(attempt, "connection timed out"),
        };
        let config = options.session.clone();
        let end = session::run(
            ws,
            config,
            &session_id,
            &self.shared,
            &*self.observer,
            delivery,
        )
        .await;
        self.session_ended(&session_id, end)
    }

    fn connect_failed(&self, attempt: u64, error: &str) -> Attempted {
        self.shared.lock().failed(Instant::now());
        self.observer
            .on_event(StreamEvent::ConnectFailed { attempt, error });
        Attempted::Failed
    }

    fn session_ended(&self, session_id: &str, end: SessionEnd) -> Attempted {
        let (reason, failed) = end.describe();
        let opened = end.opened();
        {
            let mut stream = self.shared.lock();
            if failed {
                stream.failed(Instant::now());
            } else {
                stream.disconnected(Instant::now());
            }
        }
        if opened {
            self.observer.on_event(StreamEvent::SessionEnded {
                session_id,
                reason: &reason,
                failed,
            });
        } else {
            self.observer.on_event(StreamEvent::ConnectFailed {
                attempt: self
                    .shared
                    .lock()
                    .snapshot(Instant::now())
                    .counters
                    .attempts,
                error: &reason,
            });
        }
        match (failed, opened) {
            (false, _) => Attempted::Over,
            (true, true) => Attempted::Opened,
            (true, false) => Attempted::Failed,
        }
    }

    /// Completes once the stream was stopped.
    async fn stopped(&self) {
        let mut ending = self.shared.ending.subscribe();
        // The sender lives in `shared`, which outlives this task's waits.
        let _ = ending.wait_for(|e| *e == Some(Ending::Stopped)).await;
    }

    /// Completes when the stream must be cut off: a grace period after it began ending (long
    /// enough to deliver the queue and close after a call end, short after a stop). A stop
    /// during the call-end grace shortens it.
    async fn hard_stop(&self) {
        let mut ending = self.shared.ending.subscribe();
        let _ = ending.wait_for(Option::is_some).await;
        let ended = tokio::time::sleep(self.settings.drain_timeout);
        let stopped = async {
            self.stopped().await;
            tokio::time::sleep(self.settings.stop_timeout).await;
        };
        tokio::select! {
            () = ended => {}
            () = stopped => {}
        }
    }
}

/// How an attempt went.
enum Attempted {
    /// The stream is over (ending, or the monitor completed it).
    Over,
    /// A session opened and later failed: retry from the first delay.
    Opened,
    /// It failed before opening.
    Failed,
}

fn new_session_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A random number in [0, 1) for backoff jitter.
fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
