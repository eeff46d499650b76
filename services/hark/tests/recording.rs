//! Recording end to end: `hark stream` plays a two-tone call (customer 440 Hz left, agent
//! 1000 Hz right) into `hark serve` while the test drives record on demand and call-leg actions
//! over HTTP; the delivered WAV must have the customer left, silence with tones where paused, and
//! audio again after resume. Do-not-record then stops a recording and refuses any restart.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::{Hark, get_raw, send};
use hark_audio::analysis::{peak, tone_power_dbfs};
use serde_json::Value;

struct Api<'a> {
    hark: &'a Hark,
    auth: String,
}

impl Api<'_> {
    fn call(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let (status, body) = send(
            self.hark.addr,
            method,
            path,
            &[("Authorization", &self.auth)],
            body,
        );
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    fn on_demand(&self, operation: &str, user: &str) -> (u16, Value) {
        self.call(
            "POST",
            &format!(
                "/interaction-recording-management-service/interactions/{operation}?userId={user}"
            ),
            "",
        )
    }

    fn action(&self, call_id: &str, kind: &str) -> Value {
        let body = format!(
            r#"{{"SchemaVersion": "1.0", "Actions": [{{"Type": "{kind}", "Parameters": {{"CallId": "{call_id}"}}}}]}}"#
        );
        let (status, events) = self.call("POST", &format!("/v1/calls/{call_id}/actions"), &body);
        assert_eq!(status, 200);
        events["Events"][0].clone()
    }

    /// Waits (bounded) until `check` holds for the leg's status.
    fn wait_status(&self, call_id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (status, body) = self.call("GET", &format!("/v1/calls/{call_id}/recording"), "");
            if status == 200 && check(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "never reached: {what} (last: {body})"
            );
            std::thread::yield_now();
        }
    }

    fn wait_recordings(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, body) = self.call("GET", "/v1/recordings", "");
            let list = body["recordings"].as_array().cloned().unwrap_or_default();
            if list.len() >= n {
                return list;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {n} recordings: {body}"
            );
            std::thread::yield_now();
        }
    }
}

fn start(dir: &Path) -> (Hark, String) {
    let hark = Hark::start(dir, &["--listen", "127.0.0.1:0"], &[]);
    let stored: toml::Table = std::fs::read_to_string(dir.join("hark-data/credentials.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let token = stored["recording"]["token"].as_str().unwrap().to_owned();
    (hark, format!("Bearer {token}"))
}

fn stream_call(dir: &Path, hark: &Hark, seconds: u32, agent: &str) -> Child {
    stream_leg(dir, hark, seconds, agent, None)
}

/// A call leg, optionally of a given conversation (contact).
fn stream_leg(
    dir: &Path,
    hark: &Hark,
    seconds: u32,
    agent: &str,
    conversation: Option<&str>,
) -> Child {
    common::stream_call(dir, hark.addr, seconds, agent, conversation)
}

/// The call id (AudioHook session id) of the only live interaction.
fn live_call(hark: &Hark) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = hark.get("/v1/interactions");
        let v: Value = serde_json::from_str(&body).unwrap();
        if let Some(id) = v["interactions"][0]["sessions"][0].as_str() {
            return id.to_owned();
        }
        assert!(Instant::now() < deadline, "no live call");
        std::thread::yield_now();
    }
}

