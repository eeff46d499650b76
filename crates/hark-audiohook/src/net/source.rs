//! Audio for the client to stream: a looped recording, or a two-tone test signal.
//!
//! A load run streams thousands of these at once, so a block is a copy out of samples rendered
//! once; nothing is synthesised per block.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hark_audio::frame::duration_to_frames;
use hark_audio::tone::ToneGenerator;
use hark_audio::{AudioFrame, ChannelLayout};

/// The client's sample rate: telephone 8 kHz.
const RATE: u32 = 8000;

/// Gives the client its audio, one block at a time.
pub trait AudioSource: Send {
    /// The next `frames` frames of 8 kHz audio, or `None` at the end.
    fn read(&mut self, frames: usize) -> Option<AudioFrame>;
}

/// 8 kHz interleaved stereo (customer left), looped for a given number of frames.
pub struct LoopedAudio {
    samples: Arc<Vec<i16>>,
    /// Next frame to read, `0..frames in samples`.
    position: usize,
    remaining: u64,
}

impl LoopedAudio {
    /// Loops `samples` (interleaved stereo, customer left) for `frames` frames.
    pub fn new(samples: Arc<Vec<i16>>, frames: u64) -> Self {
        LoopedAudio {
            samples,
            position: 0,
            remaining: frames,
        }
    }
}

impl AudioSource for LoopedAudio {
    fn read(&mut self, frames: usize) -> Option<AudioFrame> {
        let total = self.samples.len() / 2;
        let n = (frames as u64).min(self.remaining) as usize;
        if n == 0 || total == 0 {
            return None;
        }
        let mut out = Vec::with_capacity(n * 2);
        while out.len() < n * 2 {
            let take = (n - out.len() / 2).min(total - self.position);
            out.extend_from_slice(&self.samples[self.position * 2..(self.position + take) * 2]);
            self.position = (self.position + take) % total;
        }
        self.remaining -= n as u64;
        AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, RATE, out).ok()
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
}

/// One second of the two tones, rendered once per process. Both tones complete a whole number of
/// cycles in a second, so the loop is seamless.
fn two_tone_second() -> &'static Arc<Vec<i16>> {
    static SECOND: OnceLock<Arc<Vec<i16>>> = OnceLock::new();
    SECOND.get_or_init(|| {
        let frames = RATE as usize;
        let customer = ToneGenerator::new(440.0, -12.0, RATE).take(frames);
        let agent = ToneGenerator::new(1000.0, -12.0, RATE).take(frames);
        let interleaved = customer
            .iter()
            .zip(&agent)
            .flat_map(|(c, a)| [*c, *a])
            .collect();
        Arc::new(interleaved)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looped_audio_wraps_and_stops_at_its_length() {
        let mut source = LoopedAudio::new(Arc::new(vec![1, 2, 3, 4]), 5);
        let first = source.read(3).unwrap();
        assert_eq!(first.samples(), &[1, 2, 3, 4, 1, 2]);
        let rest = source.read(3).unwrap();
        assert_eq!(rest.samples(), &[3, 4, 1, 2]);
        assert!(source.read(3).is_none());
    }

    #[test]
    fn looped_audio_reads_blocks_longer_than_the_loop() {
        let mut source = LoopedAudio::new(Arc::new(vec![1, 2, 3, 4]), 7);
        let block = source.read(5).unwrap();
        assert_eq!(block.samples(), &[1, 2, 3, 4, 1, 2, 3, 4, 1, 2]);
        assert_eq!(source.read(5).unwrap().samples(), &[3, 4, 1, 2]);
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
