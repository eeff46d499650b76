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
//! pause tones and silence. `runtime` (feature `runtime`) is the I/O shell: the writer pool,
//! the spool, and delivery to a directory or an S3-compatible store.
//!
//! ```
//! use chrono::DateTime;
//! use hark_recording::control::{CallStarted, RecordingControl};
//! use hark_recording::policy::PolicyScope;
//! use hark_recording::{Destination, DestinationType, PauseBehavior, RecordingPolicy};
//! use hark_recording::{RecordingSpec, Track};
//!
//! let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
//! // Record every call, both tracks, into a directory.
//! let policy = RecordingPolicy {
//!     scope: PolicyScope::Every,
//!     rules: vec![],
//!     spec: RecordingSpec {
//!         track: Track::Both,
//!         destination: Destination { kind: DestinationType::File, location: "calls".into() },
//!         pause_behavior: PauseBehavior::Silence,
//!     },
//! };
//! let mut control = RecordingControl::new(policy);
//! let leg = |id: &str| CallStarted::from_custom_config(id, "contact-1", None, Default::default());
//! control.call_started(now, leg("leg-1"))?;
//! assert!(control.status(now, "leg-1").is_some_and(|s| s.recording_id.is_some()));
//! // The customer declines: the whole contact is latched do-not-record…
//! control.latch_contact(now, "contact-1");
//! // …and a transfer to a second agent (a new leg of the same contact) is not recorded either.
//! control.call_started(now, leg("leg-2"))?;
//! let transferred = control.status(now, "leg-2");
//! assert!(transferred.is_some_and(|s| s.do_not_record && s.recording_id.is_none()));
//! # Ok::<(), hark_recording::ActionError>(())
//! ```

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
