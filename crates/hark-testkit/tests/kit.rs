//! The testkit as its users meet it: each test is an example of testing one's own code against a
//! real hark.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use hark_testkit::{Hark, VoiceIdError};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_streamed_into_hark_is_recorded_as_a_stereo_wav() {
    // Record every call, as a contact center with a record-all policy would.
    let mut hark = Hark::start_with(|config| {
        config.recording.policy = hark_recording::policy::PolicyScope::Every;
    })
    .await
    .unwrap();
    let report = hark
        .stream_tone(
            "6a0c2ef4-3a7e-4f0b-9a55-8f4f5d0c1e01",
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.frames_sent, 15, "3 s in 200 ms frames");
    // Stopping finalizes and delivers every recording.
    hark.stop().await.unwrap();
    let wavs = wav_files(&hark.recordings_dir());
    assert_eq!(wavs.len(), 1, "{wavs:?}");
    let reader = hound::WavReader::open(&wavs[0]).unwrap();
    assert_eq!(reader.spec().channels, 2, "customer left, agent right");
    assert_eq!(reader.duration(), 3 * 8000);
}

fn wav_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(wav_files(&path));
        } else if path.extension().is_some_and(|e| e == "wav") {
            found.push(path);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_id_answers_with_its_own_keys_and_refuses_bad_input_with_aws_errors() {
    let hark = Hark::start().await.unwrap();
    let voiceid = hark.voiceid();
    let domain = voiceid.create_domain("tests").await.unwrap();
    let described = voiceid
        .call("DescribeDomain", &json!({"DomainId": domain}))
        .await
        .unwrap();
    assert_eq!(described["Domain"]["Name"], "tests");

    let missing = voiceid
        .call(
            "DescribeSpeaker",
            &json!({"DomainId": domain, "SpeakerId": "nobody"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, VoiceIdError::Service { status: 404, error_type, .. } if error_type == "ResourceNotFoundException"),
        "{missing}"
    );
    let invalid = voiceid
        .call("CreateDomain", &json!({"Name": ""}))
        .await
        .unwrap_err();
    assert!(
        matches!(&invalid, VoiceIdError::Service { status: 400, error_type, .. } if error_type == "ValidationException"),
        "{invalid}"
    );

    // Another hark's keys are not this one's: the signature is refused.
    let other = Hark::start().await.unwrap();
    let stranger = hark_testkit::VoiceIdClient::new(
        hark.addr(),
        &other.credentials().voiceid.access_key_id,
        other.credentials().voiceid.secret_access_key.expose(),
    );
    let refused = stranger.call("ListDomains", &json!({})).await.unwrap_err();
    assert!(
        matches!(&refused, VoiceIdError::Service { status: 403, .. }),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wav_file_streams_as_a_call_and_dropping_hark_removes_its_data() {
    let hark = Hark::start().await.unwrap();
    let voice =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/voices/june_frca/00.wav");
    let report = hark
        .stream_wav("6a0c2ef4-3a7e-4f0b-9a55-8f4f5d0c1e02", &voice)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(report.frames_sent > 5);
    let data = hark.data_dir();
    assert!(data.join("credentials.toml").is_file());
    drop(hark);
    assert!(
        !data.exists(),
        "the temporary data directory is removed on drop"
    );
}
