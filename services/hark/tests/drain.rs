//! SIGTERM drains instead of dropping calls: with real processes, a call streaming when the
//! signal arrives completes normally and its recording is delivered before `hark serve` exits,
//! `/readyz` says 503 meanwhile, and a new call is refused; past `drain_seconds` the calls still
//! live are asked to end.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::Hark;
use serde_json::Value;

fn start(dir: &Path, extra: &str) -> Hark {
    std::fs::write(
        dir.join("hark.toml"),
        format!("listen = \"127.0.0.1:0\"\n{extra}[recording]\npolicy = \"every\"\n"),
    )
    .unwrap();
    Hark::start(dir, &[], &[])
}

fn sigterm(hark: &Hark) {
    let status = Command::new("kill")
        .args(["-TERM", &hark.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_live_call(hark: &Hark) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: Value = serde_json::from_str(&hark.get("/v1/interactions").1).unwrap();
        if v["interactions"].as_array().is_some_and(|i| !i.is_empty()) {
            return;
        }
        assert!(Instant::now() < deadline, "no live call");
        std::thread::yield_now();
    }
}

fn stream(dir: &Path, hark: &Hark, seconds: u32) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir)
        .args([
            "stream",
            &format!("ws://{}/audiohook/ws", hark.addr),
            "--duration",
            &format!("{seconds}s"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The WAV files delivered under the recordings directory (the spool excluded).
fn delivered(dir: &Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == ".spool") {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "wav") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("hark-data/recordings"), &mut out);
    out
}

fn wav_seconds(path: &Path) -> f64 {
    let reader = hound::WavReader::open(path).unwrap();
    f64::from(reader.duration()) / f64::from(reader.spec().sample_rate)
}

#[test]
fn sigterm_lets_a_live_call_finish_and_delivers_its_recording_before_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let mut hark = start(dir.path(), "");
    assert_eq!(hark.get("/readyz").0, 200);
    let call = stream(dir.path(), &hark, 4);
    wait_live_call(&hark);
    let opened = hark.wait_for("call opened");
    assert!(opened["conversation"].is_string(), "{opened}");
    // Logged inside the call's span: every line of the call carries its session id.
    assert_eq!(opened["span"]["name"], "call", "{opened}");
    assert_eq!(opened["span"]["session"], opened["session"], "{opened}");

    let signalled = Instant::now();
    sigterm(&hark);
    hark.wait_for("draining: no new calls; live calls go on until they end");
    let (status, body) = hark.get("/readyz");
    assert_eq!((status, body.contains("draining")), (503, true), "{body}");
    let not_ready_after = signalled.elapsed();

    // A new call is refused while draining.
    let refused = stream(dir.path(), &hark, 1).wait_with_output().unwrap();
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("503"), "{}", text(&refused));

    // The live call completes normally.
    let finished = call.wait_with_output().unwrap();
    assert!(finished.status.success(), "{}", text(&finished));
    let call_ended_after = signalled.elapsed();

    // One INFO line per call: how long, how much paused, how many frames.
    let closed = hark.wait_for("call closed");
    assert!(closed["seconds"].as_f64().unwrap() >= 3.9, "{closed}");
    assert_eq!(closed["frames"], 20, "4 s of 200 ms frames: {closed}");
    let drained = hark.wait_for("drained");
    let stopped = hark.terminate_wait();
    let exited_after = signalled.elapsed();
    assert!(stopped.exit.success(), "{}", stopped.stderr);
    assert!(drained["seconds"].as_f64().unwrap() >= 1.0, "{drained}");

    // Its recording was delivered before the process ended: the whole call.
    let files = delivered(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!((wav_seconds(&files[0]) - 4.0).abs() < 0.1);
    assert!(not_ready_after < call_ended_after && call_ended_after <= exited_after);
    eprintln!(
        "drain timeline: /readyz 503 at {not_ready_after:?}, call ended at {call_ended_after:?}, exit at {exited_after:?}"
    );
}

#[test]
fn past_drain_seconds_the_live_calls_are_asked_to_end_and_still_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let mut hark = start(dir.path(), "drain_seconds = 1\n");
    let call = stream(dir.path(), &hark, 60);
    wait_live_call(&hark);
    let signalled = Instant::now();
    sigterm(&hark);
    hark.wait_for("drain time is up");
    let asked = hark.wait_for("asked the live calls to reconnect elsewhere and end");
    assert_eq!(asked["sessions"], 1);
    let finished = call.wait_with_output().unwrap();
    let out = text(&finished);
    assert!(out.contains("sessions: 1"), "{out}");
    let stopped = hark.terminate_wait();
    assert!(stopped.exit.success(), "{}", stopped.stderr);
    assert!(signalled.elapsed() < Duration::from_secs(30));
    let files = delivered(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let seconds = wav_seconds(&files[0]);
    // About the one second of drain the call was given.
    assert!((0.5..10.0).contains(&seconds), "{seconds} s recorded");
}
