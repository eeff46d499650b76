//! Running a batch job: read the manifest, turn each request's audio files into a voiceprint,
//! enroll the speaker (screened against a watchlist first) or register the fraudster (unless it
//! duplicates one), and write the output file `<output>/<JobId>/<manifest name>.out`.
//!
//! Problems with one request become an entry in the output's `Errors` (400 malformed, not enough
//! speech, bad audio or fraud check failed; 402 quota; 409 opted out; 500 internal) and the job
//! ends `COMPLETED_WITH_ERRORS`; only an unreadable manifest or output fails the whole job.

use std::collections::HashSet;
use std::time::Duration;

use hark_audio::decode::{DecodeOptions, decode_bytes};
use hark_voiceprint::{Embedder, EmbedderConfig, Voiceprint, VoiceprintError, VoiceprintIndex};
use serde_json::{Value, json};

use crate::error::Error;
use crate::jobs::JobStorage;
use crate::records::{JobKind, JobRecord, JobStatus, SpeakerRef, SpeakerStatus};
use crate::service::VoiceId;
use crate::session::ENROLLMENT_SPEECH;

/// The largest audio file read (AWS's limit).
pub const MAX_AUDIO_BYTES: u64 = 20 * 1024 * 1024;
/// The largest manifest read.
pub const MAX_MANIFEST_BYTES: u64 = 50 * 1024 * 1024;
/// Audio files per request (AWS's limit).
pub const MAX_FILES_PER_REQUEST: usize = 10;
/// Requests per enrollment job (AWS's limit).
pub const MAX_ENROLLMENT_REQUESTS: usize = 10_000;
/// Requests per registration job (AWS's limit).
pub const MAX_REGISTRATION_REQUESTS: usize = 500;
/// Net speech a fraudster registration needs: as much as authentication needs by default.
pub const REGISTRATION_SPEECH: Duration = Duration::from_secs(10);

/// One failed request: HTTP-like code and message.
type EntryError = (u16, String);

fn bad(message: impl Into<String>) -> EntryError {
    (400, message.into())
}

/// What one job run works with.
struct JobRun<'a> {
    service: &'a VoiceId,
    storage: &'a dyn JobStorage,
    embedder: Embedder,
    job: JobRecord,
    /// Fraudsters of the domain (registration: to find duplicates).
    fraudsters: VoiceprintIndex<String>,
}

impl VoiceId {
    /// Runs a submitted job to its end. Returns at once if another caller already claimed it.
    pub fn run_job(
        &self,
        domain_id: &str,
        job_id: &str,
        storage: &dyn JobStorage,
    ) -> Result<(), Error> {
        let Some(mut job) = self.claim_job(domain_id, job_id)? else {
            return Ok(());
        };
        let mut config = EmbedderConfig::default();
        config.min_speech = Duration::from_secs(1);
        let embedder = Embedder::new(self.encoder()?, config);
        let fraudsters = match job.kind {
            JobKind::FraudsterRegistration => self.fraudster_voiceprints(domain_id, None)?,
            JobKind::SpeakerEnrollment => VoiceprintIndex::new(),
        };
        job.status = JobStatus::InProgress;
        let mut run = JobRun {
            service: self,
            storage,
            embedder,
            job,
            fraudsters,
        };
        let outcome = run.execute();
        let mut job = run.job;
        match outcome {
            Ok(0) => self.end_job(&mut job, JobStatus::Completed, None),
            Ok(_) => self.end_job(&mut job, JobStatus::CompletedWithErrors, None),
            Err((code, message)) => {
                self.end_job(&mut job, JobStatus::Failed, Some((code, message)))
            }
        }
    }

