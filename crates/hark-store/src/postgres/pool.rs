//! A small blocking connection pool: connections are made on demand up to a limit, a broken
//! one is dropped instead of being returned or handed out, and nobody waits forever — neither
//! for a free connection ([`ACQUIRE_TIMEOUT`]) nor for a new one ([`CONNECT_TIMEOUT`], unless the
//! URL sets `connect_timeout`).

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a caller waits for a free connection when all are in use.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take when the URL does not say.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

use postgres::Client;

use super::PgError;
use super::tls::Transport;

/// Connections to one database.
pub(crate) struct Pool {
    config: postgres::Config,
    transport: Transport,
    limit: usize,
    acquire_timeout: Duration,
    state: Mutex<State>,
    returned: Condvar,
}

struct State {
    idle: Vec<Client>,
    open: usize,
}

impl Pool {
    pub(crate) fn new(mut config: postgres::Config, transport: Transport, limit: usize) -> Self {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        Pool {
            config,
            transport,
            limit,
            acquire_timeout: ACQUIRE_TIMEOUT,
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Only counters and idle clients: nothing a panic could leave half-done.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn take(&self) -> Result<Client, PgError> {
        let deadline = Instant::now() + self.acquire_timeout;
        let mut state = self.state();
        loop {
            if let Some(client) = state.idle.pop() {
                if client.is_closed() {
                    // The server went away since (a restart): never hand out a dead client.
                    state.open -= 1;
                    continue;
                }
                return Ok(client);
            }
            if state.open < self.limit {
                state.open += 1;
                drop(state);
                return self.transport.connect(&self.config).map_err(|e| {
                    self.state().open -= 1;
                    self.returned.notify_one();
                    PgError(format!("cannot connect: {}", PgError::from(e).0))
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(PgError(format!(
                    "no database connection free within {:.1} s (all {} in use)",
                    self.acquire_timeout.as_secs_f64(),
                    self.limit
                )));
            }
            state = self
                .returned
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Runs `f` on a connection, then gives it back (or drops it when it broke).
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, PgError>,
    ) -> Result<T, PgError> {
        let mut client = self.take()?;
        let result = f(&mut client);
        self.give_back(client);
        result
    }

    /// Returns a connection from [`Pool::take`] (dropped instead when it broke).
    pub(crate) fn give_back(&self, client: Client) {
        let mut state = self.state();
        if client.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(client);
        }
        drop(state);
        self.returned.notify_one();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing a client blocks on its runtime: not allowed on a tokio runtime thread.
        let idle = std::mem::take(&mut self.state().idle);
        super::off_runtime(move || drop(idle));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_waits_forever_for_a_connection_or_gets_a_dead_one() {
        let pg = hark_pgtest::PgServer::start();
        let config: postgres::Config = pg.database("pool").parse().unwrap();
        let mut pool = Pool::new(config, Transport::Plain, 1);
        pool.acquire_timeout = Duration::from_millis(200);
        let held = pool.take().unwrap();
        let waited = Instant::now();
        let e = pool.take().err().unwrap();
        assert!(e.0.contains("no database connection free"), "{e:?}");
        assert!(waited.elapsed() >= Duration::from_millis(200));
        pool.give_back(held);
        // The server restarts: the idle client is dead and is replaced, not handed out.
        pg.stop();
        pg.resume();
        let mut client = pool.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match client.simple_query("SELECT 1") {
                Ok(_) => break,
                // The old socket may only now learn it is closed; the pool drops it.
                Err(_) => {
                    pool.give_back(client);
                    assert!(
                        Instant::now() < deadline,
                        "no live connection after a restart"
                    );
                    client = pool.take().unwrap();
                }
            }
        }
    }
}
