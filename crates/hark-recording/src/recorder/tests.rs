//! What ends up in the file: layouts, tones, silence, skipped spans, gaps.

use hark_audio::analysis::{peak, tone_power_dbfs};
use hark_audio::{AudioFrame, ChannelLayout};

use super::*;

/// 20 ms of the negotiated layout: customer = +1000, agent = -2000.
fn frame(layout: ChannelLayout) -> AudioFrame {
    let samples = layout
        .channels()
        .iter()
        .map(|c| if *c == Channel::External { 1000 } else { -2000 })
        .collect::<Vec<i16>>()
        .repeat(160);
    AudioFrame::new(layout, 8000, samples).unwrap()
}

fn read(path: &Path) -> (u16, Vec<i16>) {
    let mut reader = hound::WavReader::open(path).unwrap();
    let channels = reader.spec().channels;
    (
        channels,
        reader.samples::<i16>().map(|s| s.unwrap()).collect(),
    )
}

fn channel(samples: &[i16], channels: u16, index: usize) -> Vec<i16> {
    samples
        .iter()
        .skip(index)
        .step_by(channels as usize)
        .copied()
        .collect()
}

fn record(
    track: Track,
    behavior: PauseBehavior,
    script: impl FnOnce(&mut CallRecorder),
) -> (u16, Vec<i16>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leg.wav");
    let mut r = CallRecorder::create(&path, track, behavior, ToneConfig::default()).unwrap();
    script(&mut r);
    let done = r.finish().unwrap();
    assert_eq!(done.path, path);
    read(&path)
}

/// Streams `frames` 20 ms frames starting at stream frame `*t`.
fn stream(r: &mut CallRecorder, layout: ChannelLayout, t: &mut u64, frames: u32) {
    for _ in 0..frames {
        r.write(&frame(layout), *t).unwrap();
        *t += 160;
    }
}

#[test]
fn both_tracks_are_stereo_customer_left_whatever_the_negotiated_order() {
    let inverted = ChannelLayout::new(&[Channel::Internal, Channel::External]).unwrap();
    let (ch, samples) = record(Track::Both, PauseBehavior::Silence, |r| {
        stream(r, inverted, &mut 0, 5)
    });
    assert_eq!(ch, 2);
    assert!(
        channel(&samples, 2, 0).iter().all(|&s| s == 1000),
        "left is the customer"
    );
    assert!(
        channel(&samples, 2, 1).iter().all(|&s| s == -2000),
        "right is the agent"
    );
}

#[test]
fn one_track_is_mono_and_missing_channels_are_silent() {
    let (ch, samples) = record(Track::Outgoing, PauseBehavior::Silence, |r| {
        stream(r, ChannelLayout::CUSTOMER_LEFT, &mut 0, 2)
    });
    assert_eq!((ch, samples.len()), (1, 320));
    assert!(samples.iter().all(|&s| s == -2000));
    let customer_only = ChannelLayout::mono(Channel::External);
    let (_, samples) = record(Track::Both, PauseBehavior::Silence, |r| {
        stream(r, customer_only, &mut 0, 2)
    });
    assert!(
        channel(&samples, 2, 1).iter().all(|&s| s == 0),
        "no agent channel negotiated"
    );
}

#[test]
fn silence_mode_keeps_the_length_with_tones_replacing_silence_only() {
    let layout = ChannelLayout::CUSTOMER_LEFT;
    let mut t = 0;
    let (_, samples) = record(Track::Both, PauseBehavior::Silence, |r| {
        stream(r, layout, &mut t, 50); // 1 s audio
        r.pause().unwrap();
        stream(r, layout, &mut t, 100); // 2 s paused
        r.resume().unwrap();
        stream(r, layout, &mut t, 50); // 1 s audio
    });
    let left = channel(&samples, 2, 0);
    assert_eq!(left.len(), 4 * 8000, "the paused span keeps its length");
    assert!(left[..8000].iter().all(|&s| s == 1000));
    let paused = &left[8000..24_000];
    assert!(
        tone_power_dbfs(&paused[..1600], 1000.0, 8000) > -20.0,
        "pause tone at the start"
    );
    assert_eq!(peak(&paused[1600..14_400]), 0, "silence, never audio");
    assert!(
        tone_power_dbfs(&paused[14_400..], 1000.0, 8000) > -20.0,
        "resume tone at the end"
    );
    assert!(
        left[24_000..].iter().all(|&s| s == 1000),
        "no audio lost after resume"
    );
}

