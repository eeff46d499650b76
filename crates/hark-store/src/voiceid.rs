//! [`VoiceIdStore`] on SQLite. Voiceprints (about 1 KiB, sealed) are rows; stored audio is a
//! sealed file under `voiceid/<domain>/<owner>/` beside the database, written atomically, with a
//! row pointing at it. Purging a domain deletes its rows (overwritten: `secure_delete`), its
//! directory, and checkpoints the WAL so no copy of the old pages stays in the log.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use hark_voiceid::records::{
    BlobKey, BlobKind, ClientTokenRecord, DomainRecord, FraudsterRecord, InstanceRecord, JobKind,
    JobRecord, JobStatus, SealedBlob, SpeakerRecord, SpeakerRef, SpeakerStatus, WatchlistRecord,
};
use hark_voiceid::store::{StoreResult, VoiceIdStore};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::SqliteStore;
use crate::voiceid_codec::{SPEAKER_COLUMNS, e, json, ms};

fn from_ms(v: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Integer,
            format!("timestamp {v} out of range").into(),
        )
    })
}

fn bad(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        what.to_owned().into(),
    )
}

fn speaker_row(r: &Row<'_>) -> rusqlite::Result<SpeakerRecord> {
    let status: String = r.get(3)?;
    Ok(SpeakerRecord {
        domain_id: r.get(0)?,
        generated_id: r.get(1)?,
        customer_id: r.get(2)?,
        status: SpeakerStatus::parse(&status)
            .ok_or_else(|| bad(&format!("unknown speaker status {status:?}")))?,
        created_at: from_ms(r.get(4)?)?,
        updated_at: from_ms(r.get(5)?)?,
        last_accessed_at: r.get::<_, Option<i64>>(6)?.map(from_ms).transpose()?,
    })
}

fn json_row<T: serde::de::DeserializeOwned>(text: String) -> StoreResult<T> {
    serde_json::from_str(&text).map_err(e)
}

/// Every Voice ID table with a `domain_id` column, children before the domains table: what
/// a purge erases, in SQLite and PostgreSQL alike (one list, so the stores cannot disagree).
pub const VOICEID_DOMAIN_TABLES: [&str; 9] = [
    "voiceid_watchlists",
    "voiceid_speakers",
    "voiceid_fraudster_watchlists",
    "voiceid_fraudsters",
    "voiceid_blobs",
    "voiceid_client_tokens",
    "voiceid_instances",
    "voiceid_jobs",
    "voiceid_domains",
];