/// Classifies each 20 ms block of the customer channel: C customer audio, T marker tone,
/// S silence, X anything else; runs are collapsed.
fn shape(left: &[i16]) -> String {
    let mut out = String::new();
    for block in left.chunks(160) {
        let c = if peak(block) == 0 {
            'S'
        } else if tone_power_dbfs(block, 440.0, 8000) > -16.0 {
            'C'
        } else if tone_power_dbfs(block, 1000.0, 8000) > -20.0 {
            'T'
        } else {
            'X'
        };
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

#[test]
fn on_demand_start_pause_resume_and_call_end_deliver_the_right_file() {
    let dir = tempfile::tempdir().unwrap();
    let (hark, auth) = start(dir.path());
    let api = Api { hark: &hark, auth };
    let (status, _) = send(hark.addr, "GET", "/v1/recordings", &[], "");
    assert_eq!(status, 401, "the recording API needs the token");
    let wrong = [("Authorization", "Bearer hark_rec_not-the-token")];
    let path =
        "/interaction-recording-management-service/interactions/do-not-record?userId=agent-7";
    assert_eq!(send(hark.addr, "POST", path, &wrong, "").0, 401);

    let mut stream = stream_call(dir.path(), &hark, 6, "agent-7");
    let call_id = live_call(&hark);
    let (status, body) = api.on_demand("start-recording-on-demand", "agent-7");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        api.on_demand("start-recording-on-demand", "agent-7").0,
        409,
        "already recording"
    );
    assert_eq!(api.on_demand("start-recording-on-demand", "nobody").0, 404);

    api.wait_status(&call_id, "1 s recorded", |s| {
        s["billable_seconds"].as_f64().unwrap() >= 1.0
    });
    assert_eq!(
        api.action(&call_id, "PauseCallRecording")["InvocationEventType"],
        "ACTION_SUCCESSFUL"
    );
    api.wait_status(&call_id, "paused 1.5 s", |s| {
        s["state"] == "paused" && s["billable_seconds"].as_f64().unwrap() >= 2.5
    });
    assert_eq!(
        api.action(&call_id, "ResumeCallRecording")["InvocationEventType"],
        "ACTION_SUCCESSFUL"
    );
    let failed = api.action(&call_id, "ResumeCallRecording");
    assert_eq!(
        (
            failed["InvocationEventType"].as_str(),
            failed["ActionData"]["ErrorType"].as_str()
        ),
        (Some("ACTION_FAILED"), Some("InvalidActionParameter"))
    );
    assert!(stream.wait().unwrap().success());

    let recordings = api.wait_recordings(1);
    let r = &recordings[0];
    assert_eq!(r["call_id"], call_id.as_str());
    assert!(
        r["error"].is_null() && r["dropped_blocks"] == 0 && r["recovered"] == false,
        "{r}"
    );
    let path = dir.path().join(r["location"].as_str().unwrap());
    let mut reader = hound::WavReader::open(&path).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    let seconds = samples.len() as f64 / 2.0 / 8000.0;
    assert!((seconds - r["duration_seconds"].as_f64().unwrap()).abs() < 1e-9);
    assert!(
        (3.0..=6.0).contains(&seconds),
        "{seconds} s: no longer than the call"
    );
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(
        shape(&left),
        "CTSTC",
        "customer audio, tone, silence, tone, customer audio"
    );
    assert!(
        tone_power_dbfs(&right[..1600], 1000.0, 8000) > -16.0,
        "the agent is on the right"
    );
    assert!(
        tone_power_dbfs(&right[..1600], 440.0, 8000) < -40.0,
        "and only the agent"
    );

    // The recordings API: by id, filtered, and the audio with ranges.
    let id = r["id"].as_str().unwrap();
    assert_eq!(
        api.call("GET", &format!("/v1/recordings/{id}"), "").1["call_id"],
        call_id.as_str()
    );
    assert_eq!(api.call("GET", "/v1/recordings/nope", "").0, 404);
    let count = |query: &str| {
        api.call("GET", &format!("/v1/recordings?{query}"), "").1["recordings"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count("agentId=agent-7"), 1);
    assert_eq!(count("agentId=agent-8"), 0);
    assert_eq!(count(&format!("callId={call_id}")), 1);
    assert_eq!(count("from=2099-01-01T00:00:00Z"), 0);
    let bearer = [("Authorization", api.auth.as_str())];
    let (status, _, whole) = get_raw(hark.addr, &format!("/v1/recordings/{id}/audio"), &bearer);
    assert_eq!((status, whole), (200, std::fs::read(&path).unwrap()));
    let ranged = [
        ("Authorization", api.auth.as_str()),
        ("Range", "bytes=0-11"),
    ];
    let (status, head, first) = get_raw(hark.addr, &format!("/v1/recordings/{id}/audio"), &ranged);
    assert_eq!(status, 206);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-range: bytes 0-11/"),
        "{head}"
    );
    assert_eq!((&first[..4], &first[8..12]), (&b"RIFF"[..], &b"WAVE"[..]));

    let (_, metrics) = hark.get("/metrics");
    for line in [
        "hark_recording_started_total 1",
        "hark_recording_finished_total{outcome=\"delivered\"} 1",
        "hark_recording_active 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} not in /metrics");
    }
    let recorded: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hark_recording_recorded_seconds_total "))
        .unwrap()
        .parse()
        .unwrap();
    let billable: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hark_recording_billable_seconds_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((recorded - seconds).abs() < 1e-6);
    assert!(
        billable >= recorded - 0.25,
        "billable {billable} s covers the file's {recorded} s (pauses included)"
    );
}

