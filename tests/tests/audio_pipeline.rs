//! The audio path a recorded call takes, across hark-audio's modules: PCMU frames in the channel
//! order a peer negotiated → linear → customer-left stereo → crash-safe WAV → decoded back by
//! symphonia → customer channel resampled to 16 kHz for voiceprints.

use hark_audio::analysis::tone_power_dbfs;
use hark_audio::decode::{DecodeOptions, decode_file};
use hark_audio::resample::StreamResampler;
use hark_audio::wav::{CrashSafeWavWriter, WavFormat};
use hark_audio::{AudioFrame, Channel, ChannelLayout, Encoding};
use hark_tests::two_tone_call;

#[test]
fn internal_first_pcmu_call_becomes_a_customer_left_wav() {
    let negotiated = ChannelLayout::new(&[Channel::Internal, Channel::External]).unwrap();
    let wire: Vec<Vec<u8>> = two_tone_call(negotiated, 3)
        .iter()
        .map(|f| f.encode(Encoding::Pcmu))
        .collect();
    assert_eq!(wire[0].len(), 320, "20 ms of stereo PCMU");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.wav");
    let mut wav = CrashSafeWavWriter::create(
        &path,
        WavFormat {
            channels: 2,
            sample_rate: 8000,
        },
    )
    .unwrap();
    for payload in &wire {
        let frame = AudioFrame::decode(Encoding::Pcmu, negotiated, 8000, payload).unwrap();
        wav.write(
            frame
                .to_layout(ChannelLayout::CUSTOMER_LEFT)
                .unwrap()
                .samples(),
        )
        .unwrap();
    }
    let finished = wav.finalize().unwrap();
    assert_eq!(finished.frames, 24_000);

    let decoded = decode_file(&path, DecodeOptions::default()).unwrap();
    assert_eq!(
        (decoded.rate, decoded.channels, decoded.frames()),
        (8000, 2, 24_000)
    );
    let file = AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 8000, decoded.to_i16()).unwrap();
    let left = file.channel(Channel::External).unwrap();
    let right = file.channel(Channel::Internal).unwrap();
    assert!(
        tone_power_dbfs(&left, 440.0, 8000) > -7.0,
        "customer tone on the left"
    );
    assert!(
        tone_power_dbfs(&left, 1000.0, 8000) < -40.0,
        "no agent audio on the left"
    );
    assert!(
        tone_power_dbfs(&right, 1000.0, 8000) > -7.0,
        "agent tone on the right"
    );
    assert!(
        tone_power_dbfs(&right, 440.0, 8000) < -40.0,
        "no customer audio on the right"
    );

    let mut resampler = StreamResampler::new(8000, 16000, 1).unwrap();
    let mut wideband = Vec::new();
    for chunk in left.chunks(160) {
        wideband.extend(resampler.process_i16(chunk).unwrap());
    }
    wideband.extend(resampler.finish_i16().unwrap());
    assert_eq!(wideband.len(), 48_000);
    assert!(tone_power_dbfs(&wideband[8000..40_000], 440.0, 16000) > -7.0);
}
