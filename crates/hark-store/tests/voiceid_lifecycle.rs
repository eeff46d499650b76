//! Voice ID on the embedded store with a simulated clock: speakers expire after three years, and
//! a deleted domain is erased 30 days later — no row, no file, no byte of it left in the
//! database, its WAL, or the audio directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use hark_store::SqliteStore;
use hark_voiceid::crypto::DEFAULT_KEY_ID;
use hark_voiceid::records::SpeakerStatus;
use hark_voiceid::{Keyring, ManualClock, Settings, VoiceId};
use serde_json::{Value, json};

fn service(dir: &Path) -> (VoiceId, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
    ));
    let store = Arc::new(SqliteStore::open(&dir.join("hark.db")).unwrap());
    let mut ring = Keyring::default();
    ring.insert(DEFAULT_KEY_ID, [3; 32]);
    let svc = VoiceId::new(store, clock.clone(), ring, &[1; 32], Settings::default());
    (svc, clock)
}

fn call(svc: &VoiceId, op: &str, body: Value) -> Value {
    svc.handle(&format!("VoiceID.{op}"), body.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{op}: {e}"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                out.extend(files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn speakers_expire_after_three_years_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (svc, clock) = service(dir.path());
    let d = call(&svc, "CreateDomain", json!({"Name": "expiry", "ServerSideEncryptionConfiguration": {"KmsKeyId": DEFAULT_KEY_ID}}))["Domain"]["DomainId"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = svc.enroll_speaker(&d, "erin", &[8; 1024]).unwrap();
    svc.put_audio(&d, &s.generated_id, "enrollment", &[1; 8000])
        .unwrap();
    assert_eq!(files(&dir.path().join("voiceid")).len(), 1);
    clock.advance(Duration::days(3 * 365));
    assert_eq!(
        svc.maintain().unwrap().expired_speakers,
        0,
        "2029-02-28 < 2029-03-01"
    );
    clock.set(Utc.with_ymd_and_hms(2029, 3, 1, 12, 0, 0).unwrap());
    assert_eq!(svc.maintain().unwrap().expired_speakers, 1);
    let described = call(
        &svc,
        "DescribeSpeaker",
        json!({"DomainId": d, "SpeakerId": "erin"}),
    );
    assert_eq!(described["Speaker"]["Status"], "EXPIRED");
    assert!(svc.voiceprint(&d, &s.generated_id).unwrap().is_none());
    assert!(
        files(&dir.path().join("voiceid")).is_empty(),
        "audio deleted"
    );
    // Persisted: a fresh service over the same file sees EXPIRED in the table itself.
    drop(svc);
    let conn = rusqlite::Connection::open(dir.path().join("hark.db")).unwrap();
    let status: String = conn
        .query_row("SELECT status FROM voiceid_speakers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, SpeakerStatus::Expired.as_str());
    let blobs: i64 = conn
        .query_row("SELECT count(*) FROM voiceid_blobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(blobs, 0);
}

#[test]
fn a_deleted_domain_is_erased_for_good_after_30_days() {
    let dir = tempfile::tempdir().unwrap();
    let (svc, clock) = service(dir.path());
    let create = |name: &str| {
        call(&svc, "CreateDomain", json!({"Name": name, "Description": format!("{name} description"), "ServerSideEncryptionConfiguration": {"KmsKeyId": DEFAULT_KEY_ID}, "Tags": [{"Key": format!("{name}tag"), "Value": "v"}]}))["Domain"]["DomainId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let gone = create("canarydomainname");
    let kept = create("kept");
    for i in 0..50 {
        let s = svc
            .enroll_speaker(&gone, &format!("canaryspeaker{i}"), &[i; 1024])
            .unwrap();
        svc.put_audio(&gone, &s.generated_id, "enrollment", &[i; 4096])
            .unwrap();
    }
    call(
        &svc,
        "OptOutSpeaker",
        json!({"DomainId": gone, "SpeakerId": "canaryoptout"}),
    );
    call(
        &svc,
        "CreateWatchlist",
        json!({"DomainId": gone, "Name": "canarywatchlist", "ClientToken": "canarytoken"}),
    );
    svc.register_fraudster(&gone, None, Some(&[9; 1024]))
        .unwrap();
    svc.handle(
        "HarkVoiceID.AssociateInstance",
        json!({"InstanceId": "canaryinstance", "DomainId": gone})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    svc.enroll_speaker(&kept, "keptspeaker", &[1; 1024])
        .unwrap();
    call(
        &svc,
        "StartSpeakerEnrollmentJob",
        json!({"DomainId": gone, "JobName": "canaryjob",
               "DataAccessRoleArn": "arn:aws:iam::000000000000:role/canary",
               "InputDataConfig": {"S3Uri": "s3://canary-bucket/manifest.json"},
               "OutputDataConfig": {"S3Uri": "s3://canary-bucket/out"}}),
    );

    call(&svc, "DeleteDomain", json!({"DomainId": gone}));
    clock.advance(Duration::days(29));
    assert!(svc.maintain().unwrap().purged_domains.is_empty());
    assert!(
        !files(&dir.path().join("voiceid")).is_empty(),
        "kept until purge"
    );
    clock.advance(Duration::days(1));
    assert_eq!(svc.maintain().unwrap().purged_domains, vec![gone.clone()]);

    // No row in any table mentions the domain.
    let conn = rusqlite::Connection::open(dir.path().join("hark.db")).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'voiceid_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(tables.len(), 9, "{tables:?}");
    for t in &tables {
        let n: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {t} WHERE domain_id = ?1"),
                [&gone],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "{t} still has rows of the purged domain");
    }
    drop(conn);
    // No file of it on disk, and none of its bytes in the database file or the WAL.
    assert!(!dir.path().join("voiceid").join(&gone).exists());
    let raw: Vec<(PathBuf, Vec<u8>)> = ["hark.db", "hark.db-wal"]
        .iter()
        .map(|f| dir.path().join(f))
        .filter(|p| p.exists())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    for (path, bytes) in &raw {
        for needle in [
            gone.as_str(),
            "canarydomainname",
            "canary description",
            "canaryspeaker",
            "canaryoptout",
            "canarywatchlist",
            "canarytoken",
            "canarytag",
            "canaryinstance",
        ] {
            assert!(
                !contains(bytes, needle),
                "{needle:?} still in {}",
                path.display()
            );
        }
    }
    // The other domain is untouched.
    assert_eq!(
        call(
            &svc,
            "DescribeSpeaker",
            json!({"DomainId": kept, "SpeakerId": "keptspeaker"})
        )["Speaker"]["Status"],
        "ENROLLED"
    );
    assert!(svc.restore_domain(&gone).is_err());
}
