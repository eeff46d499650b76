//! Schema migrations, applied in order on open; `PRAGMA user_version` records the last applied.
//!
//! 1: recording. 2: monitors (another branch). 3: Voice ID. 4: Voice ID batch jobs.
//! 5: monitors' `customConfig`.

/// Each migration: its version and the SQL that takes the schema there from the previous one.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE recording_do_not_record (
         contact_id TEXT PRIMARY KEY,
         latched_at TEXT NOT NULL
     );
     CREATE TABLE recordings (
         id TEXT PRIMARY KEY,
         call_id TEXT NOT NULL,
         contact_id TEXT NOT NULL,
         started_at TEXT NOT NULL,
         metadata TEXT NOT NULL
     );
     CREATE INDEX recordings_by_start ON recordings (started_at, id);
     CREATE INDEX recordings_by_contact ON recordings (contact_id);",
    ),
    (
        2,
        "CREATE TABLE monitors (
             name TEXT PRIMARY KEY,
             integration TEXT NOT NULL
         );
         CREATE TABLE monitor_usage (
             id INTEGER PRIMARY KEY,
             contact_id TEXT NOT NULL,
             started_at TEXT NOT NULL,
             record TEXT NOT NULL
         );
         CREATE INDEX monitor_usage_by_contact ON monitor_usage (contact_id, started_at);",
    ),
    (3, VOICEID),
    (
        4,
        "CREATE TABLE voiceid_jobs (
             domain_id TEXT NOT NULL,
             job_id TEXT NOT NULL,
             kind TEXT NOT NULL,
             status TEXT NOT NULL,
             created_at INTEGER NOT NULL,
             job TEXT NOT NULL,
             PRIMARY KEY (domain_id, job_id)
         ) WITHOUT ROWID;
         CREATE INDEX voiceid_jobs_by_status ON voiceid_jobs (status);",
    ),
    (5, MONITOR_CUSTOM_CONFIG),
];

/// A monitor integration's `customConfig` (a JSON object, or NULL): its own column next to the
/// integration document, so rows written before it read as having none.
pub(crate) const MONITOR_CUSTOM_CONFIG: &str =
    "ALTER TABLE monitors ADD COLUMN custom_config TEXT;";

/// Voice ID: times are Unix milliseconds; domains and watchlists are few and kept as JSON,
/// speakers (up to millions per domain) have real columns and indexes for both ids.
const VOICEID: &str = "CREATE TABLE voiceid_domains (
         domain_id TEXT PRIMARY KEY,
         deleted_at INTEGER,
         record TEXT NOT NULL
     );
     CREATE TABLE voiceid_watchlists (
         domain_id TEXT NOT NULL,
         watchlist_id TEXT NOT NULL,
         record TEXT NOT NULL,
         PRIMARY KEY (domain_id, watchlist_id)
     ) WITHOUT ROWID;
     CREATE TABLE voiceid_speakers (
         domain_id TEXT NOT NULL,
         generated_id TEXT NOT NULL,
         customer_id TEXT,
         status TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL,
         last_accessed_at INTEGER,
         PRIMARY KEY (domain_id, generated_id)
     ) WITHOUT ROWID;
     CREATE UNIQUE INDEX voiceid_speakers_by_customer ON voiceid_speakers (domain_id, customer_id);
     CREATE INDEX voiceid_speakers_by_access
         ON voiceid_speakers (status, coalesce(last_accessed_at, created_at));
     CREATE TABLE voiceid_fraudsters (
         domain_id TEXT NOT NULL,
         generated_id TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         PRIMARY KEY (domain_id, generated_id)
     ) WITHOUT ROWID;
     CREATE TABLE voiceid_fraudster_watchlists (
         domain_id TEXT NOT NULL,
         fraudster_id TEXT NOT NULL,
         watchlist_id TEXT NOT NULL,
         PRIMARY KEY (domain_id, fraudster_id, watchlist_id)
     ) WITHOUT ROWID;
     CREATE INDEX voiceid_fraudster_watchlists_by_watchlist
         ON voiceid_fraudster_watchlists (domain_id, watchlist_id, fraudster_id);
     CREATE TABLE voiceid_blobs (
         domain_id TEXT NOT NULL,
         owner_id TEXT NOT NULL,
         kind TEXT NOT NULL,
         key_id TEXT NOT NULL,
         data BLOB,
         file TEXT,
         PRIMARY KEY (domain_id, owner_id, kind)
     ) WITHOUT ROWID;
     CREATE INDEX voiceid_blobs_by_key ON voiceid_blobs (domain_id, key_id);
     CREATE TABLE voiceid_client_tokens (
         scope TEXT NOT NULL,
         token TEXT NOT NULL,
         domain_id TEXT,
         fingerprint TEXT NOT NULL,
         response TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         PRIMARY KEY (scope, token)
     ) WITHOUT ROWID;
     CREATE INDEX voiceid_client_tokens_by_age ON voiceid_client_tokens (created_at);
     CREATE INDEX voiceid_client_tokens_by_domain ON voiceid_client_tokens (domain_id);
     CREATE TABLE voiceid_instances (
         instance_id TEXT PRIMARY KEY,
         domain_id TEXT NOT NULL,
         created_at INTEGER NOT NULL
     );
     CREATE INDEX voiceid_instances_by_domain ON voiceid_instances (domain_id);";
