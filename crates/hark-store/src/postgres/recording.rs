//! `PgStore` as the recording store: do-not-record latches and finished recordings (JSON).

use chrono::{DateTime, Utc};
use hark_recording::store::{RecordingMetadata, RecordingStore, RecordingStoreError};

use super::{PgError, PgStore};

fn err(e: impl std::fmt::Display) -> RecordingStoreError {
    RecordingStoreError(e.to_string())
}

impl From<PgError> for RecordingStoreError {
    fn from(e: PgError) -> Self {
        RecordingStoreError(e.to_string())
    }
}

impl RecordingStore for PgStore {
    fn latch_do_not_record(
        &self,
        contact_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), RecordingStoreError> {
        let at = at.to_rfc3339();
        self.run(|c| {
            c.execute(
                "INSERT INTO recording_do_not_record (contact_id, latched_at) VALUES ($1, $2)
                 ON CONFLICT (contact_id) DO NOTHING",
                &[&contact_id, &at],
            )?;
            Ok(())
        })
        .map_err(err)
    }

    fn do_not_record_latches(&self) -> Result<Vec<(String, DateTime<Utc>)>, RecordingStoreError> {
        let rows = self.run(|c| {
            Ok(c.query(
                "SELECT contact_id, latched_at FROM recording_do_not_record",
                &[],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                let at: String = r.get(1);
                let at = DateTime::parse_from_rfc3339(&at)
                    .map_err(err)?
                    .with_timezone(&Utc);
                Ok((r.get(0), at))
            })
            .collect()
    }

    fn save_recording(&self, recording: &RecordingMetadata) -> Result<(), RecordingStoreError> {
        let json = serde_json::to_string(recording).map_err(err)?;
        let started = recording.started_at.to_rfc3339();
        self.run(|c| {
            c.execute(
                "INSERT INTO recordings (id, call_id, contact_id, started_at, metadata)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET metadata = excluded.metadata",
                &[
                    &recording.id,
                    &recording.call_id,
                    &recording.contact_id,
                    &started,
                    &json,
                ],
            )?;
            Ok(())
        })
        .map_err(err)
    }

    fn recordings(&self) -> Result<Vec<RecordingMetadata>, RecordingStoreError> {
        let rows = self.run(|c| {
            Ok(c.query(
                "SELECT metadata FROM recordings ORDER BY started_at, id",
                &[],
            )?)
        })?;
        rows.iter()
            .map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(err))
            .collect()
    }
}
