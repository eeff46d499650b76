//! Voiceprints of the committed real voices: who is who, rates, streaming, and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hark_audio::resample::StreamResampler;
use hark_voiceprint::{
    Embedder, EmbedderConfig, PartialBatcher, StreamingEmbedder, Utterance, Voiceprint,
    VoiceprintError,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/voices")
}

fn fixture(voice: &str, n: usize) -> PathBuf {
    fixtures().join(voice).join(format!("{n:02}.wav"))
}

fn read_8k(path: &Path) -> Vec<f32> {
    let mut reader = hound::WavReader::open(path).unwrap();
    assert_eq!(reader.spec().sample_rate, 8000);
    reader
        .samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect()
}

fn embedder() -> Embedder {
    Embedder::embedded().unwrap()
}

const VOICES: [&str; 4] = ["allison_en", "june_frca", "carlo_it", "ivr_ru"];

#[test]
fn same_speaker_scores_beat_every_different_speaker_score() {
    let e = embedder();
    let prints: Vec<(usize, Voiceprint)> = VOICES
        .iter()
        .enumerate()
        .flat_map(|(v, voice)| (0..2).map(move |n| (v, fixture(voice, n))))
        .map(|(v, path)| (v, e.embed_file(&path).unwrap().voiceprint))
        .collect();
    let (mut worst_same, mut best_different) = (1.0f32, 0.0f32);
    for (i, (vi, a)) in prints.iter().enumerate() {
        for (vj, b) in &prints[i + 1..] {
            let s = a.similarity(b);
            if vi == vj {
                worst_same = worst_same.min(s);
            } else {
                best_different = best_different.max(s);
            }
        }
    }
    assert!(
        worst_same > best_different + 0.03,
        "same speaker ≥ {worst_same}, different speakers ≤ {best_different}"
    );
    let calibration = hark_voiceprint::Calibration::default();
    assert!(calibration.score(worst_same) >= 80);
    assert!(calibration.score(best_different) < 50);
}

#[test]
fn eight_sixteen_and_48_khz_give_the_same_voiceprint() {
    let e = embedder();
    let at_8k = read_8k(&fixture("carlo_it", 0));
    let reference = e.embed(&at_8k, 8000).unwrap();
    for rate in [16_000, 48_000] {
        let mut resampler = StreamResampler::new(8000, rate, 1).unwrap();
        let mut upsampled = resampler.process(&at_8k).unwrap();
        upsampled.extend(resampler.finish().unwrap());
        let other = e.embed(&upsampled, rate).unwrap();
        let s = reference.voiceprint.similarity(&other.voiceprint);
        assert!(s > 0.98, "{rate} Hz: similarity {s}");
    }
    // Net speech is measured, and is most of these prompt recordings.
    assert!(reference.speech > Duration::from_secs(3));
    assert!(reference.partials >= 2);
}

#[test]
fn silence_and_too_little_speech_are_typed_errors() {
    let e = embedder();
    for samples in [vec![0.0; 8000 * 5], Vec::new(), vec![0.001; 8000 * 3]] {
        match e.embed(&samples, 8000) {
            Err(VoiceprintError::NotEnoughSpeech { speech, required }) => {
                assert!(speech < required)
            }
            other => panic!("expected NotEnoughSpeech, got {other:?}"),
        }
    }
    // 0.6 s of real speech is below the 1 s minimum.
    let short = &read_8k(&fixture("allison_en", 0))[..4800];
    assert!(matches!(
        e.embed(short, 8000),
        Err(VoiceprintError::NotEnoughSpeech { .. })
    ));
}

