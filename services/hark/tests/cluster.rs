//! Several `hark serve` processes as one system: two instances on different ports share one
//! PostgreSQL (a private server, see `hark-pgtest`) and one S3-compatible server (moto_server),
//! all on 127.0.0.1. A call streams into B while control requests go to A; then B is killed
//! mid-call and what it held is recovered.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::moto::{Moto, free_addr, get_object};
use common::{Hark, send};
use hark_audio::analysis::tone_power_dbfs;
use hark_pgtest::PgServer;
use serde_json::Value;

/// One instance's working directory: its hark.toml (shared database and bucket) and data.
fn instance_dir(root: &Path, name: &str, database: &str, s3: std::net::SocketAddr) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("hark.toml"),
        format!(
            "listen = \"127.0.0.1:0\"\ndatabase_url = \"{database}\"\n\
             [recording]\nurl = \"s3://recordings/calls\"\n\
             [recording.s3]\nendpoint = \"http://{s3}\"\naccess_key_id = \"test\"\nsecret_access_key = \"test\"\nallow_http = true\n"
        ),
    )
    .unwrap();
    dir
}

/// The fleet shares credentials and the Voice ID keyring: copied from the first instance.
fn share_credentials(from: &Path, to: &Path) {
    let data = to.join("hark-data");
    std::fs::create_dir_all(&data).unwrap();
    for file in ["credentials.toml", "voiceid-keyring.toml"] {
        std::fs::copy(from.join("hark-data").join(file), data.join(file)).unwrap();
    }
}

fn token(dir: &Path) -> String {
    let stored: toml::Table = std::fs::read_to_string(dir.join("hark-data/credentials.toml"))
        .unwrap()
        .parse()
        .unwrap();
    format!("Bearer {}", stored["recording"]["token"].as_str().unwrap())
}

struct Api<'a> {
    hark: &'a Hark,
    auth: &'a str,
}

impl Api<'_> {
    fn call(&self, method: &str, path: &str) -> (u16, Value) {
        let (status, body) = send(
            self.hark.addr,
            method,
            path,
            &[("Authorization", self.auth)],
            "",
        );
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    fn on_demand(&self, operation: &str, user: &str) -> (u16, Value) {
        self.call(
            "POST",
            &format!(
                "/interaction-recording-management-service/interactions/{operation}?userId={user}"
            ),
        )
    }

    /// Polls `GET path` until `check` holds (bounded); returns the last body.
    fn wait(&self, path: &str, what: &str, check: impl Fn(u16, &Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = self.call("GET", path);
            if check(status, &body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "never reached: {what} (last: {status} {body})"
            );
            std::thread::yield_now();
        }
    }
}

/// Waits until `hark`'s view of the fleet counts `peers` other instances.
fn wait_for_peers(hark: &Hark, peers: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = hark.get("/v1/cluster");
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if status == 200 && v["peers"].as_array().is_some_and(|p| p.len() == peers) {
            return v;
        }
        assert!(Instant::now() < deadline, "peers never {peers}: {body}");
        std::thread::yield_now();
    }
}

fn stream(dir: &Path, hark: &Hark, seconds: u32, agent: &str, contact: Option<&str>) -> Child {
    common::stream_call(dir, hark.addr, seconds, agent, contact)
}

