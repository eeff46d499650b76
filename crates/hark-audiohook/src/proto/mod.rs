//! The sans-IO AudioHook core: messages, positions, media negotiation, HTTP message signatures
//! and the server and client session state machines. No sockets, no tasks, no clock: bytes and
//! time go in, actions come out.

pub mod client;
pub mod entities;
pub mod media;
pub mod message;
pub mod position;
pub mod server;
pub mod sfv;
pub mod signature;

pub use entities::Entity;
pub use media::{MediaFormat, MediaPolicy};
pub use message::{
    ClientBody, ClientMessage, CloseReason, DisconnectReason, Gap, MessageError, ServerBody,
    ServerMessage,
};
pub use position::Position;
