//! Line noise, idle patterns and call-progress tones are not speech — in the whole-file path
//! (enrolment and registration jobs, `hark voiceprint`) and in the streaming path (live calls)
//! alike, at 8 and 16 kHz — and noise appended to a genuine call does not drag it below the
//! acceptance threshold (issue 19).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::f32::consts::PI;
use std::sync::Arc;
use std::time::Duration;

use hark_voiceprint::{Calibration, Embedder, StreamingEmbedder, Voiceprint, VoiceprintError};

/// The bar: under half a second of "speech" in 10 s of any of these.
const BAR: Duration = Duration::from_millis(500);

fn db(dbfs: f32) -> f32 {
    10f32.powf(dbfs / 20.0)
}

/// Deterministic white noise at `dbfs` RMS.
fn white(seconds: f32, rate: u32, dbfs: f32, seed: u32) -> Vec<f32> {
    let mut x = seed;
    let rms_of_uniform = 1.0 / 3f32.sqrt();
    (0..(seconds * rate as f32) as usize)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((x >> 8) as f32 / (1 << 24) as f32 * 2.0 - 1.0) * db(dbfs) / rms_of_uniform
        })
        .collect()
}

/// Pink noise (Voss–McCartney, 8 rows) at about `dbfs` RMS.
fn pink(seconds: f32, rate: u32, dbfs: f32) -> Vec<f32> {
    let white = white(seconds, rate, 0.0, 7);
    let mut rows = [0f32; 8];
    let raw: Vec<f32> = white
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let row = (i + 1).trailing_zeros() as usize % rows.len();
            rows[row] = w;
            rows.iter().sum::<f32>()
        })
        .collect();
    let rms = (raw.iter().map(|x| x * x).sum::<f32>() / raw.len() as f32).sqrt();
    raw.iter().map(|x| x / rms * db(dbfs)).collect()
}

/// Tones (Hz) at `dbfs` each, on for `on` and off for `off` seconds, for `seconds`.
fn tones(seconds: f32, rate: u32, hz: &[f32], dbfs: f32, on: f32, off: f32) -> Vec<f32> {
    let amplitude = db(dbfs) * 2f32.sqrt();
    (0..(seconds * rate as f32) as usize)
        .map(|i| {
            let t = i as f32 / rate as f32;
            if t % (on + off) >= on {
                return 0.0;
            }
            hz.iter()
                .map(|f| amplitude * (2.0 * PI * f * t).sin())
                .sum()
        })
        .collect()
}

/// μ-law bytes decoded (G.711): the idle patterns of a silent line.
fn ulaw_pattern(seconds: f32, bytes: &[u8]) -> Vec<f32> {
    let decoded = hark_audio::Encoding::Pcmu.decode(bytes).unwrap();
    (0..(seconds * 8000.0) as usize)
        .map(|i| f32::from(decoded[i % decoded.len()]) / 32768.0)
        .collect()
}

/// Net speech heard in `samples` by the whole-file and the streaming paths.
fn net_speech(embedder: &Embedder, samples: &[f32], rate: u32) -> (Duration, Duration) {
    let whole = match embedder.embed(samples, rate) {
        Ok(u) => u.speech,
        Err(VoiceprintError::NotEnoughSpeech { speech, .. }) => speech,
        Err(e) => panic!("{e}"),
    };
    let mut stream =
        StreamingEmbedder::new(Arc::clone(embedder.encoder()), embedder.config(), rate).unwrap();
    for chunk in samples.chunks(rate as usize / 5) {
        stream.push(chunk).unwrap();
    }
    let _ = stream.finish();
    (whole, stream.speech_duration())
}

