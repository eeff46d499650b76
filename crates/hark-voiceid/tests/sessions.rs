//! Live sessions with real speech (the Asterisk corpus, `scripts/speech-corpus.sh`): enrollment
//! by session, authentication, fraud detection, opt-out, expiry, result caching, domain
//! isolation and the session operations' errors — on the in-memory store and a simulated clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use hark_tests::speech::{speech_corpus, utterances};
use hark_voiceid::crypto::DEFAULT_KEY_ID;
use hark_voiceid::{
    Effect, Error, Keyring, ManualClock, MemoryStore, SessionStream, Settings, StreamRequest,
    VoiceId,
};
use hark_voiceprint::Embedder;
use serde_json::{Value, json};

const A: &str = "allison_en";
const B: &str = "carlo_it";

/// Utterances `range` of a corpus voice, concatenated: 8 kHz mono samples in [-1, 1].
fn speech(voice: &str, range: std::ops::RangeInclusive<u32>) -> Vec<f32> {
    let corpus = speech_corpus(env!("CARGO_TARGET_TMPDIR"));
    utterances(&corpus, voice, range)
        .into_iter()
        .map(|s| f32::from(s) / 32768.0)
        .collect()
}

struct World {
    svc: VoiceId,
    clock: Arc<ManualClock>,
    /// Events taken from the service's effects so far.
    events: std::sync::Mutex<Vec<Value>>,
}

impl World {
    fn new() -> World {
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
        ));
        let mut ring = Keyring::default();
        ring.insert(DEFAULT_KEY_ID, Keyring::generate_key().unwrap());
        let svc = VoiceId::new(
            Arc::new(MemoryStore::default()),
            clock.clone(),
            ring,
            &[7; 32],
            Settings::default(),
        );
        World {
            svc,
            clock,
            events: Default::default(),
        }
    }

    /// Every event the service has published, in order.
    fn events(&self) -> Vec<Value> {
        let mut events = self.events.lock().unwrap();
        while let Some(effect) = self.svc.poll_effect() {
            if let Effect::Event(e) = effect {
                events.push(e);
            }
        }
        events.clone()
    }

    fn call(&self, op: &str, body: Value) -> Result<Value, Error> {
        let prefix = if op.contains("Session") && op != "EvaluateSession" {
            "HarkVoiceID"
        } else {
            "VoiceID"
        };
        self.svc
            .handle(&format!("{prefix}.{op}"), body.to_string().as_bytes())
    }

    fn ok(&self, op: &str, body: Value) -> Value {
        self.call(op, body)
            .unwrap_or_else(|e| panic!("{op}: {} {e}", e.code()))
    }

    fn domain(&self, name: &str) -> String {
        let d = self.ok(
            "CreateDomain",
            json!({"Name": name, "ServerSideEncryptionConfiguration": {"KmsKeyId": DEFAULT_KEY_ID}}),
        );
        d["Domain"]["DomainId"].as_str().unwrap().to_owned()
    }

    /// A call: opens a stream, plays `audio` in 20 ms chunks on the simulated clock.
    fn call_with(&self, request: StreamRequest, audio: &[f32]) -> SessionStream {
        let stream = self.svc.open_stream(&request, 8000).unwrap();
        self.play(&stream, audio);
        stream
    }

    fn play(&self, stream: &SessionStream, audio: &[f32]) {
        for chunk in audio.chunks(160) {
            self.clock.advance(Duration::milliseconds(20));
            self.svc.hear(stream, chunk).unwrap();
        }
    }

    fn evaluate(&self, domain: &str, session: &str) -> Value {
        self.ok(
            "EvaluateSession",
            json!({"DomainId": domain, "SessionNameOrId": session}),
        )
    }
}

fn request(domain: &str, name: &str, speaker: Option<&str>) -> StreamRequest {
    StreamRequest {
        domain_id: domain.into(),
        session_name: name.into(),
        speaker_id: speaker.map(str::to_owned),
        watchlist_id: None,
    }
}

