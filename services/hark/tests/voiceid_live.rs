//! Voice ID on live calls, end to end with real speech (the Asterisk corpus): `hark stream`
//! plays a caller into `hark serve` over AudioHook; the Voice ID API (SigV4-signed) enrolls,
//! authenticates and screens; `GET /v1/voiceid/events` streams the outcomes. Everything runs as
//! real processes on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Hark;
use hark_tests::speech::{speech_corpus, utterances};
use serde_json::{Value, json};

const A: &str = "allison_en";
const B: &str = "carlo_it";

/// Utterances `range` of a voice concatenated into one 8 kHz WAV file.
fn wav(dir: &Path, voice: &str, range: std::ops::RangeInclusive<u32>) -> PathBuf {
    let path = dir.join(format!("{voice}-{}-{}.wav", range.start(), range.end()));
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = hound::WavWriter::create(&path, spec).unwrap();
    let corpus = speech_corpus(env!("CARGO_TARGET_TMPDIR"));
    for s in utterances(&corpus, voice, range) {
        out.write_sample(s).unwrap();
    }
    out.finalize().unwrap();
    path
}

struct World {
    dir: tempfile::TempDir,
    hark: Hark,
    keys: (String, String),
    domain: String,
}

impl World {
    fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let hark = Hark::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]);
        let keys = common::voiceid_keys(&dir.path().join("hark-data"));
        let mut w = World {
            dir,
            hark,
            keys,
            domain: String::new(),
        };
        w.domain = w.ok(
            "VoiceID.CreateDomain",
            json!({"Name": "bank", "ServerSideEncryptionConfiguration": {"KmsKeyId": "alias/hark-default"}}),
        )["Domain"]["DomainId"]
            .as_str()
            .unwrap()
            .to_owned();
        w
    }

    fn call(&self, target: &str, body: Value) -> (u16, Value) {
        common::voiceid(self.hark.addr, &self.keys, target, &body)
    }

    fn ok(&self, target: &str, body: Value) -> Value {
        let (status, v) = self.call(target, body);
        assert_eq!(status, 200, "{target}: {v}");
        v
    }

    /// Plays a file as one call of conversation `contact`, 8× faster than real time.
    fn stream(&self, file: &Path, contact: &str, custom: Option<Value>) {
        self.stream_with(file, contact, custom, &[]);
    }

    fn stream_with(&self, file: &Path, contact: &str, custom: Option<Value>, extra: &[&str]) {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hark"));
        cmd.current_dir(self.dir.path())
            .arg("stream")
            .arg(format!("ws://{}/audiohook/ws", self.hark.addr))
            .args(["--json", "--speed", "8", "--conversation-id", contact])
            .arg("--file")
            .arg(file)
            .args(extra);
        if let Some(c) = custom {
            cmd.args(["--custom-config", &c.to_string()]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "hark stream: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A call claiming `speaker` (if any) through `customConfig.voiceId`; returns its
    /// evaluation once the session has heard the whole call.
    fn call_evaluated(&self, file: &Path, speaker: Option<&str>) -> Value {
        self.call_evaluated_with(file, speaker, &[])
    }

    fn call_evaluated_with(&self, file: &Path, speaker: Option<&str>, extra: &[&str]) -> Value {
        let contact = uuid::Uuid::new_v4().to_string();
        let mut voice_id = json!({"domainId": self.domain});
        if let Some(s) = speaker {
            voice_id["speakerId"] = json!(s);
        }
        self.stream_with(file, &contact, Some(json!({ "voiceId": voice_id })), extra);
        self.evaluate_when_ended(&contact)
    }

    /// Polls EvaluateSession until the session has heard all its audio (ENDED).
    fn evaluate_when_ended(&self, contact: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, e) = self.call(
                "VoiceID.EvaluateSession",
                json!({"DomainId": self.domain, "SessionNameOrId": contact}),
            );
            if status == 200 && e["StreamingStatus"] == "ENDED" {
                return e;
            }
            assert!(Instant::now() < deadline, "session never ended: {e}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Collects `GET /v1/voiceid/events` (SigV4-signed) in the background.
fn listen_for_events(w: &World) -> Arc<Mutex<String>> {
    let headers =
        common::voiceid_signature(w.hark.addr, &w.keys, "GET", "/v1/voiceid/events", &[], "");
    let mut stream = TcpStream::connect(w.hark.addr).unwrap();
    let mut request = format!(
        "GET /v1/voiceid/events HTTP/1.1\r\nHost: {}\r\n",
        w.hark.addr
    );
    for (k, v) in &headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.contains(" 200 "), "events: {status}");
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    seen
}

#[test]
fn callers_are_enrolled_authenticated_and_screened_on_live_calls() {
    let w = World::start();
    let dir = w.dir.path();
    let events = listen_for_events(&w);

    // Enrolment: the agent application starts the session, names the caller and asks for
    // enrolment before the call's audio arrives; 30 s of A's speech later, A is enrolled.
    let contact = uuid::Uuid::new_v4().to_string();
    w.ok(
        "HarkVoiceID.StartSession",
        json!({"DomainId": w.domain, "SessionName": contact, "SpeakerId": "customer-a"}),
    );
    let r = w.ok(
        "HarkVoiceID.EnrollBySession",
        json!({"DomainId": w.domain, "SessionNameOrId": contact}),
    );
    assert_eq!(r["Status"], "NOT_ENOUGH_SPEECH");
    w.stream(
        &wav(dir, A, 0..=11),
        &contact,
        Some(json!({"voiceId": {"domainId": w.domain}})),
    );
    w.evaluate_when_ended(&contact);
    let s = w.ok(
        "HarkVoiceID.DescribeSession",
        json!({"DomainId": w.domain, "SessionNameOrId": contact}),
    );
    assert_eq!(
        s["Session"]["EnrollmentRequestDetails"]["Status"], "COMPLETED",
        "{s}"
    );
    let speaker = w.ok(
        "VoiceID.DescribeSpeaker",
        json!({"DomainId": w.domain, "SpeakerId": "customer-a"}),
    );
    assert_eq!(speaker["Speaker"]["Status"], "ENROLLED");
    let a_id = speaker["Speaker"]["GeneratedSpeakerId"]
        .as_str()
        .unwrap()
        .to_owned();

    // A new call by A claiming A: accepted.
    let a_auth = wav(dir, A, 12..=17);
    let e = w.call_evaluated(&a_auth, Some("customer-a"));
    assert_eq!(e["AuthenticationResult"]["Decision"], "ACCEPT", "{e}");
    assert!(e["AuthenticationResult"]["Score"].as_u64().unwrap() >= 90);
    assert_eq!(e["FraudDetectionResult"]["Decision"], "LOW_RISK");

    // B claiming A: rejected.
    let b_call = wav(dir, B, 12..=17);
    let e = w.call_evaluated(&b_call, Some("customer-a"));
    assert_eq!(e["AuthenticationResult"]["Decision"], "REJECT", "{e}");

    // B is registered as a fraudster by a registration job (local files); B calls again,
    // claiming nobody: high risk, naming B's fraudster id.
    let fraudster = register_fraudster(&w, &wav(dir, B, 0..=5));
    let e = w.call_evaluated(&wav(dir, B, 18..=23), None);
    let fraud = &e["FraudDetectionResult"];
    assert_eq!(fraud["Decision"], "HIGH_RISK", "{e}");
    assert_eq!(fraud["Reasons"], json!(["KNOWN_FRAUDSTER"]));
    assert_eq!(
        fraud["RiskDetails"]["KnownFraudsterRisk"]["GeneratedFraudsterId"],
        fraudster.as_str()
    );
    assert_eq!(
        e["AuthenticationResult"]["Decision"],
        "SPEAKER_ID_NOT_PROVIDED"
    );

    // A short call (4 s): not enough speech, also after the call ended.
    let e = w.call_evaluated_with(&a_auth, Some("customer-a"), &["--duration", "4s"]);
    assert_eq!(
        e["AuthenticationResult"]["Decision"], "NOT_ENOUGH_SPEECH",
        "{e}"
    );
    assert_eq!(e["FraudDetectionResult"]["Decision"], "NOT_ENOUGH_SPEECH");

    // Expired: A's last access moved four years back in the store.
    age_speaker(&w, &a_id);
    let e = w.call_evaluated(&a_auth, Some("customer-a"));
    assert_eq!(
        e["AuthenticationResult"]["Decision"], "SPEAKER_EXPIRED",
        "{e}"
    );

    // Opted out.
    w.ok(
        "VoiceID.OptOutSpeaker",
        json!({"DomainId": w.domain, "SpeakerId": "customer-a"}),
    );
    let e = w.call_evaluated(&a_auth, Some("customer-a"));
    assert_eq!(
        e["AuthenticationResult"]["Decision"], "SPEAKER_OPTED_OUT",
        "{e}"
    );

    // The event stream carried the outcomes under generated ids only.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !events.lock().unwrap().contains("SPEAKER_OPTED_OUT") {
        assert!(
            Instant::now() < deadline,
            "events: {}",
            events.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = events.lock().unwrap().clone();
    assert!(
        seen.contains("event: VoiceId Evaluate Session Action"),
        "{seen}"
    );
    assert!(seen.contains("SESSION_ENROLLMENT_REQUEST"));
    assert!(seen.contains(&a_id));
    assert!(
        !seen.contains("customer-a"),
        "a customer id leaked into events"
    );
}

/// Runs a fraudster registration job over one audio file (file:// URIs in the data
/// directory's batch folder); returns the new fraudster's id from the job's output.
fn register_fraudster(w: &World, audio: &Path) -> String {
    let batch = w
        .dir
        .path()
        .join("hark-data/voiceid-batch")
        .canonicalize()
        .unwrap();
    let file = batch.join("fraudster.wav");
    std::fs::copy(audio, &file).unwrap();
    let manifest = batch.join("fraud.json");
    let body = json!({"Version": "1.0", "FraudsterRegistrationRequests": [
        {"RequestId": "fr-1", "AudioSpecifications": [{"S3Uri": format!("file://{}", file.display()), "ChannelId": 0}]}
    ]});
    std::fs::write(&manifest, body.to_string()).unwrap();
    let job = w.ok(
        "VoiceID.StartFraudsterRegistrationJob",
        json!({"DomainId": w.domain, "JobName": "fraud-1",
               "DataAccessRoleArn": "arn:aws:iam::000000000000:role/hark",
               "InputDataConfig": {"S3Uri": format!("file://{}", manifest.display())},
               "OutputDataConfig": {"S3Uri": format!("file://{}/out", batch.display())}}),
    );
    let job_id = job["Job"]["JobId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = w.ok(
            "VoiceID.DescribeFraudsterRegistrationJob",
            json!({"DomainId": w.domain, "JobId": job_id}),
        );
        match d["Job"]["JobStatus"].as_str().unwrap() {
            "COMPLETED" => break,
            "SUBMITTED" | "IN_PROGRESS" => {}
            other => panic!("job {other}: {d}"),
        }
        assert!(Instant::now() < deadline, "job never finished: {d}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = batch.join(format!("out/{job_id}/fraud.json.out"));
    let output: Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    let entry = &output["SuccessfulRegistrations"][0];
    assert_eq!(entry["RegistrationStatus"], "NEW_REGISTRATION", "{output}");
    entry["GeneratedFraudsterId"].as_str().unwrap().to_owned()
}

/// Moves a speaker's last access (and creation) four years into the past, as time would.
fn age_speaker(w: &World, generated_id: &str) {
    use hark_voiceid::VoiceIdStore;
    use hark_voiceid::records::SpeakerRef;
    let store = hark_store::SqliteStore::open(&w.dir.path().join("hark-data/hark.db")).unwrap();
    let mut s = store
        .speaker(&w.domain, SpeakerRef::Generated(generated_id))
        .unwrap()
        .unwrap();
    let past = chrono::Utc::now() - chrono::Duration::days(4 * 365);
    s.last_accessed_at = Some(past);
    s.created_at = past;
    store.put_speaker(&s).unwrap();
}

#[test]
fn the_event_stream_and_sessions_refuse_what_they_should() {
    let w = World::start();
    // Unsigned: refused as AWS refuses.
    let (status, _) = common::request(w.hark.addr, "GET", "/v1/voiceid/events");
    assert_eq!(status, 403);
    // Malformed customConfig.voiceId: the call streams; no session appears.
    let contact = uuid::Uuid::new_v4().to_string();
    w.stream(
        &wav(w.dir.path(), A, 0..=0),
        &contact,
        Some(json!({"voiceId": {"domainId": 42}})),
    );
    let (status, e) = w.call(
        "VoiceID.EvaluateSession",
        json!({"DomainId": w.domain, "SessionNameOrId": contact}),
    );
    assert_eq!(status, 404, "{e}");
    assert_eq!(e["ResourceType"], "SESSION");
}
