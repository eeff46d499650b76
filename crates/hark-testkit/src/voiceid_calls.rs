//! Voice ID scenarios on a test hark: enrol a caller from a recording, register a fraudster,
//! stream a call into a live session and read its decision — each the way a contact center's
//! flow would, through the AudioHook stream and the Voice ID API.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::error::TestkitError;
use crate::server::Hark;
use crate::voiceid::{VoiceIdClient, VoiceIdError};

/// How long a session, an enrolment or a job may take before a helper gives up.
const DEADLINE: Duration = Duration::from_secs(120);
/// How often a helper asks again while it waits.
const POLL: Duration = Duration::from_millis(50);

impl Hark {
    /// A call playing `audio` (customer on the left or only channel) into a live Voice ID
    /// session of `domain_id`, claiming `speaker_id` (customer id or generated id) when given;
    /// the session's `EvaluateSession` output once it has heard the whole call.
    pub async fn evaluate_call(
        &self,
        domain_id: &str,
        speaker_id: Option<&str>,
        audio: &Path,
    ) -> Result<Value, TestkitError> {
        let conversation = uuid::Uuid::new_v4().to_string();
        let options = self.voiceid_call(&conversation, domain_id, speaker_id);
        self.stream_file(&options, audio).await?;
        Ok(self
            .voiceid()
            .wait_for_evaluation(domain_id, &conversation)
            .await?)
    }

    /// Enrols `speaker_id` (the customer id) from a call playing `audio` — at least 30 s of
    /// speech — as an agent application does: start the session naming the caller, ask for
    /// enrolment, let the call play. The speaker's generated id.
    pub async fn enroll_speaker(
        &self,
        domain_id: &str,
        speaker_id: &str,
        audio: &Path,
    ) -> Result<String, TestkitError> {
        let voiceid = self.voiceid();
        let conversation = uuid::Uuid::new_v4().to_string();
        let session = json!({"DomainId": domain_id, "SessionNameOrId": conversation});
        voiceid
            .call(
                "HarkVoiceID.StartSession",
                &json!({"DomainId": domain_id, "SessionName": conversation, "SpeakerId": speaker_id}),
            )
            .await?;
        voiceid
            .call("HarkVoiceID.EnrollBySession", &session)
            .await?;
        let options = self.voiceid_call(&conversation, domain_id, None);
        self.stream_file(&options, audio).await?;
        voiceid
            .wait_for_evaluation(domain_id, &conversation)
            .await?;
        let described = voiceid
            .call("HarkVoiceID.DescribeSession", &session)
            .await?;
        let status = &described["Session"]["EnrollmentRequestDetails"]["Status"];
        if status != "COMPLETED" {
            return Err(unexpected(format!(
                "enrolment of {speaker_id} ended {status}: {described}"
            )));
        }
        let speaker = voiceid
            .call(
                "DescribeSpeaker",
                &json!({"DomainId": domain_id, "SpeakerId": speaker_id}),
            )
            .await?;
        text(&speaker["Speaker"]["GeneratedSpeakerId"], &speaker)
    }

    /// Registers the voice in `audio` as a fraudster of `domain_id`'s default watchlist by a
    /// fraudster registration job over a local file; the fraudster's generated id.
    pub async fn register_fraudster(
        &self,
        domain_id: &str,
        audio: &Path,
    ) -> Result<String, TestkitError> {
        let io = |e: std::io::Error| unexpected(format!("batch folder: {e}"));
        // Batch jobs read and write `file://` URIs only inside their roots: the default one.
        let batch = self.data_dir().join("voiceid-batch");
        std::fs::create_dir_all(&batch).map_err(io)?;
        let batch = batch.canonicalize().map_err(io)?;
        let name = uuid::Uuid::new_v4().to_string();
        let file = batch.join(format!("{name}.wav"));
        std::fs::copy(audio, &file).map_err(io)?;
        let manifest = batch.join(format!("{name}.json"));
        let requests = json!({"Version": "1.0", "FraudsterRegistrationRequests": [{
            "RequestId": "fraudster",
            "AudioSpecifications": [{"S3Uri": format!("file://{}", file.display()), "ChannelId": 0}],
        }]});
        std::fs::write(&manifest, requests.to_string()).map_err(io)?;
        let voiceid = self.voiceid();
        let started = voiceid
            .call(
                "StartFraudsterRegistrationJob",
                &json!({
                    "DomainId": domain_id,
                    "DataAccessRoleArn": "arn:aws:iam::000000000000:role/hark-testkit",
                    "InputDataConfig": {"S3Uri": format!("file://{}", manifest.display())},
                    "OutputDataConfig": {"S3Uri": format!("file://{}/out", batch.display())},
                }),
            )
            .await?;
        let job_id = text(&started["Job"]["JobId"], &started)?;
        voiceid
            .wait_for_job("DescribeFraudsterRegistrationJob", domain_id, &job_id)
            .await?;
        let out = batch.join(format!("out/{job_id}/{name}.json.out"));
        let output: Value = serde_json::from_slice(&std::fs::read(&out).map_err(io)?)
            .map_err(|e| unexpected(format!("{}: {e}", out.display())))?;
        text(
            &output["SuccessfulRegistrations"][0]["GeneratedFraudsterId"],
            &output,
        )
    }
}

impl VoiceIdClient {
    /// `EvaluateSession` of `session` (name or id) once the session has heard its whole call
    /// (`StreamingStatus` `ENDED`): the decisions it came to.
    pub async fn wait_for_evaluation(
        &self,
        domain_id: &str,
        session: &str,
    ) -> Result<Value, VoiceIdError> {
        let input = json!({"DomainId": domain_id, "SessionNameOrId": session});
        let deadline = Instant::now() + DEADLINE;
        loop {
            // The session exists once the call's `open` has reached hark: until then, 404.
            match self.call("EvaluateSession", &input).await {
                Ok(evaluation) if evaluation["StreamingStatus"] == "ENDED" => {
                    return Ok(evaluation);
                }
                Ok(_) => {}
                Err(VoiceIdError::Service { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
            if Instant::now() > deadline {
                return Err(VoiceIdError::Outcome(format!(
                    "session {session} did not end within {DEADLINE:?}"
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for a batch job (`DescribeSpeakerEnrollmentJob` or
    /// `DescribeFraudsterRegistrationJob`) to finish; its description. A job that fails or
    /// completes with errors is an error.
    pub async fn wait_for_job(
        &self,
        describe: &str,
        domain_id: &str,
        job_id: &str,
    ) -> Result<Value, VoiceIdError> {
        let input = json!({"DomainId": domain_id, "JobId": job_id});
        let deadline = Instant::now() + DEADLINE;
        loop {
            let job = self.call(describe, &input).await?;
            match job["Job"]["JobStatus"].as_str() {
                Some("COMPLETED") => return Ok(job),
                Some("SUBMITTED" | "IN_PROGRESS") if Instant::now() < deadline => {}
                _ => return Err(VoiceIdError::Outcome(format!("job {job_id}: {job}"))),
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn text(value: &Value, context: &Value) -> Result<String, TestkitError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| unexpected(format!("no id in {context}")))
}

fn unexpected(message: String) -> TestkitError {
    TestkitError::VoiceId(VoiceIdError::Outcome(message))
}
