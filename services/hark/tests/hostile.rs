//! Hostile input against a real `hark serve`: forged and replayed Voice ID signatures, slow and
//! half-open connections and body floods, recording destinations and batch-job paths that try
//! to leave their directories, operational routes without a token, and error answers that must
//! all be JSON. Each test would pass against none of the old boundary.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Hark, send, voiceid, voiceid_keys, voiceid_signature};
use serde_json::{Value, json};

fn headers_ref(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

/// `hark serve` in `dir` with `toml` as its configuration.
fn start(dir: &Path, toml: &str) -> Hark {
    std::fs::write(
        dir.join("hark.toml"),
        format!("listen = \"127.0.0.1:0\"\n{toml}"),
    )
    .unwrap();
    Hark::start(dir, &[], &[])
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

/// Reads until the server closes the connection (or `limit` passes); true when it closed.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// `GET /healthz` on a new connection: status and how long the answer took.
fn healthz(addr: SocketAddr) -> (u16, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

#[test]
fn forged_replayed_and_unsigned_voiceid_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let hark = start(dir.path(), "");
    let keys = voiceid_keys(&dir.path().join("hark-data"));
    let (status, created) = voiceid(
        hark.addr,
        &keys,
        "VoiceID.CreateDomain",
        &json!({"Name": "d", "ServerSideEncryptionConfiguration": {"KmsKeyId": "alias/hark-default"}}),
    );
    assert_eq!(status, 200, "{created}");
    let domain = created["Domain"]["DomainId"].as_str().unwrap().to_owned();

    // A captured request that carried x-amz-content-sha256, replayed with another body.
    let body = json!({"DomainId": domain, "SpeakerId": "mine"}).to_string();
    let hash = {
        use sha2::Digest;
        sha2::Sha256::digest(body.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let captured = voiceid_signature(
        hark.addr,
        &keys,
        "POST",
        "/",
        &[
            ("x-amz-target", "VoiceID.DescribeSpeaker"),
            ("x-amz-content-sha256", &hash),
        ],
        &body,
    );
    let (status, _) = send(hark.addr, "POST", "/", &headers_ref(&captured), &body);
    assert_eq!(
        status, 404,
        "the genuine request is answered (no such speaker)"
    );
    let forged = json!({"DomainId": domain, "SpeakerId": "someone-else"}).to_string();
    let (status, text) = send(hark.addr, "POST", "/", &headers_ref(&captured), &forged);
    assert_eq!(status, 403, "{text}");
    assert_eq!(json_of(&text)["__type"], "InvalidSignatureException");

    // The operation swapped under a captured signature.
    let mut swapped = captured.clone();
    for (k, v) in &mut swapped {
        if k == "x-amz-target" {
            *v = "VoiceID.DeleteSpeaker".into();
        }
    }
    let (status, _) = send(hark.addr, "POST", "/", &headers_ref(&swapped), &body);
    assert_eq!(status, 403);

    // UNSIGNED-PAYLOAD, even signed.
    let unsigned = voiceid_signature(
        hark.addr,
        &keys,
        "POST",
        "/",
        &[
            ("x-amz-target", "VoiceID.ListDomains"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
        "{}",
    );
    let (status, text) = send(hark.addr, "POST", "/", &headers_ref(&unsigned), "{}");
    assert_eq!(status, 403, "{text}");

    // A signer that left the operation out of SignedHeaders.
    let mut no_target = voiceid_signature(hark.addr, &keys, "POST", "/", &[], "{}");
    no_target.push(("x-amz-target".into(), "VoiceID.ListDomains".into()));
    let (status, text) = send(hark.addr, "POST", "/", &headers_ref(&no_target), "{}");
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("x-amz-target"), "{text}");
}

#[test]
fn the_voiceid_host_can_be_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let hark = start(
        dir.path(),
        "[voiceid]\nallowed_hosts = [\"voiceid.hark.internal\"]\n",
    );
    let keys = voiceid_keys(&dir.path().join("hark-data"));
    // The helper signs Host = the socket address, which is not the pinned name.
    let (status, body) = voiceid(hark.addr, &keys, "VoiceID.ListDomains", &json!({}));
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["__type"], "InvalidSignatureException", "{body}");
    assert!(body.to_string().contains("Host"), "{body}");
}

#[test]
fn slow_and_half_open_connections_neither_block_health_checks_nor_stay_open() {
    let dir = tempfile::tempdir().unwrap();
    let hark = start(
        dir.path(),
        "[http]\nheader_timeout_seconds = 2\nidle_timeout_seconds = 4\nmax_connections = 100\nhealth_reserve = 10\n",
    );
    // Under the cap: 40 connections that send half a request head, 20 that send nothing.
    let mut held = Vec::new();
    for i in 0..60 {
        let mut s = TcpStream::connect(hark.addr).unwrap();
        if i % 3 != 0 {
            s.write_all(b"POST / HTTP/1.1\r\nHost: h\r\nX-Slow: ")
                .unwrap();
        }
        held.push(s);
    }
    let (status, took) = healthz(hark.addr);
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1), "healthz took {took:?}");
    // Every held connection is closed once the header timeout (2 s) has passed.
    let started = Instant::now();
    for s in &mut held {
        assert!(
            closed_within(s, Duration::from_secs(6)),
            "a slow connection stayed open"
        );
    }
    assert!(started.elapsed() >= Duration::from_millis(1500));

    // Over the cap: 300 slow connections; the longest idle are closed to make room, and
    // health checks keep being answered.
    let mut flood = Vec::new();
    for _ in 0..300 {
        if let Ok(mut s) = TcpStream::connect(hark.addr) {
            let _ = s.write_all(b"GET / HTTP/1.1\r\n");
            flood.push(s);
        }
    }
    let (status, took) = healthz(hark.addr);
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(1),
        "healthz took {took:?} under a flood"
    );

    // A keep-alive connection that goes quiet after a request is closed too.
    let mut quiet = TcpStream::connect(hark.addr).unwrap();
    write!(quiet, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    let mut first = [0u8; 12];
    quiet.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"));
    assert!(closed_within(&mut quiet, Duration::from_secs(8)));
}

#[test]
fn a_low_descriptor_limit_still_leaves_room_for_health_checks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hark.toml"), "listen = \"127.0.0.1:0\"\n").unwrap();
    let hark = Hark::start_with_descriptors(dir.path(), &[], &[], Some(256));
    let mut held = Vec::new();
    for _ in 0..300 {
        if let Ok(s) = TcpStream::connect(hark.addr) {
            held.push(s);
        }
    }
    let (status, took) = healthz(hark.addr);
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1), "healthz took {took:?}");
}

