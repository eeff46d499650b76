//! The LISTEN connection: a plain thread blocking on PostgreSQL notifications (the `postgres`
//! client may block there, never on a runtime thread), reconnecting when the connection drops,
//! and a task dispatching what it hears.

use std::sync::Arc;
use std::time::Duration;

use fallible_iterator::FallibleIterator;
use tokio::sync::{mpsc, oneshot};

use super::{
    CONTROL_CHANNEL, Cluster, FRAUDSTER_CHANNEL, Forwarded, FraudsterChange, Notification, Reply,
    lock,
};

impl Cluster {
    /// Starts the listener thread; the receiver completes once it listens for the first time.
    pub(super) fn spawn_listener(
        self: &Arc<Self>,
    ) -> (mpsc::UnboundedReceiver<Notification>, oneshot::Receiver<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready) = oneshot::channel();
        let store = Arc::clone(&self.store);
        let reply_channel = self.reply_channel.clone();
        let spawned = std::thread::Builder::new()
            .name("hark-listen".into())
            .spawn(move || {
                let mut ready = Some(ready_tx);
                loop {
                    match listen(&store, &reply_channel, &tx, &mut ready) {
                        Ok(()) => return, // the runtime is gone
                        Err(e) => {
                            tracing::warn!(error = %e, "notification listener lost its connection; reconnecting");
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the notification listener");
        }
        (rx, ready)
    }

    /// Hands control requests to their handler and replies to the request waiting for them.
    pub(super) async fn dispatch(
        self: Arc<Self>,
        mut notifications: mpsc::UnboundedReceiver<Notification>,
    ) {
        while let Some(n) = notifications.recv().await {
            if n.channel == FRAUDSTER_CHANNEL {
                self.fraudsters_changed_elsewhere(&n.payload);
            } else if n.channel == CONTROL_CHANNEL {
                match serde_json::from_str::<Forwarded>(&n.payload) {
                    Ok(f) if f.from == self.instance_id => {}
                    Ok(f) => {
                        // Waits for the router if it is not serving yet.
                        let _ = self.forwarded.send(f);
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable control notification"),
                }
            } else {
                match serde_json::from_str::<Reply>(&n.payload) {
                    Ok(reply) => {
                        if let Some(waiting) = lock(&self.pending).get(&reply.id) {
                            let _ = waiting.send(reply);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable reply notification"),
                }
            }
        }
    }
}

impl Cluster {
    /// Another instance changed a domain's fraudsters: rebuild this instance's indexes of it.
    fn fraudsters_changed_elsewhere(&self, payload: &str) {
        let change = match serde_json::from_str::<FraudsterChange>(payload) {
            Ok(c) if c.from == self.instance_id => return,
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable fraudster-change notification");
                return;
            }
        };
        let service = Arc::clone(&self.voiceid);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = service.reload_watchlists(&change.domain) {
                tracing::warn!(error = %e, "cannot reload a domain's watchlists");
            }
        });
    }
}

/// One connection's life: LISTEN, then forward every notification until it fails.
fn listen(
    store: &hark_store::PgStore,
    reply_channel: &str,
    tx: &mpsc::UnboundedSender<Notification>,
    ready: &mut Option<oneshot::Sender<()>>,
) -> Result<(), String> {
    let mut client = store.dedicated_connection().map_err(|e| e.to_string())?;
    client
        .batch_execute(&format!(
            "LISTEN {CONTROL_CHANNEL}; LISTEN {FRAUDSTER_CHANNEL}; LISTEN \"{reply_channel}\""
        ))
        .map_err(|e| hark_store::PgError::from(e).to_string())?;
    if let Some(ready) = ready.take() {
        let _ = ready.send(());
    }
    let mut notifications = client.notifications();
    let mut iter = notifications.blocking_iter();
    while let Some(n) = iter
        .next()
        .map_err(|e| hark_store::PgError::from(e).to_string())?
    {
        let forwarded = Notification {
            channel: n.channel().to_owned(),
            payload: n.payload().to_owned(),
        };
        if tx.send(forwarded).is_err() {
            return Ok(());
        }
    }
    Err("the notification stream ended".into())
}
