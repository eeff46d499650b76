//! hark's HTTP edge, shared by every API it serves: an accept loop that holds connections
//! under a cap with header and idle timeouts ([`listener`]), the boundary's rules applied before
//! any handler runs ([`boundary`]: head limits, health-only connections, bodies read under a
//! deadline and a cap) the JSON error answer ([`ApiError`]) and the `Range` header
//! ([`range`]).

pub mod boundary;
pub mod error;
pub mod listener;
pub mod range;

pub use boundary::{BodyError, BodyLimits};
pub use error::ApiError;
pub use listener::{ConnectionClass, ListenerLimits};
