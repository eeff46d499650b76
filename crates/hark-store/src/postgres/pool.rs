//! A small blocking connection pool: connections are made on demand up to a limit, and a
//! broken one is dropped instead of being returned.

use std::sync::{Condvar, Mutex, MutexGuard};

use postgres::{Client, NoTls};

use super::PgError;

/// Connections to one database.
pub(crate) struct Pool {
    config: postgres::Config,
    limit: usize,
    state: Mutex<State>,
    returned: Condvar,
}

struct State {
    idle: Vec<Client>,
    open: usize,
}

impl Pool {
    pub(crate) fn new(config: postgres::Config, limit: usize) -> Self {
        Pool {
            config,
            limit,
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
        let mut state = self.state();
        loop {
            if let Some(client) = state.idle.pop() {
                return Ok(client);
            }
            if state.open < self.limit {
                state.open += 1;
                drop(state);
                return self.config.connect(NoTls).map_err(|e| {
                    self.state().open -= 1;
                    self.returned.notify_one();
                    PgError(format!("cannot connect: {}", PgError::from(e).0))
                });
            }
            state = self.returned.wait(state).unwrap_or_else(|p| p.into_inner());
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