#[test]
fn do_not_record_stops_the_recording_and_refuses_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (hark, auth) = start(dir.path());
    let api = Api { hark: &hark, auth };
    let mut stream = stream_call(dir.path(), &hark, 3, "agent-9");
    let call_id = live_call(&hark);
    assert_eq!(api.on_demand("start-recording-on-demand", "agent-9").0, 200);
    api.wait_status(&call_id, "recording", |s| {
        s["billable_seconds"].as_f64().unwrap() >= 0.5
    });
    let (status, body) = api.on_demand("do-not-record", "agent-9");
    assert_eq!(status, 200, "{body}");
    let leg = api.wait_status(&call_id, "stopped", |s| s["state"] == "stopped");
    assert_eq!(
        (leg["reason"].as_str(), leg["do_not_record"].as_bool()),
        (Some("customer_disconsent"), Some(true))
    );
    assert_eq!(api.on_demand("start-recording-on-demand", "agent-9").0, 409);
    // A destination hark may write to (inside the recordings directory): refused for consent.
    let start = r#"{"SchemaVersion": "1.0", "Actions": [{"Type": "StartCallRecording", "Parameters": {"Track": "BOTH", "Destination": {"Type": "File", "Location": "elsewhere"}}}]}"#;
    let (status, events) = api.call("POST", &format!("/v1/calls/{call_id}/actions"), start);
    assert_eq!(status, 200);
    let refused = &events["Events"][0];
    assert_eq!(refused["InvocationEventType"], "ACTION_FAILED", "{events}");
    assert!(
        refused["ActionData"]["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("declined consent")
    );
    let (status, body) = api.call(
        "POST",
        &format!("/v1/calls/{call_id}/actions"),
        r#"{"Actions": []}"#,
    );
    assert_eq!(
        (status, body["InvocationEventType"].as_str()),
        (400, Some("INVALID_LAMBDA_RESPONSE"))
    );
    assert!(stream.wait().unwrap().success());
    // The part recorded before the refusal is kept: some audio, no more than was enabled.
    let recordings = api.wait_recordings(1);
    let kept = recordings[0]["duration_seconds"].as_f64().unwrap();
    let enabled = leg["billable_seconds"].as_f64().unwrap();
    assert!(
        kept > 0.0 && kept <= enabled + 0.2,
        "kept {kept} s of {enabled} s enabled"
    );
}

#[test]
fn a_killed_server_recovers_the_partial_recording_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (hark, auth) = start(dir.path());
    let api = Api {
        hark: &hark,
        auth: auth.clone(),
    };
    let mut stream = stream_call(dir.path(), &hark, 30, "agent-3");
    let call_id = live_call(&hark);
    assert_eq!(api.on_demand("start-recording-on-demand", "agent-3").0, 200);
    let before = api.wait_status(&call_id, "3 s recorded", |s| {
        s["billable_seconds"].as_f64().unwrap() >= 3.0
    });
    hark.kill(); // SIGKILL mid-call
    let _ = stream.wait();

    let (hark, _) = start(dir.path());
    let api = Api { hark: &hark, auth };
    let recordings = api.wait_recordings(1);
    let r = &recordings[0];
    assert_eq!(
        (r["recovered"].as_bool(), r["call_id"].as_str()),
        (Some(true), Some(call_id.as_str()))
    );
    let recorded = before["billable_seconds"].as_f64().unwrap();
    let kept = r["duration_seconds"].as_f64().unwrap();
    assert!(
        kept >= recorded - 1.0,
        "kept {kept} s of at least {recorded} s recorded"
    );
    let path = dir.path().join(r["location"].as_str().unwrap());
    let samples: Vec<i16> = hound::WavReader::open(&path)
        .unwrap()
        .samples::<i16>()
        .map(|s| s.unwrap())
        .collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    assert!(
        tone_power_dbfs(&left[..8000], 440.0, 8000) > -16.0,
        "the customer's audio survived"
    );
    let spool = dir.path().join("hark-data/recordings/.spool");
    assert_eq!(
        std::fs::read_dir(&spool).unwrap().count(),
        0,
        "nothing left in the spool"
    );
    let (_, metrics) = hark.get("/metrics");
    assert!(
        metrics.contains("hark_recording_finished_total{outcome=\"recovered\"} 1"),
        "{metrics}"
    );
}

