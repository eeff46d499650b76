//! Decoding real files made by sox (`scripts/audio-fixtures.sh`) in every supported format, and
//! typed errors for damaged input.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::PathBuf;
use std::time::Duration;

use hark_audio::AudioError;
use hark_audio::analysis::tone_power_dbfs;
use hark_audio::codec::{alaw, mulaw};
use hark_audio::decode::{DecodeOptions, DecodedAudio, decode_bytes, decode_file};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats")
        .join(name)
}

fn channel(audio: &DecodedAudio, index: usize) -> Vec<i16> {
    audio
        .to_i16()
        .into_iter()
        .skip(index)
        .step_by(audio.channels)
        .collect()
}

/// Checks that the decoded audio is a one-second, -6 dBFS tone of `freqs[c]` on channel `c`.
fn assert_tones(name: &str, rate: u32, freqs: &[f64]) {
    let audio = decode_file(&fixture(name), DecodeOptions::default()).unwrap();
    assert_eq!((audio.rate, audio.channels), (rate, freqs.len()), "{name}");
    let duration = audio.duration().as_secs_f64();
    assert!((0.99..1.1).contains(&duration), "{name}: {duration} s");
    assert_eq!(audio.corrupt_packets, 0);
    for (c, &freq) in freqs.iter().enumerate() {
        // Skip the codec's start-up, measure the middle half second.
        let samples = channel(&audio, c);
        let middle = &samples[rate as usize / 4..rate as usize * 3 / 4];
        let level = tone_power_dbfs(middle, freq, rate);
        assert!(
            (-7.5..-5.0).contains(&level),
            "{name} ch{c} {freq} Hz at {level:.1} dBFS"
        );
        let other = if freq == 440.0 { 1000.0 } else { 440.0 };
        assert!(
            tone_power_dbfs(middle, other, rate) < -40.0,
            "{name} ch{c}: crosstalk"
        );
    }
}

#[test]
fn wav_pcm_stereo() {
    assert_tones("pcm16-stereo-16k.wav", 16000, &[440.0, 1000.0]);
}

#[test]
fn flac_stereo() {
    assert_tones("stereo-44k.flac", 44100, &[440.0, 1000.0]);
}

#[test]
fn ogg_vorbis_stereo() {
    assert_tones("stereo-48k.ogg", 48000, &[440.0, 1000.0]);
}

#[test]
fn mp3_mono() {
    assert_tones("mono-16k.mp3", 16000, &[440.0]);
}

#[test]
fn g711_wavs_decode_exactly_like_our_codec() {
    for (name, decode) in [
        ("ulaw-mono-8k.wav", mulaw::decode_sample as fn(u8) -> i16),
        ("alaw-mono-8k.wav", alaw::decode_sample),
    ] {
        assert_tones(name, 8000, &[440.0]);
        let bytes = std::fs::read(fixture(name)).unwrap();
        let data = bytes.windows(4).position(|w| w == b"data").unwrap() + 8;
        let ours: Vec<i16> = bytes[data..].iter().map(|&b| decode(b)).collect();
        let theirs = decode_file(&fixture(name), DecodeOptions::default())
            .unwrap()
            .to_i16();
        assert_eq!(ours, theirs, "{name}");
    }
}

/// A G.711 WAV made byte by byte: `fmt ` of `fmt_len` bytes (16: no `cbSize`, as Genesys'
/// reference samples; 18: `cbSize = 0`), optionally after an odd-sized `JUNK` chunk, then a
/// `fact` and the `data` chunk.
fn g711_wav(format: u16, channels: u16, fmt_len: u32, junk: bool, data: &[u8]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    if junk {
        body.extend_from_slice(b"JUNK");
        body.extend_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(&[0, 0, 0, 0]); // 3 bytes and the pad byte
    }
    body.extend_from_slice(b"fmt ");
    body.extend_from_slice(&fmt_len.to_le_bytes());
    body.extend_from_slice(&format.to_le_bytes());
    body.extend_from_slice(&channels.to_le_bytes());
    body.extend_from_slice(&8000u32.to_le_bytes()); // sample rate
    body.extend_from_slice(&(8000 * u32::from(channels)).to_le_bytes()); // bytes per second
    body.extend_from_slice(&channels.to_le_bytes()); // block align
    body.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    if fmt_len == 18 {
        body.extend_from_slice(&0u16.to_le_bytes()); // cbSize
    }
    body.extend_from_slice(b"fact");
    body.extend_from_slice(&4u32.to_le_bytes());
    let frames = data.len() as u32 / u32::from(channels);
    body.extend_from_slice(&frames.to_le_bytes());
    body.extend_from_slice(b"data");
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    let mut wav = b"RIFF".to_vec();
    wav.extend_from_slice(&(body.len() as u32).to_le_bytes());
    wav.extend_from_slice(&body);
    wav
}

