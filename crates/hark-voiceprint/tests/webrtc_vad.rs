//! hark's WebRTC voice activity detector decides every frame exactly as `earshot` 0.1.0 (the
//! detector hark used before, compiled here without overflow checks, as it must be) does —
//! on real speech of every corpus voice and on signals built to overflow fixed-point filters —
//! and, unlike it, runs in a debug build with overflow checks (this test's build of
//! hark-voiceprint has them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use earshot::{VoiceActivityDetector, VoiceActivityProfile};
use hark_voiceprint::frontend::webrtc_vad::{FRAME, WebRtcVad};

/// Decisions of both detectors over `signal` (16 kHz), frame by frame; how many were speech.
fn assert_same_decisions(name: &str, signal: &[i16]) -> usize {
    let mut theirs = VoiceActivityDetector::new(VoiceActivityProfile::VERY_AGGRESSIVE);
    let mut ours = WebRtcVad::new();
    let mut speech = 0;
    for (i, frame) in signal.chunks_exact(FRAME).enumerate() {
        let expected = theirs.predict_16khz(frame).unwrap();
        let got = ours.is_speech(frame.try_into().unwrap());
        assert_eq!(got, expected, "{name}: frame {i} decided differently");
        speech += usize::from(got);
    }
    speech
}

/// 8 kHz speech at 16 kHz by linear interpolation (any 16 kHz signal will do for the test).
fn upsample(samples: &[i16]) -> Vec<i16> {
    let mut out = Vec::with_capacity(samples.len() * 2);
    for pair in samples.windows(2) {
        out.push(pair[0]);
        out.push(((i32::from(pair[0]) + i32::from(pair[1])) / 2) as i16);
    }
    out
}

fn noise(seed: u32, len: usize, amplitude: i32) -> Vec<i16> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let unit = i32::from((x >> 16) as u16) - 32768; // −32768 … 32767
            (unit * amplitude / 32768) as i16
        })
        .collect()
}

#[test]
fn decisions_equal_earshot_on_every_corpus_voice() {
    let corpus = hark_tests::speech::speech_corpus(env!("CARGO_TARGET_TMPDIR"));
    let mut voices: Vec<String> = std::fs::read_dir(&corpus)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    voices.sort();
    assert!(voices.len() >= 7, "{voices:?}");
    for voice in &voices {
        let speech = upsample(&hark_tests::speech::utterances(&corpus, voice, 0..=23));
        let frames = speech.len() / FRAME;
        let voiced = assert_same_decisions(voice, &speech);
        assert!(
            voiced * 4 > frames,
            "{voice}: {voiced} of {frames} frames voiced"
        );
        // Louder than any real call: the filters overflow and wrap, identically.
        let loud: Vec<i16> = speech.iter().map(|s| s.saturating_mul(8)).collect();
        assert_same_decisions(&format!("{voice} ×8 clipped"), &loud);
        let wrapped: Vec<i16> = speech.iter().map(|s| s.wrapping_mul(8)).collect();
        assert_same_decisions(&format!("{voice} ×8 wrapped"), &wrapped);
    }
}

#[test]
fn decisions_equal_earshot_on_hostile_signals() {
    let seconds = 16_000 * 20;
    let mut signals: Vec<(String, Vec<i16>)> = Vec::new();
    for amplitude in [1, 30, 1_000, 10_000, 32_767, 32_768] {
        signals.push((
            format!("noise ±{amplitude}"),
            noise(amplitude as u32, seconds, amplitude),
        ));
    }
    for period in [1, 2, 3, 4, 5, 8, 40] {
        let square = (0..seconds)
            .map(|i| {
                if (i / period) % 2 == 0 {
                    i16::MAX
                } else {
                    i16::MIN
                }
            })
            .collect();
        signals.push((format!("full-scale square, period {period}"), square));
    }
    let bursts = (0..seconds)
        .map(|i| {
            if (i / 4_800) % 2 == 0 {
                0
            } else {
                noise(i as u32, 1, 32_768)[0]
            }
        })
        .collect();
    signals.push(("silence and full-scale bursts".into(), bursts));
    signals.push(("silence".into(), vec![0; seconds]));
    signals.push(("DC at full scale".into(), vec![i16::MIN; seconds]));
    for (name, signal) in &signals {
        assert_same_decisions(name, signal);
    }
}
