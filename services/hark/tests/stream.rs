//! `hark stream` against `hark serve`, both as real processes on 127.0.0.1: sessions counted by
//! the hub and in /metrics, probes, secure pauses, files, and refused credentials.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::Hark;
use serde_json::Value;

fn stream(dir: &Path, hark: &Hark, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hark"));
    cmd.current_dir(dir)
        .arg("stream")
        .arg(format!("ws://{}/audiohook/ws", hark.addr))
        .args(["--json"])
        .args(args);
    cmd
}

fn summary(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The value of an unlabelled metric.
fn metric(hark: &Hark, name: &str) -> f64 {
    let (_, body) = hark.get("/metrics");
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
        .parse()
        .unwrap()
}

#[test]
fn sessions_stream_through_the_hub_and_show_in_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let hark = Hark::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]);

    // Three 3-second calls, visible as live interactions while they stream.
    let running: Child = stream(dir.path(), &hark, &["--sessions", "3", "--duration", "3s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = hark.get("/v1/interactions");
        let live: Value = serde_json::from_str(&body).unwrap();
        if live["interactions"].as_array().unwrap().len() == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hub never showed 3 live interactions: {body}"
        );
        std::thread::yield_now();
    }
    assert_eq!(metric(&hark, "hark_audiohook_sessions_open"), 3.0);
    let output = running.wait_with_output().unwrap();
    assert!(output.status.success());
    let s = summary(&output);
    assert_eq!((s["ok"].as_u64(), s["failed"].as_u64()), (Some(3), Some(0)));
    assert_eq!(s["frames"], 45, "3 sessions x 3 s in 200 ms frames");
    assert_eq!(s["errors"], serde_json::json!([]));

    assert_eq!(metric(&hark, "hark_audiohook_frames_total"), 45.0);
    assert_eq!(metric(&hark, "hark_audiohook_bytes_total"), 45.0 * 3200.0);
    assert_eq!(metric(&hark, "hark_audiohook_sessions_total"), 3.0);
    // Sessions leave the hub when their sockets close; the client may finish first.
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&hark, "hark_audiohook_sessions_open") != 0.0 {
        assert!(Instant::now() < deadline, "sessions never left the hub");
        std::thread::yield_now();
    }
    let (_, body) = hark.get("/v1/interactions");
    assert_eq!(body, r#"{"interactions":[]}"#);
}

#[test]
fn probes_pauses_files_and_bad_keys() {
    let dir = tempfile::tempdir().unwrap();
    let hark = Hark::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]);

    let probe = stream(dir.path(), &hark, &["--probe"]).output().unwrap();
    assert!(probe.status.success());
    assert_eq!(summary(&probe)["ok"], 1);
    assert_eq!(metric(&hark, "hark_audiohook_probes_total"), 1.0);

    // A secure pause from 0.4 s to 1.0 s of a 1.4 s call withholds three 200 ms frames.
    let paused = stream(
        dir.path(),
        &hark,
        &[
            "--duration",
            "1.4s",
            "--pause-at",
            "0.4s",
            "--resume-at",
            "1s",
        ],
    )
    .output()
    .unwrap();
    assert!(
        paused.status.success(),
        "{}",
        String::from_utf8_lossy(&paused.stderr)
    );
    assert_eq!(summary(&paused)["frames"], 4);
    assert!((metric(&hark, "hark_audiohook_paused_seconds_total") - 0.6).abs() < 1e-9);

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/hark-audio/tests/fixtures/formats/stereo-44k.flac");
    let file = stream(dir.path(), &hark, &["--file", fixture.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(file.status.success());
    assert_eq!(
        summary(&file)["frames"],
        5,
        "one second of FLAC, resampled to 8 kHz"
    );

    let refused = stream(
        dir.path(),
        &hark,
        &["--api-key", "not-a-key", "--duration", "1s"],
    )
    .output()
    .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        summary(&refused)["errors"],
        serde_json::json!([["HTTP 401", 1]])
    );
    let (_, body) = hark.get("/metrics");
    assert!(
        body.contains(
            "hark_http_requests_total{route=\"/audiohook/ws\",method=\"GET\",status=\"401\"} 1"
        ),
        "{body}"
    );

    let no_server = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .args([
            "stream",
            "ws://127.0.0.1:9/audiohook/ws",
            "--duration",
            "1s",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(no_server.status.code(), Some(1));
    assert_eq!(
        summary(&no_server)["errors"],
        serde_json::json!([["connection", 1]])
    );
}

#[test]
fn stream_without_credentials_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .args(["stream", "ws://127.0.0.1:9/audiohook/ws"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no --api-key given"));
}

#[test]
fn stream_finds_the_credentials_where_hark_toml_puts_the_data() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hark.toml"),
        "listen = \"127.0.0.1:0\"\ndata_dir = \"elsewhere\"\n",
    )
    .unwrap();
    let hark = Hark::start(dir.path(), &[], &[]);
    assert!(dir.path().join("elsewhere/credentials.toml").is_file());
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .args([
            "stream",
            &format!("ws://{}/audiohook/ws", hark.addr),
            "--duration",
            "1s",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
