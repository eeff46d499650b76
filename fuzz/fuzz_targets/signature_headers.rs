//! Any Signature-Input / Signature header values are parsed and verified without panicking, and
//! never authenticate without the secret.
#![no_main]

use hark_audiohook::proto::sfv::parse_dictionary;
use hark_audiohook::proto::signature::{ApiKeys, NonceCache, CoveredRequest, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse_dictionary(text);
    let (input, signature) = text.split_once('\n').unwrap_or((text, ""));
    let request = CoveredRequest {
        method: "GET".into(),
        scheme: "https".into(),
        authority: "audiohook.example.com".into(),
        request_target: "/ws".into(),
        headers: vec![
            ("x-api-key".into(), "key".into()),
            ("audiohook-organization-id".into(), "d7934305-0972-4844-938e-9060eef73d05".into()),
            ("audiohook-session-id".into(), "30b0e395-84d3-4570-ac13-9a62d8f514c0".into()),
            ("audiohook-correlation-id".into(), "e160e428-53e2-487c-977d-96989bf5c99d".into()),
            ("signature-input".into(), input.into()),
            ("signature".into(), signature.into()),
        ],
    };
    let mut keys = ApiKeys::default();
    keys.insert("key", Some("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")).unwrap();
    assert!(verify(&request, &keys, &mut NonceCache::new(16), 1_800_000_000).is_err());
});