/// The call `holder` holds, as the fleet registry (asked through `other`) lists it.
fn registered_call(other: &Hark, holder: &Value) -> String {
    let holder = holder["instance"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = other.get("/v1/cluster");
        let v: Value = serde_json::from_str(&body).unwrap();
        if let Some(call) = v["calls"]
            .as_array()
            .and_then(|calls| calls.iter().find(|c| c["instanceId"] == holder.as_str()))
        {
            return call["callId"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "call never registered: {body}");
        std::thread::yield_now();
    }
}

/// The uploaded recording of `call_id`, as the shared store lists it (asked through `api`).
fn uploaded(api: &Api<'_>, call_id: &str) -> Value {
    let list = api.wait("/v1/recordings", "recording uploaded", |_, v| {
        v["recordings"].as_array().is_some_and(|l| {
            l.iter().any(|r| {
                r["call_id"] == call_id
                    && r["location"]
                        .as_str()
                        .is_some_and(|l| l.starts_with("s3://"))
            })
        })
    });
    list["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["call_id"] == call_id)
        .unwrap()
        .clone()
}

/// Fetches the object and checks it is the call: stereo WAV, customer tone (440 Hz) left and
/// agent tone (1000 Hz) right, as long as the store says.
fn check_recording(moto: std::net::SocketAddr, recording: &Value, at_least: f64) {
    let key = recording["location"]
        .as_str()
        .unwrap()
        .trim_start_matches("s3://recordings/")
        .to_owned();
    // Policy and on-demand recordings under the configured prefix; Chime starts where asked.
    assert!(
        key.starts_with("calls/") || key.starts_with("chime/"),
        "{key}"
    );
    let (bytes, _) = get_object(moto, &key);
    let mut wav = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
    let spec = wav.spec();
    assert_eq!(spec.channels, 2);
    let samples: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
    let seconds = samples.len() as f64 / 2.0 / f64::from(spec.sample_rate);
    let stored = recording["duration_seconds"].as_f64().unwrap();
    assert!(
        (seconds - stored).abs() < 0.05,
        "{seconds} s in the file, {stored} s stored"
    );
    assert!(seconds >= at_least, "only {seconds} s recorded");
    let rate = spec.sample_rate;
    let (left, right): (Vec<i16>, Vec<i16>) = samples
        .chunks(2)
        .map(|s| (s[0], s[1]))
        .take(rate as usize / 2)
        .unzip();
    assert!(tone_power_dbfs(&left, 440.0, rate) > -16.0, "customer left");
    assert!(tone_power_dbfs(&right, 1000.0, rate) > -20.0, "agent right");
}

/// A contact (AudioHook conversation ids are UUIDs) that refuses recording.
const REFUSED: &str = "0f6f3c1e-5b7a-4c1d-9a4e-2d7b8c9e0f11";

struct Fleet {
    pg: PgServer,
    moto: Moto,
    database: String,
    root: tempfile::TempDir,
}

fn fleet(name: &str) -> Fleet {
    let pg = PgServer::start();
    let database = pg.database(name);
    Fleet {
        pg,
        moto: Moto::start_on(free_addr()),
        database,
        root: tempfile::tempdir().unwrap(),
    }
}

impl Fleet {
    fn dir(&self, name: &str) -> PathBuf {
        instance_dir(self.root.path(), name, &self.database, self.moto.addr)
    }
}

#[test]
fn a_call_on_b_is_recorded_and_refused_through_a() {
    let fleet = fleet("two_instances");
    let (dir_a, dir_b) = (fleet.dir("a"), fleet.dir("b"));
    let a = Hark::start(&dir_a, &[], &[]);
    share_credentials(&dir_a, &dir_b);
    let b = Hark::start(&dir_b, &[], &[]);
    let auth = token(&dir_a);
    let (api_a, api_b) = (
        Api {
            hark: &a,
            auth: &auth,
        },
        Api {
            hark: &b,
            auth: &auth,
        },
    );
    wait_for_peers(&a, 1);
    let b_view = wait_for_peers(&b, 1);

    let mut call = stream(&dir_b, &b, 8, "agent-7", None);
    let call_id = registered_call(&a, &b_view);
    let status_path = format!("/v1/calls/{call_id}/recording");
    assert_eq!(
        api_a.call("GET", &status_path).0,
        404,
        "A does not hold the call"
    );

    let sent = Instant::now();
    let (status, body) = api_a.on_demand("start-recording-on-demand", "agent-7");
    let answered = sent.elapsed();
    assert_eq!(status, 200, "{body}");
    // A answers once B has applied it: B's recording is already on.
    let on = api_b.call("GET", &status_path).1;
    assert_eq!(on["state"], "recording", "{on}");
    assert!(answered < Duration::from_secs(1), "took {answered:?}");
    assert_eq!(
        api_a.on_demand("start-recording-on-demand", "agent-7").0,
        409
    );
    assert_eq!(
        api_a.on_demand("start-recording-on-demand", "nobody").0,
        404
    );

    api_b.wait(&status_path, "1.5 s recorded", |s, v| {
        s == 200 && v["billable_seconds"].as_f64().unwrap_or(0.0) >= 1.5
    });
    let (status, body) = api_a.on_demand("do-not-record", "agent-7");
    assert_eq!(status, 200, "{body}");
    let off = api_b.call("GET", &status_path).1;
    assert_ne!(off["state"], "recording", "{off}");
    assert_eq!(
        api_a.on_demand("start-recording-on-demand", "agent-7").0,
        409,
        "refused for good"
    );
    assert!(call.wait().unwrap().success());

    // Delivered to S3 by B; listed through A (one store).
    let recording = uploaded(&api_a, &call_id);
    check_recording(fleet.moto.addr, &recording, 1.0);
    assert!(
        recording["duration_seconds"].as_f64().unwrap() < 7.0,
        "stopped early"
    );
    assert!(!recording["recovered"].as_bool().unwrap());
}

#[test]
fn killing_b_mid_call_loses_no_control_state_and_its_recording_is_recovered() {
    let fleet = fleet("sigkill");
    let (dir_a, dir_b, dir_c) = (fleet.dir("a"), fleet.dir("b"), fleet.dir("c"));
    let a = Hark::start(&dir_a, &[], &[]);
    share_credentials(&dir_a, &dir_b);
    share_credentials(&dir_a, &dir_c);
    let b = Hark::start(&dir_b, &[], &[]);
    let auth = token(&dir_a);
    let api_a = Api {
        hark: &a,
        auth: &auth,
    };
    let api_b = Api {
        hark: &b,
        auth: &auth,
    };
    wait_for_peers(&a, 1);
    let b_view = wait_for_peers(&b, 1);

    let mut call = stream(&dir_b, &b, 60, "agent-9", None);
    let call_id = registered_call(&a, &b_view);
    assert_eq!(
        api_a.on_demand("start-recording-on-demand", "agent-9").0,
        200
    );
    // A contact refuses recording through A while B is alive.
    let (status, _) = api_a.call("POST", &format!("/v1/contacts/{REFUSED}/do-not-record"));
    assert_eq!(status, 200);
    api_b.wait(
        &format!("/v1/calls/{call_id}/recording"),
        "2 s recorded",
        |s, v| s == 200 && v["billable_seconds"].as_f64().unwrap_or(0.0) >= 2.0,
    );

    b.kill();
    let _ = call.wait();
    // A declares B dead: its call ended with it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v: Value = serde_json::from_str(&a.get("/v1/cluster").1).unwrap();
        if v["instances"].as_array().unwrap().len() == 1 && v["calls"] == serde_json::json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "B never declared dead: {v}");
        std::thread::yield_now();
    }

    // The operator recovers B's data directory: the partial recording is repaired and uploaded.
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(&dir_b)
        .args(["recover", "--wait-seconds", "60"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recording = uploaded(&api_a, &call_id);
    assert!(recording["recovered"].as_bool().unwrap(), "{recording}");
    check_recording(fleet.moto.addr, &recording, 1.0);

    // The latch survived B: a new instance refuses to record that contact.
    let c = Hark::start(&dir_c, &[], &[]);
    let api_c = Api {
        hark: &c,
        auth: &auth,
    };
    let mut refused = stream(&dir_c, &c, 5, "agent-10", Some(REFUSED));
    let c_view = wait_for_peers(&c, 1);
    registered_call(&a, &c_view);
    let (status, body) = api_a.on_demand("start-recording-on-demand", "agent-10");
    assert_eq!(status, 409, "{body}");
    let on_c = api_c.on_demand("start-recording-on-demand", "agent-10");
    assert_eq!(on_c.0, 409, "{}", on_c.1);
    assert!(refused.wait().unwrap().success());
}

#[test]
fn migrate_applies_the_schema_and_database_passwords_never_show() {
    let pg = PgServer::start();
    let url = pg.database("operator");
    let dir = tempfile::tempdir().unwrap();
    let hark = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hark"))
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = hark(&["migrate", "--database-url", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    let version = format!(
        "schema version {}",
        hark_store::postgres::POSTGRES_MIGRATIONS.len()
    );
    assert!(printed.contains(&version), "{printed}");

    let unreachable = format!("postgres://hark:s3cret@127.0.0.1:{}/x", free_addr().port());
    for args in [
        vec!["migrate", "--database-url", &unreachable],
        vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &unreachable,
        ],
    ] {
        let out = hark(&args);
        assert!(!out.status.success());
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(said.contains("hark:***@127.0.0.1"), "{said}");
        assert!(!said.contains("s3cret"), "{said}");
    }
    let out = hark(&["migrate", "--database-url", "mysql://db/hark"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not postgres://"));

    // The Voice ID operator commands read HARK_DATABASE_URL like serve: the job is looked up
    // in PostgreSQL (and is not there), not in a missing SQLite file.
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .args([
            "voiceid",
            "fail-job",
            "--domain-id",
            "none",
            "--job-id",
            "none",
        ])
        .env("HARK_DATABASE_URL", &url)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!said.contains("no hark database"), "{said}");
}

/// A Voice ID call (`VoiceID.<operation>`), SigV4-signed with the fleet's shared key pair.
fn voiceid(addr: std::net::SocketAddr, dir: &Path, operation: &str, body: &str) -> (u16, Value) {
    let keys = common::voiceid_keys(&dir.join("hark-data"));
    let body: Value = serde_json::from_str(body).unwrap();
    common::voiceid(addr, &keys, &format!("VoiceID.{operation}"), &body)
}

#[test]
fn voice_id_is_one_service_across_instances() {
    let fleet = fleet("voiceid");
    let (dir_a, dir_b) = (fleet.dir("a"), fleet.dir("b"));
    let a = Hark::start(&dir_a, &[], &[]);
    share_credentials(&dir_a, &dir_b);
    let b = Hark::start(&dir_b, &[], &[]);
    // The same CreateDomain (same ClientToken) at both instances at once: one domain.
    let create = r#"{"Name":"fleet","ClientToken":"fleet-token-1","ServerSideEncryptionConfiguration":{"KmsKeyId":"alias/hark-default"}}"#;
    let (addr_a, addr_b) = (a.addr, b.addr);
    let (da, db) = (dir_a.clone(), dir_b.clone());
    let on_a = std::thread::spawn(move || voiceid(addr_a, &da, "CreateDomain", create));
    let on_b = std::thread::spawn(move || voiceid(addr_b, &db, "CreateDomain", create));
    let (on_a, on_b) = (on_a.join().unwrap(), on_b.join().unwrap());
    assert_eq!((on_a.0, on_b.0), (200, 200), "{on_a:?} {on_b:?}");
    let domain = on_a.1["Domain"]["DomainId"].as_str().unwrap().to_owned();
    assert_eq!(on_b.1["Domain"]["DomainId"], domain.as_str());
    let (_, listed) = voiceid(b.addr, &dir_b, "ListDomains", "{}");
    assert_eq!(
        listed["DomainSummaries"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    // Written through B, read through A.
    let described = voiceid(
        b.addr,
        &dir_b,
        "DescribeDomain",
        &format!(r#"{{"DomainId":"{domain}"}}"#),
    );
    assert_eq!(described.1["Domain"]["Name"], "fleet");
    let (status, _) = voiceid(
        b.addr,
        &dir_b,
        "UpdateDomain",
        &format!(
            r#"{{"DomainId":"{domain}","Name":"renamed","ServerSideEncryptionConfiguration":{{"KmsKeyId":"alias/hark-default"}}}}"#
        ),
    );
    assert_eq!(status, 200);
    let (_, described) = voiceid(
        a.addr,
        &dir_a,
        "DescribeDomain",
        &format!(r#"{{"DomainId":"{domain}"}}"#),
    );
    assert_eq!(described["Domain"]["Name"], "renamed", "{described}");
}

/// Monitor integrations changed through one instance are in force on the others at once (each
/// instance caches them, so the change is applied by every instance).
#[test]
fn monitor_integrations_changed_on_a_are_in_force_on_b() {
    let fleet = fleet("monitors");
    let (dir_a, dir_b) = (fleet.dir("a"), fleet.dir("b"));
    let a = Hark::start(&dir_a, &[], &[]);
    share_credentials(&dir_a, &dir_b);
    let b = Hark::start(&dir_b, &[], &[]);
    wait_for_peers(&a, 1);
    wait_for_peers(&b, 1);
    let stored: toml::Table = std::fs::read_to_string(dir_a.join("hark-data/credentials.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let auth = format!("Bearer {}", stored["monitor"]["token"].as_str().unwrap());
    let api = |hark: &Hark, method: &str, path: &str, body: &str| {
        let (status, body) = send(hark.addr, method, path, &[("Authorization", &auth)], body);
        (
            status,
            serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
        )
    };
    let create = r#"{"name":"qa","uri":"ws://127.0.0.1:9/ws","apiKey":"k","enabled":false}"#;
    assert_eq!(api(&a, "POST", "/v1/monitors", create).0, 201);
    let (_, listed) = api(&b, "GET", "/v1/monitors", "");
    assert_eq!(listed["monitors"][0]["name"], "qa", "{listed}");
    assert_eq!(api(&b, "DELETE", "/v1/monitors/qa", "").0, 204);
    let (_, listed) = api(&a, "GET", "/v1/monitors", "");
    assert_eq!(listed["monitors"], serde_json::json!([]), "{listed}");
}

/// Two instances that see each other, sharing one Voice ID domain.
struct VoiceIdPair {
    dir_a: PathBuf,
    dir_b: PathBuf,
    a: Hark,
    b: Hark,
    domain: String,
    /// Last: fields drop in order, so the instances stop before their database and S3 server.
    _fleet: Fleet,
}

fn voiceid_pair(name: &str) -> VoiceIdPair {
    let fleet = fleet(name);
    let (dir_a, dir_b) = (fleet.dir("a"), fleet.dir("b"));
    let a = Hark::start(&dir_a, &[], &[]);
    share_credentials(&dir_a, &dir_b);
    let b = Hark::start(&dir_b, &[], &[]);
    wait_for_peers(&a, 1);
    wait_for_peers(&b, 1);
    let create = format!(
        r#"{{"Name":"{name}","ServerSideEncryptionConfiguration":{{"KmsKeyId":"alias/hark-default"}}}}"#
    );
    let (status, created) = voiceid(a.addr, &dir_a, "CreateDomain", &create);
    assert_eq!(status, 200, "{created}");
    let domain = created["Domain"]["DomainId"].as_str().unwrap().to_owned();
    VoiceIdPair {
        _fleet: fleet,
        dir_a,
        dir_b,
        a,
        b,
        domain,
    }
}

/// A Voice ID session lives on the instance holding its call; session requests sent to another
/// instance reach it (SigV4-signed requests are forwarded with their signed headers).
#[test]
fn voice_id_sessions_are_reached_through_any_instance() {
    let VoiceIdPair {
        _fleet,
        dir_a,
        dir_b,
        a,
        b,
        domain,
    } = voiceid_pair("sessions");

    // A 6-second call into B, bound to the domain by customConfig.
    let contact = uuid::Uuid::new_v4().to_string();
    let mut call = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(&dir_b)
        .args(["stream", &format!("ws://{}/audiohook/ws", b.addr)])
        .args(["--duration", "6s", "--conversation-id", &contact])
        .args([
            "--custom-config",
            &format!(r#"{{"voiceId":{{"domainId":"{domain}"}}}}"#),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let session = format!(r#"{{"DomainId":"{domain}","SessionNameOrId":"{contact}"}}"#);
    let deadline = Instant::now() + Duration::from_secs(30);
    let described = loop {
        let (status, v) = voiceid(a.addr, &dir_a, "DescribeSession", &session);
        if status == 200 {
            break v;
        }
        assert_eq!(v["ResourceType"], "SESSION", "{v}");
        assert!(Instant::now() < deadline, "the session never appeared: {v}");
        std::thread::yield_now();
    };
    assert_eq!(
        described["Session"]["StreamingStatus"], "ONGOING",
        "{described}"
    );
    // The speaker is claimed through A while B streams the call.
    let update =
        format!(r#"{{"DomainId":"{domain}","SessionNameOrId":"{contact}","SpeakerId":"cust-1"}}"#);
    let (status, updated) = voiceid(a.addr, &dir_a, "UpdateSession", &update);
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["Session"]["CustomerSpeakerId"], "cust-1");
    assert!(call.wait().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let evaluated = loop {
        let (status, v) = voiceid(a.addr, &dir_a, "EvaluateSession", &session);
        if status == 200 && v["StreamingStatus"] == "ENDED" {
            break v;
        }
        assert!(Instant::now() < deadline, "never ended: {status} {v}");
        std::thread::yield_now();
    };
    let auth = &evaluated["AuthenticationResult"];
    assert_eq!(auth["CustomerSpeakerId"], "cust-1", "{evaluated}");
    assert_eq!(auth["Decision"], "SPEAKER_NOT_ENROLLED");
    assert_eq!(
        evaluated["FraudDetectionResult"]["Decision"],
        "NOT_ENOUGH_SPEECH"
    );
    // An unknown session is still a 404 SESSION, whichever instance answers.
    let unknown = format!(r#"{{"DomainId":"{domain}","SessionNameOrId":"nobody"}}"#);
    let (status, v) = voiceid(a.addr, &dir_a, "EvaluateSession", &unknown);
    assert_eq!(
        (status, v["ResourceType"].as_str()),
        (404, Some("SESSION")),
        "{v}"
    );
}

/// Utterances of a corpus voice as one 8 kHz WAV file under `dir`.
fn corpus_wav(dir: &Path, voice: &str, range: std::ops::RangeInclusive<u32>) -> PathBuf {
    let corpus = hark_tests::speech::speech_corpus(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("{voice}-{}-{}.wav", range.start(), range.end()));
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = hound::WavWriter::create(&path, spec).unwrap();
    for s in hark_tests::speech::utterances(&corpus, voice, range) {
        out.write_sample(s).unwrap();
    }
    out.finalize().unwrap();
    path
}

/// Plays `file` into `hark` as one call of `contact` bound to `domain`; returns the session's
/// evaluation once the session has heard all of it (asked of `hark`).
fn voice_call(dir: &Path, hark: &Hark, file: &Path, contact: &str, domain: &str) -> Value {
    let status = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir)
        .args(["stream", &format!("ws://{}/audiohook/ws", hark.addr)])
        .args(["--speed", "8", "--conversation-id", contact, "--file"])
        .arg(file)
        .args([
            "--custom-config",
            &format!(r#"{{"voiceId":{{"domainId":"{domain}"}}}}"#),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let session = format!(r#"{{"DomainId":"{domain}","SessionNameOrId":"{contact}"}}"#);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, v) = voiceid(hark.addr, dir, "EvaluateSession", &session);
        if status == 200 && v["StreamingStatus"] == "ENDED" {
            return v;
        }
        assert!(Instant::now() < deadline, "never ended: {status} {v}");
        std::thread::yield_now();
    }
}

/// A fraudster registered through A is detected on a call held by B, whose watchlist index was
/// built before the registration: A announces the change, B reloads the domain's indexes.
#[test]
fn fraudsters_registered_through_a_are_detected_on_calls_held_by_b() {
    let VoiceIdPair {
        _fleet,
        dir_a,
        dir_b,
        a,
        b,
        domain,
    } = voiceid_pair("fraudsters");

    // A first call by B's voice on B: nobody known yet (B builds its index of the watchlist).
    let first = corpus_wav(&dir_b, "carlo_it", 12..=17);
    let e = voice_call(
        &dir_b,
        &b,
        &first,
        &uuid::Uuid::new_v4().to_string(),
        &domain,
    );
    assert_eq!(e["FraudDetectionResult"]["Decision"], "LOW_RISK", "{e}");

    // The voice is registered as a fraudster by a job on A (manifest and audio in A's folder).
    let batch = dir_a
        .join("hark-data/voiceid-batch")
        .canonicalize()
        .unwrap();
    let audio = corpus_wav(&batch, "carlo_it", 0..=5);
    let manifest = batch.join("fraud.json");
    let body = serde_json::json!({"Version": "1.0", "FraudsterRegistrationRequests": [
        {"RequestId": "f1", "AudioSpecifications": [{"S3Uri": format!("file://{}", audio.display()), "ChannelId": 0}]}
    ]});
    std::fs::write(&manifest, body.to_string()).unwrap();
    let start = serde_json::json!({"DomainId": domain,
        "DataAccessRoleArn": "arn:aws:iam::000000000000:role/hark",
        "InputDataConfig": {"S3Uri": format!("file://{}", manifest.display())},
        "OutputDataConfig": {"S3Uri": format!("file://{}/out", batch.display())}});
    let (status, job) = voiceid(
        a.addr,
        &dir_a,
        "StartFraudsterRegistrationJob",
        &start.to_string(),
    );
    assert_eq!(status, 200, "{job}");
    let describe = format!(
        r#"{{"DomainId":"{domain}","JobId":"{}"}}"#,
        job["Job"]["JobId"].as_str().unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, d) = voiceid(
            a.addr,
            &dir_a,
            "DescribeFraudsterRegistrationJob",
            &describe,
        );
        if d["Job"]["JobStatus"] == "COMPLETED" {
            break;
        }
        assert!(
            matches!(
                d["Job"]["JobStatus"].as_str(),
                Some("SUBMITTED" | "IN_PROGRESS")
            ),
            "{d}"
        );
        assert!(Instant::now() < deadline, "the job never finished: {d}");
        std::thread::yield_now();
    }
    let (_, listed) = voiceid(
        a.addr,
        &dir_a,
        "ListFraudsters",
        &format!(r#"{{"DomainId":"{domain}"}}"#),
    );
    let fraudster = listed["FraudsterSummaries"][0]["GeneratedFraudsterId"]
        .as_str()
        .unwrap()
        .to_owned();

    // The same voice calls B again: high risk, naming the fraudster registered through A.
    let second = corpus_wav(&dir_b, "carlo_it", 18..=23);
    let e = voice_call(
        &dir_b,
        &b,
        &second,
        &uuid::Uuid::new_v4().to_string(),
        &domain,
    );
    let fraud = &e["FraudDetectionResult"];
    assert_eq!(fraud["Decision"], "HIGH_RISK", "{e}");
    assert_eq!(
        fraud["RiskDetails"]["KnownFraudsterRisk"]["GeneratedFraudsterId"],
        fraudster.as_str()
    );
}

/// A fresh conversation (contact) id.
fn contact() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Polls until `check` holds for `hark`'s `/v1/cluster` (bounded); returns it.
fn wait_cluster(hark: &Hark, what: &str, limit: Duration, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = hark.get("/v1/cluster");
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if status == 200 && check(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "never: {what} (last: {status} {body})"
        );
        std::thread::yield_now();
    }
}

fn listed_call(cluster: &Value, call_id: &str) -> bool {
    cluster["calls"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["callId"] == call_id))
}

/// The call id of the leg of `contact`, as the registry lists it.
fn call_of(hark: &Hark, contact: &str) -> String {
    let v = wait_cluster(hark, "the call registered", Duration::from_secs(30), |v| {
        v["calls"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["contactId"] == contact))
    });
    v["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contactId"] == contact)
        .unwrap()["callId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Retries a control until it is acknowledged (2xx) — a 503 means "not stored, retry".
fn until_acknowledged(api: &Api<'_>, method: &str, path: &str) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = api.call(method, path);
        if status != 503 {
            return (status, body);
        }
        assert!(
            Instant::now() < deadline,
            "{path} never acknowledged: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Downloads a recording's audio through `hark`, whole and as a byte range.
fn download(hark: &Hark, auth: &str, id: &str) -> usize {
    let path = format!("/v1/recordings/{id}/audio");
    let (status, head, body) = common::get_raw(hark.addr, &path, &[("Authorization", auth)]);
    assert_eq!(status, 200, "{head}");
    assert!(body.starts_with(b"RIFF"), "a WAV file");
    let (status, head, part) = common::get_raw(
        hark.addr,
        &path,
        &[("Authorization", auth), ("Range", "bytes=0-43")],
    );
    assert_eq!((status, part.len()), (206, 44), "{head}");
    body.len()
}

#[test]
fn three_instances_survive_database_outages_a_kill_and_a_stop_and_lose_nothing_acknowledged() {
    let fleet = fleet("chaos");
    let (dir_a, dir_b, dir_c) = (fleet.dir("a"), fleet.dir("b"), fleet.dir("c"));
    let a = Hark::start(&dir_a, &[], &[]);
    share_credentials(&dir_a, &dir_b);
    share_credentials(&dir_a, &dir_c);
    let b = Hark::start(&dir_b, &[], &[]);
    let c = Hark::start(&dir_c, &[], &[]);
    let auth = token(&dir_a);
    fn api<'a>(hark: &'a Hark, auth: &'a str) -> Api<'a> {
        Api { hark, auth }
    }
    let api_a = api(&a, &auth);
    for h in [&a, &b, &c] {
        wait_for_peers(h, 2);
    }

    // Calls: two long ones on B and C, a short one on B.
    let (k1, k2, k3) = (contact(), contact(), contact());
    let mut calls = vec![
        stream(&dir_b, &b, 70, "agent-b", Some(&k1)),
        stream(&dir_c, &c, 70, "agent-c", Some(&k2)),
    ];
    let (call1, call2) = (call_of(&a, &k1), call_of(&a, &k2));
    assert_eq!(
        api_a.on_demand("start-recording-on-demand", "agent-b").0,
        200
    );
    // A Chime start sent to A for C's call: C's success is the answer (finding 5).
    let start = r#"{"SchemaVersion": "1.0", "Actions": [{"Type": "StartCallRecording", "Parameters": {"Track": "BOTH", "Destination": {"Type": "S3", "Location": "recordings/chime"}}}]}"#;
    let (status, text) = send(
        a.addr,
        "POST",
        &format!("/v1/calls/{call2}/actions"),
        &[("Authorization", &auth)],
        start,
    );
    assert_eq!(status, 200, "{text}");
    let events: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        events["Events"][0]["InvocationEventType"], "ACTION_SUCCESSFUL",
        "{events}"
    );
    assert!(!text.contains("x-hark-not-here"));
    api(&c, &auth).wait(
        &format!("/v1/calls/{call2}/recording"),
        "C records",
        |s, v| s == 200 && v["state"] == "recording",
    );

    // A 3 s outage, with controls sent to instances that do not hold the call.
    fleet.pg.stop();
    let dnr = format!("/v1/contacts/{k1}/do-not-record");
    let (status, body) = api(&c, &auth).call("POST", &dnr);
    assert_eq!(
        status, 503,
        "a refusal that cannot be stored is not acknowledged: {body}"
    );
    let (status, body) = api_a.on_demand("stop-recording-on-demand", "agent-c");
    assert_eq!(
        status, 503,
        "not 404 while the holder cannot be asked: {body}"
    );
    let (status, body) = api_a.call("GET", "/v1/recordings");
    assert_eq!(
        status, 503,
        "never an empty list in place of an error: {body}"
    );
    let k4 = contact();
    let mut blip_call = stream(&dir_a, &a, 1, "agent-blip", Some(&k4));
    assert!(blip_call.wait().unwrap().success());
    let (_, blip_view) = a.get("/v1/interactions");
    assert!(!blip_view.contains(&k4), "the blip call ended: {blip_view}");
    std::thread::sleep(Duration::from_secs(2));
    fleet.pg.resume();

    // The refusal is retried until acknowledged; then B, which holds the call, stopped.
    assert_eq!(until_acknowledged(&api(&c, &auth), "POST", &dnr).0, 200);
    api(&b, &auth).wait(
        &format!("/v1/calls/{call1}/recording"),
        "B stopped",
        |s, v| s == 200 && v["state"] != "recording" && v["do_not_record"] == true,
    );
    let view = wait_cluster(
        &a,
        "registry converged after 3 s",
        Duration::from_secs(10),
        |v| {
            v["instances"].as_array().is_some_and(|i| i.len() == 3)
                && listed_call(v, &call1)
                && listed_call(v, &call2)
                && !v.to_string().contains(&k4)
        },
    );
    let started = |v: &Value| -> Vec<(String, i64)> {
        let mut list: Vec<_> = v["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["instanceId"].as_str().unwrap().to_owned(),
                    i["startedAt"].as_i64().unwrap(),
                )
            })
            .collect();
        list.sort();
        list
    };
    let before = started(&view);
    assert_eq!(before.len(), 3);

    // A 10 s outage: a recorded call ends during it, another starts during it.
    let mut short = stream(&dir_b, &b, 4, "agent-short", Some(&k3));
    let call3 = call_of(&a, &k3);
    assert_eq!(
        api_a
            .on_demand("start-recording-on-demand", "agent-short")
            .0,
        200
    );
    fleet.pg.stop();
    let outage = Instant::now();
    let k5 = contact();
    calls.push(stream(&dir_c, &c, 40, "agent-late", Some(&k5)));
    assert!(short.wait().unwrap().success());
    let wait = Duration::from_secs(10).saturating_sub(outage.elapsed());
    std::thread::sleep(wait);
    fleet.pg.resume();
    // Nobody was declared dead; every live call is listed again, the ended one is not.
    let view = wait_cluster(
        &a,
        "registry converged after 10 s",
        Duration::from_secs(15),
        |v| {
            v["instances"].as_array().is_some_and(|i| i.len() == 3)
                && listed_call(v, &call1)
                && listed_call(v, &call2)
                && !listed_call(v, &call3)
                && v.to_string().contains(&k5)
        },
    );
    for instance in view["instances"].as_array().unwrap() {
        let address = instance["address"].as_str().unwrap();
        assert!(
            [&a, &b, &c].iter().any(|h| h.addr.to_string() == address),
            "an instance registered as {address:?}: {view}"
        );
    }
    // The same registrations: none was declared dead and registered again.
    assert_eq!(started(&view), before, "{view}");
    // The recording that finished during the outage is in S3 and listed, and every instance
    // serves its audio.
    let short_recording = uploaded(&api(&b, &auth), &call3);
    check_recording(fleet.moto.addr, &short_recording, 1.0);
    let id3 = short_recording["id"].as_str().unwrap();
    for h in [&a, &b, &c] {
        assert!(download(h, &auth, id3) > 44);
    }

    // hark recover refuses a live instance's data directory.
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(&dir_a)
        .args(["recover", "--wait-seconds", "5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("running"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // C is killed mid-call; restarted on its data directory it delivers what it recorded.
    c.kill();
    let c = Hark::start(&dir_c, &[], &[]);
    let chime_recording = uploaded(&api(&c, &auth), &call2);
    assert!(
        chime_recording["recovered"].as_bool().unwrap(),
        "{chime_recording}"
    );
    check_recording(fleet.moto.addr, &chime_recording, 1.0);

    // B stops (SIGTERM) after its calls; what it recorded before the refusal is delivered.
    for mut call in calls {
        let _ = call.kill();
        let _ = call.wait();
    }
    let refused_recording = uploaded(&api_a, &call1);
    check_recording(fleet.moto.addr, &refused_recording, 1.0);
    let stopped = b.terminate();
    assert!(stopped.exit.success());
    // The latch is in the database: no instance records that contact again.
    let (status, _) = api_a.on_demand("start-recording-on-demand", "agent-b");
    assert_ne!(status, 200);
    drop(c);
}
