//! The fleet's bookkeeping: heartbeats and dead instances, the calls each instance holds, and
//! Voice ID maintenance run by one instance at a time.

use std::sync::Arc;
use std::time::Duration;

use hark_voiceid::VoiceId;
use tokio::sync::mpsc;

use super::*;

/// The fleet-wide lock that Voice ID maintenance (expiry, purge, re-encryption) runs under.
pub const VOICEID_MAINTENANCE: &str = "voiceid-maintenance";

impl Cluster {
    /// Every [`HEARTBEAT`]: refreshes this instance, learns the live peers, and declares the
    /// instances whose heartbeat stopped dead (their calls are removed: they ended with them).
    pub(super) async fn heartbeat(self: Arc<Self>) {
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let cluster = Arc::clone(&self);
            match blocking(move || cluster.beat()).await {
                Some(Ok(())) => *lock(&self.last_heartbeat) = Some(std::time::Instant::now()),
                Some(Err(e)) => {
                    if lock(&self.healthy_since).take().is_some() {
                        tracing::warn!(error = %e, "cluster heartbeat failed: the database is unreachable");
                    }
                }
                None => tracing::error!("cluster heartbeat panicked"),
            }
        }
    }

    fn beat(&self) -> Result<(), hark_store::PgError> {
        let registered = self.store.heartbeat(&self.instance_id)?;
        if !registered {
            // Declared dead (a long pause): come back as what we are, with our calls.
            tracing::warn!("this instance had been declared dead; registering again");
            self.store.register_instance(&ClusterInstance {
                instance_id: self.instance_id.clone(),
                address: self.address.clone(),
                data_dir: self.data_dir.clone(),
                started_at: now_ms(),
                heartbeat_at: 0,
            })?;
        }
        let recovered = lock(&self.healthy_since).is_none();
        let dirty = self
            .calls_dirty
            .swap(false, std::sync::atomic::Ordering::SeqCst);
        if (!registered || recovered || dirty)
            && let Err(e) = self.reconcile_calls()
        {
            self.calls_dirty
                .store(true, std::sync::atomic::Ordering::SeqCst);
            return Err(e);
        }
        if recovered {
            tracing::info!("the database is reachable again; call registry reconciled");
            *lock(&self.healthy_since) = Some(std::time::Instant::now());
            self.reconnects.send_modify(|n| *n += 1);
        }
        let peers: Vec<String> = self
            .store
            .live_instances(DEAD_AFTER)?
            .into_iter()
            .map(|i| i.instance_id)
            .filter(|id| *id != self.instance_id)
            .collect();
        *self.peers.write().unwrap_or_else(|p| p.into_inner()) = peers;
        // Only an instance that has itself reached the database for a while can tell a dead
        // peer from one that, like it, could not heartbeat during an outage.
        let watched =
            lock(&self.healthy_since).is_some_and(|t| t.elapsed() >= DEAD_AFTER + HEARTBEAT * 2);
        if !watched {
            return Ok(());
        }
        for dead in self.store.dead_instances(DEAD_AFTER)? {
            let calls = self.store.remove_instance(&dead.instance_id)?;
            tracing::warn!(
                instance = %dead.instance_id,
                data_dir = %dead.data_dir,
                ended_calls = calls.len(),
                "an instance stopped heartbeating; its calls ended. Its partial recordings are \
                 delivered when it restarts with its data directory, or by `hark recover`"
            );
        }
        Ok(())
    }

    /// Writes call starts and ends to the database, in order, off the calls' own path.
    pub(super) async fn register_calls(
        self: Arc<Self>,
        mut events: mpsc::UnboundedReceiver<CallEvent>,
    ) {
        while let Some(event) = events.recv().await {
            let store = Arc::clone(&self.store);
            let instance_id = self.instance_id.clone();
            let result = blocking(move || match event {
                CallEvent::Started {
                    call_id,
                    contact_id,
                } => store.register_call(&CallRegistration {
                    call_id,
                    contact_id,
                    instance_id,
                    started_at: now_ms(),
                }),
                CallEvent::Ended { call_id } => store.unregister_call(&call_id).map(|_| ()),
            })
            .await;
            if let Some(Err(e)) = result {
                tracing::warn!(error = %e, "cannot register a call in the cluster now; reconciled when the database answers");
                self.calls_dirty
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }

    /// Brings the database's registry of this instance's calls back to what it holds: calls
    /// that ended during an outage removed, calls that started during it added.
    fn reconcile_calls(&self) -> Result<(), hark_store::PgError> {
        // The registry first, then our calls: a call that starts or ends in between is then
        // at worst registered or unregistered twice, never left behind.
        let registered: Vec<_> = self
            .store
            .cluster_calls()?
            .into_iter()
            .filter(|c| c.instance_id == self.instance_id)
            .collect();
        let local = lock(&self.local_calls).clone();
        for call in &registered {
            if !local.contains_key(&call.call_id) {
                self.store.unregister_call(&call.call_id)?;
            }
        }
        for (call_id, contact_id) in local {
            if !registered.iter().any(|c| c.call_id == call_id) {
                self.store.register_call(&CallRegistration {
                    call_id,
                    contact_id,
                    instance_id: self.instance_id.clone(),
                    started_at: now_ms(),
                })?;
            }
        }
        Ok(())
    }
}

/// Runs Voice ID maintenance passes under the fleet-wide lock: every `every` at most once
/// across all instances (whichever takes the lock), and back to back by the holder while a
/// re-encryption is in progress.
pub fn spawn_fleet_maintenance(cluster: Arc<Cluster>, service: Arc<VoiceId>, every: Duration) {
    tokio::spawn(async move {
        // Timers of different instances drift: a pass is due a little before a full interval.
        let due_after = every.mul_f64(0.9);
        let mut continuing = false;
        loop {
            let store = Arc::clone(cluster.store());
            let service = Arc::clone(&service);
            let min_interval = if continuing {
                Duration::ZERO
            } else {
                due_after
            };
            let pass = blocking(move || {
                let Some(lock) = store.try_fleet_lock(VOICEID_MAINTENANCE, min_interval)? else {
                    // Sweeps run once across the fleet; watchlist indexes live in each instance.
                    if let Err(e) = service.warm_watchlists() {
                        tracing::warn!(error = %e, "cannot build watchlist indexes");
                    }
                    return Ok(None);
                };
                let report = service.maintain();
                drop(lock);
                Ok::<_, hark_store::PgError>(Some(report))
            })
            .await;
            continuing = match pass {
                Some(Ok(Some(pass))) => hark_voiceid::runtime::log_maintenance(pass),
                Some(Ok(None)) => false,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "cannot take the voiceid maintenance lock");
                    false
                }
                None => {
                    tracing::error!("voiceid maintenance panicked");
                    false
                }
            };
            let wait = if continuing {
                Duration::from_millis(10)
            } else {
                every
            };
            tokio::time::sleep(wait).await;
        }
    });
}