#[test]
fn the_configured_policy_records_every_call_as_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hark.toml"),
        "listen = \"127.0.0.1:0\"\n[recording]\npolicy = \"every\"\ntrack = \"INCOMING\"\ndirectory = \"calls\"\n",
    )
    .unwrap();
    let hark = Hark::start(dir.path(), &[], &[]);
    let stored: toml::Table =
        std::fs::read_to_string(dir.path().join("hark-data/credentials.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let api = Api {
        hark: &hark,
        auth: format!("Bearer {}", stored["recording"]["token"].as_str().unwrap()),
    };
    assert!(
        stream_call(dir.path(), &hark, 2, "agent-1")
            .wait()
            .unwrap()
            .success()
    );
    let r = &api.wait_recordings(1)[0];
    let location = r["location"].as_str().unwrap();
    assert!(location.starts_with("calls/"), "{location}");
    assert!(
        (r["duration_seconds"].as_f64().unwrap() - 2.0).abs() < 1e-9,
        "the whole call: {r}"
    );
    let reader = hound::WavReader::open(dir.path().join(location)).unwrap();
    assert_eq!(
        reader.spec().channels,
        1,
        "INCOMING is the customer alone, mono"
    );
}

#[test]
fn do_not_record_and_recordings_survive_a_restart() {
    const CONTACT: &str = "0b0e8b7e-1c4a-4d8e-9a57-5f8d1e6c2a10";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hark.toml"),
        "listen = \"127.0.0.1:0\"\n[recording]\npolicy = \"every\"\n",
    )
    .unwrap();
    let (hark, auth) = start(dir.path());
    let api = Api {
        hark: &hark,
        auth: auth.clone(),
    };
    let mut first = stream_leg(dir.path(), &hark, 3, "agent-1", Some(CONTACT));
    let call_id = live_call(&hark);
    api.wait_status(&call_id, "recording", |s| s["state"] == "recording");
    assert_eq!(api.on_demand("do-not-record", "agent-1").0, 200);
    assert!(first.wait().unwrap().success());
    api.wait_recordings(1);
    assert!(hark.terminate().exit.success());

    // After a restart, a new leg of the same contact (a transfer) must not be recorded.
    let (hark, _) = start(dir.path());
    let api = Api { hark: &hark, auth };
    assert_eq!(
        api.wait_recordings(1).len(),
        1,
        "the first recording's metadata was kept"
    );
    let mut transfer = stream_leg(dir.path(), &hark, 2, "agent-2", Some(CONTACT));
    let transferred = live_call(&hark);
    let status = api.wait_status(&transferred, "registered", |_| true);
    assert_eq!(
        (status["state"].as_str(), status["do_not_record"].as_bool()),
        (Some("idle"), Some(true)),
        "{status}"
    );
    assert_eq!(api.on_demand("start-recording-on-demand", "agent-2").0, 409);
    assert!(transfer.wait().unwrap().success());
    // A new contact is recorded as usual.
    assert!(
        stream_call(dir.path(), &hark, 1, "agent-3")
            .wait()
            .unwrap()
            .success()
    );
    assert_eq!(api.wait_recordings(2).len(), 2);
}

