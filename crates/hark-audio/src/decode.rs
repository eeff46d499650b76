//! Decoding audio files of any format symphonia supports to interleaved PCM.
//!
//! Supported here: WAV (PCM, μ-law, A-law, IMA/MS ADPCM; G.711 with or without `cbSize` in its
//! `fmt ` chunk), FLAC, Ogg Vorbis and MP3. Input comes from callers we do not trust (uploaded
//! enrolment audio, batch manifests), so every failure is a typed [`AudioError`], a stream that
//! ends early is reported as [`AudioError::Truncated`], and a limit on the decoded length keeps a
//! hostile file from exhausting memory.

use std::fs::File;
use std::io::Cursor;
use std::path::Path;
use std::time::Duration;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use crate::AudioError;
use crate::frame::frames_to_duration;

mod g711_fmt;

/// Limits applied while decoding.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// The longest audio accepted; longer input fails with [`AudioError::TooLong`].
    pub max_duration: Duration,
    /// The most channels accepted.
    pub max_channels: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_duration: Duration::from_secs(3600),
            max_channels: 8,
        }
    }
}

/// Decoded audio: interleaved samples in [-1, 1] with their rate and channel count.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedAudio {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Number of interleaved channels.
    pub channels: usize,
    /// Interleaved samples in [-1, 1].
    pub samples: Vec<f32>,
    /// Packets the codec rejected as malformed and that were skipped (audio lost there).
    pub corrupt_packets: u32,
}

impl DecodedAudio {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1)
    }

    /// Duration of the audio, exact to the nanosecond.
    pub fn duration(&self) -> Duration {
        frames_to_duration(self.frames() as u64, self.rate)
    }

    /// The samples as 16-bit integers, rounded and clipped.
    pub fn to_i16(&self) -> Vec<i16> {
        crate::resample::to_i16(&self.samples)
    }

    /// The average of all channels, one sample per frame.
    pub fn to_mono(&self) -> Vec<f32> {
        let ch = self.channels.max(1);
        self.samples
            .chunks_exact(ch)
            .map(|frame| frame.iter().sum::<f32>() / ch as f32)
            .collect()
    }
}

/// Decodes a file; its extension is used as a hint, the content decides.
pub fn decode_file(path: &Path, options: DecodeOptions) -> Result<DecodedAudio, AudioError> {
    let file = File::open(path).map_err(AudioError::file("open", path))?;
    let extension = path.extension().and_then(|e| e.to_str());
    decode_source(Box::new(file), extension, options)
}

/// Decodes audio held in memory, e.g. an uploaded file.
pub fn decode_bytes(bytes: Vec<u8>, options: DecodeOptions) -> Result<DecodedAudio, AudioError> {
    decode_source(Box::new(Cursor::new(bytes)), None, options)
}

fn decode_source(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
    options: DecodeOptions,
) -> Result<DecodedAudio, AudioError> {
    // symphonia is third-party parsing of untrusted bytes; some malformed headers make it do
    // arithmetic that overflows (a panic where overflow checks are on, e.g. debug builds). A
    // decoder's bug must not take the caller down: it becomes a corrupt-input error.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_unguarded(source, extension, options)
    }))
    .unwrap_or_else(|_| {
        Err(AudioError::Corrupt(
            "the decoder failed on malformed input".to_owned(),
        ))
    })
}

fn decode_unguarded(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
    options: DecodeOptions,
) -> Result<DecodedAudio, AudioError> {
    let source = g711_fmt::normalize(source)?;
    let stream = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| probe_error(&e))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or(AudioError::NoAudio)?;
    let track_id = track.id;
    let declared_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or(AudioError::NoAudio)?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| probe_error(&e))?;

    let mut out = DecodedAudio {
        rate: 0,
        channels: 0,
        samples: Vec::new(),
        corrupt_packets: 0,
    };
    let mut max_frames = u64::MAX;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(AudioError::Truncated {
                    decoded_frames: out.frames() as u64,
                });
            }
            Err(e) => return Err(stream_error(&e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buffer = match decoder.decode(&packet) {
            Ok(buffer) => buffer,
            Err(SymphoniaError::DecodeError(_)) => {
                out.corrupt_packets += 1;
                continue;
            }
            Err(e) => return Err(stream_error(&e)),
        };
        let (rate, channels) = (buffer.spec().rate(), buffer.spec().channels().count());
        if out.rate == 0 {
            if rate == 0 || channels == 0 || channels > options.max_channels {
                return Err(AudioError::UnsupportedFormat(format!(
                    "{channels} channels at {rate} Hz"
                )));
            }
            out.rate = rate;
            out.channels = channels;
            max_frames =
                (options.max_duration.as_nanos() * u128::from(rate) / 1_000_000_000) as u64;
        } else if (rate, channels) != (out.rate, out.channels) {
            return Err(AudioError::Corrupt(
                "sample rate or channel count changes mid-stream".into(),
            ));
        }
        if (out.frames() + buffer.frames()) as u64 > max_frames {
            return Err(AudioError::TooLong { max_frames });
        }
        let start = out.samples.len();
        out.samples
            .resize(start + buffer.samples_interleaved(), 0.0);
        buffer.copy_to_slice_interleaved(&mut out.samples[start..]);
    }
    if out.frames() == 0 {
        return Err(if out.corrupt_packets > 0 {
            AudioError::Corrupt(format!("all {} packets are malformed", out.corrupt_packets))
        } else {
            AudioError::NoAudio
        });
    }
    if let Some(declared) = declared_frames {
        // Lossy codecs may emit a little less than declared (encoder delay); a PCM stream that
        // stops well short of its declared length was cut off.
        if (out.frames() as u64) < declared.saturating_sub(declared / 100 + 4096) {
            return Err(AudioError::Truncated {
                decoded_frames: out.frames() as u64,
            });
        }
    }
    Ok(out)
}

fn probe_error(e: &SymphoniaError) -> AudioError {
    match e {
        SymphoniaError::Unsupported(what) => AudioError::UnsupportedFormat((*what).to_owned()),
        SymphoniaError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::UnsupportedFormat("input ends before any audio format is recognised".into())
        }
        other => stream_error(other),
    }
}

fn stream_error(e: &SymphoniaError) -> AudioError {
    match e {
        SymphoniaError::Unsupported(what) => AudioError::UnsupportedFormat((*what).to_owned()),
        SymphoniaError::LimitError(what) => AudioError::Corrupt(format!("limit reached: {what}")),
        other => AudioError::Corrupt(other.to_string()),
    }
}
