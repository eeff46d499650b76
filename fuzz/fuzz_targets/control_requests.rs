//! The small parsers of hark's control requests, on hostile input: a `Range` header against
//! any file size, CXone record-on-demand paths and query values, and the `customConfig` of an
//! AudioHook `open` that binds a call to Voice ID. None may panic; what they accept must be
//! consistent (a range inside the file, an operation with a user).
#![no_main]

use hark_http::range::ByteRange;
use hark_recording::cxone::OnDemandRequest;
use hark_voiceid::CallBinding;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match selector % 3 {
        0 => {
            let total = u64::from(selector) * 997 + rest.len() as u64;
            if let ByteRange::Part { first, last } = ByteRange::parse(Some(&text), total) {
                assert!(first <= last && last < total, "{first}-{last} of {total}");
            }
        }
        1 => {
            let mut parts = text.splitn(3, '\n');
            let (operation, user, media) = (parts.next(), parts.next(), parts.next());
            if let Ok(request) = OnDemandRequest::parse(operation.unwrap_or_default(), user, media)
            {
                assert!(!request.user_id.is_empty());
            }
        }
        _ => {
            if let Ok(serde_json::Value::Object(config)) = serde_json::from_slice(rest) {
                let _ = CallBinding::for_call("org", "conversation", Some(&config));
            }
        }
    }
});
