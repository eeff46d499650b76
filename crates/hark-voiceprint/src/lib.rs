//! Speaker embeddings (voiceprints) computed in pure Rust on CPU.
//!
//! Audio goes in, a 256-dimension unit vector comes out, and two voiceprints compare by cosine
//! similarity, mapped to Voice ID's 0–100 scale by a [`Calibration`]. The model is the GE2E
//! speaker encoder with Resemblyzer 0.1.4's weights (Apache-2.0), converted to safetensors and
//! compiled in, so nothing is downloaded at run time.
//!
//! - [`frontend`]: volume normalisation, WebRTC voice-activity trimming, 40-band mel frames,
//!   partial windows — Resemblyzer's pipeline, exactly.
//! - [`encoder`]: the 3-layer LSTM with a cache-friendly, allocation-free kernel.
//! - [`Embedder`]: whole utterances; [`StreamingEmbedder`]: live audio, incrementally;
//!   [`PartialBatcher`]: many live streams' partials through the encoder together.
//! - [`Voiceprint`]: the vector, its bytes, enrolment from several utterances.
//! - [`VoiceprintIndex`]: the closest of many stored voiceprints (fraudster watchlists).
//! - [`eval`]: equal error rate, minDCF and DET curves over a corpus of speakers.
//! - [`weights`]: the weights file and the converter from the original checkpoint.
//!
//! ```
//! use hark_voiceprint::{Calibration, Voiceprint};
//!
//! // Voiceprints are unit vectors (an `Embedder` makes them from audio); they compare by cosine.
//! let mut a = vec![0.0f32; 256];
//! a[0] = 1.0;
//! let mut b = vec![0.0f32; 256];
//! b[0] = 0.95;
//! b[1] = 0.31;
//! let (a, b) = (Voiceprint::from_values(&a)?, Voiceprint::from_values(&b)?);
//! let cosine = a.similarity(&b);
//! assert!((cosine - 0.95).abs() < 0.01);
//! // On Voice ID's 0–100 scale, 90 is the default acceptance threshold.
//! assert!(Calibration::default().score(cosine) >= 90);
//! # Ok::<(), hark_voiceprint::VoiceprintError>(())
//! ```

pub mod batcher;
pub mod embedder;
pub mod encoder;
mod error;
pub mod eval;
pub mod frontend;
pub mod index;
pub mod score;
pub mod streaming;
pub mod voiceprint;
pub mod weights;

pub use batcher::PartialBatcher;
pub use embedder::{Embedder, EmbedderConfig, Utterance};
pub use error::VoiceprintError;
pub use index::VoiceprintIndex;
pub use score::Calibration;
pub use streaming::StreamingEmbedder;
pub use voiceprint::Voiceprint;
