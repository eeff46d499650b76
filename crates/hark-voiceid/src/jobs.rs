//! Batch jobs (spec §9.5) on the service: StartSpeakerEnrollmentJob and
//! StartFraudsterRegistrationJob record a job; Describe and List read it; [`VoiceId::run_job`]
//! runs it through a [`JobStorage`] the shell provides (the private `batch` module does the per-request
//! work). Lifecycle: `SUBMITTED → IN_PROGRESS → COMPLETED | COMPLETED_WITH_ERRORS | FAILED`.

use std::fmt::Debug;

use serde_json::{Value, json};

use crate::error::Error;
use crate::events::{Event, EventAction};
use crate::ids;
use crate::records::{JobKind, JobRecord, JobStatus, ResourceType};
use crate::service::{VoiceId, ts};
use crate::session::DEFAULT_RISK_THRESHOLD;

/// Where batch inputs are read and outputs written: `s3://bucket/key` or `file:///path`.
pub trait JobStorage: Send + Sync + Debug {
    /// The object's bytes; an object larger than `limit` bytes is refused.
    fn get(&self, uri: &str, limit: u64) -> Result<Vec<u8>, StorageError>;
    /// Writes (replaces) an object.
    fn put(&self, uri: &str, bytes: Vec<u8>) -> Result<(), StorageError>;
}

/// Why a job's object could not be read or written (the text lands in the job's output).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The URI is not one the storage serves: scheme, form, or outside the allowed places.
    #[error("{0}")]
    Refused(String),
    /// No such object.
    #[error("no such object")]
    NotFound,
    /// Larger than the job accepts.
    #[error("{size} bytes; the limit is {limit}")]
    TooLarge {
        /// The object's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The store or file system failed.
    #[error("{0}")]
    Failed(String),
}

/// Default `FraudsterSimilarityThreshold`: AWS leaves it undocumented; 90 is the score at which
/// two recordings are the same speaker with the acceptance threshold's confidence.
pub const DEFAULT_SIMILARITY_THRESHOLD: u8 = 90;

impl JobKind {
    /// The operation names: Start, Describe, List.
    fn operations(self) -> [&'static str; 3] {
        match self {
            JobKind::SpeakerEnrollment => [
                "StartSpeakerEnrollmentJob",
                "DescribeSpeakerEnrollmentJob",
                "ListSpeakerEnrollmentJobs",
            ],
            JobKind::FraudsterRegistration => [
                "StartFraudsterRegistrationJob",
                "DescribeFraudsterRegistrationJob",
                "ListFraudsterRegistrationJobs",
            ],
        }
    }

    /// The kind an operation belongs to.
    pub fn of_operation(operation: &str) -> Option<JobKind> {
        [JobKind::SpeakerEnrollment, JobKind::FraudsterRegistration]
            .into_iter()
            .find(|k| k.operations().contains(&operation))
    }

    fn event(self) -> EventAction {
        match self {
            JobKind::SpeakerEnrollment => EventAction::BatchEnrollmentRequest,
            JobKind::FraudsterRegistration => EventAction::BatchRegistrationRequest,
        }
    }
}

/// The members a job summary keeps.
const SUMMARY_MEMBERS: [&str; 8] = [
    "CreatedAt",
    "DomainId",
    "EndedAt",
    "FailureDetails",
    "JobId",
    "JobName",
    "JobProgress",
    "JobStatus",
];

impl VoiceId {
    /// The batch-job operations, by name.
    pub(crate) fn batch_job(
        &self,
        operation: &str,
        domain_id: &str,
        body: &Value,
    ) -> Result<Value, Error> {
        self.active_domain(domain_id)?;
        let kind = JobKind::of_operation(operation).ok_or_else(|| {
            Error::UnknownOperation(format!("Unknown operation VoiceID.{operation}"))
        })?;
        let [start, describe, _] = kind.operations();
        if operation == start {
            self.start_job(kind, domain_id, body)
        } else if operation == describe {
            let job_id = body["JobId"].as_str().unwrap_or_default();
            let job = self.find_job(kind, domain_id, job_id)?;
            Ok(json!({ "Job": job.job }))
        } else {
            self.list_jobs(kind, domain_id, body)
        }
    }

