//! What an operator installs besides the binary: the systemd unit (checked by
//! `systemd-analyze verify` and for its hardening), the container file's entrypoint (every flag
//! one `hark serve` takes), shell completions and the manual page.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::Path;
use std::process::Command;

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn hark(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_systemd_unit_is_valid_and_hardened() {
    let unit = std::fs::read_to_string(repo("deploy/systemd/hark.service")).unwrap();
    for directive in [
        "DynamicUser=yes",
        "StateDirectory=hark",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "UMask=0077",
        "CapabilityBoundingSet=\n",
        "KillSignal=SIGTERM",
    ] {
        assert!(unit.contains(directive), "{directive} missing");
    }
    // Long enough for the default drain (300 s) to finish before systemd kills.
    let stop: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(stop > hark::config::DEFAULT_DRAIN_SECONDS);
    // systemd's own check, with the binary this test built in place of the installed one.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("hark.service");
    std::fs::write(
        &local,
        unit.replace("/usr/local/bin/hark", env!("CARGO_BIN_EXE_hark")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&local)
        .output()
        .expect("systemd-analyze (Debian's systemd package; .ci/run installs it)");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && report.trim().is_empty(), "{report}");
}

#[test]
fn the_container_entrypoint_uses_only_flags_hark_serve_takes() {
    let file = std::fs::read_to_string(repo("deploy/container/Containerfile")).unwrap();
    let entry = file
        .lines()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .unwrap();
    let args: Vec<String> = serde_json::from_str(entry).unwrap();
    assert_eq!(&args[..2], ["/usr/local/bin/hark", "serve"]);
    let help = hark(&["serve", "--help"]);
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        assert!(help.contains(flag.as_str()), "hark serve takes no {flag}");
    }
    assert!(file.contains("STOPSIGNAL SIGTERM"));
}

#[test]
fn completions_and_the_manual_page_cover_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let script = hark(&["completions", shell]);
        assert!(
            script.contains("serve") && script.contains("recover"),
            "{shell}"
        );
    }
    let man = hark(&["man"]);
    assert!(man.contains(".TH hark 1"), "{man}");
    assert!(
        man.contains("serve") && man.contains("completions"),
        "{man}"
    );
}

/// The metric families `/metrics` declares (`# TYPE name kind`), with Voice ID's collector.
fn exported_metrics() -> std::collections::BTreeSet<String> {
    let mut ring = hark_voiceid::Keyring::default();
    ring.insert(
        hark_voiceid::crypto::DEFAULT_KEY_ID,
        hark_voiceid::Keyring::generate_key().unwrap(),
    );
    let service = hark_voiceid::VoiceId::new(
        std::sync::Arc::new(hark_voiceid::MemoryStore::default()),
        std::sync::Arc::new(hark_voiceid::SystemClock),
        ring,
        &[7; 32],
        hark_voiceid::Settings::default(),
    );
    let metrics = hark::app::metrics::Metrics::new().with_voiceid(std::sync::Arc::new(service));
    // Labelled families render once they hold a series: give each one.
    use hark::app::metrics::*;
    let monitor = MonitorLabels {
        monitor: "m".into(),
    };
    let m = &metrics.monitor;
    let _ = m.connected.get_or_create(&monitor);
    let counters = [
        &m.connect_attempts,
        &m.connect_failures,
        &m.frames_sent,
        &m.bytes_sent,
        &m.discarded_frames,
    ];
    for family in counters {
        let _ = family.get_or_create(&monitor);
    }
    let _ = m.discarded_seconds.get_or_create(&monitor);
    let _ = m.billable_seconds.get_or_create(&monitor);
    let _ = m.usage_seconds.get_or_create(&UsageLabels {
        monitor: "m".into(),
        kind: "connected",
    });
    let route = || ("/".to_owned(), "GET".to_owned());
    let _ = metrics.http_requests.get_or_create(&HttpLabels {
        route: route().0,
        method: route().1,
        status: 200,
    });
    let _ = metrics.http_duration.get_or_create(&RouteLabels {
        route: route().0,
        method: route().1,
    });
    let operation = "VoiceID.DescribeDomain".to_owned();
    let _ = metrics.voiceid_requests.get_or_create(&VoiceIdLabels {
        operation: operation.clone(),
        code: "ok".into(),
    });
    let _ = metrics
        .voiceid_duration
        .get_or_create(&OperationLabels { operation });
    let _ = metrics
        .audiohook
        .protocol_errors
        .get_or_create(&ProtocolErrorLabels {
            source: "client",
            code: "408".into(),
        });
    metrics
        .render()
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Every `hark_…` series a PromQL text names, as the family it belongs to.
fn named_families(text: &str, exported: &std::collections::BTreeSet<String>) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("hark_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let series = &tail[..end];
        let family = ["_bucket", "_sum", "_count", "_total", "_created"]
            .iter()
            .filter_map(|s| series.strip_suffix(s))
            .find(|f| exported.contains(*f))
            .unwrap_or(series);
        names.push(family.to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_dashboard_and_the_alerts_name_only_metrics_hark_exports() {
    let exported = exported_metrics();
    for family in [
        "hark_audiohook_open_latency_seconds",
        "hark_voiceid_first_decision_seconds",
        "hark_voiceid_live_sessions",
        "hark_recording_spool_oldest_seconds",
    ] {
        assert!(
            exported.contains(family),
            "{family} is not exported: {exported:?}"
        );
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("deploy/grafana/hark.json")).unwrap())
            .unwrap();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    assert!(exprs.len() >= 15, "{} queries", exprs.len());
    let alerts = std::fs::read_to_string(repo("deploy/prometheus/alerts.yml")).unwrap();
    let alert_exprs: Vec<String> = alerts
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr: "))
        .map(str::to_owned)
        .collect();
    assert!(alert_exprs.len() >= 8, "{} alerts", alert_exprs.len());
    for expr in exprs.iter().chain(&alert_exprs) {
        for family in named_families(expr, &exported) {
            assert!(
                exported.contains(&family),
                "{family} (in `{expr}`) is not a metric hark exports"
            );
        }
    }
}

#[test]
fn the_alert_rules_are_a_valid_prometheus_rule_file() {
    let python = std::env::var("HARK_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let check = "import sys, yaml\n\
        doc = yaml.safe_load(open(sys.argv[1]))\n\
        rules = [r for g in doc['groups'] for r in g['rules']]\n\
        assert rules and all({'alert', 'expr', 'labels', 'annotations'} <= set(r) for r in rules), rules\n\
        assert len({r['alert'] for r in rules}) == len(rules), 'duplicate alert names'\n\
        print(len(rules))";
    let out = Command::new(python)
        .args(["-c", check])
        .arg(repo("deploy/prometheus/alerts.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "alerts.yml: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