#[test]
fn unauthenticated_body_floods_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let hark = start(dir.path(), "");
    let pid = hark.child.id();
    let before = rss_kib(pid);
    let chunk = vec![b'x'; 64 * 1024];
    let routes = [
        ("/", ""),
        (
            "/",
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIDSTRANGER/20260101/us-east-1/voiceid/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\nX-Amz-Date: 20260101T000000Z\r\n",
        ),
        ("/v1/monitors", ""),
        ("/v1/calls/c/actions", "Authorization: Bearer wrong\r\n"),
    ];
    let mut streams = Vec::new();
    for i in 0..300 {
        let (path, extra) = routes[i % routes.len()];
        let mut s = TcpStream::connect(hark.addr).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: h\r\n{extra}Content-Length: 1048576\r\n\r\n"
        )
        .unwrap();
        // Push as much of the megabyte as the server takes; it answers without reading it.
        for _ in 0..16 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
        streams.push(s);
    }
    let mut refused = 0;
    for mut s in streams {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut head = [0u8; 12];
        if s.read_exact(&mut head).is_ok()
            && (head.starts_with(b"HTTP/1.1 401") || head.starts_with(b"HTTP/1.1 403"))
        {
            refused += 1;
        }
    }
    assert!(refused >= 290, "only {refused} of 300 refused with 401/403");
    let after = rss_kib(pid);
    assert!(
        after.saturating_sub(before) < 40 * 1024,
        "RSS grew from {before} KiB to {after} KiB under 300 MiB of unauthenticated bodies"
    );
}

/// The recording token of a data directory.
fn recording_auth(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("hark-data/credentials.toml")).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    format!("Bearer {}", file["recording"]["token"].as_str().unwrap())
}

fn start_recording(hark: &Hark, auth: &str, call_id: &str, location: &str) -> Value {
    let body = json!({"SchemaVersion": "1.0", "Actions": [{"Type": "StartCallRecording", "Parameters": {
        "CallId": call_id, "Track": "BOTH", "Destination": {"Type": "File", "Location": location}}}]})
    .to_string();
    let (status, text) = send(
        hark.addr,
        "POST",
        &format!("/v1/calls/{call_id}/actions"),
        &[("Authorization", auth)],
        &body,
    );
    assert_eq!(status, 200, "{text}");
    json_of(&text)["Events"][0].clone()
}

