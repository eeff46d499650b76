//! Monitor streams: each live call fanned out to at most five AudioHook monitor integrations.
//!
//! The core is sans-IO and time is passed in:
//! - [`integration`]: a validated [`MonitorIntegration`] (name, URI, API key, client secret,
//!   enabled, [`CallFilter`]) and its secret-free [`MonitorView`];
//! - [`registry`]: the integrations in force, at most [`MAX_MONITORS`], over a [`MonitorStore`]
//!   ([`store`]: the trait, an in-memory store and its conformance suite);
//! - [`block`]: a block of the call's audio shared by its monitors, encoded once per format;
//! - [`feed`]: a stream's bounded, drop-oldest queue of audio and secure-pause marks;
//! - [`delivery`]: queued items into an AudioHook client session on the call's timeline;
//! - [`stream`]: one (call, monitor) stream's shared state: queue, usage, counters, phase;
//! - [`usage`], [`backoff`], [`call`]: usage accounting, reconnect schedule, `open` contents.
//!
//! The `tokio` feature adds `net`: one task per stream that connects, streams, and retries
//! with backoff, and `net::Monitoring`, which runs every call's streams for the service (`net::CallFanout` per call).
//!
//! ```
//! use std::sync::Arc;
//! use hark_monitor::{MemoryMonitorStore, MonitorError, MonitorIntegration, MonitorRegistry};
//!
//! let registry = MonitorRegistry::new(Arc::new(MemoryMonitorStore::default()))?;
//! let monitor = |n: usize| MonitorIntegration {
//!     name: format!("monitor-{n}"),
//!     uri: format!("wss://monitor-{n}.example.com/audiohook"),
//!     api_key: "key".into(),
//!     client_secret: None,
//!     enabled: true,
//!     calls: Default::default(),
//!     custom_config: None,
//! };
//! for n in 0..5 {
//!     registry.create(monitor(n))?;
//! }
//! // At most five integrations, as Genesys allows.
//! assert!(matches!(registry.create(monitor(5)), Err(MonitorError::LimitReached { limit: 5 })));
//! # Ok::<(), MonitorError>(())
//! ```

// docs.rs builds with every feature and marks what each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod backoff;
pub mod block;
pub mod call;
pub mod delivery;
pub mod error;
pub mod feed;
pub mod filter;
pub mod integration;
pub mod registry;
pub mod store;
pub mod stream;
pub mod usage;

#[cfg(feature = "tokio")]
pub mod net;

pub use block::SharedBlock;
pub use call::CallIdentity;
pub use error::MonitorError;
pub use filter::{CallFilter, CallInfo};
pub use integration::{MAX_MONITORS, MonitorIntegration, MonitorUpdate, MonitorView};
pub use registry::MonitorRegistry;
pub use store::{MemoryMonitorStore, MonitorStore, UsageRecord};
pub use usage::UsageSeconds;

/// The JSON library of the free-form maps in public types (`custom_config`), re-exported so that
/// callers build them with the same version as hark.
pub use serde_json;
