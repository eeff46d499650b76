//! The Voice ID request decoder and handlers: the first line is the `X-Amz-Target`, the rest the
//! body. Any input is a typed request or a typed error with an HTTP status of the model, never a
//! panic; what decodes also runs through the service (in memory, with one live domain).
#![no_main]

use std::sync::{Arc, OnceLock};

use hark_voiceid::{Keyring, MemoryStore, Settings, SystemClock, VoiceId};
use libfuzzer_sys::fuzz_target;

fn service() -> &'static (VoiceId, String) {
    static SERVICE: OnceLock<(VoiceId, String)> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let mut ring = Keyring::default();
        ring.insert("alias/hark-default", [7; 32]);
        let svc = VoiceId::new(
            Arc::new(MemoryStore::default()),
            Arc::new(SystemClock),
            ring,
            &[1; 32],
            Settings::default(),
        );
        let created = svc
            .handle(
                "VoiceID.CreateDomain",
                br#"{"Name":"fuzz","ServerSideEncryptionConfiguration":{"KmsKeyId":"alias/hark-default"}}"#,
            )
            .expect("a domain");
        let id = created["Domain"]["DomainId"].as_str().expect("id").to_owned();
        (svc, id)
    })
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(target) = std::str::from_utf8(&data[..split]) else { return };
    let body = data.get(split + 1..).unwrap_or_default();
    match hark_voiceid::api::decode(target, body) {
        Ok((request, _)) => assert!(!request.operation().is_empty()),
        Err(e) => {
            assert!([400, 402, 403, 404, 409, 429, 500].contains(&e.status()));
            assert!(e.body()["__type"].is_string());
        }
    }
    // The same bytes with the live domain's id spliced in reach the handlers behind validation.
    let (svc, domain) = service();
    let body = String::from_utf8_lossy(body).replace("DOMAIN", domain);
    if let Err(e) = svc.handle(target, body.as_bytes()) {
        assert!(e.status() >= 400 && e.status() < 600);
        assert_ne!(e.code(), "InternalServerException", "{e}");
    }
});