    /// SUBMITTED → IN_PROGRESS, once.
    fn claim_job(&self, domain_id: &str, job_id: &str) -> Result<Option<JobRecord>, Error> {
        let _w = self.write();
        let Some(mut job) = self.store.job(domain_id, job_id)? else {
            return Ok(None);
        };
        if job.status != JobStatus::Submitted {
            return Ok(None);
        }
        job.status = JobStatus::InProgress;
        job.job["JobStatus"] = json!(JobStatus::InProgress.as_str());
        self.store.put_job(&job)?;
        self.publish_job(&job, None);
        Ok(Some(job))
    }
}

impl JobRun<'_> {
    /// Processes every request and writes the output; the number of failed requests, or why
    /// the whole job failed.
    fn execute(&mut self) -> Result<usize, EntryError> {
        let input = self.job.job["InputDataConfig"]["S3Uri"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let requests = self.manifest(&input)?;
        let success_name = match self.job.kind {
            JobKind::SpeakerEnrollment => "SuccessfulEnrollments",
            JobKind::FraudsterRegistration => "SuccessfulRegistrations",
        };
        let (mut errors, mut successes) = (Vec::new(), Vec::new());
        let mut seen = HashSet::new();
        for (n, request) in requests.iter().enumerate() {
            let id = request["RequestId"].as_str().unwrap_or_default().to_owned();
            let outcome = if !seen.insert(id.clone()) {
                Err(bad(format!(
                    "RequestId {id:?} is used more than once in the manifest"
                )))
            } else {
                self.request(request)
            };
            match outcome {
                Ok(mut entry) => {
                    entry["RequestId"] = json!(id);
                    successes.push(entry);
                }
                Err((code, message)) => errors.push(json!({
                    "RequestId": id, "ErrorCode": code, "ErrorMessage": message,
                })),
            }
            self.progress((n + 1) * 100 / requests.len().max(1));
        }
        let failed = errors.len();
        let output = json!({ "Version": "1.0", "Errors": errors, success_name: successes });
        let uri = self.output_uri(&input);
        self.storage
            .put(&uri, output.to_string().into_bytes())
            .map_err(|e| (500, format!("cannot write the output {uri}: {e}")))?;
        Ok(failed)
    }

    /// The manifest's request list, after its structure is checked.
    fn manifest(&self, uri: &str) -> Result<Vec<Value>, EntryError> {
        let bytes = self
            .storage
            .get(uri, MAX_MANIFEST_BYTES)
            .map_err(|e| bad(format!("cannot read the manifest {uri}: {e}")))?;
        let manifest: Value = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("the manifest {uri} is not valid JSON: {e}")))?;
        if manifest["Version"] != "1.0" {
            return Err(bad("the manifest's Version must be \"1.0\""));
        }
        let (list, max) = match self.job.kind {
            JobKind::SpeakerEnrollment => ("SpeakerEnrollmentRequests", MAX_ENROLLMENT_REQUESTS),
            JobKind::FraudsterRegistration => {
                ("FraudsterRegistrationRequests", MAX_REGISTRATION_REQUESTS)
            }
        };
        let Some(requests) = manifest[list].as_array() else {
            return Err(bad(format!("the manifest has no {list} list")));
        };
        if requests.len() > max {
            return Err(bad(format!(
                "the manifest has {} requests; a job takes at most {max}",
                requests.len()
            )));
        }
        Ok(requests.clone())
    }

    /// `<output>/<JobId>/<manifest file name>.out`.
    fn output_uri(&self, input: &str) -> String {
        let folder = self.job.job["OutputDataConfig"]["S3Uri"]
            .as_str()
            .unwrap_or_default()
            .trim_end_matches('/');
        let name = input.rsplit('/').next().unwrap_or("manifest");
        format!("{folder}/{}/{name}.out", self.job.job_id)
    }

    fn progress(&mut self, percent: usize) {
        self.job.job["JobProgress"] = json!({ "PercentComplete": percent.min(100) });
        // Progress is informative: a failed write must not fail the job.
        let _ = self.service.store.put_job(&self.job);
    }

    fn request(&mut self, request: &Value) -> Result<Value, EntryError> {
        let id = request["RequestId"].as_str().unwrap_or_default();
        if id.is_empty() {
            return Err(bad("a request has no RequestId"));
        }
        match self.job.kind {
            JobKind::SpeakerEnrollment => self.enroll(request),
            JobKind::FraudsterRegistration => self.register(request),
        }
    }

    /// The voiceprint of a request's audio files, weighted by their speech; at least `need`.
    fn voiceprint(&self, request: &Value, need: Duration) -> Result<Voiceprint, EntryError> {
        let Some(specs) = request["AudioSpecifications"]
            .as_array()
            .filter(|a| !a.is_empty())
        else {
            return Err(bad("the request has no AudioSpecifications"));
        };
        if specs.len() > MAX_FILES_PER_REQUEST {
            return Err(bad(format!(
                "the request has {} audio files; at most {MAX_FILES_PER_REQUEST} are allowed",
                specs.len()
            )));
        }
        let mut utterances = Vec::new();
        let mut speech = Duration::ZERO;
        for spec in specs {
            if let Some(u) = self.file_utterance(spec)? {
                speech += u.1;
                utterances.push(u);
            }
        }
        if speech < need {
            // Rounded down, so that 29.96 s never reads as "30.0 s … 30 s needed".
            let tenths = |d: Duration| (d.as_secs_f64() * 10.0).floor() / 10.0;
            let missing = need - speech;
            return Err(bad(format!(
                "Not enough speech: {:.1} s of net speech in {} file(s); {} s are needed, {:.2} s more",
                tenths(speech),
                specs.len(),
                need.as_secs(),
                (missing.as_secs_f64() * 100.0).ceil() / 100.0
            )));
        }
        Voiceprint::enrol(&utterances).map_err(|e| (500, format!("voiceprint: {e}")))
    }

    /// One file's channel as a voiceprint and its speech; `None` when it holds no speech.
    fn file_utterance(&self, spec: &Value) -> Result<Option<(Voiceprint, Duration)>, EntryError> {
        let uri = spec["S3Uri"].as_str().unwrap_or_default();
        let channel = match spec["ChannelId"].as_u64() {
            Some(c @ 0..=1) => c as usize,
            _ => return Err(bad(format!("{uri}: ChannelId must be 0 or 1"))),
        };
        let bytes = self
            .storage
            .get(uri, MAX_AUDIO_BYTES)
            .map_err(|e| bad(format!("cannot read {uri}: {e}")))?;
        let audio = decode_bytes(bytes, DecodeOptions::default())
            .map_err(|e| bad(format!("{uri} is not audio hark can read: {e}")))?;
        if channel >= audio.channels {
            return Err(bad(format!(
                "{uri} has {} channel(s); ChannelId {channel} does not exist",
                audio.channels
            )));
        }
        let samples: Vec<f32> = audio
            .samples
            .iter()
            .skip(channel)
            .step_by(audio.channels)
            .copied()
            .collect();
        match self.embedder.embed(&samples, audio.rate) {
            Ok(u) => Ok(Some((u.voiceprint, u.speech))),
            Err(VoiceprintError::NotEnoughSpeech { .. }) => Ok(None),
            Err(e) => Err(bad(format!("{uri}: {e}"))),
        }
    }
}

