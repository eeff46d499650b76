//! The Rust AWS SDK (`aws-sdk-voiceid`, unchanged) as a client of hark: only the endpoint URL and
//! static credentials differ from calling AWS. Every operation of the Voice ID API is called, the
//! batch jobs run on real speech, the paginators walk pages of one, and errors arrive as the SDK's
//! typed `SdkError` variants.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_voiceid::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_voiceid::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_voiceid::operation::create_domain::CreateDomainError;
use aws_sdk_voiceid::operation::describe_speaker::DescribeSpeakerError;
use aws_sdk_voiceid::types::{
    AuthenticationDecision, EnrollmentConfig, ExistingEnrollmentAction,
    FraudsterRegistrationJobStatus, InputDataConfig, OutputDataConfig,
    ServerSideEncryptionConfiguration, SpeakerEnrollmentJobStatus, SpeakerStatus, StreamingStatus,
    Tag,
};
use aws_sdk_voiceid::{Client, Config};
use hark_testkit::Hark;

const ROLE: &str = "arn:aws:iam::000000000000:role/hark";

/// An SDK client as an application would build it, pointed at hark.
fn sdk_client(hark: &Hark, access_key_id: &str, secret: &str) -> Client {
    let config = Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(hark.http_url())
        .region(Region::new("eu-west-2"))
        .credentials_provider(Credentials::new(access_key_id, secret, None, None, "test"))
        .build();
    Client::from_conf(config)
}