    fn find_job(&self, kind: JobKind, domain_id: &str, job_id: &str) -> Result<JobRecord, Error> {
        match self.store.job(domain_id, job_id)? {
            Some(j) if j.kind == kind => Ok(j),
            _ => Err(Error::not_found(
                ResourceType::BatchJob,
                format!("Job {job_id} not found in domain {domain_id}"),
            )),
        }
    }

    fn start_job(&self, kind: JobKind, domain_id: &str, body: &Value) -> Result<Value, Error> {
        let _w = self.write();
        let operation = kind.operations()[0];
        let scope = format!("{operation}:{domain_id}");
        let token = body["ClientToken"].as_str();
        if let Some(previous) = self.replay(&scope, token, body)? {
            return Ok(previous);
        }
        if body["OutputDataConfig"]["KmsKeyId"].is_string() {
            return Err(Error::Validation(
                "OutputDataConfig.KmsKeyId is not supported: hark writes job output unencrypted; use the bucket's own encryption".into(),
            ));
        }
        let config = self.job_config(kind, domain_id, body)?;
        let active = self
            .store
            .jobs(domain_id, kind, None, usize::MAX)?
            .iter()
            .any(|j| j.status.is_active());
        if active {
            return Err(Error::QuotaExceeded(format!(
                "The domain already has an active {operation} job; one may run at a time"
            )));
        }
        let now = self.now();
        let job_id = ids::unique_id()?;
        let mut job = json!({
            "CreatedAt": ts(now),
            "DataAccessRoleArn": body["DataAccessRoleArn"],
            "DomainId": domain_id,
            "InputDataConfig": body["InputDataConfig"],
            "JobId": job_id,
            "JobProgress": { "PercentComplete": 0 },
            "JobStatus": JobStatus::Submitted.as_str(),
            "OutputDataConfig": body["OutputDataConfig"],
        });
        if let Some(name) = body["JobName"].as_str() {
            job["JobName"] = json!(name);
        }
        let config_member = match kind {
            JobKind::SpeakerEnrollment => "EnrollmentConfig",
            JobKind::FraudsterRegistration => "RegistrationConfig",
        };
        job[config_member] = config;
        let record = JobRecord {
            domain_id: domain_id.to_owned(),
            job_id,
            kind,
            status: JobStatus::Submitted,
            created_at: now,
            job: job.clone(),
        };
        self.store.put_job(&record)?;
        let response = json!({ "Job": job });
        self.remember(&scope, token, domain_id, body, &response)?;
        self.publish_job(&record, None);
        self.effects.push(crate::effects::Effect::RunJob {
            domain_id: record.domain_id.clone(),
            job_id: record.job_id.clone(),
        });
        Ok(response)
    }

    /// The job's configuration with every default filled in, its watchlist checked.
    fn job_config(&self, kind: JobKind, domain_id: &str, body: &Value) -> Result<Value, Error> {
        let domain = self.live_domain(domain_id)?;
        let default_list = json!([domain.default_watchlist_id]);
        let config = match kind {
            JobKind::SpeakerEnrollment => {
                let given = &body["EnrollmentConfig"];
                let fraud = &given["FraudDetectionConfig"];
                json!({
                    "ExistingEnrollmentAction": given["ExistingEnrollmentAction"].as_str().unwrap_or("SKIP"),
                    "FraudDetectionConfig": {
                        "FraudDetectionAction": fraud["FraudDetectionAction"].as_str().unwrap_or("FAIL"),
                        "RiskThreshold": fraud["RiskThreshold"].as_u64().unwrap_or(DEFAULT_RISK_THRESHOLD.into()),
                        "WatchlistIds": fraud.get("WatchlistIds").cloned().unwrap_or(default_list),
                    },
                })
            }
            JobKind::FraudsterRegistration => {
                let given = &body["RegistrationConfig"];
                json!({
                    "DuplicateRegistrationAction": given["DuplicateRegistrationAction"].as_str().unwrap_or("SKIP"),
                    "FraudsterSimilarityThreshold": given["FraudsterSimilarityThreshold"].as_u64().unwrap_or(DEFAULT_SIMILARITY_THRESHOLD.into()),
                    "WatchlistIds": given.get("WatchlistIds").cloned().unwrap_or(default_list),
                })
            }
        };
        let watchlists = match kind {
            JobKind::SpeakerEnrollment => &config["FraudDetectionConfig"]["WatchlistIds"],
            JobKind::FraudsterRegistration => &config["WatchlistIds"],
        };
        for w in watchlists.as_array().into_iter().flatten() {
            self.find_watchlist(domain_id, w.as_str().unwrap_or_default())?;
        }
        Ok(config)
    }

