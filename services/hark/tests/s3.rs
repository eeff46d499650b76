//! Recordings delivered to a real S3-compatible server (moto_server from PyPI, started here on
//! 127.0.0.1; `.ci/run` installs it): the object, its key and Chime's metadata, and an outage —
//! the store is down when the call ends, comes up later, and nothing is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::moto::{Moto, free_addr};
use common::{Hark, send};
use serde_json::Value;

fn start_hark(dir: &Path, s3: SocketAddr) -> (Hark, String) {
    // No keys in the file: they come from the AWS credential chain (here its variables), and
    // the http:// endpoint needs no allow_http.
    std::fs::write(
        dir.join("hark.toml"),
        "listen = \"127.0.0.1:0\"\n[recording.s3]\n",
    )
    .unwrap();
    let endpoint = format!("http://{s3}");
    let hark = Hark::start(
        dir,
        &[],
        &[
            ("HARK_RECORDING__S3__ENDPOINT", &endpoint),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    );
    let stored: toml::Table = std::fs::read_to_string(dir.join("hark-data/credentials.toml"))
        .unwrap()
        .parse()
        .unwrap();
    (
        hark,
        format!("Bearer {}", stored["recording"]["token"].as_str().unwrap()),
    )
}

/// Streams a call, records it to S3 with a Chime action, and returns the action's event.
fn record_a_call(dir: &Path, hark: &Hark, auth: &str) -> (String, Value) {
    let mut stream = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir)
        .args([
            "stream",
            &format!("ws://{}/audiohook/ws", hark.addr),
            "--duration",
            "2s",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let call_id = loop {
        let v: Value = serde_json::from_str(&hark.get("/v1/interactions").1).unwrap();
        if let Some(id) = v["interactions"][0]["sessions"][0].as_str() {
            break id.to_owned();
        }
        assert!(Instant::now() < deadline, "no live call");
        std::thread::yield_now();
    };
    let body = r#"{"SchemaVersion": "1.0", "Actions": [{"Type": "StartCallRecording", "Parameters": {"Track": "BOTH", "Destination": {"Type": "S3", "Location": "recordings/calls"}}}]}"#;
    let (status, events) = send(
        hark.addr,
        "POST",
        &format!("/v1/calls/{call_id}/actions"),
        &[("Authorization", auth)],
        body,
    );
    assert_eq!(status, 200);
    let event: Value = serde_json::from_str::<Value>(&events).unwrap()["Events"][0].clone();
    assert!(stream.wait().unwrap().success());
    (call_id, event)
}

/// Waits (bounded) for the one recording to be uploaded; returns its metadata.
fn uploaded(hark: &Hark, auth: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (_, body) = send(
            hark.addr,
            "GET",
            "/v1/recordings",
            &[("Authorization", auth)],
            "",
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        if let Some(r) = v["recordings"].as_array().and_then(|l| l.first())
            && r["location"]
                .as_str()
                .is_some_and(|l| l.starts_with("s3://"))
        {
            return r.clone();
        }
        assert!(Instant::now() < deadline, "not uploaded: {body}");
        std::thread::yield_now();
    }
}

fn check_object(moto: SocketAddr, recording: &Value, call_id: &str) {
    use object_store::Attribute;
    let key = recording["location"]
        .as_str()
        .unwrap()
        .trim_start_matches("s3://recordings/")
        .to_owned();
    assert!(
        key.starts_with("calls/") && key.ends_with(&format!("_{call_id}.wav")),
        "{key}"
    );
    assert!(recording["pending_upload"].is_null());
    let (bytes, attributes) = common::moto::get_object(moto, &key);
    assert_eq!((&bytes[..4], &bytes[8..12]), (&b"RIFF"[..], &b"WAVE"[..]));
    let meta = |k: &'static str| {
        attributes
            .get(&Attribute::Metadata(k.into()))
            .map(|v| v.as_ref().to_owned())
    };
    assert_eq!(meta("call-id").as_deref(), Some(call_id));
    assert_eq!(
        meta("recording-audio-file-format").as_deref(),
        Some("audio/wav")
    );
    let duration: f64 = meta("recording-duration").unwrap().parse().unwrap();
    assert!((duration - recording["duration_seconds"].as_f64().unwrap()).abs() < 0.001);
}

#[test]
fn recordings_are_uploaded_with_chime_keys_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start_on(free_addr());
    let (hark, auth) = start_hark(dir.path(), moto.addr);
    let (call_id, event) = record_a_call(dir.path(), &hark, &auth);
    assert_eq!(event["InvocationEventType"], "ACTION_SUCCESSFUL", "{event}");
    let reported = event["ActionData"]["CallRecordingDestination"]["Location"]
        .as_str()
        .unwrap();
    assert!(
        reported.starts_with("recordings/calls/") && reported.ends_with(&format!("_{call_id}.wav")),
        "{reported}"
    );
    let r = uploaded(&hark, &auth, Duration::from_secs(30));
    assert_eq!(
        r["location"].as_str().unwrap(),
        format!("s3://{reported}"),
        "uploaded where the action said"
    );
    check_object(moto.addr, &r, &call_id);
    let spool = dir.path().join("hark-data/recordings/.spool");
    assert_eq!(
        std::fs::read_dir(spool).unwrap().count(),
        0,
        "the local copy is gone once uploaded"
    );
}

#[test]
fn an_outage_delays_the_upload_but_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = free_addr(); // nothing listens there yet
    let (hark, auth) = start_hark(dir.path(), s3);
    let (call_id, event) = record_a_call(dir.path(), &hark, &auth);
    assert_eq!(event["InvocationEventType"], "ACTION_SUCCESSFUL");
    // The call is over and the store is down: the recording waits in the spool.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, metrics) = hark.get("/metrics");
        let failures: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("hark_recording_upload_failures_total "))
            .unwrap()
            .parse()
            .unwrap();
        if failures >= 2.0 {
            break;
        }
        assert!(Instant::now() < deadline, "no failed upload attempts");
        std::thread::yield_now();
    }
    let (_, body) = send(
        hark.addr,
        "GET",
        "/v1/recordings",
        &[("Authorization", &auth)],
        "",
    );
    let pending: Value = serde_json::from_str(&body).unwrap();
    assert!(
        pending["recordings"][0]["pending_upload"]
            .as_str()
            .unwrap()
            .starts_with("s3://recordings/calls/")
    );
    // The store comes up; the upload goes through on a later retry.
    let moto = Moto::start_on(s3);
    let r = uploaded(&hark, &auth, Duration::from_secs(60));
    check_object(moto.addr, &r, &call_id);
}
