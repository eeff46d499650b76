//! The hark reference service: composition of the domain crates, the HTTP APIs and the `hark` CLI.
//!
//! This crate is wiring: [`app`] parses configuration and builds each capability's runtime from
//! its crate, [`http`] mounts the APIs, [`ingest`] joins AudioHook sessions into interactions,
//! [`cli`] is the command line; `hark_cluster` shares control across instances. Business rules live
//! in the domain crates. Embedders start a server with [`server::Server::bind`] and stop it with
//! the future they pass to [`server::Server::run`].

pub mod app;
pub mod cli;
pub mod http;
pub mod ingest;

pub use app::{config, credentials, server};
