//! The PostgreSQL store: every store trait of hark on one database that several `hark serve`
//! instances share.
//!
//! The traits are synchronous and are called from tokio tasks. The `postgres` client drives
//! each call with its own small runtime, which tokio forbids inside another runtime's thread;
//! so a call made on a runtime worker leaves the runtime first (`block_in_place`, or a scoped
//! thread on a current-thread runtime; the caller blocks, as it would on SQLite's mutex), and a
//! call made anywhere else (a blocking-pool thread, a plain thread) runs in place.

mod cluster;
mod migrations;
#[cfg(feature = "monitor")]
mod monitor;
mod pool;
#[cfg(feature = "recording")]
mod recording;
mod tls;
#[cfg(feature = "voiceid")]
mod voiceid;

pub use cluster::{CallRegistration, ClusterCall, ClusterInstance, FleetLock, WriteLock};
pub use migrations::MIGRATIONS as POSTGRES_MIGRATIONS;

use std::fmt;

use pool::Pool;

/// How many connections one store keeps at most.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// A PostgreSQL database implementing every store trait of hark.
pub struct PgStore {
    pool: Pool,
    url: String,
    /// Plain or TLS, as the URL asks (dedicated connections use it too).
    transport: tls::Transport,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

/// A database operation failed; the message never contains the URL's password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("postgresql: {0}")]
pub struct PgError(pub String);

impl From<postgres::Error> for PgError {
    fn from(e: postgres::Error) -> Self {
        // `postgres::Error` shows the server's message (with its detail), never the URL.
        let detail = e
            .as_db_error()
            .map(|d| format!("{}: {}", d.code().code(), d.message()));
        PgError(detail.unwrap_or_else(|| {
            // The cause says why, e.g. which certificate check a TLS handshake failed.
            match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            }
        }))
    }
}

/// `url` with its password (if any) replaced by `***`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return redact_query_password(url);
    };
    let user = userinfo.split(':').next().unwrap_or("");
    let shown = if userinfo.contains(':') {
        format!("{user}:***")
    } else {
        user.to_owned()
    };
    redact_query_password(&format!("{scheme}://{shown}@{host}{tail}"))
}

fn redact_query_password(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_owned(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

/// True for a URL this store accepts (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl PgStore {
    /// Connects to `url` and brings the schema up to date (under an advisory lock, so
    /// instances starting together migrate once).
    pub fn connect(url: &str) -> Result<Self, PgError> {
        Self::connect_with(url, DEFAULT_POOL_SIZE)
    }

    /// [`PgStore::connect`] with at most `pool_size` connections.
    pub fn connect_with(url: &str, pool_size: usize) -> Result<Self, PgError> {
        Self::connect_verified(url, pool_size, None)
    }

    /// [`PgStore::connect_with`], trusting the PEM certificates in `extra_ca_pem` besides the
    /// Mozilla roots when the URL asks for TLS (`sslmode=require`).
    pub fn connect_verified(
        url: &str,
        pool_size: usize,
        extra_ca_pem: Option<&[u8]>,
    ) -> Result<Self, PgError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| PgError(format!("invalid database URL {}: {e}", redact_url(url))))?;
        let transport = tls::Transport::for_config(&config, extra_ca_pem)?;
        let store = PgStore {
            pool: Pool::new(config, transport.clone(), pool_size.max(1)),
            url: url.to_owned(),
            transport,
        };
        store.run(migrations::migrate)?;
        Ok(store)
    }

    /// Whether this store's connections to the server are encrypted (TLS).
    pub fn is_encrypted(&self) -> Result<bool, PgError> {
        self.run(|c| {
            let row = c.query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )?;
            Ok(row.get::<_, bool>(0))
        })
    }

    /// The newest schema version applied to the database.
    pub fn schema_version(&self) -> Result<i64, PgError> {
        self.run(migrations::current_version)
    }

    /// The database URL with its password hidden.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// The database URL (password included: for connections, never for logs).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `f` on a pooled connection (see the module doc for which thread).
    pub(crate) fn run<T: Send>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, PgError> + Send,
    ) -> Result<T, PgError> {
        off_runtime(|| self.pool.with(f))
            .unwrap_or_else(|| Err(PgError("a database call panicked".into())))
    }
}

/// Runs `f` where the `postgres` client may block: in place off any runtime (and on a blocking-
/// pool thread, where `block_in_place` runs it in place too); on a multi-thread runtime's worker
/// through `block_in_place` (the worker hands its tasks to another thread first); on a
/// current-thread runtime on a scoped thread. `None` when `f` panicked on that thread.
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> Option<T> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Err(_) => Some(f()),
        Ok(RuntimeFlavor::MultiThread) => Some(tokio::task::block_in_place(f)),
        Ok(_) => std::thread::scope(|s| s.spawn(f).join().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact_url("postgres://hark:s3cret@db:5432/hark"),
            "postgres://hark:***@db:5432/hark"
        );
        assert_eq!(
            redact_url("postgres://hark@db/hark?password=s3cret&sslmode=disable"),
            "postgres://hark@db/hark?password=***&sslmode=disable"
        );
        assert_eq!(redact_url("postgres://db/hark"), "postgres://db/hark");
        assert!(!redact_url("postgresql://u:p%40ss@h/d").contains("p%40ss"));
    }
}