/// A path component from an id: only `[A-Za-z0-9_-]`, others hex-escaped, never `.` or `/`.
fn component(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                char::from(b).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

impl SqliteStore {
    fn domain_dir(&self, domain_id: &str) -> PathBuf {
        self.voiceid_dir.join(component(domain_id))
    }

    fn owner_dir(&self, domain_id: &str, owner_id: &str) -> PathBuf {
        self.domain_dir(domain_id).join(component(owner_id))
    }

    fn write_file(&self, key: &BlobKey, bytes: &[u8]) -> StoreResult<String> {
        let dir = self.owner_dir(&key.domain_id, &key.owner_id);
        std::fs::create_dir_all(&dir).map_err(|x| e(format!("create {}: {x}", dir.display())))?;
        let name = format!("{}.sealed", component(&key.kind.as_string()));
        let path = dir.join(&name);
        let tmp = dir.join(format!("{name}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&dir)?.sync_all()
        };
        write().map_err(|x| e(format!("write {}: {x}", path.display())))?;
        path.strip_prefix(&self.voiceid_dir)
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(e)
    }

    fn remove_dir(path: &Path) -> StoreResult<()> {
        match std::fs::remove_dir_all(path) {
            Ok(()) => Ok(()),
            Err(x) if x.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(x) => Err(e(format!("remove {}: {x}", path.display()))),
        }
    }

    fn delete_blob_rows(conn: &Connection, domain_id: &str, owner_id: &str) -> StoreResult<()> {
        conn.prepare_cached("DELETE FROM voiceid_blobs WHERE domain_id = ?1 AND owner_id = ?2")
            .and_then(|mut s| s.execute(params![domain_id, owner_id]))
            .map(|_| ())
            .map_err(e)
    }

    /// Inserts many speakers in one transaction (bulk loads, benchmarks).
    pub fn insert_speakers(&self, speakers: &[SpeakerRecord]) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(e)?;
        {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "INSERT INTO voiceid_speakers ({SPEAKER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ))
                .map_err(e)?;
            for s in speakers {
                stmt.execute(params![
                    s.domain_id,
                    s.generated_id,
                    s.customer_id,
                    s.status.as_str(),
                    ms(s.created_at),
                    ms(s.updated_at),
                    s.last_accessed_at.map(ms)
                ])
                .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// The directory Voice ID audio files are kept in.
    pub fn voiceid_dir(&self) -> &Path {
        &self.voiceid_dir
    }
}

impl VoiceIdStore for SqliteStore {
    fn insert_domain(&self, d: &DomainRecord, wl: &WatchlistRecord) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(e)?;
        tx.execute(
            "INSERT INTO voiceid_domains (domain_id, deleted_at, record) VALUES (?1, ?2, ?3)",
            params![d.domain_id, d.deleted_at.map(ms), json(d)?],
        )
        .map_err(e)?;
        tx.execute(
            "INSERT INTO voiceid_watchlists (domain_id, watchlist_id, record) VALUES (?1, ?2, ?3)",
            params![wl.domain_id, wl.watchlist_id, json(wl)?],
        )
        .map_err(e)?;
        tx.commit().map_err(e)
    }

    fn update_domain(&self, d: &DomainRecord) -> StoreResult<()> {
        self.conn()
            .execute(
                "INSERT INTO voiceid_domains (domain_id, deleted_at, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT (domain_id) DO UPDATE SET deleted_at = excluded.deleted_at, record = excluded.record",
                params![d.domain_id, d.deleted_at.map(ms), json(d)?],
            )
            .map(|_| ())
            .map_err(e)
    }

    fn domain(&self, domain_id: &str) -> StoreResult<Option<DomainRecord>> {
        let text: Option<String> = self
            .conn()
            .prepare_cached("SELECT record FROM voiceid_domains WHERE domain_id = ?1")
            .and_then(|mut s| s.query_row([domain_id], |r| r.get(0)).optional())
            .map_err(e)?;
        text.map(json_row).transpose()
    }

    fn domains(
        &self,
        after: Option<&str>,
        limit: usize,
        deleted: bool,
    ) -> StoreResult<Vec<DomainRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT record FROM voiceid_domains WHERE domain_id > ?1 AND (deleted_at IS NOT NULL) = ?2
                 ORDER BY domain_id LIMIT ?3",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map(params![after.unwrap_or(""), deleted, limit as i64], |r| {
                r.get::<_, String>(0)
            })
            .map_err(e)?;
        rows.map(|r| json_row(r.map_err(e)?)).collect()
    }

    fn count_live_domains(&self) -> StoreResult<u64> {
        self.conn()
            .query_row(
                "SELECT count(*) FROM voiceid_domains WHERE deleted_at IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(e)
    }

    fn purge_domain(&self, domain_id: &str) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(e)?;
        for table in VOICEID_DOMAIN_TABLES {
            tx.execute(
                &format!("DELETE FROM {table} WHERE domain_id = ?1"),
                [domain_id],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)?;
        // Old page images live on in the WAL until a checkpoint; truncate it.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(e)?;
        drop(conn);
        Self::remove_dir(&self.domain_dir(domain_id))
    }

    fn put_watchlist(&self, w: &WatchlistRecord) -> StoreResult<()> {
        self.conn()
            .execute(
                "INSERT INTO voiceid_watchlists (domain_id, watchlist_id, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT (domain_id, watchlist_id) DO UPDATE SET record = excluded.record",
                params![w.domain_id, w.watchlist_id, json(w)?],
            )
            .map(|_| ())
            .map_err(e)
    }

    fn watchlist(&self, domain_id: &str, id: &str) -> StoreResult<Option<WatchlistRecord>> {
        let text: Option<String> = self
            .conn()
            .prepare_cached(
                "SELECT record FROM voiceid_watchlists WHERE domain_id = ?1 AND watchlist_id = ?2",
            )
            .and_then(|mut s| s.query_row([domain_id, id], |r| r.get(0)).optional())
            .map_err(e)?;
        text.map(json_row).transpose()
    }

    fn watchlists(
        &self,
        domain_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<WatchlistRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT record FROM voiceid_watchlists WHERE domain_id = ?1 AND watchlist_id > ?2
                 ORDER BY watchlist_id LIMIT ?3",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map(params![domain_id, after.unwrap_or(""), limit as i64], |r| {
                r.get::<_, String>(0)
            })
            .map_err(e)?;
        rows.map(|r| json_row(r.map_err(e)?)).collect()
    }

    fn count_watchlists(&self, domain_id: &str) -> StoreResult<u64> {
        self.conn()
            .query_row(
                "SELECT count(*) FROM voiceid_watchlists WHERE domain_id = ?1",
                [domain_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(e)
    }

    fn delete_watchlist(&self, domain_id: &str, id: &str) -> StoreResult<bool> {
        self.conn()
            .execute(
                "DELETE FROM voiceid_watchlists WHERE domain_id = ?1 AND watchlist_id = ?2",
                [domain_id, id],
            )
            .map(|n| n > 0)
            .map_err(e)
    }

    fn put_speaker(&self, s: &SpeakerRecord) -> StoreResult<()> {
        self.conn()
            .prepare_cached(&format!(
                "INSERT INTO voiceid_speakers ({SPEAKER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (domain_id, generated_id) DO UPDATE SET customer_id = excluded.customer_id,
                 status = excluded.status, created_at = excluded.created_at,
                 updated_at = excluded.updated_at, last_accessed_at = excluded.last_accessed_at"
            ))
            .and_then(|mut stmt| {
                stmt.execute(params![
                    s.domain_id,
                    s.generated_id,
                    s.customer_id,
                    s.status.as_str(),
                    ms(s.created_at),
                    ms(s.updated_at),
                    s.last_accessed_at.map(ms)
                ])
            })
            .map(|_| ())
            .map_err(e)
    }

    fn speaker(&self, domain_id: &str, id: SpeakerRef<'_>) -> StoreResult<Option<SpeakerRecord>> {
        let (column, value) = match id {
            SpeakerRef::Generated(g) => ("generated_id", g),
            SpeakerRef::Customer(c) => ("customer_id", c),
        };
        self.conn()
            .prepare_cached(&format!(
                "SELECT {SPEAKER_COLUMNS} FROM voiceid_speakers WHERE domain_id = ?1 AND {column} = ?2"
            ))
            .and_then(|mut s| s.query_row([domain_id, value], speaker_row).optional())
            .map_err(e)
    }

    fn speakers(
        &self,
        domain_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<SpeakerRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {SPEAKER_COLUMNS} FROM voiceid_speakers WHERE domain_id = ?1 AND generated_id > ?2
                 ORDER BY generated_id LIMIT ?3"
            ))
            .map_err(e)?;
        stmt.query_map(
            params![domain_id, after.unwrap_or(""), limit as i64],
            speaker_row,
        )
        .map_err(e)?
        .map(|r| r.map_err(e))
        .collect()
    }

    fn count_speakers(&self, domain_id: &str) -> StoreResult<u64> {
        self.conn()
            .prepare_cached("SELECT count(*) FROM voiceid_speakers WHERE domain_id = ?1")
            .and_then(|mut s| s.query_row([domain_id], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(e)
    }

    fn delete_speaker(&self, domain_id: &str, id: &str) -> StoreResult<bool> {
        let conn = self.conn();
        Self::delete_blob_rows(&conn, domain_id, id)?;
        let n = conn
            .execute(
                "DELETE FROM voiceid_speakers WHERE domain_id = ?1 AND generated_id = ?2",
                [domain_id, id],
            )
            .map_err(e)?;
        drop(conn);
        Self::remove_dir(&self.owner_dir(domain_id, id))?;
        Ok(n > 0)
    }

    fn stale_speakers(
        &self,
        status: SpeakerStatus,
        before: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<SpeakerRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {SPEAKER_COLUMNS} FROM voiceid_speakers
                 WHERE status = ?1 AND coalesce(last_accessed_at, created_at) < ?2 LIMIT ?3"
            ))
            .map_err(e)?;
        stmt.query_map(
            params![status.as_str(), ms(before), limit as i64],
            speaker_row,
        )
        .map_err(e)?
        .map(|r| r.map_err(e))
        .collect()
    }

    fn put_fraudster(&self, f: &FraudsterRecord) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(e)?;
        tx.execute(
            "INSERT INTO voiceid_fraudsters (domain_id, generated_id, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (domain_id, generated_id) DO UPDATE SET created_at = excluded.created_at",
            params![f.domain_id, f.generated_id, ms(f.created_at)],
        )
        .map_err(e)?;
        tx.execute(
            "DELETE FROM voiceid_fraudster_watchlists WHERE domain_id = ?1 AND fraudster_id = ?2",
            [&f.domain_id, &f.generated_id],
        )
        .map_err(e)?;
        for w in &f.watchlist_ids {
            tx.execute(
                "INSERT INTO voiceid_fraudster_watchlists (domain_id, fraudster_id, watchlist_id) VALUES (?1, ?2, ?3)",
                [&f.domain_id, &f.generated_id, w],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)
    }

    fn fraudster(&self, domain_id: &str, id: &str) -> StoreResult<Option<FraudsterRecord>> {
        let conn = self.conn();
        let created: Option<i64> = conn
            .prepare_cached(
                "SELECT created_at FROM voiceid_fraudsters WHERE domain_id = ?1 AND generated_id = ?2",
            )
            .and_then(|mut s| s.query_row([domain_id, id], |r| r.get(0)).optional())
            .map_err(e)?;
        let Some(created) = created else {
            return Ok(None);
        };
        let watchlist_ids = watchlists_of(&conn, domain_id, id)?;
        Ok(Some(FraudsterRecord {
            domain_id: domain_id.to_owned(),
            generated_id: id.to_owned(),
            watchlist_ids,
            created_at: from_ms(created).map_err(e)?,
        }))
    }

    fn fraudsters(
        &self,
        domain_id: &str,
        watchlist_id: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<FraudsterRecord>> {
        let conn = self.conn();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, i64)> = match watchlist_id {
            None => {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT generated_id, created_at FROM voiceid_fraudsters
                         WHERE domain_id = ?1 AND generated_id > ?2 ORDER BY generated_id LIMIT ?3",
                    )
                    .map_err(e)?;
                stmt.query_map(params![domain_id, after.unwrap_or(""), limit], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(e)?
                .collect::<Result<_, _>>()
                .map_err(e)?
            }
            Some(w) => {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT f.generated_id, f.created_at FROM voiceid_fraudster_watchlists m
                         JOIN voiceid_fraudsters f ON f.domain_id = m.domain_id AND f.generated_id = m.fraudster_id
                         WHERE m.domain_id = ?1 AND m.watchlist_id = ?2 AND m.fraudster_id > ?3
                         ORDER BY m.fraudster_id LIMIT ?4",
                    )
                    .map_err(e)?;
                stmt.query_map(params![domain_id, w, after.unwrap_or(""), limit], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(e)?
                .collect::<Result<_, _>>()
                .map_err(e)?
            }
        };
        rows.into_iter()
            .map(|(id, created)| {
                Ok(FraudsterRecord {
                    domain_id: domain_id.to_owned(),
                    watchlist_ids: watchlists_of(&conn, domain_id, &id)?,
                    generated_id: id,
                    created_at: from_ms(created).map_err(e)?,
                })
            })
            .collect()
    }

    fn count_fraudsters_in_watchlist(&self, domain_id: &str, wl: &str) -> StoreResult<u64> {
        self.conn()
            .query_row(
                "SELECT count(*) FROM voiceid_fraudster_watchlists WHERE domain_id = ?1 AND watchlist_id = ?2",
                [domain_id, wl],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(e)
    }

    fn delete_fraudster(&self, domain_id: &str, id: &str) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(e)?;
        Self::delete_blob_rows(&tx, domain_id, id)?;
        tx.execute(
            "DELETE FROM voiceid_fraudster_watchlists WHERE domain_id = ?1 AND fraudster_id = ?2",
            [domain_id, id],
        )
        .map_err(e)?;
        let n = tx
            .execute(
                "DELETE FROM voiceid_fraudsters WHERE domain_id = ?1 AND generated_id = ?2",
                [domain_id, id],
            )
            .map_err(e)?;
        tx.commit().map_err(e)?;
        drop(conn);
        Self::remove_dir(&self.owner_dir(domain_id, id))?;
        Ok(n > 0)
    }

    fn put_blob(&self, key: &BlobKey, blob: &SealedBlob) -> StoreResult<()> {
        let (data, file) = match key.kind {
            BlobKind::Voiceprint => (Some(blob.sealed.as_slice()), None),
            BlobKind::Audio(_) => (None, Some(self.write_file(key, &blob.sealed)?)),
        };
        self.conn()
            .execute(
                "INSERT INTO voiceid_blobs (domain_id, owner_id, kind, key_id, data, file) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (domain_id, owner_id, kind) DO UPDATE SET key_id = excluded.key_id,
                 data = excluded.data, file = excluded.file",
                params![key.domain_id, key.owner_id, key.kind.as_string(), blob.key_id, data, file],
            )
            .map(|_| ())
            .map_err(e)
    }

    fn blob(&self, key: &BlobKey) -> StoreResult<Option<SealedBlob>> {
        let row: Option<(String, Option<Vec<u8>>, Option<String>)> = self
            .conn()
            .prepare_cached(
                "SELECT key_id, data, file FROM voiceid_blobs WHERE domain_id = ?1 AND owner_id = ?2 AND kind = ?3",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![key.domain_id, key.owner_id, key.kind.as_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
            })
            .map_err(e)?;
        let Some((key_id, data, file)) = row else {
            return Ok(None);
        };
        let sealed = match (data, file) {
            (Some(d), _) => d,
            (None, Some(f)) => {
                let path = self.voiceid_dir.join(&f);
                std::fs::read(&path).map_err(|x| e(format!("read {}: {x}", path.display())))?
            }
            (None, None) => return Err(e("blob row without data or file")),
        };
        Ok(Some(SealedBlob { key_id, sealed }))
    }

    fn blobs_not_under(
        &self,
        domain_id: &str,
        key_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<BlobKey>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT owner_id, kind FROM voiceid_blobs WHERE domain_id = ?1 AND key_id <> ?2 LIMIT ?3",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map(params![domain_id, key_id, limit as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(e)?;
        rows.map(|r| {
            let (owner_id, kind) = r.map_err(e)?;
            Ok(BlobKey {
                domain_id: domain_id.to_owned(),
                owner_id,
                kind: BlobKind::parse(&kind).ok_or_else(|| e(format!("blob kind {kind:?}")))?,
            })
        })
        .collect()
    }

    fn blob_keys(&self, domain_id: &str, owner_id: &str) -> StoreResult<Vec<BlobKey>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT kind FROM voiceid_blobs WHERE domain_id = ?1 AND owner_id = ?2 ORDER BY kind",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map([domain_id, owner_id], |r| r.get::<_, String>(0))
            .map_err(e)?;
        rows.map(|r| {
            let kind = r.map_err(e)?;
            Ok(BlobKey {
                domain_id: domain_id.to_owned(),
                owner_id: owner_id.to_owned(),
                kind: BlobKind::parse(&kind).ok_or_else(|| e(format!("blob kind {kind:?}")))?,
            })
        })
        .collect()
    }

    fn delete_blobs(&self, domain_id: &str, owner_id: &str) -> StoreResult<()> {
        Self::delete_blob_rows(&self.conn(), domain_id, owner_id)?;
        Self::remove_dir(&self.owner_dir(domain_id, owner_id))
    }

    fn client_token(&self, scope: &str, token: &str) -> StoreResult<Option<ClientTokenRecord>> {
        self.conn()
            .prepare_cached(
                "SELECT domain_id, fingerprint, response, created_at FROM voiceid_client_tokens WHERE scope = ?1 AND token = ?2",
            )
            .and_then(|mut s| {
                s.query_row([scope, token], |r| {
                    Ok(ClientTokenRecord {
                        scope: scope.to_owned(),
                        token: token.to_owned(),
                        domain_id: r.get(0)?,
                        fingerprint: r.get(1)?,
                        response: r.get(2)?,
                        created_at: from_ms(r.get(3)?)?,
                    })
                })
                .optional()
            })
            .map_err(e)
    }

    fn put_client_token(&self, t: &ClientTokenRecord) -> StoreResult<()> {
        self.conn()
            .execute(
                "INSERT INTO voiceid_client_tokens (scope, token, domain_id, fingerprint, response, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (scope, token) DO NOTHING",
                params![t.scope, t.token, t.domain_id, t.fingerprint, t.response, ms(t.created_at)],
            )
            .map(|_| ())
            .map_err(e)
    }

    fn forget_client_tokens(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.conn()
            .execute(
                "DELETE FROM voiceid_client_tokens WHERE created_at < ?1",
                [ms(before)],
            )
            .map(|n| n as u64)
            .map_err(e)
    }

    fn instance(&self, instance_id: &str) -> StoreResult<Option<InstanceRecord>> {
        self.conn()
            .query_row(
                "SELECT domain_id, created_at FROM voiceid_instances WHERE instance_id = ?1",
                [instance_id],
                |r| {
                    Ok(InstanceRecord {
                        instance_id: instance_id.to_owned(),
                        domain_id: r.get(0)?,
                        created_at: from_ms(r.get(1)?)?,
                    })
                },
            )
            .optional()
            .map_err(e)
    }

    fn put_instance(&self, i: &InstanceRecord) -> StoreResult<()> {
        self.conn()
            .execute(
                "INSERT INTO voiceid_instances (instance_id, domain_id, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (instance_id) DO UPDATE SET domain_id = excluded.domain_id, created_at = excluded.created_at",
                params![i.instance_id, i.domain_id, ms(i.created_at)],
            )
            .map(|_| ())
            .map_err(e)
    }

    fn delete_instance(&self, instance_id: &str) -> StoreResult<bool> {
        self.conn()
            .execute(
                "DELETE FROM voiceid_instances WHERE instance_id = ?1",
                [instance_id],
            )
            .map(|n| n > 0)
            .map_err(e)
    }

    fn instances(&self, domain_id: &str) -> StoreResult<Vec<InstanceRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT instance_id, created_at FROM voiceid_instances WHERE domain_id = ?1 ORDER BY instance_id",
            )
            .map_err(e)?;
        stmt.query_map([domain_id], |r| {
            Ok(InstanceRecord {
                instance_id: r.get(0)?,
                domain_id: domain_id.to_owned(),
                created_at: from_ms(r.get(1)?)?,
            })
        })
        .map_err(e)?
        .map(|r| r.map_err(e))
        .collect()
    }

    fn put_job(&self, j: &JobRecord) -> StoreResult<()> {
        self.conn()
            .execute(
                "INSERT INTO voiceid_jobs (domain_id, job_id, kind, status, created_at, job)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (domain_id, job_id) DO UPDATE SET
                 status = excluded.status, job = excluded.job",
                params![
                    j.domain_id,
                    j.job_id,
                    j.kind.as_str(),
                    j.status.as_str(),
                    ms(j.created_at),
                    j.job.to_string()
                ],
            )
            .map(|_| ())
            .map_err(e)
    }

    fn job(&self, domain_id: &str, job_id: &str) -> StoreResult<Option<JobRecord>> {
        self.conn()
            .query_row(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM voiceid_jobs WHERE domain_id = ?1 AND job_id = ?2"
                ),
                [domain_id, job_id],
                job_row,
            )
            .optional()
            .map_err(e)
    }

    fn jobs(
        &self,
        domain_id: &str,
        kind: JobKind,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<JobRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM voiceid_jobs WHERE domain_id = ?1 AND kind = ?2 AND job_id > ?3
                 ORDER BY job_id LIMIT ?4"
            ))
            .map_err(e)?;
        stmt.query_map(
            params![domain_id, kind.as_str(), after.unwrap_or(""), limit as i64],
            job_row,
        )
        .map_err(e)?
        .map(|r| r.map_err(e))
        .collect()
    }

    fn active_jobs(&self) -> StoreResult<Vec<JobRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM voiceid_jobs WHERE status IN ('SUBMITTED', 'IN_PROGRESS')"
            ))
            .map_err(e)?;
        stmt.query_map([], job_row)
            .map_err(e)?
            .map(|r| r.map_err(e))
            .collect()
    }
}

