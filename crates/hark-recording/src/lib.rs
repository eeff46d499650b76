//! Recording control and the call recorder.
//!
//! [`control`] is the sans-IO model of who may record what: contacts (a customer's whole
//! interaction, across transfers, consults and conferences) hold legs (one per call leg /
//! AudioHook session) with the agents on them; each leg's recording goes
//! `idle → recording ⇄ paused → stopped`. It takes Amazon Chime-style call-leg actions, NICE
//! CXone-style record-on-demand requests addressed by agent, the customer's do-not-record
//! refusal, and call events, and answers with outcomes plus [`control::Effect`]s for the recorder
//! to carry out. Time is passed in; nothing here does I/O.
//!
//! [`recorder::CallRecorder`] writes a leg's audio into a crash-safe stereo (or mono) WAV with
//! pause tones and silence. [`runtime`] (feature `runtime`) is the I/O shell: the writer pool,
//! the spool, and delivery to a directory or an S3-compatible store.

// docs.rs builds with every feature and marks what each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod chime;
pub mod control;
pub mod cxone;
pub mod key;
pub mod policy;
pub mod recorder;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod spec;
pub mod store;

pub use control::{
    ActionError, ActionErrorType, CallAction, CallStarted, Effect, OnDemandOutcome,
    RecordingControl,
};
pub use policy::RecordingPolicy;
pub use spec::{Destination, DestinationType, PauseBehavior, RecordingSpec, Track};

/// The JSON library of the free-form maps in public types (`custom_config`), re-exported so that
/// callers build them with the same version as hark.
pub use serde_json;
