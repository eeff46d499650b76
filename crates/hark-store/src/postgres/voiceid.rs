//! [`VoiceIdStore`] on PostgreSQL. Same tables as SQLite, except that stored audio is a
//! `BYTEA` row like voiceprints: instances share no disk. Times are Unix milliseconds.
//!
//! Each trait method is one statement or one transaction. Adding a method to the trait means
//! adding one function here in the same shape: `self.vrun(|c| ...)`.

use chrono::{DateTime, Utc};
use hark_voiceid::records::{
    BlobKey, BlobKind, ClientTokenRecord, DomainRecord, FraudsterRecord, InstanceRecord, JobKind,
    JobRecord, JobStatus, SealedBlob, SpeakerRecord, SpeakerRef, SpeakerStatus, WatchlistRecord,
};
use hark_voiceid::store::{StoreResult, VoiceIdStore};
use postgres::types::ToSql;
use postgres::{GenericClient, Row};

use super::{PgError, PgStore};
use crate::voiceid_codec::{SPEAKER_COLUMNS, e, json, ms};

fn from_ms(v: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| e(format!("timestamp {v} out of range")))
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_json<T: serde::de::DeserializeOwned>(row: &Row) -> StoreResult<T> {
    serde_json::from_str(row.get::<_, &str>(0)).map_err(e)
}

const JOB_COLUMNS: &str = "domain_id, job_id, kind, status, created_at, job";

fn job_row(r: &Row) -> StoreResult<JobRecord> {
    let kind: &str = r.get(2);
    let status: &str = r.get(3);
    Ok(JobRecord {
        domain_id: r.get(0),
        job_id: r.get(1),
        kind: JobKind::parse(kind).ok_or_else(|| e(format!("job kind {kind:?}")))?,
        status: JobStatus::parse(status).ok_or_else(|| e(format!("job status {status:?}")))?,
        created_at: from_ms(r.get(4))?,
        job: serde_json::from_str(r.get::<_, &str>(5)).map_err(e)?,
    })
}

fn count(row: &Row) -> u64 {
    u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
}

fn speaker_row(r: &Row) -> StoreResult<SpeakerRecord> {
    let status: &str = r.get(3);
    Ok(SpeakerRecord {
        domain_id: r.get(0),
        generated_id: r.get(1),
        customer_id: r.get(2),
        status: SpeakerStatus::parse(status)
            .ok_or_else(|| e(format!("unknown speaker status {status:?}")))?,
        created_at: from_ms(r.get(4))?,
        updated_at: from_ms(r.get(5))?,
        last_accessed_at: r.get::<_, Option<i64>>(6).map(from_ms).transpose()?,
    })
}

fn blob_key(domain_id: &str, owner_id: String, kind: &str) -> StoreResult<BlobKey> {
    Ok(BlobKey {
        domain_id: domain_id.to_owned(),
        owner_id,
        kind: BlobKind::parse(kind).ok_or_else(|| e(format!("blob kind {kind:?}")))?,
    })
}