#[test]
fn g711_wavs_with_a_16_byte_fmt_chunk_decode_like_those_with_cbsize() {
    // Every code value, twice over, then a ramp: 0.1 s of 8 kHz G.711 per channel.
    let data: Vec<u8> = (0..=255u8)
        .chain(0..=255)
        .chain((0..288).map(|i| i as u8))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    for (format, decode) in [
        (7u16, mulaw::decode_sample as fn(u8) -> i16),
        (6, alaw::decode_sample),
    ] {
        let expected: Vec<i16> = data.iter().map(|&b| decode(b)).collect();
        for (fmt_len, junk, channels) in
            [(16, false, 1), (16, true, 2), (18, false, 1), (18, true, 2)]
        {
            let what = format!("format {format}, fmt {fmt_len} bytes, junk {junk}, {channels} ch");
            let wav = g711_wav(format, channels, fmt_len, junk, &data);
            let audio = decode_bytes(wav.clone(), DecodeOptions::default())
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                (audio.rate, audio.channels),
                (8000, usize::from(channels)),
                "{what}"
            );
            assert_eq!(audio.to_i16(), expected, "{what}");
            assert_eq!(audio.corrupt_packets, 0, "{what}");
            // From a file too, as `hark stream --file` reads it.
            let path = dir
                .path()
                .join(format!("{format}-{fmt_len}-{junk}-{channels}.wav"));
            std::fs::write(&path, &wav).unwrap();
            let from_file = decode_file(&path, DecodeOptions::default())
                .unwrap_or_else(|e| panic!("{what} (file): {e}"));
            assert_eq!(from_file, audio, "{what}");
        }
    }
    // Cut in the middle of the data, the short header still yields a typed truncation error.
    let wav = g711_wav(7, 1, 16, false, &data);
    let cut = wav[..wav.len() - 300].to_vec();
    assert!(matches!(
        decode_bytes(cut, DecodeOptions::default()),
        Err(AudioError::Truncated { .. } | AudioError::Corrupt(_))
    ));
}

#[test]
fn truncated_input_is_a_typed_error() {
    for name in [
        "pcm16-stereo-16k.wav",
        "stereo-44k.flac",
        "ulaw-mono-8k.wav",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let half = bytes[..bytes.len() / 2].to_vec();
        match decode_bytes(half, DecodeOptions::default()) {
            Err(AudioError::Truncated { decoded_frames }) => assert!(decoded_frames > 0, "{name}"),
            Err(AudioError::Corrupt(_)) => {}
            other => panic!("{name}: truncated input gave {other:?}"),
        }
    }
}

#[test]
fn garbage_and_empty_input_are_typed_errors() {
    assert!(matches!(
        decode_bytes(Vec::new(), DecodeOptions::default()),
        Err(AudioError::UnsupportedFormat(_))
    ));
    let noise: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(matches!(
        decode_bytes(noise, DecodeOptions::default()),
        Err(AudioError::UnsupportedFormat(_))
    ));
    // A valid header followed by garbage.
    let mut bytes = std::fs::read(fixture("stereo-44k.flac")).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 4..] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    match decode_bytes(bytes, DecodeOptions::default()) {
        Err(AudioError::Corrupt(_) | AudioError::Truncated { .. }) => {}
        Ok(audio) => assert!(
            audio.corrupt_packets > 0,
            "garbage decoded without complaint"
        ),
        other => panic!("corrupted flac gave {other:?}"),
    }
    let missing = decode_file(&fixture("missing.wav"), DecodeOptions::default());
    assert!(matches!(missing, Err(AudioError::File { op: "open", .. })));
}

#[test]
fn length_limit_is_enforced() {
    let mut options = DecodeOptions::default();
    options.max_duration = Duration::from_millis(500);
    assert!(matches!(
        decode_file(&fixture("pcm16-stereo-16k.wav"), options),
        Err(AudioError::TooLong { max_frames: 8000 })
    ));
}

#[test]
fn mono_mix_averages_channels() {
    let audio = DecodedAudio {
        rate: 8000,
        channels: 2,
        samples: vec![0.5, 0.1, -0.2, 0.2],
        corrupt_packets: 0,
    };
    assert_eq!(audio.to_mono(), vec![0.3, 0.0]);
    assert_eq!(audio.frames(), 2);
}

/// Found by fuzzing (`voiceprint_audio`): a WAV header claiming 65 281 channels makes symphonia's
/// block-align arithmetic overflow, which panics where overflow checks are on. It must come back
/// as an error, in every build.
#[test]
fn a_header_that_trips_the_decoder_is_an_error_not_a_panic() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz/wav-65281-channels.wav");
    let bytes = std::fs::read(path).unwrap();
    assert!(decode_bytes(bytes, DecodeOptions::default()).is_err());
}
