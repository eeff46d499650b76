//! Recording control and the call recorder.
//!
//! Planned shape (issue 4): a sans-IO model of contacts and legs (`idle → recording ⇄ paused →
//! stopped`), Chime-style call-leg actions, CXone-style record on demand and the do-not-record
//! latch, a stereo WAV recorder on `hark_audio::wav`, and delivery to an object store. Nothing is
//! implemented yet; this crate only reserves its place in the workspace.