/// A service error as a request's error entry.
fn entry_error(e: Error) -> EntryError {
    let code = e.status();
    let message = match e {
        Error::Internal(_) => "internal error; the service log has the details".to_owned(),
        other => other.to_string(),
    };
    (code, message)
}

impl JobRun<'_> {
    fn enroll(&mut self, request: &Value) -> Result<Value, EntryError> {
        let svc = self.service;
        let domain_id = self.job.domain_id.clone();
        let customer = request["SpeakerId"].as_str().unwrap_or_default();
        let valid = (1..=256).contains(&customer.len())
            && customer
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && customer
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(bad(
                "SpeakerId must be a CustomerSpeakerId (1-256 of [a-zA-Z0-9_-], starting alphanumeric)",
            ));
        }
        let config = self.job.job["EnrollmentConfig"].clone();
        let overwrite = config["ExistingEnrollmentAction"] == "OVERWRITE";
        let existing = svc
            .store
            .speaker(&domain_id, SpeakerRef::Customer(customer))
            .map_err(|e| entry_error(e.into()))?;
        let status = existing.as_ref().map(|s| svc.speaker_status(s));
        match status {
            Some(SpeakerStatus::OptedOut) => {
                return Err((409, "The speaker opted out of voice authentication".into()));
            }
            Some(SpeakerStatus::Enrolled) if !overwrite => {
                return Ok(json!({
                    "GeneratedSpeakerId": existing.map(|s| s.generated_id),
                    "CustomerSpeakerId": customer,
                    "EnrollmentStatus": "DUPLICATE_SKIPPED",
                }));
            }
            _ => {}
        }
        let voiceprint = self.voiceprint(request, ENROLLMENT_SPEECH)?;
        self.screen(&config["FraudDetectionConfig"], &voiceprint)?;
        let speaker = svc
            .enroll_speaker(&domain_id, customer, &voiceprint.to_bytes())
            .map_err(entry_error)?;
        let outcome = if status == Some(SpeakerStatus::Enrolled) {
            "ENROLLMENT_OVERWRITE"
        } else {
            "NEW_ENROLLMENT"
        };
        Ok(json!({
            "GeneratedSpeakerId": speaker.generated_id,
            "CustomerSpeakerId": customer,
            "EnrollmentStatus": outcome,
        }))
    }

    /// Fraud screening before enrollment: with `FAIL`, a speaker whose risk against the
    /// watchlist reaches the threshold is not enrolled.
    fn screen(&self, config: &Value, voiceprint: &Voiceprint) -> Result<(), EntryError> {
        if config["FraudDetectionAction"] == "IGNORE" {
            return Ok(());
        }
        let threshold = config["RiskThreshold"].as_u64().unwrap_or(50);
        let watchlist = config["WatchlistIds"][0].as_str().unwrap_or_default();
        let index = self
            .service
            .watchlist_index(&self.job.domain_id, watchlist)
            .map_err(entry_error)?;
        let Some(similarity) = index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .closest(voiceprint)
            .map(|m| m.similarity)
        else {
            return Ok(());
        };
        let risk = u64::from(self.service.calibration.score(similarity));
        if risk >= threshold {
            return Err(bad(format!(
                "fraud verification checks failed: risk {risk} against watchlist {watchlist} reaches the threshold {threshold}"
            )));
        }
        Ok(())
    }

    fn register(&mut self, request: &Value) -> Result<Value, EntryError> {
        let config = self.job.job["RegistrationConfig"].clone();
        let voiceprint = self.voiceprint(request, REGISTRATION_SPEECH)?;
        let threshold = config["FraudsterSimilarityThreshold"]
            .as_u64()
            .unwrap_or(90);
        if config["DuplicateRegistrationAction"] != "REGISTER_AS_NEW"
            && let Some(m) = self.fraudsters.closest(&voiceprint)
        {
            let score = self.service.calibration.score(m.similarity);
            if u64::from(score) >= threshold {
                return Ok(json!({
                    "GeneratedFraudsterId": m.id,
                    "RegistrationStatus": "DUPLICATE_SKIPPED",
                    "FraudsterSimilarityScore": score,
                }));
            }
        }
        let watchlist = config["WatchlistIds"][0].as_str();
        let fraudster = self
            .service
            .register_fraudster(&self.job.domain_id, watchlist, Some(&voiceprint.to_bytes()))
            .map_err(entry_error)?;
        self.fraudsters
            .insert(fraudster.generated_id.clone(), &voiceprint);
        Ok(json!({
            "GeneratedFraudsterId": fraudster.generated_id,
            "RegistrationStatus": "NEW_REGISTRATION",
        }))
    }
}
