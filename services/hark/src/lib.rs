//! The hark reference service: configuration, credentials, HTTP shell and the `hark` CLI.
//!
//! This crate is wiring. It parses configuration, builds the adapters the domain crates need,
//! mounts their routes and runs them; business rules live in the domain crates. Embedders start
//! a server with [`server::Server::bind`] and stop it with the future they pass to
//! [`server::Server::run`].

pub mod audit;
pub mod boundary;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod credentials;
pub mod data_lock;
pub mod drain;
pub mod http;
pub mod hub;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod monitor_api;
pub mod monitoring;
pub mod operator;
pub mod recording_api;
pub mod server;
pub mod stores;
pub mod stream;
pub mod voiceid;
pub mod voiceid_events;
pub mod voiceprint_cli;
