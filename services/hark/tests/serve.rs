//! `hark serve` as a real process: first start, credentials, health, metrics, configuration
//! precedence and graceful shutdown on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::Hark;

#[test]
fn first_start_serves_health_and_metrics_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let hark = Hark::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]);

    let (status, body) = hark.get("/healthz");
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");

    let (status, body) = hark.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        body.contains(
            "hark_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"
        ),
        "{body}"
    );
    assert!(body.contains("hark_build_info"));
    // Latency by route, the process, the spool, and Voice ID by operation and outcome.
    assert!(
        body.contains(
            "hark_http_request_duration_seconds_count{route=\"/healthz\",method=\"GET\"} 1"
        ),
        "{body}"
    );
    for family in [
        "hark_process_resident_memory_bytes ",
        "hark_process_open_fds ",
        "hark_process_cpu_seconds ",
        "hark_recording_spool_files 0",
        "hark_recording_rows_pending 0",
    ] {
        assert!(body.contains(family), "{family} missing: {body}");
    }
    let keys = common::voiceid_keys(&dir.path().join("hark-data"));
    let (status, _) = common::voiceid(
        hark.addr,
        &keys,
        "VoiceID.ListDomains",
        &serde_json::json!({}),
    );
    assert_eq!(status, 200);
    let (_, body) = hark.get("/metrics");
    assert!(
        body.contains(
            "hark_voiceid_requests_total{operation=\"VoiceID.ListDomains\",code=\"ok\"} 1"
        ),
        "{body}"
    );

    let (status, body) = hark.get("/no/such/route");
    assert_eq!(status, 404);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["code"], "NotFound");

    // The default data directory is ./hark-data, created on first start, private.
    let data = dir.path().join("hark-data");
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let credentials = data.join("credentials.toml");
    assert_eq!(
        std::fs::metadata(&credentials)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let stored: toml::Table = std::fs::read_to_string(&credentials)
        .unwrap()
        .parse()
        .unwrap();
    let token = stored["recording"]["token"].as_str().unwrap().to_owned();
    let secret = stored["voiceid"]["secret_access_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        stored["audiohook"]["api_key"].is_str() && stored["audiohook"]["client_secret"].is_str()
    );

    let stopped = hark.terminate();
    assert!(
        stopped.exit.success(),
        "graceful shutdown exits 0, got {}",
        stopped.exit
    );
    // Printed once on the console...
    assert!(
        stopped.stderr.contains(&token),
        "first start prints the new credentials"
    );
    assert!(stopped.logs.iter().any(|l| l.contains("SIGTERM")));

    // ...and not again, nor ever in the logs.
    let hark = Hark::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]);
    let stopped = hark.terminate();
    assert!(stopped.exit.success());
    let again = &stopped.stderr;
    assert!(
        !again.contains(&token) && !again.contains(&secret),
        "second start printed credentials: {again}"
    );
    let stored_again: toml::Table = std::fs::read_to_string(&credentials)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        stored_again["recording"]["token"].as_str(),
        Some(token.as_str())
    );
}

#[test]
fn logs_never_contain_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let hark = Hark::start(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    hark.get("/healthz");
    let stored = std::fs::read_to_string(data.join("credentials.toml")).unwrap();
    let all_logs = hark.terminate().logs;
    assert!(all_logs.len() >= 3);
    let table: toml::Table = stored.parse().unwrap();
    for (_, section) in table {
        for (_, value) in section.as_table().unwrap() {
            let value = value.as_str().unwrap();
            assert!(
                all_logs.iter().all(|l| !l.contains(value)),
                "a credential appeared in the logs"
            );
        }
    }
}

#[test]
fn flags_beat_environment_beat_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hark.toml"),
        "data_dir = \"from-file\"\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();

    // The file alone.
    let hark = Hark::start(dir.path(), &[], &[]);
    assert!(dir.path().join("from-file/credentials.toml").exists());
    hark.terminate();

    // The environment beats the file.
    let hark = Hark::start(dir.path(), &[], &[("HARK_DATA_DIR", "from-env")]);
    assert!(dir.path().join("from-env/credentials.toml").exists());
    hark.terminate();

    // A flag beats the environment.
    let hark = Hark::start(
        dir.path(),
        &["--data-dir", "from-flag"],
        &[("HARK_DATA_DIR", "from-env-2")],
    );
    assert!(dir.path().join("from-flag/credentials.toml").exists());
    assert!(!dir.path().join("from-env-2").exists());
    hark.terminate();
}

#[test]
fn bad_configuration_exits_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hark.toml"),
        "listen = \"127.0.0.1:0\"\nport = 1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid config file") && stderr.contains("port"),
        "{stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .args(["serve", "--config", "/dev/null", "--listen", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid listen address"));

    // A log level that names no level is refused, not silently logging nothing.
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .args(["serve", "--config", "/dev/null"])
        .env("HARK_LOG_LEVEL", "verbose")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"verbose\" is not one of"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A port already taken is reported, not a panic.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(dir.path())
        .args(["serve", "--config", "/dev/null", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on"));

    // A start that fails late (the admin address is taken) neither saves nor shows credentials.
    let fresh = tempfile::tempdir().unwrap();
    std::fs::write(
        fresh.path().join("hark.toml"),
        format!("listen = \"127.0.0.1:0\"\n[admin]\nlisten = \"{addr}\"\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .current_dir(fresh.path())
        .arg("serve")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&addr),
        "the failure names the address: {stderr}"
    );
    assert!(!stderr.contains("generated credentials"), "{stderr}");
    assert!(!fresh.path().join("hark-data/credentials.toml").exists());
}
