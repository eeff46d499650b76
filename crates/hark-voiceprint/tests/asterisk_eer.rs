//! The accuracy bar on real voices: the Asterisk corpus (7 people, 24 utterances each, built by
//! `scripts/speech-corpus.sh` from Debian packages) must give single-utterance EER ≤ 6.5 % and
//! 3-utterance-enrolment EER ≤ 3.5 %.
//!
//! The corpus is built on first use into the target directory (or taken from
//! `HARK_SPEECH_CORPUS`); building needs `apt-get download`, `dpkg`, `sox` and `python3`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use hark_voiceprint::Embedder;
use hark_voiceprint::eval::{self, Corpus, SystemMetrics};

use hark_tests::speech::VOICES;

fn corpus_dir() -> PathBuf {
    hark_tests::speech::speech_corpus(env!("CARGO_TARGET_TMPDIR"))
}

#[test]
fn asterisk_voices_meet_the_eer_bars() {
    let corpus = Corpus::open(&corpus_dir()).unwrap();
    let names: Vec<&str> = corpus.speakers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, VOICES);
    assert!(corpus.speakers.iter().all(|(_, files)| files.len() == 24));

    let embedder = Embedder::embedded().unwrap();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let embedded = eval::embed_corpus(&corpus, &embedder, threads, &|_, _| {});
    assert_eq!(embedded.utterances.len() + embedded.skipped.len(), 7 * 24);
    // The corpus holds real prompts only (at least 2 s of speech per utterance): every
    // utterance is scored.
    assert!(embedded.skipped.is_empty(), "{:?}", embedded.skipped);

    let single = eval::single_trials(&embedded);
    let enrolled = eval::enrolled_trials(&embedded, 3, 20, 1234);
    let report = eval::Report::new(&embedded, &single, &enrolled, 3);
    let show = |name: &str, m: &SystemMetrics| {
        eprintln!(
            "{name}: {} / {} trials, EER {:.2} % at cos {:.3}, minDCF {:.3}",
            m.targets, m.non_targets, m.eer_percent, m.eer_cosine, m.min_dcf
        )
    };
    show("single", &report.single);
    show("enrolled", &report.enrolled);
    let fitted = report.calibration;
    eprintln!(
        "fitted calibration: {:.2}·cos {:+.2}; at score 90 {:?}",
        fitted.slope,
        fitted.offset,
        SystemMetrics::of(&enrolled, &fitted).at_score_90
    );
    assert!(
        report.single.eer_percent <= 3.5,
        "single EER {:.2} %",
        report.single.eer_percent
    );
    assert!(
        report.enrolled.eer_percent <= 2.0,
        "3-utterance enrolment EER {:.2} %",
        report.enrolled.eer_percent
    );
    // Every trial is there: all pairs, and every enrolment against every held-out utterance.
    let n = embedded.utterances.len();
    assert_eq!(
        report.single.targets + report.single.non_targets,
        n * (n - 1) / 2
    );
    // The shipped calibration keeps Voice ID's default acceptance (score ≥ 90) strict.
    let default = hark_voiceprint::Calibration::default();
    let strict = SystemMetrics::of(&enrolled, &default);
    eprintln!("shipped calibration at score 90: {:?}", strict.at_score_90);
    assert!(
        strict.at_score_90.far_percent < 0.5,
        "{:?}",
        strict.at_score_90
    );
}