#[test]
fn contacts_api_adds_agents_and_links_a_consult_into_a_refused_contact() {
    let dir = tempfile::tempdir().unwrap();
    let (hark, auth) = start(dir.path());
    let api = Api { hark: &hark, auth };
    // The customer's call, with no agent named in customConfig.
    let mut customer = stream_leg(dir.path(), &hark, 4, "", None);
    let call_id = live_call(&hark);
    assert_eq!(
        api.on_demand("start-recording-on-demand", "agent-5").0,
        404,
        "agent-5 is on no call yet"
    );
    let contact = api.wait_status(&call_id, "registered", |_| true)["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let join = format!(r#"{{"callId": "{call_id}", "userId": "agent-5"}}"#);
    assert_eq!(
        api.call("POST", &format!("/v1/contacts/{contact}/agents"), &join)
            .0,
        204
    );
    assert_eq!(
        api.call(
            "POST",
            "/v1/contacts/x/agents",
            r#"{"callId": "nope", "userId": "a"}"#
        )
        .0,
        404
    );
    assert_eq!(api.on_demand("start-recording-on-demand", "agent-5").0, 200);
    // The customer refuses; the contact is latched.
    let (status, body) = api.call("POST", &format!("/v1/contacts/{contact}/do-not-record"), "");
    assert_eq!((status, body["doNotRecord"].as_bool()), (200, Some(true)));
    api.wait_status(&call_id, "stopped", |s| s["state"] == "stopped");
    // A consult arrives as its own conversation and is recorded on demand, until it is linked.
    let mut consult = stream_leg(dir.path(), &hark, 3, "agent-6", None);
    let consult_id = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, body) = hark.get("/v1/interactions");
            let v: Value = serde_json::from_str(&body).unwrap();
            let found = v["interactions"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|i| i["sessions"].as_array().unwrap().clone())
                .find(|s| s.as_str() != Some(call_id.as_str()));
            if let Some(id) = found {
                break id.as_str().unwrap().to_owned();
            }
            assert!(Instant::now() < deadline, "no consult leg");
            std::thread::yield_now();
        }
    };
    assert_eq!(api.on_demand("start-recording-on-demand", "agent-6").0, 200);
    let link = format!(r#"{{"callId": "{consult_id}"}}"#);
    assert_eq!(
        api.call("POST", &format!("/v1/contacts/{contact}/calls"), &link)
            .0,
        204
    );
    let linked = api.wait_status(&consult_id, "stopped by the latch", |s| {
        s["state"] == "stopped"
    });
    assert_eq!(
        (linked["contact_id"].as_str(), linked["reason"].as_str()),
        (Some(contact.as_str()), Some("customer_disconsent"))
    );
    // Agents can leave.
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/v1/contacts/{contact}/agents/agent-5?callId={call_id}"),
            ""
        )
        .0,
        204
    );
    assert_eq!(api.on_demand("stop-recording-on-demand", "agent-5").0, 404);
    assert!(customer.wait().unwrap().success() && consult.wait().unwrap().success());
}

#[test]
fn a_failed_directory_delivery_is_served_from_the_spool_and_retried_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hark.toml"),
        "listen = \"127.0.0.1:0\"\n[recording]\npolicy = \"every\"\n",
    )
    .unwrap();
    let hark = Hark::start(dir.path(), &[], &[]);
    let stored: toml::Table =
        std::fs::read_to_string(dir.path().join("hark-data/credentials.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let api = Api {
        hark: &hark,
        auth: format!("Bearer {}", stored["recording"]["token"].as_str().unwrap()),
    };
    // Today's year directory is a file: the delivery cannot create its folder.
    let year = chrono::Utc::now().format("%Y").to_string();
    let blocker = dir.path().join("hark-data/recordings").join(&year);
    std::fs::write(&blocker, "in the way").unwrap();
    assert!(
        stream_call(dir.path(), &hark, 1, "agent-1")
            .wait()
            .unwrap()
            .success()
    );
    let r = api.wait_recordings(1)[0].clone();
    assert!(r["pending_upload"].is_string(), "{r}");
    assert!(r["error"].as_str().unwrap().contains("retrying"), "{r}");
    // Meanwhile its audio is served from the spool.
    let id = r["id"].as_str().unwrap().to_owned();
    let (status, _, body) = get_raw(
        hark.addr,
        &format!("/v1/recordings/{id}/audio"),
        &[("Authorization", &api.auth)],
    );
    assert_eq!(status, 200);
    assert!(body.starts_with(b"RIFF"));
    // The way clears: a retry delivers it and the listing says where.
    std::fs::remove_file(&blocker).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let delivered = loop {
        let (_, list) = api.call("GET", "/v1/recordings", "");
        let r = list["recordings"][0].clone();
        if r["error"].is_null() && r["pending_upload"].is_null() {
            break r;
        }
        assert!(Instant::now() < deadline, "never delivered: {r}");
        std::thread::yield_now();
    };
    let location = delivered["location"].as_str().unwrap();
    assert!(
        location.contains(&format!("recordings/{year}/")),
        "{location}"
    );
    assert!(dir.path().join(location).is_file() || Path::new(location).is_file());
}

