//! PostgreSQL schema migrations, applied in order on connect; `hark_schema` records which ran.
//! A session advisory lock makes instances that start together apply each migration once.
//!
//! 1: recording, monitors and Voice ID (the SQLite schema's 1 to 3 in PostgreSQL types).
//! 2: the cluster: instances, the calls they hold, when each fleet-wide sweep last ran.
//! 3: Voice ID batch jobs (SQLite's 4).
//! 4: monitors' `customConfig` (SQLite's 5).

use postgres::Client;

use super::PgError;

/// Advisory lock key held while migrating ("hark" + 1).
const MIGRATION_LOCK: i64 = 0x6861_726b_0001;

/// Each migration: its version and the SQL that takes the schema there from the previous one.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, STORES),
    (2, CLUSTER),
    (3, VOICEID_JOBS),
    (4, MONITOR_CUSTOM_CONFIG),
];

/// A monitor integration's `customConfig` (a JSON object, or NULL): its own column next to the
/// integration document, so rows written before it read as having none.
const MONITOR_CUSTOM_CONFIG: &str = r#"
ALTER TABLE monitors ADD COLUMN custom_config TEXT COLLATE "C";
"#;

/// Batch jobs: the job document as JSON, keyed by domain and job id.
const VOICEID_JOBS: &str = r#"
CREATE TABLE voiceid_jobs (
    domain_id TEXT COLLATE "C" NOT NULL,
    job_id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    job TEXT NOT NULL,
    PRIMARY KEY (domain_id, job_id)
);
CREATE INDEX voiceid_jobs_by_status ON voiceid_jobs (status);
"#;

const STORES: &str = r#"
CREATE TABLE recording_do_not_record (
    contact_id TEXT COLLATE "C" PRIMARY KEY,
    latched_at TEXT COLLATE "C" NOT NULL
);
CREATE TABLE recordings (
    id TEXT COLLATE "C" PRIMARY KEY,
    call_id TEXT COLLATE "C" NOT NULL,
    contact_id TEXT COLLATE "C" NOT NULL,
    started_at TEXT COLLATE "C" NOT NULL,
    metadata TEXT COLLATE "C" NOT NULL
);
CREATE INDEX recordings_by_start ON recordings (started_at, id);
CREATE INDEX recordings_by_contact ON recordings (contact_id);
CREATE TABLE monitors (
    name TEXT COLLATE "C" PRIMARY KEY,
    integration TEXT COLLATE "C" NOT NULL
);
CREATE TABLE monitor_usage (
    id BIGSERIAL PRIMARY KEY,
    contact_id TEXT COLLATE "C" NOT NULL,
    started_at TEXT COLLATE "C" NOT NULL,
    record TEXT COLLATE "C" NOT NULL
);
CREATE INDEX monitor_usage_by_contact ON monitor_usage (contact_id, started_at);
CREATE TABLE voiceid_domains (
    domain_id TEXT COLLATE "C" PRIMARY KEY,
    deleted_at BIGINT,
    record TEXT COLLATE "C" NOT NULL
);
CREATE TABLE voiceid_watchlists (
    domain_id TEXT COLLATE "C" NOT NULL,
    watchlist_id TEXT COLLATE "C" NOT NULL,
    record TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (domain_id, watchlist_id)
);
CREATE TABLE voiceid_speakers (
    domain_id TEXT COLLATE "C" NOT NULL,
    generated_id TEXT COLLATE "C" NOT NULL,
    customer_id TEXT COLLATE "C",
    status TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_accessed_at BIGINT,
    PRIMARY KEY (domain_id, generated_id)
);
CREATE UNIQUE INDEX voiceid_speakers_by_customer ON voiceid_speakers (domain_id, customer_id);
CREATE INDEX voiceid_speakers_by_access
    ON voiceid_speakers (status, (coalesce(last_accessed_at, created_at)));
CREATE TABLE voiceid_fraudsters (
    domain_id TEXT COLLATE "C" NOT NULL,
    generated_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (domain_id, generated_id)
);
CREATE TABLE voiceid_fraudster_watchlists (
    domain_id TEXT COLLATE "C" NOT NULL,
    fraudster_id TEXT COLLATE "C" NOT NULL,
    watchlist_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (domain_id, fraudster_id, watchlist_id)
);
CREATE INDEX voiceid_fraudster_watchlists_by_watchlist
    ON voiceid_fraudster_watchlists (domain_id, watchlist_id, fraudster_id);
CREATE TABLE voiceid_blobs (
    domain_id TEXT COLLATE "C" NOT NULL,
    owner_id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    key_id TEXT COLLATE "C" NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (domain_id, owner_id, kind)
);
CREATE INDEX voiceid_blobs_by_key ON voiceid_blobs (domain_id, key_id);
CREATE TABLE voiceid_client_tokens (
    scope TEXT COLLATE "C" NOT NULL,
    token TEXT COLLATE "C" NOT NULL,
    domain_id TEXT COLLATE "C",
    fingerprint TEXT COLLATE "C" NOT NULL,
    response TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, token)
);
CREATE INDEX voiceid_client_tokens_by_age ON voiceid_client_tokens (created_at);
CREATE INDEX voiceid_client_tokens_by_domain ON voiceid_client_tokens (domain_id);
CREATE TABLE voiceid_instances (
    instance_id TEXT COLLATE "C" PRIMARY KEY,
    domain_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX voiceid_instances_by_domain ON voiceid_instances (domain_id);
"#;

/// Instances heartbeat; calls are registered by the instance holding their AudioHook session
/// and removed when it ends (or when the instance is found dead).
const CLUSTER: &str = r#"
CREATE TABLE cluster_instances (
    instance_id TEXT COLLATE "C" PRIMARY KEY,
    address TEXT COLLATE "C" NOT NULL,
    data_dir TEXT COLLATE "C" NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
CREATE TABLE cluster_calls (
    call_id TEXT COLLATE "C" PRIMARY KEY,
    contact_id TEXT COLLATE "C" NOT NULL,
    instance_id TEXT COLLATE "C" NOT NULL,
    started_at BIGINT NOT NULL
);
CREATE INDEX cluster_calls_by_contact ON cluster_calls (contact_id);
CREATE INDEX cluster_calls_by_instance ON cluster_calls (instance_id);
CREATE TABLE cluster_sweeps (
    name TEXT COLLATE "C" PRIMARY KEY,
    ran_at BIGINT NOT NULL
);
"#;

/// Applies the migrations the database lacks.
pub(crate) fn migrate(client: &mut Client) -> Result<(), PgError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let result = apply(client);
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    result?;
    unlocked?;
    Ok(())
}

fn apply(client: &mut Client) -> Result<(), PgError> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS hark_schema (
             version BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let current = current_version(client)?;
    if let Some((newest, _)) = MIGRATIONS.last()
        && current > *newest
    {
        return Err(PgError(format!(
            "the database schema ({current}) is newer than this hark ({newest})"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let mut tx = client.transaction()?;
        tx.batch_execute(sql)
            .map_err(|e| PgError(format!("migration {version}: {}", PgError::from(e).0)))?;
        tx.execute("INSERT INTO hark_schema (version) VALUES ($1)", &[version])?;
        tx.commit()?;
    }
    Ok(())
}

/// The newest applied migration (0 for an empty database).
pub(crate) fn current_version(client: &mut Client) -> Result<i64, PgError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('hark_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one("SELECT coalesce(max(version), 0) FROM hark_schema", &[])?
        .get(0))
}
