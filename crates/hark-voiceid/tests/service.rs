//! The service's rules, on the in-memory store and a simulated clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use hark_voiceid::crypto::DEFAULT_KEY_ID;
use hark_voiceid::records::{BlobKey, BlobKind, SpeakerRef, SpeakerStatus};
use hark_voiceid::{Error, Keyring, ManualClock, MemoryStore, Settings, VoiceId, VoiceIdStore};
use serde_json::{Value, json};

struct World {
    svc: VoiceId,
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
}

fn world_with(settings: Settings, keys: &[&str]) -> World {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 1, 9, 30, 0).unwrap(),
    ));
    let store = Arc::new(MemoryStore::default());
    let mut ring = Keyring::default();
    for k in keys {
        ring.insert(*k, Keyring::generate_key().unwrap());
    }
    let svc = VoiceId::new(store.clone(), clock.clone(), ring, &[7; 32], settings);
    World { svc, clock, store }
}

fn world() -> World {
    world_with(Settings::default(), &[DEFAULT_KEY_ID, "alias/second"])
}

impl World {
    fn call(&self, op: &str, body: Value) -> Result<Value, Error> {
        self.svc
            .handle(&format!("VoiceID.{op}"), body.to_string().as_bytes())
    }

    fn ok(&self, op: &str, body: Value) -> Value {
        self.call(op, body)
            .unwrap_or_else(|e| panic!("{op}: {} {e}", e.code()))
    }

    fn err(&self, op: &str, body: Value) -> Error {
        self.call(op, body).expect_err(op)
    }

