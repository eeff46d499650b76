//! Batch-job rules on the in-memory store with objects in memory: lifecycle, quotas, manifest
//! checks, per-request errors, restarts. (Real audio and S3: services/hark/tests/voiceid.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use hark_voiceid::crypto::DEFAULT_KEY_ID;
use hark_voiceid::{
    Error, JobStorage, Keyring, ManualClock, MemoryStore, Settings, StorageError, VoiceId,
    VoiceIdStore,
};
use serde_json::{Value, json};

/// Objects by URI.
#[derive(Debug, Default)]
struct Objects(Mutex<HashMap<String, Vec<u8>>>);

impl JobStorage for Objects {
    fn get(&self, uri: &str, limit: u64) -> Result<Vec<u8>, StorageError> {
        let objects = self.0.lock().unwrap();
        let bytes = objects.get(uri).ok_or(StorageError::NotFound)?;
        if bytes.len() as u64 > limit {
            return Err(StorageError::TooLarge {
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes.clone())
    }

    fn put(&self, uri: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.0.lock().unwrap().insert(uri.to_owned(), bytes);
        Ok(())
    }
}

struct World {
    svc: VoiceId,
    store: Arc<MemoryStore>,
    objects: Objects,
    domain: String,
}

fn world() -> World {
    let store = Arc::new(MemoryStore::default());
    let mut ring = Keyring::default();
    ring.insert(DEFAULT_KEY_ID, Keyring::generate_key().unwrap());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap(),
    ));
    let svc = VoiceId::new(store.clone(), clock, ring, &[3; 32], Settings::default());
    let d = svc
        .handle(
            "VoiceID.CreateDomain",
            json!({"Name": "jobs", "ServerSideEncryptionConfiguration": {"KmsKeyId": DEFAULT_KEY_ID}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    let domain = d["Domain"]["DomainId"].as_str().unwrap().to_owned();
    World {
        svc,
        store,
        objects: Objects::default(),
        domain,
    }
}

impl World {
    fn call(&self, op: &str, body: Value) -> Result<Value, Error> {
        self.svc
            .handle(&format!("VoiceID.{op}"), body.to_string().as_bytes())
    }

    fn start(&self, op: &str, manifest: &str, extra: Value) -> Result<Value, Error> {
        let mut body = json!({
            "DomainId": self.domain,
            "DataAccessRoleArn": "arn:aws:iam::000000000000:role/r",
            "InputDataConfig": {"S3Uri": manifest},
            "OutputDataConfig": {"S3Uri": "s3://bucket/out/"},
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.call(op, body)
    }

    fn run(&self, job: &Value) -> Value {
        let id = job["Job"]["JobId"].as_str().unwrap();
        self.svc.run_job(&self.domain, id, &self.objects).unwrap();
        self.call(
            "DescribeSpeakerEnrollmentJob",
            json!({"DomainId": self.domain, "JobId": id}),
        )
        .or_else(|_| {
            self.call(
                "DescribeFraudsterRegistrationJob",
                json!({"DomainId": self.domain, "JobId": id}),
            )
        })
        .unwrap()["Job"]
            .clone()
    }

    fn output(&self, job: &Value) -> Value {
        let uri = format!(
            "s3://bucket/out/{}/m.json.out",
            job["JobId"].as_str().unwrap()
        );
        serde_json::from_slice(&self.objects.get(&uri, u64::MAX).unwrap()).unwrap()
    }
}

#[test]
fn one_active_job_per_kind_and_the_job_is_claimed_once() {
    let w = world();
    w.objects
        .put(
            "s3://bucket/m.json",
            br#"{"Version":"1.0","SpeakerEnrollmentRequests":[]}"#.to_vec(),
        )
        .unwrap();
    let first = w
        .start("StartSpeakerEnrollmentJob", "s3://bucket/m.json", json!({}))
        .unwrap();
    assert_eq!(first["Job"]["JobStatus"], "SUBMITTED");
    assert_eq!(
        first["Job"]["EnrollmentConfig"]["FraudDetectionConfig"]["RiskThreshold"],
        50
    );
    let e = w
        .start("StartSpeakerEnrollmentJob", "s3://bucket/m.json", json!({}))
        .unwrap_err();
    assert_eq!(e.code(), "ServiceQuotaExceededException");
    // The other kind is not blocked.
    w.start(
        "StartFraudsterRegistrationJob",
        "s3://bucket/m.json",
        json!({}),
    )
    .unwrap();
    let done = w.run(&first);
    assert_eq!(done["JobStatus"], "COMPLETED");
    assert_eq!(done["JobProgress"]["PercentComplete"], 100);
    // Running it again does nothing (it is no longer SUBMITTED).
    w.svc
        .run_job(
            &w.domain,
            first["Job"]["JobId"].as_str().unwrap(),
            &w.objects,
        )
        .unwrap();
    let out = w.output(&done);
    assert_eq!(
        out,
        json!({"Version": "1.0", "Errors": [], "SuccessfulEnrollments": []})
    );
    w.start("StartSpeakerEnrollmentJob", "s3://bucket/m.json", json!({}))
        .unwrap();
}

#[test]
fn manifests_are_checked_as_a_whole_and_per_request() {
    let w = world();
    let cases: [(&str, &[u8], &str); 3] = [
        ("s3://bucket/missing.json", b"", "cannot read the manifest"),
        ("s3://bucket/v2.json", br#"{"Version":"2.0"}"#, "Version"),
        (
            "s3://bucket/nolist.json",
            br#"{"Version":"1.0"}"#,
            "no SpeakerEnrollmentRequests",
        ),
    ];
    for (uri, body, message) in cases {
        if !body.is_empty() {
            w.objects.put(uri, body.to_vec()).unwrap();
        }
        let job = w
            .start("StartSpeakerEnrollmentJob", uri, json!({}))
            .unwrap();
        let done = w.run(&job);
        assert_eq!(done["JobStatus"], "FAILED", "{uri}");
        assert_eq!(done["FailureDetails"]["StatusCode"], 400);
        let m = done["FailureDetails"]["Message"].as_str().unwrap();
        assert!(m.contains(message), "{m}");
    }
    let manifest = json!({"Version": "1.0", "SpeakerEnrollmentRequests": [
        {"RequestId": "r1", "SpeakerId": "id#aaaaaaaaaaaaaaaaaaaaaa", "AudioSpecifications": [{"S3Uri": "s3://bucket/a.wav", "ChannelId": 0}]},
        {"RequestId": "r2", "SpeakerId": "ok", "AudioSpecifications": []},
        {"RequestId": "r2", "SpeakerId": "ok", "AudioSpecifications": [{"S3Uri": "s3://bucket/a.wav", "ChannelId": 0}]},
        {"RequestId": "r3", "SpeakerId": "ok3", "AudioSpecifications": [{"S3Uri": "s3://bucket/a.wav", "ChannelId": 2}]},
        {"RequestId": "r4", "SpeakerId": "ok4", "AudioSpecifications": vec![json!({"S3Uri": "s3://bucket/a.wav", "ChannelId": 0}); 11]},
    ]});
    w.objects
        .put("s3://bucket/m.json", manifest.to_string().into_bytes())
        .unwrap();
    let job = w
        .start("StartSpeakerEnrollmentJob", "s3://bucket/m.json", json!({}))
        .unwrap();
    let done = w.run(&job);
    assert_eq!(done["JobStatus"], "COMPLETED_WITH_ERRORS");
    let errors = w.output(&done)["Errors"].clone();
    let message = |i: usize| errors[i]["ErrorMessage"].as_str().unwrap().to_owned();
    assert_eq!(errors.as_array().unwrap().len(), 5, "{errors}");
    assert!(message(0).contains("CustomerSpeakerId"));
    assert!(message(1).contains("no AudioSpecifications"));
    assert!(message(2).contains("more than once"));
    assert!(message(3).contains("ChannelId must be 0 or 1"));
    assert!(message(4).contains("at most 10"));
}

#[test]
fn file_uris_pass_validation_and_output_encryption_is_refused() {
    let w = world();
    let job = w
        .start(
            "StartFraudsterRegistrationJob",
            "file:///srv/batch/m.json",
            json!({}),
        )
        .unwrap();
    assert_eq!(
        job["Job"]["InputDataConfig"]["S3Uri"],
        "file:///srv/batch/m.json"
    );
    let e = w
        .start(
            "StartSpeakerEnrollmentJob",
            "http://elsewhere/m.json",
            json!({}),
        )
        .unwrap_err();
    assert_eq!(e.code(), "ValidationException");
    let e = w
        .start(
            "StartSpeakerEnrollmentJob",
            "s3://bucket/m.json",
            json!({"OutputDataConfig": {"S3Uri": "s3://bucket/out", "KmsKeyId": "k"}}),
        )
        .unwrap_err();
    assert!(e.to_string().contains("KmsKeyId"), "{e}");
    let e = w
        .start(
            "StartSpeakerEnrollmentJob",
            "s3://bucket/m.json",
            json!({"EnrollmentConfig": {"FraudDetectionConfig": {"WatchlistIds": ["W".repeat(22)]}}}),
        )
        .unwrap_err();
    assert_eq!(e.body()["ResourceType"], "WATCHLIST");
}

#[test]
fn jobs_interrupted_by_a_restart_fail_with_a_reason() {
    let w = world();
    let job = w
        .start("StartSpeakerEnrollmentJob", "s3://bucket/m.json", json!({}))
        .unwrap();
    assert_eq!(w.svc.fail_interrupted_jobs().unwrap(), 1);
    let id = job["Job"]["JobId"].as_str().unwrap();
    let stored = w.store.job(&w.domain, id).unwrap().unwrap();
    assert_eq!(stored.job["JobStatus"], "FAILED");
    assert!(
        stored.job["FailureDetails"]["Message"]
            .as_str()
            .unwrap()
            .contains("restarted")
    );
    assert_eq!(w.svc.fail_interrupted_jobs().unwrap(), 0);
    // An operator can fail one job; an ended job stays as it is.
    let job = w
        .start("StartSpeakerEnrollmentJob", "s3://bucket/m.json", json!({}))
        .unwrap();
    let id = job["Job"]["JobId"].as_str().unwrap();
    w.svc.fail_job(&w.domain, id).unwrap();
    let stored = w.store.job(&w.domain, id).unwrap().unwrap();
    assert_eq!(stored.job["FailureDetails"]["StatusCode"], 500);
    assert_eq!(
        w.svc.fail_job(&w.domain, id).unwrap_err().code(),
        "ValidationException"
    );
    assert_eq!(
        w.svc.fail_job(&w.domain, "x").unwrap_err().code(),
        "ResourceNotFoundException"
    );
}
