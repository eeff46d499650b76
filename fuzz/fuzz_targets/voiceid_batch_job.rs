//! A Voice ID batch job over hostile input: the first byte picks enrollment or registration, the
//! rest up to the first 0xFF is the manifest, what follows is the bytes every audio URI returns.
//! Any input ends the job COMPLETED, COMPLETED_WITH_ERRORS or FAILED — never a panic, never a
//! job left running.
#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use hark_voiceid::records::JobStatus;
use hark_voiceid::{JobStorage, Keyring, StorageError, MemoryStore, Settings, SystemClock, VoiceId, VoiceIdStore};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Default)]
struct Objects {
    manifest: Vec<u8>,
    audio: Vec<u8>,
    written: HashMap<String, Vec<u8>>,
}

#[derive(Debug, Default)]
struct Storage(Mutex<Objects>);

impl JobStorage for Storage {
    fn get(&self, uri: &str, limit: u64) -> Result<Vec<u8>, StorageError> {
        let o = self.0.lock().map_err(|e| StorageError::Failed(e.to_string()))?;
        let bytes = if uri == "s3://fuzz-bucket/m.json" { &o.manifest } else { &o.audio };
        if bytes.len() as u64 > limit {
            return Err(StorageError::TooLarge { size: bytes.len() as u64, limit });
        }
        Ok(bytes.clone())
    }

    fn put(&self, uri: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let mut o = self.0.lock().map_err(|e| StorageError::Failed(e.to_string()))?;
        o.written.insert(uri.to_owned(), bytes);
        Ok(())
    }
}

struct World {
    svc: VoiceId,
    store: Arc<MemoryStore>,
    domain: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut ring = Keyring::default();
        ring.insert("alias/hark-default", [7; 32]);
        let store = Arc::new(MemoryStore::default());
        let svc = VoiceId::new(store.clone(), Arc::new(SystemClock), ring, &[1; 32], Settings::default());
        let created = svc
            .handle(
                "VoiceID.CreateDomain",
                br#"{"Name":"fuzz","ServerSideEncryptionConfiguration":{"KmsKeyId":"alias/hark-default"}}"#,
            )
            .expect("a domain");
        let domain = created["Domain"]["DomainId"].as_str().expect("id").to_owned();
        World { svc, store, domain }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else { return };
    let split = rest.iter().position(|&b| b == 0xFF).unwrap_or(rest.len());
    let storage = Storage::default();
    {
        let mut o = storage.0.lock().expect("lock");
        o.manifest = rest[..split].to_vec();
        o.audio = rest.get(split + 1..).unwrap_or_default().to_vec();
    }
    let w = world();
    let op = if kind % 2 == 0 { "StartSpeakerEnrollmentJob" } else { "StartFraudsterRegistrationJob" };
    let body = format!(
        r#"{{"DomainId":"{}","DataAccessRoleArn":"arn:aws:iam::000000000000:role/f","InputDataConfig":{{"S3Uri":"s3://fuzz-bucket/m.json"}},"OutputDataConfig":{{"S3Uri":"s3://fuzz-bucket/out"}}}}"#,
        w.domain
    );
    let job = w.svc.handle(&format!("VoiceID.{op}"), body.as_bytes()).expect("job accepted");
    let id = job["Job"]["JobId"].as_str().expect("job id").to_owned();
    w.svc.run_job(&w.domain, &id, &storage).expect("job ran");
    let done = w.store.job(&w.domain, &id).expect("store").expect("job");
    assert!(!done.status.is_active(), "job left {:?}", done.status);
    if done.status != JobStatus::Failed {
        let o = storage.0.lock().expect("lock");
        let out = o.written.values().next().expect("output written");
        let parsed: serde_json::Value = serde_json::from_slice(out).expect("output is JSON");
        assert_eq!(parsed["Version"], "1.0");
    }
});
