//! Audio for the client to stream: a looped recording, or a two-tone test signal.
//!
//! A load run streams thousands of these at once, so audio is rendered and encoded once per
//! process: a block of a looped source is a slice of the loop's PCMU bytes, sent as is when the
//! server picked PCMU stereo (what Genesys offers first), and decoded samples otherwise.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use hark_audio::frame::duration_to_frames;
use hark_audio::tone::ToneGenerator;
use hark_audio::{AudioError, AudioFrame, ChannelLayout, Encoding};

use crate::proto::client::AudioBlock;
use crate::proto::media::MediaFormat;

/// The client's sample rate: telephone 8 kHz.
const RATE: u32 = 8000;

/// Gives the client its audio, one block at a time.
pub trait AudioSource: Send {
    /// The next `frames` frames of 8 kHz audio, or `None` at the end.
    fn read(&mut self, frames: usize) -> Option<AudioFrame>;

    /// The next `frames` frames as something the session can encode (or already has encoded);
    /// by default the decoded block [`AudioSource::read`] gives.
    fn read_block(&mut self, frames: usize) -> Option<Box<dyn AudioBlock + Send>> {
        self.read(frames)
            .map(|frame| Box::new(frame) as Box<dyn AudioBlock + Send>)
    }
}

/// The wire format a loop is encoded in ahead of time: PCMU stereo, customer left.
const LOOP_FORMAT: MediaFormat = MediaFormat {
    encoding: Encoding::Pcmu,
    layout: ChannelLayout::CUSTOMER_LEFT,
    rate: RATE,
};

/// 8 kHz interleaved stereo (customer left) to loop, with its PCMU encoding made once.
#[derive(Debug)]
pub struct AudioLoop {
    samples: Vec<i16>,
    pcmu: Bytes,
}

impl AudioLoop {
    /// A loop of `samples` (interleaved stereo, customer left; a trailing half frame is cut).
    pub fn new(mut samples: Vec<i16>) -> Self {
        samples.truncate(samples.len() / 2 * 2);
        let pcmu = Encoding::Pcmu.encode(&samples).into();
        AudioLoop { samples, pcmu }
    }

    /// Frames (sample pairs) in the loop.
    pub fn frames(&self) -> usize {
        self.samples.len() / 2
    }
}

/// `frames` frames of a loop from `start` (which may wrap around its end).
struct LoopBlock {
    audio: Arc<AudioLoop>,
    start: usize,
    frames: usize,
}

impl LoopBlock {
    /// The block's samples, read around the loop's end if need be.
    fn samples(&self) -> Vec<i16> {
        let total = self.audio.frames();
        let mut out = Vec::with_capacity(self.frames * 2);
        let mut position = self.start;
        while out.len() < self.frames * 2 {
            let take = (self.frames - out.len() / 2).min(total - position);
            out.extend_from_slice(&self.audio.samples[position * 2..(position + take) * 2]);
            position = (position + take) % total;
        }
        out
    }
}

impl AudioBlock for LoopBlock {
    fn rate(&self) -> u32 {
        RATE
    }

    fn frames(&self) -> usize {
        self.frames
    }

    fn encoded(&self, media: &MediaFormat) -> Result<Bytes, AudioError> {
        let end = self.start + self.frames;
        if *media == LOOP_FORMAT && end <= self.audio.frames() {
            // PCMU stereo is one byte per sample, two per frame.
            return Ok(self.audio.pcmu.slice(self.start * 2..end * 2));
        }
        AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, RATE, self.samples())?.encoded(media)
    }
}

/// A loop played for a given number of frames.
pub struct LoopedAudio {
    audio: Arc<AudioLoop>,
    /// Next frame to read, `0..audio.frames()`.
    position: usize,
    remaining: u64,
}

impl LoopedAudio {
    /// Plays `audio` from its start, looping, for `frames` frames.
    pub fn new(audio: Arc<AudioLoop>, frames: u64) -> Self {
        LoopedAudio {
            audio,
            position: 0,
            remaining: frames,
        }
    }

    /// The next block, advancing.
    fn next_block(&mut self, frames: usize) -> Option<LoopBlock> {
        let total = self.audio.frames();
        let n = (frames as u64).min(self.remaining) as usize;
        if n == 0 || total == 0 {
            return None;
        }
        let block = LoopBlock {
            audio: Arc::clone(&self.audio),
            start: self.position,
            frames: n,
        };
        self.position = (self.position + n) % total;
        self.remaining -= n as u64;
        Some(block)
    }
}

impl AudioSource for LoopedAudio {
    fn read(&mut self, frames: usize) -> Option<AudioFrame> {
        let block = self.next_block(frames)?;
        AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, RATE, block.samples()).ok()
    }

    fn read_block(&mut self, frames: usize) -> Option<Box<dyn AudioBlock + Send>> {
        self.next_block(frames)
            .map(|block| Box::new(block) as Box<dyn AudioBlock + Send>)
    }
}