fn watchlists_of(
    c: &mut impl GenericClient,
    domain_id: &str,
    fraudster_id: &str,
) -> Result<Vec<String>, PgError> {
    Ok(c.query(
        "SELECT watchlist_id FROM voiceid_fraudster_watchlists
         WHERE domain_id = $1 AND fraudster_id = $2 ORDER BY watchlist_id",
        &[&domain_id, &fraudster_id],
    )?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

fn fraudster_rows(
    c: &mut impl GenericClient,
    domain_id: &str,
    rows: Vec<Row>,
) -> StoreResult<Vec<FraudsterRecord>> {
    rows.iter()
        .map(|r| {
            let id: String = r.get(0);
            Ok(FraudsterRecord {
                domain_id: domain_id.to_owned(),
                watchlist_ids: watchlists_of(c, domain_id, &id).map_err(e)?,
                generated_id: id,
                created_at: from_ms(r.get(1))?,
            })
        })
        .collect()
}

impl PgStore {
    /// Runs `f` on a connection, mapping errors to Voice ID's.
    fn vrun<T: Send>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, PgError> + Send,
    ) -> StoreResult<T> {
        self.run(f).map_err(e)
    }

    /// The count a `SELECT count(*)` returns.
    fn count_of(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        self.vrun(|c| Ok(count(&c.query_one(sql, params)?)))
    }

    /// The records (JSON in the first column) a query returns.
    fn json_rows<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<T>> {
        let rows = self.vrun(|c| Ok(c.query(sql, params)?))?;
        rows.iter().map(from_json).collect()
    }

    /// Deletes an owner's blobs and then runs `deletes` (parameters: domain, owner) in one
    /// transaction; true when the last one deleted something (the owner existed).
    fn delete_owner(&self, domain_id: &str, id: &str, deletes: &[&str]) -> StoreResult<bool> {
        self.vrun(|c| {
            let mut tx = c.transaction()?;
            let mut deleted = tx.execute(
                "DELETE FROM voiceid_blobs WHERE domain_id = $1 AND owner_id = $2",
                &[&domain_id, &id],
            )?;
            for statement in deletes {
                deleted = tx.execute(*statement, &[&domain_id, &id])?;
            }
            tx.commit()?;
            Ok(deleted > 0)
        })
    }

    /// Inserts many speakers in one transaction (bulk loads, benchmarks).
    pub fn insert_speakers(&self, speakers: &[SpeakerRecord]) -> StoreResult<()> {
        self.vrun(|c| {
            let mut tx = c.transaction()?;
            let stmt = tx.prepare(&format!(
                "INSERT INTO voiceid_speakers ({SPEAKER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))?;
            for s in speakers {
                tx.execute(
                    &stmt,
                    &[
                        &s.domain_id,
                        &s.generated_id,
                        &s.customer_id,
                        &s.status.as_str(),
                        &ms(s.created_at),
                        &ms(s.updated_at),
                        &s.last_accessed_at.map(ms),
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }
}

impl VoiceIdStore for PgStore {
    fn insert_domain(&self, d: &DomainRecord, wl: &WatchlistRecord) -> StoreResult<()> {
        let (dj, wj) = (json(d)?, json(wl)?);
        self.vrun(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO voiceid_domains (domain_id, deleted_at, record) VALUES ($1, $2, $3)",
                &[&d.domain_id, &d.deleted_at.map(ms), &dj],
            )?;
            tx.execute(
                "INSERT INTO voiceid_watchlists (domain_id, watchlist_id, record) VALUES ($1, $2, $3)",
                &[&wl.domain_id, &wl.watchlist_id, &wj],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn update_domain(&self, d: &DomainRecord) -> StoreResult<()> {
        let dj = json(d)?;
        self.vrun(|c| {
            c.execute(
                "INSERT INTO voiceid_domains (domain_id, deleted_at, record) VALUES ($1, $2, $3)
                 ON CONFLICT (domain_id) DO UPDATE SET deleted_at = excluded.deleted_at, record = excluded.record",
                &[&d.domain_id, &d.deleted_at.map(ms), &dj],
            )?;
            Ok(())
        })
    }

    fn domain(&self, domain_id: &str) -> StoreResult<Option<DomainRecord>> {
        let row = self.vrun(|c| {
            Ok(c.query_opt(
                "SELECT record FROM voiceid_domains WHERE domain_id = $1",
                &[&domain_id],
            )?)
        })?;
        row.as_ref().map(from_json).transpose()
    }

    fn domains(
        &self,
        after: Option<&str>,
        n: usize,
        deleted: bool,
    ) -> StoreResult<Vec<DomainRecord>> {
        self.json_rows("SELECT record FROM voiceid_domains WHERE domain_id > $1 AND (deleted_at IS NOT NULL) = $2
                 ORDER BY domain_id LIMIT $3", &[&after.unwrap_or(""), &deleted, &limit(n)])
    }

    fn count_live_domains(&self) -> StoreResult<u64> {
        self.count_of(
            "SELECT count(*) FROM voiceid_domains WHERE deleted_at IS NULL",
            &[],
        )
    }

    fn purge_domain(&self, domain_id: &str) -> StoreResult<()> {
        self.vrun(|c| {
            let mut tx = c.transaction()?;
            for table in crate::voiceid::VOICEID_DOMAIN_TABLES {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE domain_id = $1"),
                    &[&domain_id],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn put_watchlist(&self, w: &WatchlistRecord) -> StoreResult<()> {
        let wj = json(w)?;
        self.vrun(|c| {
            c.execute(
                "INSERT INTO voiceid_watchlists (domain_id, watchlist_id, record) VALUES ($1, $2, $3)
                 ON CONFLICT (domain_id, watchlist_id) DO UPDATE SET record = excluded.record",
                &[&w.domain_id, &w.watchlist_id, &wj],
            )?;
            Ok(())
        })
    }

    fn watchlist(&self, domain_id: &str, id: &str) -> StoreResult<Option<WatchlistRecord>> {
        let row = self.vrun(|c| {
            Ok(c.query_opt(
                "SELECT record FROM voiceid_watchlists WHERE domain_id = $1 AND watchlist_id = $2",
                &[&domain_id, &id],
            )?)
        })?;
        row.as_ref().map(from_json).transpose()
    }

    fn watchlists(
        &self,
        domain_id: &str,
        after: Option<&str>,
        n: usize,
    ) -> StoreResult<Vec<WatchlistRecord>> {
        self.json_rows(
            "SELECT record FROM voiceid_watchlists WHERE domain_id = $1 AND watchlist_id > $2
                 ORDER BY watchlist_id LIMIT $3",
            &[&domain_id, &after.unwrap_or(""), &limit(n)],
        )
    }

    fn count_watchlists(&self, domain_id: &str) -> StoreResult<u64> {
        self.count_of(
            "SELECT count(*) FROM voiceid_watchlists WHERE domain_id = $1",
            &[&domain_id],
        )
    }

    fn delete_watchlist(&self, domain_id: &str, id: &str) -> StoreResult<bool> {
        self.vrun(|c| {
            Ok(c.execute(
                "DELETE FROM voiceid_watchlists WHERE domain_id = $1 AND watchlist_id = $2",
                &[&domain_id, &id],
            )? > 0)
        })
    }

    fn put_speaker(&self, s: &SpeakerRecord) -> StoreResult<()> {
        self.vrun(|c| {
            c.execute(
                &format!(
                    "INSERT INTO voiceid_speakers ({SPEAKER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (domain_id, generated_id) DO UPDATE SET customer_id = excluded.customer_id,
                     status = excluded.status, created_at = excluded.created_at,
                     updated_at = excluded.updated_at, last_accessed_at = excluded.last_accessed_at"
                ),
                &[
                    &s.domain_id,
                    &s.generated_id,
                    &s.customer_id,
                    &s.status.as_str(),
                    &ms(s.created_at),
                    &ms(s.updated_at),
                    &s.last_accessed_at.map(ms),
                ],
            )?;
            Ok(())
        })
    }

    fn speaker(&self, domain_id: &str, id: SpeakerRef<'_>) -> StoreResult<Option<SpeakerRecord>> {
        let (column, value) = match id {
            SpeakerRef::Generated(g) => ("generated_id", g),
            SpeakerRef::Customer(c) => ("customer_id", c),
        };
        let row = self.vrun(|c| {
            Ok(c.query_opt(
                &format!(
                    "SELECT {SPEAKER_COLUMNS} FROM voiceid_speakers WHERE domain_id = $1 AND {column} = $2"
                ),
                &[&domain_id, &value],
            )?)
        })?;
        row.as_ref().map(speaker_row).transpose()
    }

    fn speakers(
        &self,
        domain_id: &str,
        after: Option<&str>,
        n: usize,
    ) -> StoreResult<Vec<SpeakerRecord>> {
        let rows = self.vrun(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {SPEAKER_COLUMNS} FROM voiceid_speakers WHERE domain_id = $1 AND generated_id > $2
                     ORDER BY generated_id LIMIT $3"
                ),
                &[&domain_id, &after.unwrap_or(""), &limit(n)],
            )?)
        })?;
        rows.iter().map(speaker_row).collect()
    }

    fn count_speakers(&self, domain_id: &str) -> StoreResult<u64> {
        self.count_of(
            "SELECT count(*) FROM voiceid_speakers WHERE domain_id = $1",
            &[&domain_id],
        )
    }

    fn delete_speaker(&self, domain_id: &str, id: &str) -> StoreResult<bool> {
        self.delete_owner(
            domain_id,
            id,
            &["DELETE FROM voiceid_speakers WHERE domain_id = $1 AND generated_id = $2"],
        )
    }

    fn stale_speakers(
        &self,
        status: SpeakerStatus,
        before: DateTime<Utc>,
        n: usize,
    ) -> StoreResult<Vec<SpeakerRecord>> {
        let rows = self.vrun(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {SPEAKER_COLUMNS} FROM voiceid_speakers
                     WHERE status = $1 AND coalesce(last_accessed_at, created_at) < $2 LIMIT $3"
                ),
                &[&status.as_str(), &ms(before), &limit(n)],
            )?)
        })?;
        rows.iter().map(speaker_row).collect()
    }

    fn put_fraudster(&self, f: &FraudsterRecord) -> StoreResult<()> {
        self.vrun(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO voiceid_fraudsters (domain_id, generated_id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (domain_id, generated_id) DO UPDATE SET created_at = excluded.created_at",
                &[&f.domain_id, &f.generated_id, &ms(f.created_at)],
            )?;
            tx.execute(
                "DELETE FROM voiceid_fraudster_watchlists WHERE domain_id = $1 AND fraudster_id = $2",
                &[&f.domain_id, &f.generated_id],
            )?;
            for w in &f.watchlist_ids {
                tx.execute(
                    "INSERT INTO voiceid_fraudster_watchlists (domain_id, fraudster_id, watchlist_id)
                     VALUES ($1, $2, $3)",
                    &[&f.domain_id, &f.generated_id, w],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn fraudster(&self, domain_id: &str, id: &str) -> StoreResult<Option<FraudsterRecord>> {
        self.vrun(|c| {
            let rows = c.query(
                "SELECT generated_id, created_at FROM voiceid_fraudsters
                 WHERE domain_id = $1 AND generated_id = $2",
                &[&domain_id, &id],
            )?;
            fraudster_rows(c, domain_id, rows).map_err(|x| PgError(x.0))
        })
        .map(|mut v| v.pop())
    }

    fn fraudsters(
        &self,
        domain_id: &str,
        watchlist_id: Option<&str>,
        after: Option<&str>,
        n: usize,
    ) -> StoreResult<Vec<FraudsterRecord>> {
        let after = after.unwrap_or("");
        self.vrun(|c| {
            let rows = match watchlist_id {
                None => c.query(
                    "SELECT generated_id, created_at FROM voiceid_fraudsters
                     WHERE domain_id = $1 AND generated_id > $2
                     ORDER BY generated_id LIMIT $3",
                    &[&domain_id, &after, &limit(n)],
                )?,
                Some(w) => c.query(
                    "SELECT f.generated_id, f.created_at FROM voiceid_fraudster_watchlists m
                     JOIN voiceid_fraudsters f
                       ON f.domain_id = m.domain_id AND f.generated_id = m.fraudster_id
                     WHERE m.domain_id = $1 AND m.watchlist_id = $2 AND m.fraudster_id > $3
                     ORDER BY m.fraudster_id LIMIT $4",
                    &[&domain_id, &w, &after, &limit(n)],
                )?,
            };
            fraudster_rows(c, domain_id, rows).map_err(|x| PgError(x.0))
        })
    }

    fn count_fraudsters_in_watchlist(&self, domain_id: &str, wl: &str) -> StoreResult<u64> {
        self.count_of("SELECT count(*) FROM voiceid_fraudster_watchlists WHERE domain_id = $1 AND watchlist_id = $2", &[&domain_id, &wl])
    }

    fn delete_fraudster(&self, domain_id: &str, id: &str) -> StoreResult<bool> {
        self.delete_owner(
            domain_id,
            id,
            &[
                "DELETE FROM voiceid_fraudster_watchlists WHERE domain_id = $1 AND fraudster_id = $2",
                "DELETE FROM voiceid_fraudsters WHERE domain_id = $1 AND generated_id = $2",
            ],
        )
    }

    fn put_blob(&self, key: &BlobKey, blob: &SealedBlob) -> StoreResult<()> {
        let kind = key.kind.as_string();
        self.vrun(|c| {
            c.execute(
                "INSERT INTO voiceid_blobs (domain_id, owner_id, kind, key_id, data) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (domain_id, owner_id, kind) DO UPDATE SET key_id = excluded.key_id,
                 data = excluded.data",
                &[&key.domain_id, &key.owner_id, &kind, &blob.key_id, &blob.sealed],
            )?;
            Ok(())
        })
    }

    fn blob(&self, key: &BlobKey) -> StoreResult<Option<SealedBlob>> {
        let kind = key.kind.as_string();
        let row = self.vrun(|c| {
            Ok(c.query_opt(
                "SELECT key_id, data FROM voiceid_blobs WHERE domain_id = $1 AND owner_id = $2 AND kind = $3",
                &[&key.domain_id, &key.owner_id, &kind],
            )?)
        })?;
        Ok(row.map(|r| SealedBlob {
            key_id: r.get(0),
            sealed: r.get(1),
        }))
    }

    fn blobs_not_under(
        &self,
        domain_id: &str,
        key_id: &str,
        n: usize,
    ) -> StoreResult<Vec<BlobKey>> {
        let rows = self.vrun(|c| {
            Ok(c.query(
                "SELECT owner_id, kind FROM voiceid_blobs WHERE domain_id = $1 AND key_id <> $2 LIMIT $3",
                &[&domain_id, &key_id, &limit(n)],
            )?)
        })?;
        rows.iter()
            .map(|r| blob_key(domain_id, r.get(0), r.get(1)))
            .collect()
    }

    fn blob_keys(&self, domain_id: &str, owner_id: &str) -> StoreResult<Vec<BlobKey>> {
        let rows = self.vrun(|c| {
            Ok(c.query(
                "SELECT kind FROM voiceid_blobs WHERE domain_id = $1 AND owner_id = $2
                 ORDER BY kind",
                &[&domain_id, &owner_id],
            )?)
        })?;
        rows.iter()
            .map(|r| blob_key(domain_id, owner_id.to_owned(), r.get(0)))
            .collect()
    }

    fn delete_blobs(&self, domain_id: &str, owner_id: &str) -> StoreResult<()> {
        self.vrun(|c| {
            c.execute(
                "DELETE FROM voiceid_blobs WHERE domain_id = $1 AND owner_id = $2",
                &[&domain_id, &owner_id],
            )?;
            Ok(())
        })
    }

    fn client_token(&self, scope: &str, token: &str) -> StoreResult<Option<ClientTokenRecord>> {
        let row = self.vrun(|c| {
            Ok(c.query_opt(
                "SELECT domain_id, fingerprint, response, created_at FROM voiceid_client_tokens
                 WHERE scope = $1 AND token = $2",
                &[&scope, &token],
            )?)
        })?;
        row.map(|r| {
            Ok(ClientTokenRecord {
                scope: scope.to_owned(),
                token: token.to_owned(),
                domain_id: r.get(0),
                fingerprint: r.get(1),
                response: r.get(2),
                created_at: from_ms(r.get(3))?,
            })
        })
        .transpose()
    }

    fn put_client_token(&self, t: &ClientTokenRecord) -> StoreResult<()> {
        self.vrun(|c| {
            c.execute(
                "INSERT INTO voiceid_client_tokens (scope, token, domain_id, fingerprint, response, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, token) DO NOTHING",
                &[&t.scope, &t.token, &t.domain_id, &t.fingerprint, &t.response, &ms(t.created_at)],
            )?;
            Ok(())
        })
    }

    fn forget_client_tokens(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.vrun(|c| {
            Ok(c.execute(
                "DELETE FROM voiceid_client_tokens WHERE created_at < $1",
                &[&ms(before)],
            )?)
        })
    }

    fn instance(&self, instance_id: &str) -> StoreResult<Option<InstanceRecord>> {
        let row = self.vrun(|c| {
            Ok(c.query_opt(
                "SELECT domain_id, created_at FROM voiceid_instances WHERE instance_id = $1",
                &[&instance_id],
            )?)
        })?;
        row.map(|r| {
            Ok(InstanceRecord {
                instance_id: instance_id.to_owned(),
                domain_id: r.get(0),
                created_at: from_ms(r.get(1))?,
            })
        })
        .transpose()
    }

    fn put_instance(&self, i: &InstanceRecord) -> StoreResult<()> {
        self.vrun(|c| {
            c.execute(
                "INSERT INTO voiceid_instances (instance_id, domain_id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (instance_id) DO UPDATE SET domain_id = excluded.domain_id,
                 created_at = excluded.created_at",
                &[&i.instance_id, &i.domain_id, &ms(i.created_at)],
            )?;
            Ok(())
        })
    }

    fn delete_instance(&self, instance_id: &str) -> StoreResult<bool> {
        self.vrun(|c| {
            Ok(c.execute(
                "DELETE FROM voiceid_instances WHERE instance_id = $1",
                &[&instance_id],
            )? > 0)
        })
    }

    fn instances(&self, domain_id: &str) -> StoreResult<Vec<InstanceRecord>> {
        let rows = self.vrun(|c| {
            Ok(c.query(
                "SELECT instance_id, created_at FROM voiceid_instances WHERE domain_id = $1
                 ORDER BY instance_id",
                &[&domain_id],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                Ok(InstanceRecord {
                    instance_id: r.get(0),
                    domain_id: domain_id.to_owned(),
                    created_at: from_ms(r.get(1))?,
                })
            })
            .collect()
    }

    fn put_job(&self, j: &JobRecord) -> StoreResult<()> {
        let document = j.job.to_string();
        self.vrun(|c| {
            c.execute(
                "INSERT INTO voiceid_jobs (domain_id, job_id, kind, status, created_at, job)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (domain_id, job_id) DO UPDATE SET
                 status = excluded.status, job = excluded.job",
                &[
                    &j.domain_id,
                    &j.job_id,
                    &j.kind.as_str(),
                    &j.status.as_str(),
                    &ms(j.created_at),
                    &document,
                ],
            )?;
            Ok(())
        })
    }

    fn job(&self, domain_id: &str, job_id: &str) -> StoreResult<Option<JobRecord>> {
        let sql =
            format!("SELECT {JOB_COLUMNS} FROM voiceid_jobs WHERE domain_id = $1 AND job_id = $2");
        let row = self.vrun(|c| Ok(c.query_opt(&sql, &[&domain_id, &job_id])?))?;
        row.as_ref().map(job_row).transpose()
    }

    fn jobs(
        &self,
        domain_id: &str,
        kind: JobKind,
        after: Option<&str>,
        n: usize,
    ) -> StoreResult<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM voiceid_jobs WHERE domain_id = $1 AND kind = $2 AND job_id > $3
             ORDER BY job_id LIMIT $4"
        );
        let (kind, after, n) = (kind.as_str(), after.unwrap_or(""), limit(n));
        let rows = self.vrun(|c| Ok(c.query(&sql, &[&domain_id, &kind, &after, &n])?))?;
        rows.iter().map(job_row).collect()
    }

    fn active_jobs(&self) -> StoreResult<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM voiceid_jobs WHERE status IN ('SUBMITTED', 'IN_PROGRESS')"
        );
        let rows = self.vrun(|c| Ok(c.query(&sql, &[])?))?;
        rows.iter().map(job_row).collect()
    }
}