fn live_call(hark: &Hark) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = json_of(&hark.get("/v1/interactions").1);
        if let Some(id) = v["interactions"][0]["sessions"][0].as_str() {
            return id.to_owned();
        }
        assert!(Instant::now() < deadline, "no live call");
        std::thread::yield_now();
    }
}

#[test]
fn recording_destinations_stay_inside_their_roots() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let hark = start(dir.path(), "");
    let auth = recording_auth(dir.path());
    let recordings = dir.path().join("hark-data/recordings");
    std::os::unix::fs::symlink(&outside, recordings.join("door")).unwrap();
    std::fs::write(recordings.join("a-file"), "x").unwrap();
    let mut call = common::stream_call(dir.path(), hark.addr, 30, "agent-1", None);
    let call_id = live_call(&hark);
    for hostile in [
        "../../x",
        outside.to_str().unwrap(),
        "/tmp/hark-hostile",
        "door/inside-a-link",
        "a-file/sub",
    ] {
        let event = start_recording(&hark, &auth, &call_id, hostile);
        assert_eq!(
            event["InvocationEventType"], "ACTION_FAILED",
            "{hostile}: {event}"
        );
        assert_eq!(
            event["ActionData"]["ErrorType"], "NoAccessToDestination",
            "{hostile}: {event}"
        );
    }
    assert!(!dir.path().join("x").exists());
    assert!(!Path::new("/tmp/hark-hostile").exists());
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    // A relative destination inside the recordings directory works.
    let event = start_recording(&hark, &auth, &call_id, "team-a");
    assert_eq!(event["InvocationEventType"], "ACTION_SUCCESSFUL", "{event}");
    assert!(recordings.join("team-a").is_dir());
    let _ = call.kill();
    let _ = call.wait();
}

/// Polls a batch job until it has ended; returns it.
fn finished_job(hark: &Hark, keys: &(String, String), domain: &str, job: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v) = voiceid(
            hark.addr,
            keys,
            "VoiceID.DescribeSpeakerEnrollmentJob",
            &json!({"DomainId": domain, "JobId": job}),
        );
        let status = v["Job"]["JobStatus"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !["SUBMITTED", "IN_PROGRESS"].contains(&status.as_str()) {
            return v["Job"].clone();
        }
        assert!(Instant::now() < deadline, "job never ended: {v}");
        std::thread::yield_now();
    }
}

#[test]
fn batch_job_paths_cannot_follow_links_out_or_create_directories_outside() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("batch");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.json"), "{\"secret\": true}").unwrap();
    let hark = start(
        dir.path(),
        &format!("[voiceid]\nbatch_file_roots = [\"{}\"]\n", root.display()),
    );
    let keys = voiceid_keys(&dir.path().join("hark-data"));
    let (_, created) = voiceid(
        hark.addr,
        &keys,
        "VoiceID.CreateDomain",
        &json!({"Name": "d", "ServerSideEncryptionConfiguration": {"KmsKeyId": "alias/hark-default"}}),
    );
    let domain = created["Domain"]["DomainId"].as_str().unwrap().to_owned();
    // The last path component is a link out of the root.
    std::os::unix::fs::symlink(outside.join("secret.json"), root.join("manifest.json")).unwrap();
    let start_job = |input: &str, output: &str, name: &str| {
        let (status, v) = voiceid(
            hark.addr,
            &keys,
            "VoiceID.StartSpeakerEnrollmentJob",
            &json!({"DomainId": domain, "JobName": name, "DataAccessRoleArn": "arn:aws:iam::000000000000:role/x",
                "InputDataConfig": {"S3Uri": input}, "OutputDataConfig": {"S3Uri": output}}),
        );
        assert_eq!(status, 200, "{v}");
        v["Job"]["JobId"].as_str().unwrap().to_owned()
    };
    let input = format!("file://{}", root.join("manifest.json").display());
    let out_inside = format!("file://{}/", root.join("out").display());
    let job = start_job(&input, &out_inside, "link");
    let failed = finished_job(&hark, &keys, &domain, &job);
    assert_eq!(failed["JobStatus"], "FAILED", "{failed}");
    assert!(
        failed.to_string().contains("batch_file_roots"),
        "the failure says why: {failed}"
    );

    // Output outside the roots: refused, and no directory created there.
    std::fs::write(
        root.join("real.json"),
        "{\"Version\": \"1.0\", \"SpeakerEnrollmentRequests\": []}",
    )
    .unwrap();
    let input = format!("file://{}", root.join("real.json").display());
    let out_outside = format!("file://{}/", outside.join("made/by/hark").display());
    let job = start_job(&input, &out_outside, "escape");
    let ended = finished_job(&hark, &keys, &domain, &job);
    assert_eq!(ended["JobStatus"], "FAILED", "{ended}");
    assert!(
        !outside.join("made").exists(),
        "a directory was created outside the roots"
    );
}

