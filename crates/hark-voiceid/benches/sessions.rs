//! Live Voice ID sessions under load, on one core: how many sessions a core sustains with
//! evaluation on, the time from "enough speech" to a decision (p50/p99), and the fraudster
//! watchlist scan (and cold build) at 1k, 10k and 100k fraudsters.
//!
//!   cargo bench -p hark-voiceid --bench sessions   (builds the speech corpus if missing)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use hark_voiceid::crypto::DEFAULT_KEY_ID;
use hark_voiceid::{Keyring, ManualClock, MemoryStore, Settings, StreamRequest, VoiceId};
use hark_voiceprint::{Embedder, Voiceprint};
use serde_json::json;

fn speech(voice: &str, range: std::ops::RangeInclusive<u32>) -> Vec<f32> {
    let corpus = hark_tests::speech::speech_corpus(env!("CARGO_TARGET_TMPDIR"));
    hark_tests::speech::utterances(&corpus, voice, range)
        .into_iter()
        .map(|s| f32::from(s) / 32768.0)
        .collect()
}

fn service(fraudsters_per_watchlist: u64) -> (VoiceId, String) {
    let mut ring = Keyring::default();
    ring.insert(DEFAULT_KEY_ID, Keyring::generate_key().unwrap());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap(),
    ));
    let mut settings = Settings::default();
    settings.quotas.fraudsters_per_watchlist = fraudsters_per_watchlist;
    settings.quotas.sessions_per_domain = 1_000_000;
    let svc = VoiceId::new(
        Arc::new(MemoryStore::default()),
        clock,
        ring,
        &[1; 32],
        settings,
    );
    let d = svc
        .handle(
            "VoiceID.CreateDomain",
            json!({"Name": "bench", "ServerSideEncryptionConfiguration": {"KmsKeyId": DEFAULT_KEY_ID}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    let domain = d["Domain"]["DomainId"].as_str().unwrap().to_owned();
    (svc, domain)
}

/// A deterministic pseudo-voiceprint (fraudsters that are not in the corpus).
fn synthetic(seed: u64) -> Voiceprint {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f32> = (0..hark_voiceprint::voiceprint::DIMENSIONS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 1000) as f32 / 1000.0
        })
        .collect();
    Voiceprint::from_values(&v).unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Sessions per core and time-to-decision: whole calls through `hear` in 200 ms chunks, 30
/// calls interleaved as they arrive in real time, with 500 fraudsters (the default quota) in the watchlist and an enrolled claimed speaker.
fn sessions_per_core() {
    let (svc, domain) = service(500);
    let embedder = Embedder::embedded().unwrap();
    let enrolled = embedder.embed(&speech("allison_en", 0..=11), 8000).unwrap();
    svc.enroll_speaker(&domain, "customer-a", &enrolled.voiceprint.to_bytes())
        .unwrap();
    for i in 0..500 {
        svc.register_fraudster(&domain, None, Some(&synthetic(i).to_bytes()))
            .unwrap();
    }
    let calls = [
        speech("allison_en", 12..=23),
        speech("carlo_it", 0..=11),
        speech("june_frca", 0..=11),
    ];
    let chunk = 1600; // 200 ms at 8 kHz, as Genesys sends
    // 30 calls at once, joining 1 s apart, their 200 ms chunks heard in turn as they would
    // arrive: the partials of different calls complete close together and share batches.
    const CALLS: usize = 30;
    const JOIN_EVERY: usize = 5; // chunks
    let (mut audio_seconds, mut busy) = (0.0, Duration::ZERO);
    let mut to_decision = Vec::new();
    let mut live: Vec<_> = (0..CALLS)
        .map(|n| {
            let request = StreamRequest {
                domain_id: domain.clone(),
                session_name: format!("call-{n}"),
                speaker_id: Some("customer-a".into()),
                watchlist_id: None,
            };
            let stream = svc.open_stream(&request, 8000).unwrap();
            let audio = &calls[n % calls.len()];
            audio_seconds += audio.len() as f64 / 8000.0;
            (stream, audio.chunks(chunk), false)
        })
        .collect();
    let mut tick = 0;
    while live.iter().any(|(_, pieces, _)| pieces.len() > 0) {
        for (n, (stream, pieces, decided)) in live.iter_mut().enumerate() {
            if tick < n * JOIN_EVERY {
                continue;
            }
            let Some(piece) = pieces.next() else { continue };
            let t = Instant::now();
            svc.hear(stream, piece).unwrap();
            let spent = t.elapsed();
            busy += spent;
            let e = svc
                .handle(
                    "VoiceID.EvaluateSession",
                    json!({"DomainId": domain, "SessionNameOrId": format!("call-{n}")})
                        .to_string()
                        .as_bytes(),
                )
                .unwrap();
            if !*decided && e["AuthenticationResult"]["Decision"] != "NOT_ENOUGH_SPEECH" {
                // The chunk that completed the speech also produced the decision.
                to_decision.push(spent);
                *decided = true;
            }
            if pieces.len() == 0 {
                svc.close_stream(stream).unwrap();
            }
        }
        tick += 1;
    }
    to_decision.sort();
    println!(
        "sessions: {:.0} s of call audio in {:.2} s of one core = {:.0} concurrent real-time sessions per core (listening caps at 30 s of speech)",
        audio_seconds,
        busy.as_secs_f64(),
        audio_seconds / busy.as_secs_f64()
    );
    println!(
        "enough speech -> decision (embed the last chunk, freeze, score, scan 500 fraudsters): p50 {:.1} ms, p99 {:.1} ms over {} sessions",
        percentile(&to_decision, 0.5).as_secs_f64() * 1e3,
        percentile(&to_decision, 0.99).as_secs_f64() * 1e3,
        to_decision.len()
    );
}

/// Watchlist scan and cold build by size.
fn watchlist_scan() {
    for size in [1_000u64, 10_000, 100_000] {
        let (svc, domain) = service(size);
        for i in 0..size {
            svc.register_fraudster(&domain, None, Some(&synthetic(i).to_bytes()))
                .unwrap();
        }
        // Without warming (hark warms indexes in its maintenance pass at start): the first
        // decision pays for decrypting the watchlist.
        let request = StreamRequest {
            domain_id: domain.clone(),
            session_name: "call".into(),
            speaker_id: None,
            watchlist_id: None,
        };
        let stream = svc.open_stream(&request, 8000).unwrap();
        // The chunk that completes the speech decides, building the index first (cold).
        let mut cold = Duration::ZERO;
        for piece in speech("carlo_it", 0..=4).chunks(1600) {
            let t = Instant::now();
            svc.hear(&stream, piece).unwrap();
            cold = cold.max(t.elapsed());
        }
        let evaluate = || {
            svc.handle(
                "VoiceID.EvaluateSession",
                json!({"DomainId": domain, "SessionNameOrId": "call"})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap()
        };
        let index_probe = synthetic(size + 7);
        let mut index = hark_voiceprint::VoiceprintIndex::new();
        for i in 0..size {
            index.insert(i, &synthetic(i));
        }
        let mut scans = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            std::hint::black_box(index.closest(&index_probe));
            scans.push(t.elapsed());
        }
        scans.sort();
        let (svc2, domain2) = service(size);
        for i in 0..size {
            svc2.register_fraudster(&domain2, None, Some(&synthetic(i).to_bytes()))
                .unwrap();
        }
        let t = Instant::now();
        let warmed = svc2.maintain().unwrap().warmed_watchlists;
        let warm_up = t.elapsed();
        assert_eq!(warmed, 1);
        let stream2 = svc2
            .open_stream(
                &StreamRequest {
                    domain_id: domain2.clone(),
                    ..request.clone()
                },
                8000,
            )
            .unwrap();
        let mut first_warm = Duration::ZERO;
        for piece in speech("carlo_it", 0..=4).chunks(1600) {
            let t = Instant::now();
            svc2.hear(&stream2, piece).unwrap();
            first_warm = first_warm.max(t.elapsed());
        }
        let mut warm = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            evaluate();
            warm.push(t.elapsed());
        }
        warm.sort();
        println!(
            "watchlist {size:>6}: scan p50 {:.2} ms p99 {:.2} ms; EvaluateSession p50 {:.2} ms; first decision cold {:.0} ms, after warm-up ({:.0} ms in maintenance) {:.0} ms",
            percentile(&scans, 0.5).as_secs_f64() * 1e3,
            percentile(&scans, 0.99).as_secs_f64() * 1e3,
            percentile(&warm, 0.5).as_secs_f64() * 1e3,
            cold.as_secs_f64() * 1e3,
            warm_up.as_secs_f64() * 1e3,
            first_warm.as_secs_f64() * 1e3
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; nothing to list here
    }
    sessions_per_core();
    watchlist_scan();
}