#[test]
fn skip_mode_leaves_the_span_out_and_marks_the_cut() {
    let layout = ChannelLayout::CUSTOMER_LEFT;
    let mut t = 0;
    let (_, samples) = record(Track::Incoming, PauseBehavior::Skip, |r| {
        stream(r, layout, &mut t, 50);
        r.pause().unwrap();
        stream(r, layout, &mut t, 100);
        r.resume().unwrap();
        stream(r, layout, &mut t, 50);
    });
    assert_eq!(
        samples.len(),
        2 * 8000 + 2 * 1600,
        "audio plus two 200 ms tones"
    );
    assert!(samples[..8000].iter().all(|&s| s == 1000));
    assert!(tone_power_dbfs(&samples[8000..11_200], 1000.0, 8000) > -20.0);
    assert!(samples[11_200..].iter().all(|&s| s == 1000));
}

#[test]
fn short_pauses_share_the_tones() {
    let layout = ChannelLayout::CUSTOMER_LEFT;
    let mut t = 0;
    let (_, samples) = record(Track::Incoming, PauseBehavior::Silence, |r| {
        stream(r, layout, &mut t, 10);
        r.pause().unwrap();
        stream(r, layout, &mut t, 5); // 100 ms: shorter than one tone
        r.resume().unwrap();
        stream(r, layout, &mut t, 10);
    });
    assert_eq!(samples.len(), 25 * 160);
    assert!(
        samples[1600..2400].iter().all(|&s| s != 1000 || s == 0),
        "no audio inside the pause"
    );
}

#[test]
fn stream_gaps_become_silence_or_nothing() {
    let layout = ChannelLayout::CUSTOMER_LEFT;
    // A secure pause: the stream jumps from 1 s to 3 s.
    let (_, samples) = record(Track::Incoming, PauseBehavior::Silence, |r| {
        let mut t = 0;
        stream(r, layout, &mut t, 50);
        t += 16_000;
        stream(r, layout, &mut t, 50);
    });
    assert_eq!(samples.len(), 4 * 8000);
    assert_eq!(peak(&samples[8000..24_000]), 0);
    let (_, samples) = record(Track::Incoming, PauseBehavior::Skip, |r| {
        let mut t = 0;
        stream(r, layout, &mut t, 50);
        t += 16_000;
        stream(r, layout, &mut t, 50);
    });
    assert_eq!(samples.len(), 2 * 8000);
}

#[test]
fn finishing_while_paused_writes_the_held_back_silence() {
    let layout = ChannelLayout::CUSTOMER_LEFT;
    let (_, samples) = record(Track::Incoming, PauseBehavior::Silence, |r| {
        let mut t = 0;
        stream(r, layout, &mut t, 50);
        r.pause().unwrap();
        stream(r, layout, &mut t, 50);
        assert_eq!(r.duration(), Duration::from_secs(2));
    });
    assert_eq!(samples.len(), 16_000);
    assert_eq!(
        peak(&samples[9600..]),
        0,
        "held-back silence, no resume tone"
    );
}

#[test]
fn wrong_rates_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = CallRecorder::create(
        &dir.path().join("x.wav"),
        Track::Both,
        PauseBehavior::Silence,
        ToneConfig::default(),
    )
    .unwrap();
    let wideband = AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 16000, vec![0; 4]).unwrap();
    assert!(matches!(
        r.write(&wideband, 0),
        Err(AudioError::UnsupportedRate(16000))
    ));
}

#[test]
fn recorders_with_one_tone_configuration_share_one_rendering() {
    let config = ToneConfig::default();
    let a = super::shared_tone(config);
    let b = super::shared_tone(config);
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    let expected = hark_audio::tone::marker_tone(
        config.frequency_hz,
        config.level_dbfs,
        RECORDING_RATE,
        config.duration,
    );
    assert_eq!(&a[..], &expected[..]);
    let other = ToneConfig {
        frequency_hz: 440.0,
        ..config
    };
    let c = super::shared_tone(other);
    assert!(!std::sync::Arc::ptr_eq(&a, &c));
    assert_ne!(&a[..], &c[..]);
}
