//! Voice ID on live calls through the testkit, as a contact center's own tests would drive it:
//! enrol a caller from a recording, register a fraudster, then let calls play and read the
//! decisions hark came to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use hark_testkit::Hark;

/// Utterances of a corpus voice (Asterisk's prompts: real, distinct speakers) as one WAV.
fn corpus_wav(dir: &Path, voice: &str, range: std::ops::RangeInclusive<u32>) -> PathBuf {
    let corpus = hark_tests::speech::speech_corpus(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("{voice}-{}-{}.wav", range.start(), range.end()));
    hark_tests::speech::utterances_wav(&corpus, voice, range, &path);
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_are_enrolled_authenticated_and_screened_for_fraud() {
    let hark = Hark::start().await.unwrap();
    let audio = tempfile::tempdir().unwrap();
    let domain = hark.voiceid().create_domain("calls").await.unwrap();

    // Enrolment from a first call of 30 s of speech; then the same caller calls again.
    let generated = hark
        .enroll_speaker(
            &domain,
            "customer-1",
            &corpus_wav(audio.path(), "allison_en", 0..=11),
        )
        .await
        .unwrap();
    assert!(!generated.is_empty());
    let genuine = corpus_wav(audio.path(), "allison_en", 12..=23);
    let evaluation = hark
        .evaluate_call(&domain, Some("customer-1"), &genuine)
        .await
        .unwrap();
    let authentication = &evaluation["AuthenticationResult"];
    assert_eq!(authentication["Decision"], "ACCEPT", "{evaluation}");
    assert_eq!(authentication["GeneratedSpeakerId"], generated.as_str());

    // Someone else claiming to be customer-1 is rejected.
    let impostor = corpus_wav(audio.path(), "june_frca", 12..=23);
    let evaluation = hark
        .evaluate_call(&domain, Some("customer-1"), &impostor)
        .await
        .unwrap();
    assert_eq!(
        evaluation["AuthenticationResult"]["Decision"], "REJECT",
        "{evaluation}"
    );

    // A registered fraudster calling again is high risk, named by the fraudster's id.
    let fraudster = hark
        .register_fraudster(&domain, &corpus_wav(audio.path(), "carlo_it", 0..=11))
        .await
        .unwrap();
    let evaluation = hark
        .evaluate_call(
            &domain,
            None,
            &corpus_wav(audio.path(), "carlo_it", 12..=23),
        )
        .await
        .unwrap();
    let fraud = &evaluation["FraudDetectionResult"];
    assert_eq!(fraud["Decision"], "HIGH_RISK", "{evaluation}");
    assert_eq!(
        fraud["RiskDetails"]["KnownFraudsterRisk"]["GeneratedFraudsterId"],
        fraudster.as_str()
    );
}