/// A stereo test source: 440 Hz for the customer (left), 1000 Hz for the agent (right), −12 dBFS.
pub struct ToneSource(LoopedAudio);

impl ToneSource {
    /// `duration` of two-tone stereo audio at 8 kHz.
    pub fn new(duration: Duration) -> Self {
        ToneSource(LoopedAudio::new(
            Arc::clone(two_tone_second()),
            duration_to_frames(duration, RATE),
        ))
    }
}

impl AudioSource for ToneSource {
    fn read(&mut self, frames: usize) -> Option<AudioFrame> {
        self.0.read(frames)
    }

    fn read_block(&mut self, frames: usize) -> Option<Box<dyn AudioBlock + Send>> {
        self.0.read_block(frames)
    }
}

/// One second of the two tones, rendered once per process. Both tones complete a whole number of
/// cycles in a second, so the loop is seamless.
fn two_tone_second() -> &'static Arc<AudioLoop> {
    static SECOND: OnceLock<Arc<AudioLoop>> = OnceLock::new();
    SECOND.get_or_init(|| {
        let frames = RATE as usize;
        let customer = ToneGenerator::new(440.0, -12.0, RATE).take(frames);
        let agent = ToneGenerator::new(1000.0, -12.0, RATE).take(frames);
        let interleaved = customer
            .iter()
            .zip(&agent)
            .flat_map(|(c, a)| [*c, *a])
            .collect();
        Arc::new(AudioLoop::new(interleaved))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looped_audio_wraps_and_stops_at_its_length() {
        let mut source = LoopedAudio::new(Arc::new(AudioLoop::new(vec![1, 2, 3, 4])), 5);
        let first = source.read(3).unwrap();
        assert_eq!(first.samples(), &[1, 2, 3, 4, 1, 2]);
        let rest = source.read(3).unwrap();
        assert_eq!(rest.samples(), &[3, 4, 1, 2]);
        assert!(source.read(3).is_none());
    }

    #[test]
    fn looped_audio_reads_blocks_longer_than_the_loop() {
        let mut source = LoopedAudio::new(Arc::new(AudioLoop::new(vec![1, 2, 3, 4])), 7);
        let block = source.read(5).unwrap();
        assert_eq!(block.samples(), &[1, 2, 3, 4, 1, 2, 3, 4, 1, 2]);
        assert_eq!(source.read(5).unwrap().samples(), &[3, 4, 1, 2]);
    }

    #[test]
    fn loop_blocks_send_the_pre_encoded_bytes_or_encode_what_was_asked() {
        let samples: Vec<i16> = (0..4000).map(|i| (i * 37 % 20000) as i16 - 10000).collect();
        let audio = Arc::new(AudioLoop::new(samples.clone()));
        let mut source = LoopedAudio::new(Arc::clone(&audio), 5000);
        let mono = MediaFormat {
            layout: ChannelLayout::mono(hark_audio::Channel::External),
            ..LOOP_FORMAT
        };
        let mut expected = samples.iter().cycle();
        while let Some(block) = source.read_block(1600) {
            let frames = block.frames();
            let stereo: Vec<i16> = expected.by_ref().take(frames * 2).copied().collect();
            let frame = AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, RATE, stereo).unwrap();
            for media in [LOOP_FORMAT, mono] {
                assert_eq!(
                    block.encoded(&media).unwrap(),
                    frame.encoded(&media).unwrap(),
                    "{media:?}"
                );
            }
        }
        // A block inside the loop is a slice of the loop's bytes, not a new encoding.
        let mut source = LoopedAudio::new(Arc::clone(&audio), 100);
        let bytes = source
            .read_block(100)
            .unwrap()
            .encoded(&LOOP_FORMAT)
            .unwrap();
        assert_eq!(bytes.as_ptr(), audio.pcmu.as_ptr());
    }

    #[test]
    fn the_tone_source_continues_the_same_wave_across_the_loop() {
        // Reading 1.6 s in 200 ms blocks equals rendering 1.6 s of each tone directly.
        let mut source = ToneSource::new(Duration::from_millis(1600));
        let mut streamed = Vec::new();
        while let Some(block) = source.read(1600) {
            streamed.extend_from_slice(block.samples());
        }
        let customer = ToneGenerator::new(440.0, -12.0, RATE).take(12_800);
        let agent = ToneGenerator::new(1000.0, -12.0, RATE).take(12_800);
        assert_eq!(streamed.len(), 25_600);
        for (i, pair) in streamed.chunks_exact(2).enumerate() {
            // The direct render accumulates phase in f64 across 1.6 s; allow one step of rounding.
            assert!(
                (i32::from(pair[0]) - i32::from(customer[i])).abs() <= 1,
                "frame {i}"
            );
            assert!(
                (i32::from(pair[1]) - i32::from(agent[i])).abs() <= 1,
                "frame {i}"
            );
        }
    }
}