/// Enrolls `customer` with a voice's utterances 0..=11 through a session.
fn enroll(w: &World, domain: &str, customer: &str, voice: &str) -> String {
    // Session names are contact ids: they must not carry the customer's id.
    let name = format!("enrol-{}", w.events().len());
    let stream = w
        .svc
        .open_stream(&request(domain, &name, Some(customer)), 8000)
        .unwrap();
    let r = w.ok(
        "EnrollBySession",
        json!({"DomainId": domain, "SessionNameOrId": name}),
    );
    assert_eq!(r["Status"], "NOT_ENOUGH_SPEECH", "nothing heard yet");
    let d = w.ok(
        "DescribeSession",
        json!({"DomainId": domain, "SessionNameOrId": name}),
    );
    assert_eq!(d["Session"]["StreamingStatus"], "ONGOING");
    w.play(&stream, &speech(voice, 0..=11));
    w.svc.close_stream(&stream).unwrap();
    let d = w.ok(
        "DescribeSession",
        json!({"DomainId": domain, "SessionNameOrId": name}),
    );
    assert_eq!(
        d["Session"]["EnrollmentRequestDetails"]["Status"], "COMPLETED",
        "{d}"
    );
    assert_eq!(d["Session"]["StreamingStatus"], "ENDED");
    let s = w.ok(
        "DescribeSpeaker",
        json!({"DomainId": domain, "SpeakerId": customer}),
    );
    assert_eq!(s["Speaker"]["Status"], "ENROLLED");
    s["Speaker"]["GeneratedSpeakerId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn callers_are_enrolled_authenticated_and_screened_by_voice() {
    let w = World::new();
    let domain = w.domain("bank");
    let a_id = enroll(&w, &domain, "customer-a", A);

    // A claims A: accepted, and the acceptance counts as access.
    w.call_with(
        request(&domain, "call-a", Some("customer-a")),
        &speech(A, 12..=17),
    );
    let e = w.evaluate(&domain, "call-a");
    let auth = &e["AuthenticationResult"];
    assert_eq!(auth["Decision"], "ACCEPT", "{e}");
    assert!(auth["Score"].as_u64().unwrap() >= 90);
    assert_eq!(auth["GeneratedSpeakerId"], a_id.as_str());
    assert_eq!(auth["CustomerSpeakerId"], "customer-a");
    assert_eq!(auth["Configuration"]["AcceptanceThreshold"], 90);
    assert!(auth["AudioAggregationEndedAt"].as_f64() > auth["AudioAggregationStartedAt"].as_f64());
    assert_eq!(e["FraudDetectionResult"]["Decision"], "LOW_RISK");
    assert_eq!(e["StreamingStatus"], "ONGOING");

    // B claims A: rejected.
    w.call_with(
        request(&domain, "call-b", Some("customer-a")),
        &speech(B, 12..=17),
    );
    let e = w.evaluate(&domain, "call-b");
    assert_eq!(e["AuthenticationResult"]["Decision"], "REJECT", "{e}");
    assert!(e["AuthenticationResult"]["Score"].as_u64().unwrap() < 90);
    // Both decisions are counted, each as its session's first.
    let stats = w.svc.stats();
    let decided = |result: &str| {
        stats
            .decisions
            .iter()
            .find(|(k, r, _)| k == "authentication" && r == result)
            .map_or(0, |(_, _, n)| *n)
    };
    assert_eq!((decided("ACCEPT"), decided("REJECT")), (1, 1), "{stats:?}");
    assert_eq!(stats.first_decision_count, 2, "{stats:?}");
    assert!(stats.live_sessions >= 2, "{stats:?}");

    // B becomes a known fraudster: a later call by B is high risk, naming B.
    let embedder = Embedder::embedded().unwrap();
    let b_print = embedder.embed(&speech(B, 0..=5), 8000).unwrap().voiceprint;
    let fraudster = w
        .svc
        .register_fraudster(&domain, None, Some(&b_print.to_bytes()))
        .unwrap();
    w.call_with(request(&domain, "call-b2", None), &speech(B, 18..=23));
    let e = w.evaluate(&domain, "call-b2");
    let fraud = &e["FraudDetectionResult"];
    assert_eq!(fraud["Decision"], "HIGH_RISK", "{e}");
    assert_eq!(fraud["Reasons"], json!(["KNOWN_FRAUDSTER"]));
    assert_eq!(
        fraud["RiskDetails"]["KnownFraudsterRisk"]["GeneratedFraudsterId"],
        fraudster.generated_id.as_str()
    );
    assert_eq!(fraud["RiskDetails"]["VoiceSpoofingRisk"]["RiskScore"], 0);
    assert_eq!(
        e["AuthenticationResult"]["Decision"],
        "SPEAKER_ID_NOT_PROVIDED"
    );
    // The watchlist index follows deletion and re-association in place.
    w.ok(
        "DeleteFraudster",
        json!({"DomainId": domain, "FraudsterId": fraudster.generated_id}),
    );
    let e = w.evaluate(&domain, "call-b2");
    assert_eq!(e["FraudDetectionResult"]["Decision"], "LOW_RISK", "{e}");
    let again = w
        .svc
        .register_fraudster(&domain, None, Some(&b_print.to_bytes()))
        .unwrap();
    let list = w.ok(
        "CreateWatchlist",
        json!({"DomainId": domain, "Name": "second"}),
    )["Watchlist"]["WatchlistId"]
        .as_str()
        .unwrap()
        .to_owned();
    w.ok(
        "UpdateSession",
        json!({"DomainId": domain, "SessionNameOrId": "call-b2",
               "FraudDetectionConfiguration": {"WatchlistId": list}}),
    );
    let e = w.evaluate(&domain, "call-b2");
    assert_eq!(e["FraudDetectionResult"]["Decision"], "LOW_RISK", "{e}");
    w.ok(
        "AssociateFraudster",
        json!({"DomainId": domain, "FraudsterId": again.generated_id, "WatchlistId": list}),
    );
    let e = w.evaluate(&domain, "call-b2");
    assert_eq!(e["FraudDetectionResult"]["Decision"], "HIGH_RISK", "{e}");
    assert_eq!(
        e["FraudDetectionResult"]["Configuration"]["WatchlistId"],
        list.as_str()
    );
    // A is not a fraudster.
    let e = w.evaluate(&domain, "call-a");
    assert_eq!(e["FraudDetectionResult"]["Decision"], "LOW_RISK", "{e}");

    // Events name the generated speaker id, never the customer's.
    let events = serde_json::to_string(&w.events()).unwrap();
    assert!(!events.contains("customer-a"), "{events}");
    assert!(events.contains(&a_id));
    for action in [
        "START_SESSION",
        "EVALUATE_SESSION",
        "SESSION_ENROLLMENT_REQUEST",
    ] {
        assert!(events.contains(action), "{action}");
    }
}

#[test]
fn opted_out_expired_and_short_calls_get_their_decisions() {
    let w = World::new();
    let domain = w.domain("bank");
    enroll(&w, &domain, "customer-a", A);
    enroll(&w, &domain, "customer-c", A);

    // Too little speech: NOT_ENOUGH_SPEECH while ongoing, and still after the end.
    let short = w.call_with(
        request(&domain, "short", Some("customer-a")),
        &speech(A, 12..=12),
    );
    let e = w.evaluate(&domain, "short");
    assert_eq!(e["AuthenticationResult"]["Decision"], "NOT_ENOUGH_SPEECH");
    assert_eq!(e["StreamingStatus"], "ONGOING");
    w.svc.close_stream(&short).unwrap();
    let e = w.evaluate(&domain, "short");
    assert_eq!(e["StreamingStatus"], "ENDED");
    assert_eq!(e["AuthenticationResult"]["Decision"], "NOT_ENOUGH_SPEECH");
    assert_eq!(e["FraudDetectionResult"]["Decision"], "NOT_ENOUGH_SPEECH");
    assert!(e["AuthenticationResult"].get("Score").is_none());

    // Opted out.
    w.ok(
        "OptOutSpeaker",
        json!({"DomainId": domain, "SpeakerId": "customer-a"}),
    );
    w.call_with(
        request(&domain, "opted", Some("customer-a")),
        &speech(A, 12..=17),
    );
    let e = w.evaluate(&domain, "opted");
    assert_eq!(e["AuthenticationResult"]["Decision"], "SPEAKER_OPTED_OUT");

    // Expired: three years without access.
    w.clock.advance(Duration::days(3 * 366));
    w.call_with(
        request(&domain, "expired", Some("customer-c")),
        &speech(A, 12..=17),
    );
    let e = w.evaluate(&domain, "expired");
    assert_eq!(
        e["AuthenticationResult"]["Decision"], "SPEAKER_EXPIRED",
        "{e}"
    );

    // Unknown speaker.
    w.call_with(
        request(&domain, "stranger", Some("customer-z")),
        &speech(A, 12..=17),
    );
    let e = w.evaluate(&domain, "stranger");
    assert_eq!(
        e["AuthenticationResult"]["Decision"],
        "SPEAKER_NOT_ENROLLED"
    );
    assert_eq!(e["AuthenticationResult"]["CustomerSpeakerId"], "customer-z");
}

#[test]
fn results_keep_their_ids_until_something_changes() {
    let w = World::new();
    let domain = w.domain("bank");
    enroll(&w, &domain, "customer-a", A);
    let call = w.call_with(
        request(&domain, "call", Some("customer-a")),
        &speech(A, 12..=17),
    );
    let first = w.evaluate(&domain, "call");
    // More audio after the decision does not change it: the voiceprint froze at 10 s.
    w.play(&call, &speech(A, 18..=18));
    let again = w.evaluate(&domain, "call");
    let id = |v: &Value, r: &str, m: &str| v[r][m].as_str().unwrap().to_owned();
    assert_eq!(
        id(&first, "AuthenticationResult", "AuthenticationResultId"),
        id(&again, "AuthenticationResult", "AuthenticationResultId")
    );
    assert_eq!(
        id(&first, "FraudDetectionResult", "FraudDetectionResultId"),
        id(&again, "FraudDetectionResult", "FraudDetectionResultId")
    );
    // A new threshold is a new authentication result; fraud keeps its id.
    w.ok(
        "UpdateSession",
        json!({"DomainId": domain, "SessionNameOrId": "call",
               "AuthenticationConfiguration": {"AcceptanceThreshold": 100}}),
    );
    let changed = w.evaluate(&domain, "call");
    assert_ne!(
        id(&first, "AuthenticationResult", "AuthenticationResultId"),
        id(&changed, "AuthenticationResult", "AuthenticationResultId")
    );
    assert_eq!(changed["AuthenticationResult"]["Decision"], "REJECT");
    assert_eq!(
        id(&first, "FraudDetectionResult", "FraudDetectionResultId"),
        id(&changed, "FraudDetectionResult", "FraudDetectionResultId")
    );
    // By id as well as by name.
    let session_id = first["SessionId"].as_str().unwrap();
    let by_id = w.evaluate(&domain, session_id);
    assert_eq!(by_id["SessionName"], "call");
}

#[test]
fn domains_never_see_each_others_speakers_fraudsters_or_sessions() {
    let w = World::new();
    let one = w.domain("one");
    let two = w.domain("two");
    enroll(&w, &one, "customer-a", A);
    let embedder = Embedder::embedded().unwrap();
    let b_print = embedder.embed(&speech(B, 0..=5), 8000).unwrap().voiceprint;
    w.svc
        .register_fraudster(&one, None, Some(&b_print.to_bytes()))
        .unwrap();

    // In domain two, A's customer id is nobody and B is nobody's fraudster.
    w.call_with(
        request(&two, "call", Some("customer-a")),
        &speech(A, 12..=17),
    );
    w.call_with(request(&two, "fraud", None), &speech(B, 18..=23));
    let e = w.evaluate(&two, "call");
    assert_eq!(
        e["AuthenticationResult"]["Decision"],
        "SPEAKER_NOT_ENROLLED"
    );
    let e = w.evaluate(&two, "fraud");
    assert_eq!(e["FraudDetectionResult"]["Decision"], "LOW_RISK");
    assert!(
        e["FraudDetectionResult"]["RiskDetails"]["KnownFraudsterRisk"]
            .get("GeneratedFraudsterId")
            .is_none()
    );
    // Domain one's sessions do not exist in domain two, by name or id.
    let id = w.evaluate(&two, "call")["SessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    for name in ["call", id.as_str()] {
        let err = w
            .call(
                "EvaluateSession",
                json!({"DomainId": one, "SessionNameOrId": name}),
            )
            .unwrap_err();
        assert_eq!(err.body()["ResourceType"], "SESSION");
    }
}

#[test]
fn session_operations_validate_and_conflict_as_documented() {
    let w = World::new();
    let domain = w.domain("bank");
    let err = |op: &str, body: Value| w.call(op, body).unwrap_err();

    let e = err(
        "StartSession",
        json!({"DomainId": domain, "SessionName": "s1",
               "StreamingConfiguration": {"AuthenticationMinimumSpeechInSeconds": 4}}),
    );
    assert_eq!(e.code(), "ValidationException");
    assert!(e.to_string().contains("between 5 and 10"), "{e}");
    let e = err(
        "StartSession",
        json!({"DomainId": domain, "SessionName": "bad name"}),
    );
    assert!(e.to_string().contains("sessionName"), "{e}");
    let e = err(
        "StartSession",
        json!({"DomainId": domain, "SessionName": "s1",
               "FraudDetectionConfiguration": {"WatchlistId": "x".repeat(22)}}),
    );
    assert_eq!(e.body()["ResourceType"], "WATCHLIST");

    let s = w.ok(
        "StartSession",
        json!({"DomainId": domain, "SessionName": "s1"}),
    );
    assert_eq!(s["Session"]["StreamingStatus"], "PENDING_CONFIGURATION");
    let e = err(
        "EnrollBySession",
        json!({"DomainId": domain, "SessionNameOrId": "s1"}),
    );
    assert_eq!(e.body()["ConflictType"], "SPEAKER_NOT_SET");
    w.ok(
        "UpdateSession",
        json!({"DomainId": domain, "SessionNameOrId": "s1", "SpeakerId": "cust-1"}),
    );
    w.ok(
        "EnrollBySession",
        json!({"DomainId": domain, "SessionNameOrId": "s1"}),
    );
    let e = err(
        "EnrollBySession",
        json!({"DomainId": domain, "SessionNameOrId": "s1"}),
    );
    assert_eq!(e.body()["ConflictType"], "ENROLLMENT_ALREADY_EXISTS");
    let e = err(
        "UpdateSession",
        json!({"DomainId": domain, "SessionNameOrId": "s1", "SpeakerId": "cust-2"}),
    );
    assert_eq!(
        e.body()["ConflictType"],
        "CANNOT_CHANGE_SPEAKER_AFTER_ENROLLMENT"
    );
    let pending = w.ok(
        "DescribeSpeaker",
        json!({"DomainId": domain, "SpeakerId": "cust-1"}),
    );
    assert_eq!(pending["Speaker"]["Status"], "PENDING");

    // The pending session takes the call's stream (the agent's claim wins over the call's);
    // a second stream is refused.
    let stream = w
        .svc
        .open_stream(&request(&domain, "s1", Some("cust-from-call")), 8000)
        .unwrap();
    let d = w.ok(
        "DescribeSession",
        json!({"DomainId": domain, "SessionNameOrId": "s1"}),
    );
    assert_eq!(d["Session"]["CustomerSpeakerId"], "cust-1");
    assert_eq!(d["Session"]["StreamingStatus"], "ONGOING");
    let e = w
        .svc
        .open_stream(&request(&domain, "s1", None), 8000)
        .unwrap_err();
    assert_eq!(e.body()["ConflictType"], "ANOTHER_ACTIVE_STREAM");
    w.svc.close_stream(&stream).unwrap();
    let d = w.ok(
        "DescribeSession",
        json!({"DomainId": domain, "SessionNameOrId": "s1"}),
    );
    assert_eq!(
        d["Session"]["EnrollmentRequestDetails"]["Status"],
        "NOT_ENOUGH_SPEECH"
    );
    assert!(
        d["Session"]["EnrollmentRequestDetails"]["Message"]
            .as_str()
            .unwrap()
            .contains("30 s")
    );

    // An opted-out speaker cannot be enrolled.
    w.ok(
        "OptOutSpeaker",
        json!({"DomainId": domain, "SpeakerId": "cust-9"}),
    );
    w.ok(
        "StartSession",
        json!({"DomainId": domain, "SessionName": "s2", "SpeakerId": "cust-9"}),
    );
    let e = err(
        "EnrollBySession",
        json!({"DomainId": domain, "SessionNameOrId": "s2"}),
    );
    assert_eq!(e.body()["ConflictType"], "SPEAKER_OPTED_OUT");

    // Unknown sessions; the session quota.
    let e = err(
        "DescribeSession",
        json!({"DomainId": domain, "SessionNameOrId": "nope"}),
    );
    assert_eq!(e.body()["ResourceType"], "SESSION");
    for i in 0..49 {
        w.ok(
            "StartSession",
            json!({"DomainId": domain, "SessionName": format!("q{i}")}),
        );
    }
    let e = err(
        "StartSession",
        json!({"DomainId": domain, "SessionName": "one-too-many"}),
    );
    assert_eq!(e.code(), "ServiceQuotaExceededException");
    w.ok(
        "EndSession",
        json!({"DomainId": domain, "SessionNameOrId": "q0"}),
    );
    w.ok(
        "StartSession",
        json!({"DomainId": domain, "SessionName": "one-too-many"}),
    );
}

#[test]
fn maintenance_builds_watchlist_indexes_before_any_session_needs_them() {
    let w = World::new();
    let domain = w.domain("bank");
    let print = Embedder::embedded()
        .unwrap()
        .embed(&speech(B, 0..=3), 8000)
        .unwrap()
        .voiceprint;
    w.svc
        .register_fraudster(&domain, None, Some(&print.to_bytes()))
        .unwrap();
    // One domain, one (default) watchlist: built once, then cached.
    assert_eq!(w.svc.maintain().unwrap().warmed_watchlists, 1);
    assert_eq!(w.svc.maintain().unwrap().warmed_watchlists, 0);
}
