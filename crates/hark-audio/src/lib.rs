//! Telephone audio for hark.
//!
//! Everything the rest of hark needs to move call audio around without thinking about bytes:
//!
//! - [`codec`]: G.711 μ-law (`PCMU`) and A-law (`PCMA`), and `L16`, bit-exact with ITU-T G.711.
//! - [`frame`]: interleaved multichannel frames with a named channel layout (`external` is the
//!   customer, `internal` the agent) in whatever order the peer negotiated.
//! - [`resample`]: a streaming resampler (8 k ↔ 16 k ↔ 48 k and more) fed chunk by chunk.
//! - [`decode`]: any file symphonia understands (WAV incl. G.711, FLAC, Ogg Vorbis, MP3) to PCM.
//! - [`wav`]: a crash-safe WAV writer (`NAME.part`, checkpointed header, rename on finalize) and
//!   the repair of a `.part` left behind by a crash.
//! - [`tone`]: tone and silence generators for pause / resume markers.
//! - [`analysis`]: small measurements (level, tone power) used to check audio in tests and probes.
//!
//! The crate is synchronous and does no networking; file I/O happens only in [`decode`] and
//! [`wav`].
//!
//! ```
//! use hark_audio::{AudioFrame, ChannelLayout, Encoding};
//!
//! // 2 stereo frames: the customer (external) left, the agent (internal) right.
//! let frame = AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 8000, vec![8000, 0, -8000, 0])?;
//! let wire = frame.encode(Encoding::Pcmu); // one byte per sample, as AudioHook sends it
//! assert_eq!(wire.len(), 4);
//! let back = Encoding::Pcmu.decode(&wire)?;
//! assert!((back[0] - 8000).abs() < 256, "μ-law keeps 8000 within its step");
//! # Ok::<(), hark_audio::AudioError>(())
//! ```

pub mod analysis;
pub mod codec;
pub mod decode;
mod error;
pub mod frame;
pub mod resample;
pub mod tone;
pub mod wav;

pub use codec::Encoding;
pub use error::AudioError;
pub use frame::{AudioFrame, Channel, ChannelLayout};
