//! Speaker embeddings (voiceprints) computed in pure Rust on CPU.
//!
//! Planned shape (issue 5): mel front end with voice-activity trimming, the GE2E LSTM encoder
//! with converted Resemblyzer weights, streaming embedding, calibrated scores and EER/DET
//! evaluation. Nothing is implemented yet; this crate only reserves its place in the workspace.
