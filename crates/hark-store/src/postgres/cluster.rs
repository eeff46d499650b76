//! What several `hark serve` instances share beyond the store traits: who is alive
//! (heartbeats), which instance holds which call, notifications (`pg_notify`), and fleet-wide
//! locks for sweeps that must run once across the fleet (advisory locks).

use std::time::Duration;

use postgres::Client;

use super::{PgError, PgStore};

/// A running instance, as registered in the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInstance {
    /// Unique per process start.
    pub instance_id: String,
    /// Where its HTTP and AudioHook endpoint listens.
    pub address: String,
    /// Its data directory (spool of partial recordings), for recovery after a crash.
    pub data_dir: String,
    /// When it started (Unix ms).
    pub started_at: i64,
    /// Its last heartbeat (Unix ms, database clock).
    pub heartbeat_at: i64,
}

/// A call that an instance holds the AudioHook session of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterCall {
    /// The AudioHook session id (the leg).
    pub call_id: String,
    /// The contact (conversation).
    pub contact_id: String,
    /// The instance holding it.
    pub instance_id: String,
    /// When it started (Unix ms).
    pub started_at: i64,
}

/// A call to register: which leg, which contact, held by which instance.
pub type CallRegistration = ClusterCall;

/// A fleet-wide lock (a session advisory lock on its own connection); released on drop, or by
/// PostgreSQL when the process dies.
pub struct FleetLock {
    client: Option<Client>,
    key: i64,
}

impl std::fmt::Debug for FleetLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetLock").field("key", &self.key).finish()
    }
}

impl Drop for FleetLock {
    fn drop(&mut self) {
        // Closing the connection releases the lock; on a runtime thread that must happen on
        // another thread (see `off_runtime`).
        let client = self.client.take();
        super::off_runtime(move || drop(client));
    }
}

/// A fleet-wide exclusive section (a session advisory lock on a pooled connection), held until
/// dropped; PostgreSQL releases it if the process dies.
pub struct WriteLock {
    store: std::sync::Arc<PgStore>,
    client: Option<Client>,
    key: i64,
}

impl std::fmt::Debug for WriteLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteLock").field("key", &self.key).finish()
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let Some(mut client) = self.client.take() else {
            return;
        };
        let (store, key) = (&self.store, self.key);
        super::off_runtime(move || {
            if client
                .execute("SELECT pg_advisory_unlock($1)", &[&key])
                .is_err()
            {
                // Unknown state: close the session, which releases the lock for sure.
                drop(client);
                return;
            }
            store.pool.give_back(client);
        });
    }
}

impl PgStore {
    /// Waits for and takes the fleet-wide lock `name`: one holder across every instance (e.g.
    /// Voice ID writes, whose quota checks and client-token replays read then write).
    pub fn lock_exclusive(self: &std::sync::Arc<Self>, name: &str) -> Result<WriteLock, PgError> {
        let key = lock_key(name);
        let store = std::sync::Arc::clone(self);
        super::off_runtime(move || {
            let mut client = store.pool.take()?;
            if let Err(e) = client.execute("SELECT pg_advisory_lock($1)", &[&key]) {
                store.pool.give_back(client);
                return Err(PgError::from(e));
            }
            Ok(WriteLock {
                store,
                client: Some(client),
                key,
            })
        })
        .unwrap_or_else(|| Err(PgError("taking a fleet lock panicked".into())))
    }
}

/// The advisory-lock key of a sweep name: a stable 64-bit hash (FNV-1a).
pub fn lock_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

impl PgStore {
    /// Registers (or refreshes) this instance; its heartbeat is now.
    pub fn register_instance(&self, i: &ClusterInstance) -> Result<(), PgError> {
        self.run(|c| {
            c.execute(
                &format!(
                    "INSERT INTO cluster_instances (instance_id, address, data_dir, started_at, heartbeat_at)
                     VALUES ($1, $2, $3, $4, {NOW_MS})
                     ON CONFLICT (instance_id) DO UPDATE SET address = excluded.address,
                     data_dir = excluded.data_dir, heartbeat_at = excluded.heartbeat_at"
                ),
                &[&i.instance_id, &i.address, &i.data_dir, &i.started_at],
            )?;
            Ok(())
        })
    }

    /// Refreshes an instance's heartbeat; false when it is no longer registered (declared dead).
    pub fn heartbeat(&self, instance_id: &str) -> Result<bool, PgError> {
        self.run(|c| {
            Ok(c.execute(
                &format!(
                    "UPDATE cluster_instances SET heartbeat_at = {NOW_MS} WHERE instance_id = $1"
                ),
                &[&instance_id],
            )? > 0)
        })
    }

    /// Instances whose last heartbeat is at most `max_age` old.
    pub fn live_instances(&self, max_age: Duration) -> Result<Vec<ClusterInstance>, PgError> {
        self.instances_where("heartbeat_at >= ", max_age)
    }

    /// Instances whose last heartbeat is older than `max_age` (crashed or cut off).
    pub fn dead_instances(&self, max_age: Duration) -> Result<Vec<ClusterInstance>, PgError> {
        self.instances_where("heartbeat_at < ", max_age)
    }

