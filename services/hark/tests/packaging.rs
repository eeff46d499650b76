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