    fn list_jobs(&self, kind: JobKind, domain_id: &str, body: &Value) -> Result<Value, Error> {
        let operation = kind.operations()[2];
        let status = body["JobStatus"].as_str().unwrap_or_default().to_owned();
        let args = [domain_id, status.as_str()];
        let page = crate::api::Page {
            max_results: body["MaxResults"].as_u64().map(|n| n as u32),
            next_token: body["NextToken"].as_str().map(str::to_owned),
        };
        let (after, limit) = self.page_start(operation, &args, &page, 100)?;
        let mut matching = Vec::new();
        let mut cursor = after;
        // Filtered pages: read on until a page (plus one, to know there is more) is full.
        while matching.len() <= limit {
            let batch = self.store.jobs(domain_id, kind, cursor.as_deref(), 500)?;
            let Some(last) = batch.last() else { break };
            cursor = Some(last.job_id.clone());
            matching.extend(
                batch
                    .into_iter()
                    .filter(|j| status.is_empty() || j.status.as_str() == status),
            );
        }
        self.page_json(
            operation,
            &args,
            "JobSummaries",
            matching,
            limit,
            |j| j.job_id.clone(),
            |j| summary(&j.job),
        )
    }

    /// Marks jobs a previous process left submitted or running as failed (they cannot be
    /// resumed half-way without repeating side effects); returns how many.
    pub fn fail_interrupted_jobs(&self) -> Result<usize, Error> {
        let active = self.store.active_jobs()?;
        for mut job in active.iter().cloned() {
            self.end_job(
                &mut job,
                JobStatus::Failed,
                Some((
                    500,
                    "hark restarted while the job ran; start the job again".into(),
                )),
            )?;
        }
        Ok(active.len())
    }

    /// Marks one submitted or running job `FAILED` (an operator's call: its runner is gone).
    pub fn fail_job(&self, domain_id: &str, job_id: &str) -> Result<(), Error> {
        let _w = self.write();
        let mut job = self.store.job(domain_id, job_id)?.ok_or_else(|| {
            Error::not_found(ResourceType::BatchJob, format!("Job {job_id} not found"))
        })?;
        if !job.status.is_active() {
            return Err(Error::Validation(format!(
                "Job {job_id} already ended ({})",
                job.status
            )));
        }
        self.end_job(
            &mut job,
            JobStatus::Failed,
            Some((
                500,
                "stopped by an operator: the instance running it is gone".into(),
            )),
        )
    }

    /// Records a job's end: status, `EndedAt`, failure details; publishes the outcome.
    pub(crate) fn end_job(
        &self,
        job: &mut JobRecord,
        status: JobStatus,
        failure: Option<(u16, String)>,
    ) -> Result<(), Error> {
        job.status = status;
        job.job["JobStatus"] = json!(status.as_str());
        job.job["EndedAt"] = ts(self.now());
        if status != JobStatus::Failed {
            job.job["JobProgress"] = json!({ "PercentComplete": 100 });
        }
        if let Some((code, message)) = &failure {
            job.job["FailureDetails"] = json!({ "StatusCode": code, "Message": message });
        }
        self.store.put_job(job)?;
        self.publish_job(job, failure);
        Ok(())
    }

    pub(crate) fn publish_job(&self, job: &JobRecord, failure: Option<(u16, String)>) {
        self.counters.job(job.status.as_str());
        let status = match job.status {
            JobStatus::Submitted | JobStatus::InProgress => "IN_PROGRESS",
            JobStatus::Completed | JobStatus::CompletedWithErrors => "SUCCESS",
            JobStatus::Failed => "FAILURE",
        };
        self.publish(Event {
            action: job.kind.event(),
            status,
            domain_id: job.domain_id.clone(),
            source_id: job.job_id.clone(),
            detail: json!({ "batchJobId": job.job_id, "jobStatus": job.status.as_str() }),
            error: failure.map(|(code, m)| ("JOB_FAILED".to_owned(), code, m)),
        });
    }
}

/// The summary members of a job.
fn summary(job: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for member in SUMMARY_MEMBERS {
        if let Some(v) = job.get(member) {
            out.insert(member.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}