    fn domain(&self, name: &str) -> String {
        self.ok(
            "CreateDomain",
            json!({"Name": name, "ServerSideEncryptionConfiguration": {"KmsKeyId": DEFAULT_KEY_ID}}),
        )["Domain"]["DomainId"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[test]
fn domains_are_isolated_from_each_other() {
    let w = world();
    let a = w.domain("a");
    let b = w.domain("b");
    let s = w.ok(
        "OptOutSpeaker",
        json!({"DomainId": a, "SpeakerId": "cust-1"}),
    )["Speaker"]
        .clone();
    let generated = s["GeneratedSpeakerId"].as_str().unwrap();
    for id in ["cust-1", generated] {
        let e = w.err("DescribeSpeaker", json!({"DomainId": b, "SpeakerId": id}));
        assert_eq!(
            (e.code(), e.body()["ResourceType"].clone()),
            ("ResourceNotFoundException", json!("SPEAKER"))
        );
        let e = w.err("DeleteSpeaker", json!({"DomainId": b, "SpeakerId": id}));
        assert_eq!(e.status(), 404);
    }
    assert_eq!(
        w.ok("ListSpeakers", json!({"DomainId": b}))["SpeakerSummaries"],
        json!([])
    );
    let f = w.svc.register_fraudster(&a, None, Some(&[1; 16])).unwrap();
    let e = w.err(
        "DescribeFraudster",
        json!({"DomainId": b, "FraudsterId": f.generated_id}),
    );
    assert_eq!(e.body()["ResourceType"], "FRAUDSTER");
    let wl_a = w.ok("DescribeDomain", json!({"DomainId": a}))["Domain"]["WatchlistDetails"]["DefaultWatchlistId"].clone();
    let e = w.err(
        "DescribeWatchlist",
        json!({"DomainId": b, "WatchlistId": wl_a}),
    );
    assert_eq!(e.body()["ResourceType"], "WATCHLIST");
    assert!(w.svc.voiceprint(&b, &f.generated_id).unwrap().is_none());
    assert_eq!(
        w.svc.voiceprint(&a, &f.generated_id).unwrap().unwrap(),
        vec![1; 16]
    );
    // The same customer id in two domains is two speakers.
    let s_b = w.ok(
        "OptOutSpeaker",
        json!({"DomainId": b, "SpeakerId": "cust-1"}),
    )["Speaker"]
        .clone();
    assert_ne!(s_b["GeneratedSpeakerId"], s["GeneratedSpeakerId"]);
}

#[test]
fn speakers_expire_three_years_after_last_access_and_lose_their_voiceprint() {
    let w = world();
    let d = w.domain("d");
    let enrolled = w.svc.enroll_speaker(&d, "alice", &[5; 1024]).unwrap();
    let bob = w.svc.enroll_speaker(&d, "bob", &[6; 1024]).unwrap();
    w.svc
        .put_audio(&d, &enrolled.generated_id, "utterance-1", &[9; 4000])
        .unwrap();
    // LastAccessedAt is kept to the hour.
    let described = w.ok(
        "DescribeSpeaker",
        json!({"DomainId": d, "SpeakerId": "alice"}),
    )["Speaker"]
        .clone();
    let hour = Utc
        .with_ymd_and_hms(2026, 1, 1, 9, 0, 0)
        .unwrap()
        .timestamp() as f64;
    assert_eq!(described["LastAccessedAt"], json!(hour));
    assert_eq!(described["Status"], "ENROLLED");
    // Describing is not an access; a successful authentication a year later is (for bob).
    w.clock.advance(Duration::days(365));
    w.svc.record_authentication(&d, "bob").unwrap();
    // One hour before three years after the enrollment hour: still enrolled.
    w.clock
        .set(Utc.with_ymd_and_hms(2029, 1, 1, 8, 59, 59).unwrap());
    assert_eq!(w.svc.maintain().unwrap().expired_speakers, 0);
    assert_eq!(
        w.svc.speaker(&d, "alice").unwrap().status,
        SpeakerStatus::Enrolled
    );
    // At three years: expired on read at once, and the sweep makes it durable and deletes biometrics.
    w.clock
        .set(Utc.with_ymd_and_hms(2029, 1, 1, 9, 0, 0).unwrap());
    assert_eq!(
        w.ok(
            "DescribeSpeaker",
            json!({"DomainId": d, "SpeakerId": enrolled.generated_id})
        )["Speaker"]["Status"],
        "EXPIRED"
    );
    let report = w.svc.maintain().unwrap();
    assert_eq!(report.expired_speakers, 1);
    let stored = w
        .store
        .speaker(&d, SpeakerRef::Customer("alice"))
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, SpeakerStatus::Expired);
    assert!(
        w.svc
            .voiceprint(&d, &enrolled.generated_id)
            .unwrap()
            .is_none()
    );
    assert!(
        w.svc
            .audio(&d, &enrolled.generated_id, "utterance-1")
            .unwrap()
            .is_none()
    );
    assert_eq!(
        w.svc.speaker(&d, "bob").unwrap().status,
        SpeakerStatus::Enrolled
    );
    assert!(w.svc.voiceprint(&d, &bob.generated_id).unwrap().is_some());
    // Re-enrolling an expired speaker makes it ENROLLED again.
    w.svc.enroll_speaker(&d, "alice", &[5; 1024]).unwrap();
    assert_eq!(
        w.svc.speaker(&d, "alice").unwrap().status,
        SpeakerStatus::Enrolled
    );
    // Bob expires three years after his authentication.
    w.clock
        .set(Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap());
    assert_eq!(w.svc.maintain().unwrap().expired_speakers, 1);
}

#[test]
fn opt_out_creates_or_overrides_and_deletes_biometrics() {
    let w = world();
    let d = w.domain("d");
    let s = w.svc.enroll_speaker(&d, "carol", &[1; 1024]).unwrap();
    w.svc.put_audio(&d, &s.generated_id, "a", &[2; 10]).unwrap();
    let out = w.ok(
        "OptOutSpeaker",
        json!({"DomainId": d, "SpeakerId": s.generated_id}),
    )["Speaker"]
        .clone();
    assert_eq!(out["Status"], "OPTED_OUT");
    assert_eq!(out["CustomerSpeakerId"], "carol");
    assert!(w.store.blob_keys(&d, &s.generated_id).unwrap().is_empty());
    let e = w.svc.enroll_speaker(&d, "carol", &[1; 1024]).unwrap_err();
    assert_eq!(e.body()["ConflictType"], "SPEAKER_OPTED_OUT");
    // Deleting is the way back.
    w.ok(
        "DeleteSpeaker",
        json!({"DomainId": d, "SpeakerId": "carol"}),
    );
    w.svc.enroll_speaker(&d, "carol", &[1; 1024]).unwrap();
    // Unknown generated id: nothing to create.
    let e = w.err(
        "OptOutSpeaker",
        json!({"DomainId": d, "SpeakerId": format!("id#{}", "x".repeat(22))}),
    );
    assert_eq!(e.status(), 404);
}

#[test]
fn deleted_domains_vanish_at_once_can_be_restored_and_are_purged_after_30_days() {
    let w = world();
    let d = w.domain("gone");
    let keep = w.domain("kept");
    let s = w.svc.enroll_speaker(&d, "dave", &[3; 1024]).unwrap();
    w.svc
        .put_audio(&d, &s.generated_id, "a", &[4; 100])
        .unwrap();
    w.svc
        .handle(
            "HarkVoiceID.AssociateInstance",
            json!({"InstanceId": "inst-1", "DomainId": d})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    w.ok("DeleteDomain", json!({"DomainId": d}));
    for (op, body) in [
        ("DescribeDomain", json!({"DomainId": d})),
        ("DeleteDomain", json!({"DomainId": d})),
        (
            "DescribeSpeaker",
            json!({"DomainId": d, "SpeakerId": "dave"}),
        ),
        ("ListSpeakers", json!({"DomainId": d})),
    ] {
        let e = w.err(op, body);
        assert_eq!(
            (e.status(), e.body()["ResourceType"].clone()),
            (404, json!("DOMAIN")),
            "{op}"
        );
    }
    let listed = w.ok("ListDomains", json!({}));
    assert_eq!(listed["DomainSummaries"].as_array().unwrap().len(), 1);
    assert_eq!(w.svc.instance_domain("inst-1").unwrap(), None);
    // Restore within 30 days: everything is back.
    w.clock.advance(Duration::days(29));
    assert!(w.svc.maintain().unwrap().purged_domains.is_empty());
    w.svc.restore_domain(&d).unwrap();
    assert_eq!(
        w.svc.voiceprint(&d, &s.generated_id).unwrap().unwrap(),
        vec![3; 1024]
    );
    assert_eq!(w.svc.instance_domain("inst-1").unwrap(), Some(d.clone()));
    assert!(matches!(
        w.svc.restore_domain(&d),
        Err(Error::Validation(_))
    ));
    // Delete again; 30 days later it is erased for good.
    w.ok("DeleteDomain", json!({"DomainId": d}));
    w.clock.advance(Duration::days(30) - Duration::seconds(1));
    assert!(w.svc.maintain().unwrap().purged_domains.is_empty());
    w.clock.advance(Duration::seconds(1));
    assert_eq!(w.svc.maintain().unwrap().purged_domains, vec![d.clone()]);
    assert!(w.store.domain(&d).unwrap().is_none());
    assert_eq!(w.store.count_speakers(&d).unwrap(), 0);
    assert_eq!(w.store.count_watchlists(&d).unwrap(), 0);
    assert!(w.store.blob_keys(&d, &s.generated_id).unwrap().is_empty());
    assert!(w.store.instance("inst-1").unwrap().is_none());
    assert_eq!(w.svc.restore_domain(&d).unwrap_err().status(), 404);
    assert!(w.store.domain(&keep).unwrap().is_some());
}

#[test]
fn a_key_change_reencrypts_in_the_background() {
    let w = world();
    let d = w.domain("d");
    let mut owners = Vec::new();
    for i in 0..300 {
        let s = w
            .svc
            .enroll_speaker(&d, &format!("s{i}"), &[i as u8; 1024])
            .unwrap();
        owners.push(s.generated_id);
    }
    let f = w
        .svc
        .register_fraudster(&d, None, Some(&[42; 1024]))
        .unwrap();
    let key = |o: &str| BlobKey {
        domain_id: d.clone(),
        owner_id: o.to_owned(),
        kind: BlobKind::Voiceprint,
    };
    assert_eq!(
        w.store.blob(&key(&owners[0])).unwrap().unwrap().key_id,
        DEFAULT_KEY_ID
    );
    let update = |k: &str| {
        w.call(
            "UpdateDomain",
            json!({"DomainId": d, "Name": "renamed", "ServerSideEncryptionConfiguration": {"KmsKeyId": k}}),
        )
    };
    let e = update("alias/unknown").unwrap_err();
    assert!(e.to_string().contains("not a key in hark's keyring"), "{e}");
    let dom = update("alias/second").unwrap()["Domain"].clone();
    assert_eq!(
        dom["ServerSideEncryptionConfiguration"]["KmsKeyId"],
        "alias/second"
    );
    assert_eq!(
        dom["ServerSideEncryptionUpdateDetails"],
        json!({"OldKmsKeyId": DEFAULT_KEY_ID, "UpdateStatus": "IN_PROGRESS"})
    );
    assert!(
        dom.get("Description").is_none(),
        "clobber: an omitted description is cleared"
    );
    // Another key change while it runs is refused.
    let e = update(DEFAULT_KEY_ID).unwrap_err();
    assert_eq!(
        e.body()["ConflictType"],
        "DOMAIN_LOCKED_FROM_ENCRYPTION_UPDATES"
    );
    // New writes already use the new key; reads work throughout.
    assert_eq!(
        w.svc.voiceprint(&d, &owners[7]).unwrap().unwrap(),
        vec![7; 1024]
    );
    let first = w.svc.maintain().unwrap();
    assert_eq!(first.reencrypted_blobs, 256);
    assert!(first.reencryption_pending);
    let second = w.svc.maintain().unwrap();
    assert_eq!(second.reencrypted_blobs, 45);
    assert!(!second.reencryption_pending);
    for o in owners.iter().chain([&f.generated_id]) {
        assert_eq!(
            w.store.blob(&key(o)).unwrap().unwrap().key_id,
            "alias/second"
        );
    }
    assert_eq!(
        w.svc.voiceprint(&d, &owners[299]).unwrap().unwrap(),
        vec![299u32 as u8; 1024]
    );
    let dom = w.ok("DescribeDomain", json!({"DomainId": d}))["Domain"].clone();
    assert_eq!(
        dom["ServerSideEncryptionUpdateDetails"]["UpdateStatus"],
        "COMPLETED"
    );
    update(DEFAULT_KEY_ID).unwrap();
}

#[test]
fn reencryption_fails_clearly_when_the_old_key_is_gone_and_a_missing_key_suspends_the_domain() {
    let w = world();
    let d = w.domain("d");
    w.svc.enroll_speaker(&d, "x", &[1; 1024]).unwrap();
    // Same store, a keyring without the default key: the domain is suspended, answers 403.
    let mut ring = Keyring::default();
    ring.insert("alias/second", Keyring::generate_key().unwrap());
    let svc2 = VoiceId::new(
        w.store.clone(),
        w.clock.clone(),
        ring,
        &[7; 32],
        Settings::default(),
    );
    let call =
        |op: &str, body: Value| svc2.handle(&format!("VoiceID.{op}"), body.to_string().as_bytes());
    let dom = call("DescribeDomain", json!({"DomainId": d})).unwrap();
    assert_eq!(dom["Domain"]["DomainStatus"], "SUSPENDED");
    let e = call("DescribeSpeaker", json!({"DomainId": d, "SpeakerId": "x"})).unwrap_err();
    assert_eq!((e.code(), e.status()), ("AccessDeniedException", 403));
    call(
        "UpdateDomain",
        json!({"DomainId": d, "Name": "d", "ServerSideEncryptionConfiguration": {"KmsKeyId": "alias/second"}}),
    )
    .unwrap();
    svc2.maintain().unwrap();
    let dom = call("DescribeDomain", json!({"DomainId": d})).unwrap()["Domain"].clone();
    assert_eq!(
        dom["ServerSideEncryptionUpdateDetails"]["UpdateStatus"],
        "FAILED"
    );
    assert!(
        dom["ServerSideEncryptionUpdateDetails"]["Message"]
            .as_str()
            .unwrap()
            .contains("alias/hark-default")
    );
}

#[test]
fn client_tokens_make_creation_idempotent() {
    let w = world();
    let body = json!({"Name": "x", "ClientToken": "tok-1", "ServerSideEncryptionConfiguration": {"KmsKeyId": DEFAULT_KEY_ID}});
    let first = w.ok("CreateDomain", body.clone());
    let again = w.ok("CreateDomain", body.clone());
    assert_eq!(first, again);
    assert_eq!(
        w.ok("ListDomains", json!({}))["DomainSummaries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let mut other = body.clone();
    other["Name"] = json!("y");
    assert_eq!(w.err("CreateDomain", other).code(), "ValidationException");
    let d = first["Domain"]["DomainId"].as_str().unwrap();
    let wl = json!({"DomainId": d, "Name": "w", "ClientToken": "tok-1"});
    assert_eq!(
        w.ok("CreateWatchlist", wl.clone()),
        w.ok("CreateWatchlist", wl)
    );
    assert_eq!(
        w.ok("ListWatchlists", json!({"DomainId": d}))["WatchlistSummaries"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Tokens are forgotten after 24 hours.
    w.clock.advance(Duration::hours(25));
    assert_eq!(w.svc.maintain().unwrap().forgotten_client_tokens, 2);
}

#[test]
fn pages_resume_with_tamper_evident_tokens() {
    let w = world();
    let d = w.domain("d");
    for i in 0..7 {
        w.ok(
            "OptOutSpeaker",
            json!({"DomainId": d, "SpeakerId": format!("c{i}")}),
        );
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"DomainId": d, "MaxResults": 3});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let page = w.ok("ListSpeakers", body);
        pages += 1;
        for s in page["SpeakerSummaries"].as_array().unwrap() {
            seen.push(s["CustomerSpeakerId"].as_str().unwrap().to_owned());
        }
        match page.get("NextToken") {
            Some(t) => token = Some(t.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    seen.sort();
    assert_eq!(seen, (0..7).map(|i| format!("c{i}")).collect::<Vec<_>>());
    let page = w.ok("ListSpeakers", json!({"DomainId": d, "MaxResults": 3}));
    let t = page["NextToken"].as_str().unwrap();
    let other = w.domain("other");
    let e = w.err("ListSpeakers", json!({"DomainId": other, "NextToken": t}));
    assert!(e.to_string().contains("different request"), "{e}");
    let e = w.err(
        "ListSpeakers",
        json!({"DomainId": d, "NextToken": format!("{t}x")}),
    );
    assert_eq!(e.code(), "ValidationException");
    w.clock.advance(Duration::hours(25));
    let e = w.err("ListSpeakers", json!({"DomainId": d, "NextToken": t}));
    assert!(e.to_string().contains("expired"), "{e}");
    // ListDomains pages by at most 10.
    let e = w.err("ListDomains", json!({"MaxResults": 11}));
    assert!(e.to_string().contains("less than or equal to 10"), "{e}");
}

#[test]
fn quotas_answer_402() {
    let mut settings = Settings::default();
    settings.quotas.speakers_per_domain = 2;
    settings.quotas.fraudsters_per_watchlist = 1;
    let w = world_with(settings, &[DEFAULT_KEY_ID]);
    let d = w.domain("a");
    w.domain("b");
    w.domain("c");
    let e = w.err(
        "CreateDomain",
        json!({"Name": "d", "ServerSideEncryptionConfiguration": {"KmsKeyId": DEFAULT_KEY_ID}}),
    );
    assert_eq!(
        (e.code(), e.status()),
        ("ServiceQuotaExceededException", 402)
    );
    w.ok("CreateWatchlist", json!({"DomainId": d, "Name": "w2"}));
    let w3 =
        w.ok("CreateWatchlist", json!({"DomainId": d, "Name": "w3"}))["Watchlist"]["WatchlistId"]
            .clone();
    assert_eq!(
        w.err("CreateWatchlist", json!({"DomainId": d, "Name": "w4"}))
            .status(),
        402
    );
    w.ok("OptOutSpeaker", json!({"DomainId": d, "SpeakerId": "s1"}));
    w.ok("OptOutSpeaker", json!({"DomainId": d, "SpeakerId": "s2"}));
    assert_eq!(
        w.err("OptOutSpeaker", json!({"DomainId": d, "SpeakerId": "s3"}))
            .status(),
        402
    );
    w.ok("OptOutSpeaker", json!({"DomainId": d, "SpeakerId": "s2"}));
    let f1 = w.svc.register_fraudster(&d, w3.as_str(), None).unwrap();
    let f2 = w.svc.register_fraudster(&d, None, None).unwrap();
    assert_eq!(
        w.svc
            .register_fraudster(&d, w3.as_str(), None)
            .unwrap_err()
            .status(),
        402
    );
    let e = w.err(
        "AssociateFraudster",
        json!({"DomainId": d, "FraudsterId": f2.generated_id, "WatchlistId": w3}),
    );
    assert_eq!(e.status(), 402);
    let _ = f1;
}

#[test]
fn watchlists_fraudsters_and_their_conflicts() {
    let w = world();
    let d = w.domain("d");
    let default = w.ok("DescribeDomain", json!({"DomainId": d}))["Domain"]["WatchlistDetails"]["DefaultWatchlistId"].as_str().unwrap().to_owned();
    let dw = w.ok(
        "DescribeWatchlist",
        json!({"DomainId": d, "WatchlistId": default}),
    )["Watchlist"]
        .clone();
    assert_eq!(dw["DefaultWatchlist"], true);
    for op in ["DeleteWatchlist", "UpdateWatchlist"] {
        let e = w.err(
            op,
            json!({"DomainId": d, "WatchlistId": default, "Name": "x"}),
        );
        assert_eq!(e.code(), "ValidationException", "{op}");
    }
    let custom = w.ok(
        "CreateWatchlist",
        json!({"DomainId": d, "Name": "vip", "Description": "VIP fraud"}),
    )["Watchlist"]
        .clone();
    assert_eq!(custom["DefaultWatchlist"], false);
    let cid = custom["WatchlistId"].as_str().unwrap();
    let updated = w.ok(
        "UpdateWatchlist",
        json!({"DomainId": d, "WatchlistId": cid, "Name": "vip2"}),
    )["Watchlist"]
        .clone();
    assert_eq!(
        (updated["Name"].clone(), updated["Description"].clone()),
        (json!("vip2"), json!("VIP fraud"))
    );
    let f = w.svc.register_fraudster(&d, None, None).unwrap();
    let fid = f.generated_id.as_str();
    let e = w.err(
        "DisassociateFraudster",
        json!({"DomainId": d, "FraudsterId": fid, "WatchlistId": default}),
    );
    assert_eq!(
        e.body()["ConflictType"],
        "FRAUDSTER_MUST_BELONG_TO_AT_LEAST_ONE_WATCHLIST"
    );
    let both = w.ok(
        "AssociateFraudster",
        json!({"DomainId": d, "FraudsterId": fid, "WatchlistId": cid}),
    )["Fraudster"]
        .clone();
    assert_eq!(both["WatchlistIds"].as_array().unwrap().len(), 2);
    let e = w.err(
        "DeleteWatchlist",
        json!({"DomainId": d, "WatchlistId": cid}),
    );
    assert_eq!(
        e.body()["ConflictType"],
        "CANNOT_DELETE_NON_EMPTY_WATCHLIST"
    );
    let listed = w.ok("ListFraudsters", json!({"DomainId": d, "WatchlistId": cid}));
    assert_eq!(listed["FraudsterSummaries"][0]["GeneratedFraudsterId"], fid);
    let one = w.ok(
        "DisassociateFraudster",
        json!({"DomainId": d, "FraudsterId": fid, "WatchlistId": default}),
    )["Fraudster"]
        .clone();
    assert_eq!(one["WatchlistIds"], json!([cid]));
    assert!(
        w.ok(
            "ListFraudsters",
            json!({"DomainId": d, "WatchlistId": default})
        )["FraudsterSummaries"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    w.ok(
        "DeleteFraudster",
        json!({"DomainId": d, "FraudsterId": fid}),
    );
    assert_eq!(
        w.err(
            "DescribeFraudster",
            json!({"DomainId": d, "FraudsterId": fid})
        )
        .status(),
        404
    );
    w.ok(
        "DeleteWatchlist",
        json!({"DomainId": d, "WatchlistId": cid}),
    );
}

#[test]
fn tags_live_on_the_domain_arn() {
    let w = world();
    let created = w.ok(
        "CreateDomain",
        json!({"Name": "t", "ServerSideEncryptionConfiguration": {"KmsKeyId": DEFAULT_KEY_ID}, "Tags": [{"Key": "a", "Value": "1"}]}),
    )["Domain"].clone();
    let arn = created["Arn"].as_str().unwrap();
    assert!(arn.starts_with("arn:aws:voiceid:us-east-1:000000000000:domain/"));
    w.ok("TagResource", json!({"ResourceArn": arn, "Tags": [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}]}));
    assert_eq!(
        w.ok("ListTagsForResource", json!({"ResourceArn": arn}))["Tags"],
        json!([{"Key": "a", "Value": "3"}, {"Key": "b", "Value": "2"}])
    );
    w.ok(
        "UntagResource",
        json!({"ResourceArn": arn, "TagKeys": ["a", "zzz"]}),
    );
    assert_eq!(
        w.ok("ListTagsForResource", json!({"ResourceArn": arn}))["Tags"],
        json!([{"Key": "b", "Value": "2"}])
    );
    let foreign = arn.replace("000000000000", "123456789012");
    assert_eq!(
        w.err("ListTagsForResource", json!({"ResourceArn": foreign}))
            .status(),
        404
    );
}

#[test]
fn an_instance_uses_at_most_one_domain_and_a_domain_serves_many() {
    let w = world();
    let a = w.domain("a");
    let b = w.domain("b");
    let hark = |op: &str, body: Value| {
        w.svc
            .handle(&format!("HarkVoiceID.{op}"), body.to_string().as_bytes())
    };
    hark(
        "AssociateInstance",
        json!({"InstanceId": "i-1", "DomainId": a}),
    )
    .unwrap();
    hark(
        "AssociateInstance",
        json!({"InstanceId": "i-2", "DomainId": a}),
    )
    .unwrap();
    hark(
        "AssociateInstance",
        json!({"InstanceId": "i-1", "DomainId": a}),
    )
    .unwrap();
    let e = hark(
        "AssociateInstance",
        json!({"InstanceId": "i-1", "DomainId": b}),
    )
    .unwrap_err();
    assert_eq!(e.code(), "ConflictException");
    assert_eq!(
        hark("ListInstances", json!({"DomainId": a})).unwrap()["Instances"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    hark("DisassociateInstance", json!({"InstanceId": "i-1"})).unwrap();
    hark(
        "AssociateInstance",
        json!({"InstanceId": "i-1", "DomainId": b}),
    )
    .unwrap();
    assert_eq!(
        hark("DescribeInstance", json!({"InstanceId": "i-1"})).unwrap()["DomainId"],
        json!(b)
    );
    assert_eq!(
        hark("DescribeInstance", json!({"InstanceId": "nope"}))
            .unwrap_err()
            .status(),
        404
    );
    assert_eq!(
        hark("Frobnicate", json!({})).unwrap_err().code(),
        "UnknownOperationException"
    );
}

#[test]
fn unknown_jobs_and_sessions_answer_the_model_errors() {
    let w = world();
    let d = w.domain("d");
    assert_eq!(
        w.ok("ListSpeakerEnrollmentJobs", json!({"DomainId": d})),
        json!({"JobSummaries": []})
    );
    let e = w.err(
        "DescribeSpeakerEnrollmentJob",
        json!({"DomainId": d, "JobId": "j".repeat(22)}),
    );
    assert_eq!(e.body()["ResourceType"], "BATCH_JOB");
    let e = w.err(
        "EvaluateSession",
        json!({"DomainId": d, "SessionNameOrId": "contact-1"}),
    );
    assert_eq!(e.body()["ResourceType"], "SESSION");
    let job = w.ok(
        "StartSpeakerEnrollmentJob",
        json!({"DomainId": d, "DataAccessRoleArn": "arn:aws:iam::123456789012:role/x", "InputDataConfig": {"S3Uri": "s3://bucket/in.json"}, "OutputDataConfig": {"S3Uri": "s3://bucket/out"}}),
    );
    assert_eq!(job["Job"]["JobStatus"], "SUBMITTED");
    let e = w.err(
        "DescribeFraudsterRegistrationJob",
        json!({"DomainId": d, "JobId": job["Job"]["JobId"]}),
    );
    assert_eq!(e.body()["ResourceType"], "BATCH_JOB", "another kind's job");
}

#[test]
fn rate_limits_answer_429_and_refill_with_time() {
    let mut settings = Settings::default();
    settings.rate_limits.insert("ListDomains".into(), 2.0);
    let w = world_with(settings, &[DEFAULT_KEY_ID]);
    w.ok("ListDomains", json!({}));
    w.ok("ListDomains", json!({}));
    let e = w.err("ListDomains", json!({}));
    assert_eq!((e.code(), e.status()), ("ThrottlingException", 429));
    w.clock.advance(Duration::milliseconds(500));
    w.ok("ListDomains", json!({}));
    w.domain("other ops are not limited".replace(' ', "-").as_str());
}