#[test]
fn an_unusable_recordings_directory_is_refused_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blocker"), "a file, not a directory").unwrap();
    std::fs::write(
        dir.path().join("hark.toml"),
        "listen = \"127.0.0.1:0\"\n[recording]\ndirectory = \"blocker/recordings\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("blocker/recordings"), "{stderr}");
}

#[test]
fn secure_pauses_refusals_recording_actions_and_voiceid_changes_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (mut hark, auth) = start(dir.path());
    let token = auth.trim_start_matches("Bearer ").to_owned();
    let mut call = std::process::Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .args([
            "stream",
            &format!("ws://{}/audiohook/ws", hark.addr),
            "--duration",
            "3s",
            "--pause-at",
            "1s",
            "--resume-at",
            "2s",
            "--custom-config",
            r#"{"agentId": "agent-audit"}"#,
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let api = Api {
        hark: &hark,
        auth: auth.clone(),
    };
    let call_id = live_call(&hark);
    let start = r#"{"SchemaVersion": "1.0", "Actions": [{"Type": "StartCallRecording", "Parameters": {"Track": "BOTH", "Destination": {"Type": "File", "Location": "audited"}}}]}"#;
    let (status, _) = api.call("POST", &format!("/v1/calls/{call_id}/actions"), start);
    assert_eq!(status, 200);
    assert_eq!(api.on_demand("do-not-record", "agent-audit").0, 200);
    let keys = common::voiceid_keys(&dir.path().join("hark-data"));
    let (status, _) = common::voiceid(
        hark.addr,
        &keys,
        "VoiceID.CreateDomain",
        &serde_json::json!({"Name": "audited", "ServerSideEncryptionConfiguration": {"KmsKeyId": "alias/hark-default"}}),
    );
    assert_eq!(status, 200);
    assert!(call.wait().unwrap().success());

    let mut seen = std::collections::HashMap::new();
    // The Chime start, the refusal, the domain, the pause and the resume.
    for _ in 0..5 {
        let line = hark.wait_for("audit");
        assert_eq!(line["target"], "hark::audit", "{line}");
        let what = line["action"]
            .as_str()
            .or(line["route"].as_str())
            .unwrap_or_default()
            .to_owned();
        seen.insert(what, line);
    }
    let pause = &seen["secure_pause"];
    assert_eq!(pause["session"], call_id.as_str());
    assert!(seen.contains_key("secure_resume"), "{seen:?}");
    let action = &seen["/v1/calls/{call_id}/actions"];
    assert_eq!(action["actor"], "recording-token");
    assert_eq!(
        action["span"]["name"], "request",
        "inside the request's span: {action}"
    );
    assert_eq!(action["span"]["route"], "/v1/calls/{call_id}/actions");
    assert_eq!(action["actions"], "StartCallRecording");
    let refusal = &seen["/interaction-recording-management-service/interactions/{operation}"];
    assert_eq!(
        (refusal["user"].as_str(), refusal["status"].as_u64()),
        (Some("agent-audit"), Some(200))
    );
    let voiceid = &seen["VoiceID.CreateDomain"];
    assert_eq!(voiceid["actor"], keys.0.as_str());
    assert_eq!(voiceid["outcome"], "ok");
    for line in seen.values() {
        assert!(
            !line.to_string().contains(&token),
            "a token in the audit log: {line}"
        );
        assert!(
            !line.to_string().contains(&keys.1),
            "a secret in the audit log: {line}"
        );
    }
}
