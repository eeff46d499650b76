//! The service as one process: configuration, credentials, stores, metrics and logging, and the
//! server that composes the domain crates' runtimes behind the HTTP router.

pub mod config;
pub mod credentials;
pub mod data_lock;
pub mod drain;
pub mod logging;
pub mod metrics;
pub mod monitoring;
pub mod server;
pub mod stores;
pub mod voiceid;