#[test]
fn operational_routes_need_the_admin_token_or_the_admin_listener() {
    let dir = tempfile::tempdir().unwrap();
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let hark = start(dir.path(), &format!("[admin]\nlisten = \"{admin_port}\"\n"));
    for path in ["/v1/interactions", "/v1/cluster", "/metrics"] {
        let (status, text) = common::request(hark.addr, "GET", path);
        assert_eq!(status, 401, "{path}: {text}");
        assert_eq!(json_of(&text)["code"], "Unauthorized");
        let (status, text) = send(
            hark.addr,
            "GET",
            path,
            &[("Authorization", "Bearer hark_adm_wrong")],
            "",
        );
        assert_eq!(status, 401, "{path}: {text}");
    }
    assert_eq!(hark.get("/v1/interactions").0, 200);
    assert_eq!(hark.get("/metrics").0, 200);
    // The admin listener: metrics and health without a token, nothing else.
    let (status, metrics) = common::request(admin_port, "GET", "/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("hark_build_info"), "{metrics}");
    assert_eq!(common::request(admin_port, "GET", "/healthz").0, 200);
    assert_eq!(
        common::request(admin_port, "GET", "/v1/interactions").0,
        404
    );
}

#[test]
fn every_error_answer_is_json_with_a_code_and_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let hark = start(dir.path(), "");
    let data = dir.path().join("hark-data");
    let text = std::fs::read_to_string(data.join("credentials.toml")).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    let monitor = format!("Bearer {}", file["monitor"]["token"].as_str().unwrap());
    let recording = recording_auth(dir.path());
    let long = format!("/healthz?{}", "a".repeat(9000));
    let many: Vec<(String, String)> = (0..150).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let big = "x".repeat(70 * 1024);
    let cases: Vec<(u16, u16, String)> = vec![
        (
            414,
            common::request(hark.addr, "GET", &long).0,
            common::request(hark.addr, "GET", &long).1,
        ),
        {
            let r = send(hark.addr, "GET", "/healthz", &headers_ref(&many), "");
            (431, r.0, r.1)
        },
        {
            let r = send(
                hark.addr,
                "POST",
                "/v1/monitors",
                &[("Authorization", &monitor)],
                &big,
            );
            (413, r.0, r.1)
        },
        {
            let r = send(
                hark.addr,
                "POST",
                "/v1/contacts/c1/agents",
                &[("Authorization", &recording)],
                "{not json",
            );
            (400, r.0, r.1)
        },
        {
            let r = send(
                hark.addr,
                "POST",
                "/interaction-recording-management-service/interactions/do-not-record?userId=a&userId=b",
                &[("Authorization", &recording)],
                "",
            );
            (400, r.0, r.1)
        },
        {
            let r = send(hark.addr, "DELETE", "/healthz", &[], "");
            (405, r.0, r.1)
        },
    ];
    for (expected, status, body) in cases {
        assert_eq!(status, expected, "{body}");
        let v = json_of(&body);
        assert!(v["code"].is_string(), "{expected}: {body}");
        let message = v["message"].as_str().unwrap();
        assert!(
            !message.is_empty() && !message.contains("Some(") && !message.contains("None"),
            "{message}"
        );
    }
}

#[test]
fn a_streaming_response_is_a_request_in_flight_not_an_idle_connection() {
    let dir = tempfile::tempdir().unwrap();
    let hark = start(dir.path(), "[http]\nidle_timeout_seconds = 1\n");
    let keys = voiceid_keys(&dir.path().join("hark-data"));
    let headers = voiceid_signature(hark.addr, &keys, "GET", "/v1/voiceid/events", &[], "");
    let mut stream = TcpStream::connect(hark.addr).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "GET /v1/voiceid/events HTTP/1.1\r\nHost: {}\r\n{extra}\r\n",
        hark.addr
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    // Well past the idle timeout (and the sweep's one-second tick), the event stream is open.
    assert!(!closed_within(&mut stream, Duration::from_secs(3)));
}
