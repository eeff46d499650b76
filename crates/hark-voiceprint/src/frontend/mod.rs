//! The front end: from 16 kHz samples to the mel frames the encoder reads.
//!
//! Exactly Resemblyzer's pipeline (`voiceprint.md` §4): volume normalisation to −30 dBFS
//! (increase only), WebRTC voice-activity trimming of long silences, then a 40-band power mel
//! spectrogram with 25 ms windows every 10 ms, cut into partial windows of 160 frames.

mod line_noise;
pub mod mel;
pub mod partials;
pub mod vad;
pub mod volume;
pub mod webrtc_vad;

/// The sample rate the encoder's front end works at.
pub const SAMPLE_RATE: u32 = 16_000;
/// Mel bands per frame.
pub const N_MELS: usize = 40;
/// FFT window: 25 ms.
pub const N_FFT: usize = 400;
/// Hop between frames: 10 ms.
pub const HOP: usize = 160;
/// Frames per partial window (1.6 s).
pub const PARTIAL_FRAMES: usize = 160;
/// Frames between partial starts: 1.3 partials per second.
pub const PARTIAL_STEP: usize = 77;