fn watchlists_of(
    conn: &Connection,
    domain_id: &str,
    fraudster_id: &str,
) -> StoreResult<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT watchlist_id FROM voiceid_fraudster_watchlists WHERE domain_id = ?1 AND fraudster_id = ?2
             ORDER BY watchlist_id",
        )
        .map_err(e)?;
    stmt.query_map([domain_id, fraudster_id], |r| r.get(0))
        .map_err(e)?
        .map(|r| r.map_err(e))
        .collect()
}

const JOB_COLUMNS: &str = "domain_id, job_id, kind, status, created_at, job";

fn job_row(r: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let kind: String = r.get(2)?;
    let status: String = r.get(3)?;
    let job: String = r.get(5)?;
    Ok(JobRecord {
        domain_id: r.get(0)?,
        job_id: r.get(1)?,
        kind: JobKind::parse(&kind).ok_or_else(|| bad("job kind"))?,
        status: JobStatus::parse(&status).ok_or_else(|| bad("job status"))?,
        created_at: from_ms(r.get(4)?)?,
        job: serde_json::from_str(&job).map_err(|_| bad("job document"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hark_voiceid::store::conformance;

    #[test]
    fn sqlite_voiceid_store_conforms_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hark.db");
        let store = SqliteStore::open(&path).unwrap();
        conformance::run(&store);
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.count_live_domains().unwrap(), 1);
        assert_eq!(again.count_speakers("B000000000000000000000").unwrap(), 1);
    }

    #[test]
    fn a_purge_covers_every_table_that_holds_a_domains_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hark.db")).unwrap();
        let conn = store.conn();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut with_domain: Vec<String> = tables
            .into_iter()
            .filter(|t| {
                conn.prepare(&format!("SELECT domain_id FROM {t} LIMIT 0"))
                    .is_ok()
            })
            .collect();
        with_domain.sort();
        let mut purged: Vec<String> = VOICEID_DOMAIN_TABLES
            .iter()
            .map(|t| t.to_string())
            .collect();
        purged.sort();
        assert_eq!(
            with_domain, purged,
            "a table with domain rows that a purge would miss"
        );
    }

    #[test]
    fn audio_is_a_file_and_purge_leaves_nothing_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hark.db")).unwrap();
        let (d, w) = conformance::domain("A000000000000000000000");
        store.insert_domain(&d, &w).unwrap();
        let key = BlobKey {
            domain_id: d.domain_id.clone(),
            owner_id: "id#../../etc".into(),
            kind: BlobKind::Audio("../x".into()),
        };
        let blob = SealedBlob {
            key_id: "k".into(),
            sealed: b"sealed audio".to_vec(),
        };
        store.put_blob(&key, &blob).unwrap();
        assert_eq!(store.blob(&key).unwrap(), Some(blob));
        let files: Vec<_> = walk(store.voiceid_dir());
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].starts_with(store.voiceid_dir().join(&d.domain_id)));
        store.purge_domain(&d.domain_id).unwrap();
        assert!(walk(store.voiceid_dir()).is_empty());
        assert_eq!(store.blob(&key).unwrap(), None);
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let p = entry.path();
                if p.is_dir() {
                    out.extend(walk(&p));
                } else {
                    out.push(p);
                }
            }
        }
        out
    }
}
