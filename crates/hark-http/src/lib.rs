//! hark's HTTP edge, shared by every API it serves: an accept loop that holds connections
//! under a cap with header and idle timeouts ([`listener`]), the boundary's rules applied before
//! any handler runs ([`boundary`]: head limits, health-only connections, bodies read under a
//! deadline and a cap) the JSON error answer ([`ApiError`]) and the `Range` header
//! ([`range`]).
//!
//! ```
//! use hark_http::range::ByteRange;
//!
//! // A browser seeking in a 1000-byte recording.
//! assert_eq!(ByteRange::parse(Some("bytes=100-"), 1000), ByteRange::Part { first: 100, last: 999 });
//! assert_eq!(ByteRange::parse(Some("bytes=-10"), 1000), ByteRange::Part { first: 990, last: 999 });
//! assert_eq!(ByteRange::parse(Some("bytes=2000-"), 1000), ByteRange::Unsatisfiable);
//! assert_eq!(ByteRange::parse(None, 1000), ByteRange::Whole);
//! ```

pub mod boundary;
pub mod error;
pub mod listener;
pub mod range;

pub use boundary::{BodyError, BodyLimits};
pub use error::ApiError;
pub use listener::{ConnectionClass, ListenerLimits};
