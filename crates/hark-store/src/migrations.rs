//! Schema migrations, applied in order on open; `PRAGMA user_version` records the last applied.

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
];