    fn instances_where(
        &self,
        condition: &str,
        max_age: Duration,
    ) -> Result<Vec<ClusterInstance>, PgError> {
        let rows = self.run(|c| {
            Ok(c.query(
                &format!(
                    "SELECT instance_id, address, data_dir, started_at, heartbeat_at
                     FROM cluster_instances WHERE {condition} {NOW_MS} - $1 ORDER BY instance_id"
                ),
                &[&millis(max_age)],
            )?)
        })?;
        Ok(rows
            .iter()
            .map(|r| ClusterInstance {
                instance_id: r.get(0),
                address: r.get(1),
                data_dir: r.get(2),
                started_at: r.get(3),
                heartbeat_at: r.get(4),
            })
            .collect())
    }

    /// Removes an instance and the calls it held (they ended with it); returns those calls.
    pub fn remove_instance(&self, instance_id: &str) -> Result<Vec<ClusterCall>, PgError> {
        let rows = self.run(|c| {
            let mut tx = c.transaction()?;
            let rows = tx.query(
                "DELETE FROM cluster_calls WHERE instance_id = $1
                 RETURNING call_id, contact_id, instance_id, started_at",
                &[&instance_id],
            )?;
            tx.execute(
                "DELETE FROM cluster_instances WHERE instance_id = $1",
                &[&instance_id],
            )?;
            tx.commit()?;
            Ok(rows)
        })?;
        Ok(rows.iter().map(call_row).collect())
    }

    /// Registers a call held by an instance.
    pub fn register_call(&self, call: &CallRegistration) -> Result<(), PgError> {
        self.run(|c| {
            c.execute(
                "INSERT INTO cluster_calls (call_id, contact_id, instance_id, started_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (call_id) DO UPDATE SET contact_id = excluded.contact_id,
                 instance_id = excluded.instance_id, started_at = excluded.started_at",
                &[
                    &call.call_id,
                    &call.contact_id,
                    &call.instance_id,
                    &call.started_at,
                ],
            )?;
            Ok(())
        })
    }

    /// Removes a call (it ended); false when it was not registered.
    pub fn unregister_call(&self, call_id: &str) -> Result<bool, PgError> {
        self.run(|c| {
            Ok(c.execute("DELETE FROM cluster_calls WHERE call_id = $1", &[&call_id])? > 0)
        })
    }

    /// Every live call in the fleet, oldest first.
    pub fn cluster_calls(&self) -> Result<Vec<ClusterCall>, PgError> {
        let rows = self.run(|c| {
            Ok(c.query(
                "SELECT call_id, contact_id, instance_id, started_at FROM cluster_calls
                 ORDER BY started_at, call_id",
                &[],
            )?)
        })?;
        Ok(rows.iter().map(call_row).collect())
    }

    /// Sends `payload` to the listeners of `channel` (delivered when this statement commits).
    pub fn notify(&self, channel: &str, payload: &str) -> Result<(), PgError> {
        self.run(|c| {
            c.execute("SELECT pg_notify($1, $2)", &[&channel, &payload])?;
            Ok(())
        })
    }

    /// A new connection outside the pool, for LISTEN (it belongs to its caller's thread).
    pub fn dedicated_connection(&self) -> Result<Client, PgError> {
        let config: postgres::Config = self
            .url()
            .parse()
            .map_err(|e| PgError(format!("invalid database URL {}: {e}", self.redacted_url())))?;
        super::off_runtime(|| self.transport.connect(&config).map_err(PgError::from))
            .unwrap_or_else(|| Err(PgError("connecting panicked".into())))
    }

    /// Takes the fleet-wide lock `name` when no other instance holds it and the sweep it guards
    /// last ran at least `min_interval` ago (then records that it runs now); `None` otherwise.
    /// Hold the lock for the sweep's duration.
    pub fn try_fleet_lock(
        &self,
        name: &str,
        min_interval: Duration,
    ) -> Result<Option<FleetLock>, PgError> {
        let key = lock_key(name);
        let mut client = self.dedicated_connection()?;
        let claimed = super::off_runtime(|| claim(&mut client, key, name, min_interval))
            .unwrap_or_else(|| Err(PgError("claiming a fleet lock panicked".into())));
        let lock = FleetLock {
            client: Some(client),
            key,
        };
        // Dropped (connection closed, lock released) on the right thread on every path.
        Ok(claimed?.then_some(lock))
    }
}

fn claim(client: &mut Client, key: i64, name: &str, every: Duration) -> Result<bool, PgError> {
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])?
        .get(0);
    if !locked {
        return Ok(false);
    }
    let due = client.execute(
        &format!(
            "INSERT INTO cluster_sweeps (name, ran_at) VALUES ($1, {NOW_MS})
             ON CONFLICT (name) DO UPDATE SET ran_at = excluded.ran_at
             WHERE cluster_sweeps.ran_at <= excluded.ran_at - $2"
        ),
        &[&name, &millis(every)],
    )? > 0;
    if !due {
        client.execute("SELECT pg_advisory_unlock($1)", &[&key])?;
    }
    Ok(due)
}

fn call_row(r: &postgres::Row) -> ClusterCall {
    ClusterCall {
        call_id: r.get(0),
        contact_id: r.get(1),
        instance_id: r.get(2),
        started_at: r.get(3),
    }
}
