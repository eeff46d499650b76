//! The SigV4 verifier over hostile requests: `name:value` header lines, a blank line, the body.
//! Anything is answered with an AWS error of status 400 or 403, never a panic; a request nobody
//! signed never verifies; and a request that hark's signer signed (over the same headers and
//! body) always does, while the same signature over one more byte of body never does.
#![no_main]

use chrono::{DateTime, TimeZone, Utc};
use hark_voiceid::sigv4::{Policy, SignedRequest, amz_date, precheck, sign, verify};
use libfuzzer_sys::fuzz_target;

const KEY: &str = "AKIDFUZZ";
const SECRET: &str = "fuzzsecret";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).single().unwrap_or_default()
}

fn secret(key: &str) -> Option<String> {
    (key == KEY).then(|| SECRET.to_owned())
}

fn parse(data: &[u8]) -> Option<(Vec<(String, String)>, &[u8])> {
    let split = data.windows(2).position(|w| w == b"\n\n").unwrap_or(data.len());
    let head = std::str::from_utf8(&data[..split]).ok()?;
    let body = data.get(split + 2..).unwrap_or_default();
    let headers = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    Some((headers, body))
}

fuzz_target!(|data: &[u8]| {
    let Some((mut headers, body)) = parse(data) else { return };
    // As received: a verdict, never a panic, and only a genuine signature would pass.
    for result in [
        precheck(&headers, now(), &Policy::default(), secret).map(|_| ()),
        verify(
            &SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body },
            now(),
            &Policy::default(),
            secret,
        )
        .map(|_| ()),
    ] {
        if let Err(e) = result {
            assert!([400, 403].contains(&e.status()), "{e}");
        }
    }
    // Signed by our signer over plain header names: it verifies; one more body byte does not.
    headers.retain(|(n, v)| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && v.bytes().all(|b| (0x20..0x7f).contains(&b))
            && !n.eq_ignore_ascii_case("authorization")
            && !n.eq_ignore_ascii_case("host")
            && !n.eq_ignore_ascii_case("x-amz-date")
            && !n.eq_ignore_ascii_case("x-amz-content-sha256")
    });
    let date = amz_date(now());
    headers.push(("host".into(), "voiceid.fuzz".into()));
    headers.push(("x-amz-date".into(), date.clone()));
    let authorization = sign(
        &SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body },
        KEY,
        SECRET,
        "us-east-1",
        &date,
    );
    headers.push(("authorization".into(), authorization));
    let genuine = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body };
    assert!(verify(&genuine, now(), &Policy::default(), secret).is_ok());
    let mut longer = body.to_vec();
    longer.push(b'!');
    let tampered = SignedRequest { body: &longer, ..genuine };
    assert!(verify(&tampered, now(), &Policy::default(), secret).is_err());
});