#[test]
fn noise_idle_lines_and_tones_are_not_speech_in_either_path() {
    let embedder = Embedder::embedded().unwrap();
    for rate in [8000, 16_000] {
        let mut probes: Vec<(String, Vec<f32>)> = Vec::new();
        for level in [-80.0, -60.0, -45.0, -30.0, -20.0] {
            probes.push((format!("white {level} dBFS"), white(10.0, rate, level, 1)));
            probes.push((format!("pink {level} dBFS"), pink(10.0, rate, level)));
        }
        probes.push((
            "dial 350+440 Hz".into(),
            tones(10.0, rate, &[350.0, 440.0], -13.0, 10.0, 0.0),
        ));
        probes.push((
            "dial 425 Hz".into(),
            tones(10.0, rate, &[425.0], -10.0, 10.0, 0.0),
        ));
        probes.push((
            "ringback 440+480 Hz 2/4 s".into(),
            tones(10.0, rate, &[440.0, 480.0], -19.0, 2.0, 4.0),
        ));
        probes.push((
            "busy 480+620 Hz 0.5/0.5 s".into(),
            tones(10.0, rate, &[480.0, 620.0], -24.0, 0.5, 0.5),
        ));
        probes.push((
            "DTMF 5 held".into(),
            tones(10.0, rate, &[770.0, 1336.0], -10.0, 10.0, 0.0),
        ));
        probes.push((
            "beep 1400 Hz 0.2/1.8 s".into(),
            tones(10.0, rate, &[1400.0], -15.0, 0.2, 1.8),
        ));
        for (name, samples) in &probes {
            let (whole, streamed) = net_speech(&embedder, samples, rate);
            assert!(
                whole < BAR,
                "{name} at {rate} Hz, whole file: {whole:?} of speech"
            );
            assert!(
                streamed < BAR,
                "{name} at {rate} Hz, streamed: {streamed:?} of speech"
            );
        }
    }
    for (name, bytes) in [
        ("μ-law idle 0xFF", &[0xFFu8][..]),
        ("μ-law idle 0xFE/0x7E", &[0xFE, 0x7E]),
    ] {
        let (whole, streamed) = net_speech(&embedder, &ulaw_pattern(10.0, bytes), 8000);
        assert!(
            whole < BAR && streamed < BAR,
            "{name}: {whole:?} / {streamed:?}"
        );
    }
}

#[test]
fn genuine_callers_stay_accepted_with_line_noise_appended() {
    let corpus = hark_tests::speech::speech_corpus(env!("CARGO_TARGET_TMPDIR"));
    let embedder = Embedder::embedded().unwrap();
    let calibration = Calibration::default();
    let to_f32 = |s: Vec<i16>| {
        s.into_iter()
            .map(|x| f32::from(x) / 32768.0)
            .collect::<Vec<f32>>()
    };
    let mut accepted = (0, 0);
    for voice in hark_tests::speech::VOICES {
        // Enrolment from the first utterances (about 30 s of speech), verification from the last.
        let enrol = embedder
            .embed(
                &to_f32(hark_tests::speech::utterances(&corpus, voice, 0..=11)),
                8000,
            )
            .unwrap();
        let enrolled = Voiceprint::enrol(&[(enrol.voiceprint, enrol.speech)]).unwrap();
        // A 10 s verification, as Voice ID's protocol has it.
        let mut genuine = to_f32(hark_tests::speech::utterances(&corpus, voice, 16..=23));
        genuine.truncate(10 * 8000);
        let mut noisy = genuine.clone();
        noisy.extend(white(10.0, 8000, -45.0, 3));
        let clean = embedder.embed(&genuine, 8000).unwrap();
        let with_noise = embedder.embed(&noisy, 8000).unwrap();
        let score =
            |u: &hark_voiceprint::Utterance| calibration.score(enrolled.similarity(&u.voiceprint));
        assert!(
            with_noise.speech <= clean.speech + BAR,
            "{voice}: the noise added {:?} of speech",
            with_noise.speech - clean.speech
        );
        eprintln!(
            "{voice}: score {} clean ({:.2} s), {} with 10 s of −45 dBFS noise appended ({:.2} s)",
            score(&clean),
            clean.speech.as_secs_f64(),
            score(&with_noise),
            with_noise.speech.as_secs_f64()
        );
        accepted.0 += usize::from(score(&clean) >= 90);
        accepted.1 += usize::from(score(&with_noise) >= 90);
        assert!(
            score(&with_noise) + 2 >= score(&clean),
            "{voice}: {} clean, {} with noise appended",
            score(&clean),
            score(&with_noise)
        );
    }
    assert_eq!(
        accepted.1, accepted.0,
        "accepted clean vs with noise: {accepted:?}"
    );
}