#[test]
fn bad_audio_is_refused_with_a_specific_error() {
    let e = embedder();
    let mut with_nan = read_8k(&fixture("allison_en", 0));
    with_nan[1234] = f32::NAN;
    assert!(matches!(
        e.embed(&with_nan, 8000),
        Err(VoiceprintError::NonFiniteSample(1234))
    ));
    assert!(matches!(
        e.embed(&[0.1; 100], 0),
        Err(VoiceprintError::Audio(_))
    ));
    assert!(matches!(
        e.embed(&[0.1; 100], 7),
        Err(VoiceprintError::Audio(_))
    ));
    let mut config = EmbedderConfig::default();
    config.max_audio = Duration::from_secs(2);
    let short_limit = Embedder::new(Arc::clone(e.encoder()), config);
    assert!(matches!(
        short_limit.embed(&read_8k(&fixture("allison_en", 0)), 8000),
        Err(VoiceprintError::TooLong { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.wav");
    std::fs::write(&garbage, b"RIFF\x10\x00\x00\x00WAVEfmt nonsense").unwrap();
    assert!(matches!(
        e.embed_file(&garbage),
        Err(VoiceprintError::Audio(_))
    ));
    assert!(matches!(
        e.embed_file(&dir.path().join("missing.wav")),
        Err(VoiceprintError::Audio(_))
    ));
}

fn stream(e: &Embedder, samples: &[f32], chunk: usize) -> (StreamingEmbedder, Utterance) {
    let mut s = StreamingEmbedder::new(Arc::clone(e.encoder()), e.config(), 8000).unwrap();
    for piece in samples.chunks(chunk) {
        s.push(piece).unwrap();
    }
    let done = s.finish().unwrap();
    (s, done)
}

#[test]
fn a_finished_stream_equals_the_whole_utterance() {
    let e = embedder();
    // Two utterances of one voice back to back: about 9 s, several partials.
    let mut samples = read_8k(&fixture("june_frca", 0));
    samples.extend(read_8k(&fixture("june_frca", 1)));
    let whole = e.embed(&samples, 8000).unwrap();
    for chunk in [160, 1600, 8000 / 5 * 2] {
        let (_, streamed) = stream(&e, &samples, chunk);
        assert_eq!(streamed.speech, whole.speech, "chunk {chunk}");
        assert_eq!(streamed.partials, whole.partials);
        let s = streamed.voiceprint.similarity(&whole.voiceprint);
        assert!(s > 0.9999, "chunk {chunk}: similarity {s}");
    }
}

#[test]
fn streams_sharing_a_batcher_give_exactly_the_voiceprints_they_give_alone() {
    let e = embedder();
    let calls: Vec<Vec<f32>> = ["june_frca", "carlo_it", "ivr_ru", "allison_en", "june_frca"]
        .iter()
        .map(|voice| {
            let mut samples = read_8k(&fixture(voice, 0));
            samples.extend(read_8k(&fixture(voice, 1)));
            samples
        })
        .collect();
    let alone: Vec<Utterance> = calls.iter().map(|c| stream(&e, c, 1600).1).collect();
    let batcher = Arc::new(PartialBatcher::new(Arc::clone(e.encoder())));
    let config = e.config();
    // Five calls at once on five threads, 200 ms chunks, each snapshotting mid-call: partials
    // from different calls share batches, and a snapshot pulls its own out of the queue.
    let batched: Vec<Utterance> = std::thread::scope(|scope| {
        let workers: Vec<_> = calls
            .iter()
            .map(|call| {
                let batcher = Arc::clone(&batcher);
                scope.spawn(move || {
                    let mut s = StreamingEmbedder::batched(batcher, config, 8000).unwrap();
                    for (i, piece) in call.chunks(1600).enumerate() {
                        s.push(piece).unwrap();
                        if i == 25 {
                            s.snapshot().unwrap();
                        }
                    }
                    s.finish().unwrap()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for (a, b) in alone.iter().zip(&batched) {
        assert_eq!(a.partials, b.partials);
        assert_eq!(a.speech, b.speech);
        assert_eq!(a.voiceprint.values(), b.voiceprint.values());
    }
    assert_eq!(batcher.queued(), 0, "every partial was computed");
}

#[test]
fn a_dropped_stream_leaves_nothing_in_the_batch_queue() {
    let e = embedder();
    let batcher = Arc::new(PartialBatcher::new(Arc::clone(e.encoder())));
    let mut s = StreamingEmbedder::batched(Arc::clone(&batcher), e.config(), 8000).unwrap();
    // About 2.5 s of speech: one or two partials, fewer than a stream runs on its own.
    s.push(&read_8k(&fixture("june_frca", 0))[..24_000])
        .unwrap();
    assert!(
        batcher.queued() > 0,
        "a lone stream's first partials wait for a batch"
    );
    drop(s);
    assert_eq!(batcher.queued(), 0);
}

#[test]
fn a_stream_reports_speech_and_snapshots_as_it_goes() {
    let e = embedder();
    let samples = read_8k(&fixture("ivr_ru", 1));
    let final_print = e.embed(&samples, 8000).unwrap().voiceprint;
    let mut s = StreamingEmbedder::new(Arc::clone(e.encoder()), e.config(), 8000).unwrap();
    assert!(matches!(
        s.snapshot(),
        Err(VoiceprintError::NotEnoughSpeech { .. })
    ));
    let mut last_speech = Duration::ZERO;
    let mut snapshots = 0;
    for piece in samples.chunks(160) {
        s.push(piece).unwrap();
        assert!(s.speech_duration() >= last_speech);
        last_speech = s.speech_duration();
        if s.speech_duration() >= Duration::from_secs(2) && snapshots < 3 {
            let partial = s.snapshot().unwrap();
            assert!(partial.voiceprint.similarity(&final_print) > 0.8);
            snapshots += 1;
        }
    }
    assert_eq!(snapshots, 3);
    assert!(s.heard_duration() > Duration::from_secs(4));
    assert!(matches!(
        s.push(&[f32::INFINITY]),
        Err(VoiceprintError::NonFiniteSample(0))
    ));
}

#[test]
fn enrolment_from_two_utterances_is_closer_to_the_speaker_than_to_others() {
    let e = embedder();
    let enrol: Vec<(Voiceprint, Duration)> = (0..2)
        .map(|n| {
            let u = e.embed_file(&fixture("allison_en", n)).unwrap();
            (u.voiceprint, u.speech)
        })
        .collect();
    let speaker = Voiceprint::enrol(&enrol).unwrap();
    for (print, _) in &enrol {
        assert!(speaker.similarity(print) > 0.95);
    }
    for voice in &VOICES[1..] {
        let other = e.embed_file(&fixture(voice, 0)).unwrap().voiceprint;
        assert!(speaker.similarity(&other) < 0.85, "{voice}");
    }
}