/// Utterances of a corpus voice in one 8 kHz WAV inside hark's batch folder.
fn corpus_wav(dir: &Path, voice: &str, range: std::ops::RangeInclusive<u32>) -> PathBuf {
    let corpus = hark_tests::speech::speech_corpus(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("{voice}-{}-{}.wav", range.start(), range.end()));
    hark_tests::speech::utterances_wav(&corpus, voice, range, &path);
    path
}

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_aws_sdk_drives_every_voice_id_operation() {
    let hark = Hark::start().await.unwrap();
    let keys = &hark.credentials().voiceid;
    let vid = sdk_client(&hark, &keys.access_key_id, keys.secret_access_key.expose());
    let sse = || {
        ServerSideEncryptionConfiguration::builder()
            .kms_key_id("alias/hark-default")
            .build()
            .unwrap()
    };

    // ---- domains, tags, the domain paginator ----
    let domain = vid
        .create_domain()
        .name("bank")
        .description("tests")
        .server_side_encryption_configuration(sse())
        .tags(Tag::builder().key("team").value("cx").build().unwrap())
        .send()
        .await
        .unwrap()
        .domain
        .unwrap();
    let domain_id = domain.domain_id.unwrap();
    let arn = domain.arn.unwrap();
    for name in ["second", "third"] {
        vid.create_domain()
            .name(name)
            .server_side_encryption_configuration(sse())
            .send()
            .await
            .unwrap();
    }
    let listed = vid
        .list_domains()
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 3, "three pages of one domain each");
    vid.update_domain()
        .domain_id(&domain_id)
        .name("bank-renamed")
        .server_side_encryption_configuration(sse())
        .send()
        .await
        .unwrap();
    let described = vid
        .describe_domain()
        .domain_id(&domain_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.domain.unwrap().name.as_deref(),
        Some("bank-renamed")
    );
    vid.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("env").value("test").build().unwrap())
        .send()
        .await
        .unwrap();
    vid.untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = vid
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!((tags[0].key(), tags[0].value()), ("env", "test"));

    // ---- watchlists ----
    let watchlist_id = vid
        .create_watchlist()
        .domain_id(&domain_id)
        .name("known-fraud")
        .send()
        .await
        .unwrap()
        .watchlist
        .unwrap()
        .watchlist_id
        .unwrap();
    vid.update_watchlist()
        .domain_id(&domain_id)
        .watchlist_id(&watchlist_id)
        .description("fraudsters seen on calls")
        .send()
        .await
        .unwrap();
    let watchlist = vid
        .describe_watchlist()
        .domain_id(&domain_id)
        .watchlist_id(&watchlist_id)
        .send()
        .await
        .unwrap()
        .watchlist
        .unwrap();
    assert_eq!(
        watchlist.description.as_deref(),
        Some("fraudsters seen on calls")
    );
    let watchlists = vid
        .list_watchlists()
        .domain_id(&domain_id)
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        watchlists.len(),
        2,
        "the domain's default watchlist and ours"
    );

    // ---- a speaker enrollment job on real speech ----
    let batch = hark
        .data_dir()
        .join("voiceid-batch")
        .canonicalize()
        .unwrap();
    let customer = corpus_wav(&batch, "allison_en", 0..=11);
    let other = corpus_wav(&batch, "june_frca", 0..=11);
    let manifest = batch.join("enrol.json");
    let requests = serde_json::json!({"Version": "1.0", "SpeakerEnrollmentRequests": [
        {"RequestId": "r1", "SpeakerId": "customer-a",
         "AudioSpecifications": [{"S3Uri": file_uri(&customer), "ChannelId": 0}]},
        {"RequestId": "r2", "SpeakerId": "customer-b",
         "AudioSpecifications": [{"S3Uri": file_uri(&other), "ChannelId": 0}]},
    ]});
    std::fs::write(&manifest, requests.to_string()).unwrap();
    let job = vid
        .start_speaker_enrollment_job()
        .domain_id(&domain_id)
        .job_name("enrol-1")
        .data_access_role_arn(ROLE)
        .enrollment_config(
            EnrollmentConfig::builder()
                .existing_enrollment_action(ExistingEnrollmentAction::Overwrite)
                .build(),
        )
        .input_data_config(
            InputDataConfig::builder()
                .s3_uri(file_uri(&manifest))
                .build()
                .unwrap(),
        )
        .output_data_config(
            OutputDataConfig::builder()
                .s3_uri(file_uri(&batch.join("out")))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .job
        .unwrap();
    let job_id = job.job_id.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let finished = loop {
        let job = vid
            .describe_speaker_enrollment_job()
            .domain_id(&domain_id)
            .job_id(&job_id)
            .send()
            .await
            .unwrap()
            .job
            .unwrap();
        match job.job_status() {
            Some(
                SpeakerEnrollmentJobStatus::Submitted | SpeakerEnrollmentJobStatus::InProgress,
            ) => {}
            _ => break job,
        }
        assert!(
            Instant::now() < deadline,
            "the enrollment job never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        finished.job_status(),
        Some(&SpeakerEnrollmentJobStatus::Completed),
        "{finished:?}"
    );
    let jobs = vid
        .list_speaker_enrollment_jobs()
        .domain_id(&domain_id)
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    let speakers = vid
        .list_speakers()
        .domain_id(&domain_id)
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(speakers.len(), 2, "two pages of one speaker each");
    let speaker = vid
        .describe_speaker()
        .domain_id(&domain_id)
        .speaker_id("customer-a")
        .send()
        .await
        .unwrap()
        .speaker
        .unwrap();
    assert_eq!(speaker.status(), Some(&SpeakerStatus::Enrolled));

    // ---- a fraudster registration job, then the fraudster in our watchlist ----
    let fraud_audio = corpus_wav(&batch, "carlo_it", 0..=11);
    let fraud_manifest = batch.join("fraud.json");
    let requests = serde_json::json!({"Version": "1.0", "FraudsterRegistrationRequests": [
        {"RequestId": "f1", "AudioSpecifications": [{"S3Uri": file_uri(&fraud_audio), "ChannelId": 0}]},
    ]});
    std::fs::write(&fraud_manifest, requests.to_string()).unwrap();
    let job_id = vid
        .start_fraudster_registration_job()
        .domain_id(&domain_id)
        .job_name("fraud-1")
        .data_access_role_arn(ROLE)
        .input_data_config(
            InputDataConfig::builder()
                .s3_uri(file_uri(&fraud_manifest))
                .build()
                .unwrap(),
        )
        .output_data_config(
            OutputDataConfig::builder()
                .s3_uri(file_uri(&batch.join("out")))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .job
        .unwrap()
        .job_id
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job = vid
            .describe_fraudster_registration_job()
            .domain_id(&domain_id)
            .job_id(&job_id)
            .send()
            .await
            .unwrap()
            .job
            .unwrap();
        match job.job_status() {
            Some(
                FraudsterRegistrationJobStatus::Submitted
                | FraudsterRegistrationJobStatus::InProgress,
            ) => {}
            Some(FraudsterRegistrationJobStatus::Completed) => break,
            other => panic!("fraudster registration {other:?}: {job:?}"),
        }
        assert!(
            Instant::now() < deadline,
            "the registration job never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let registration_jobs = vid
        .list_fraudster_registration_jobs()
        .domain_id(&domain_id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(registration_jobs.len(), 1);
    let fraudsters = vid
        .list_fraudsters()
        .domain_id(&domain_id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(fraudsters.len(), 1);
    let fraudster_id = fraudsters[0].generated_fraudster_id().unwrap().to_owned();
    vid.associate_fraudster()
        .domain_id(&domain_id)
        .fraudster_id(&fraudster_id)
        .watchlist_id(&watchlist_id)
        .send()
        .await
        .unwrap();
    let fraudster = vid
        .describe_fraudster()
        .domain_id(&domain_id)
        .fraudster_id(&fraudster_id)
        .send()
        .await
        .unwrap()
        .fraudster
        .unwrap();
    assert_eq!(fraudster.watchlist_ids().len(), 2, "default and ours");

    // ---- a live call, evaluated ----
    let contact = uuid::Uuid::new_v4().to_string();
    let call = corpus_wav(&batch, "allison_en", 12..=23);
    let options = hark.voiceid_call(&contact, &domain_id, Some("customer-a"));
    let report = hark.stream_file(&options, &call).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let evaluation = loop {
        let e = vid
            .evaluate_session()
            .domain_id(&domain_id)
            .session_name_or_id(&contact)
            .send()
            .await
            .unwrap();
        if e.streaming_status() == Some(&StreamingStatus::Ended) {
            break e;
        }
        assert!(Instant::now() < deadline, "the session never ended: {e:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let authentication = evaluation.authentication_result().unwrap();
    assert_eq!(
        authentication.decision(),
        Some(&AuthenticationDecision::Accept),
        "the enrolled customer, on other utterances: {authentication:?}"
    );

    // ---- opting out, deleting ----
    vid.disassociate_fraudster()
        .domain_id(&domain_id)
        .fraudster_id(&fraudster_id)
        .watchlist_id(&watchlist_id)
        .send()
        .await
        .unwrap();
    vid.delete_fraudster()
        .domain_id(&domain_id)
        .fraudster_id(&fraudster_id)
        .send()
        .await
        .unwrap();
    let opted_out = vid
        .opt_out_speaker()
        .domain_id(&domain_id)
        .speaker_id("customer-b")
        .send()
        .await
        .unwrap()
        .speaker
        .unwrap();
    assert_eq!(opted_out.status(), Some(&SpeakerStatus::OptedOut));
    vid.delete_speaker()
        .domain_id(&domain_id)
        .speaker_id("customer-a")
        .send()
        .await
        .unwrap();
    vid.delete_watchlist()
        .domain_id(&domain_id)
        .watchlist_id(&watchlist_id)
        .send()
        .await
        .unwrap();

    // ---- errors, as the SDK's typed variants ----
    let gone = vid
        .describe_speaker()
        .domain_id(&domain_id)
        .speaker_id("customer-a")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            gone.as_service_error(),
            Some(DescribeSpeakerError::ResourceNotFoundException(_))
        ),
        "{gone:?}"
    );
    let invalid = vid
        .create_domain()
        .name("no spaces or symbols allowed: ¬")
        .server_side_encryption_configuration(sse())
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            invalid.as_service_error(),
            Some(CreateDomainError::ValidationException(_))
        ),
        "{invalid:?}"
    );
    let forged = sdk_client(
        &hark,
        &keys.access_key_id,
        "not-the-secret-access-key-0000000000000",
    );
    let refused = forged.list_domains().send().await.unwrap_err();
    assert!(matches!(refused, SdkError::ServiceError(_)), "{refused:?}");
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(403)
    );
    assert!(refused.code().is_some(), "an AWS error code: {refused:?}");

    vid.delete_domain()
        .domain_id(&domain_id)
        .send()
        .await
        .unwrap();
    let after = vid
        .describe_domain()
        .domain_id(&domain_id)
        .send()
        .await
        .unwrap_err();
    assert!(after.as_service_error().is_some(), "{after:?}");
}
