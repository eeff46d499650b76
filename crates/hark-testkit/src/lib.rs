//! hark in your tests: [`Hark::start`] runs a whole hark in-process on a free 127.0.0.1 port with
//! a temporary data directory, and hands out its URLs, credentials and ready clients — an
//! AudioHook client ([`Hark::stream_tone`], [`Hark::audiohook_client`]) and a SigV4-signing Voice
//! ID client ([`Hark::voiceid`]). Dropping the [`Hark`] stops it and removes its data.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hark_testkit::TestkitError> {
//! let mut hark = hark_testkit::Hark::start().await?;
//! let voiceid = hark.voiceid();
//! let domain = voiceid.create_domain("tests").await?;
//! let report = hark.stream_tone("6a0c2ef4-3a7e-4f0b-9a55-8f4f5d0c1e01", std::time::Duration::from_secs(2)).await?;
//! assert!(report.is_clean());
//! hark.stop().await?;
//! # let _ = domain;
//! # Ok(())
//! # }
//! ```
//!
//! The server is the reference service itself (`hark::server::Server`), not a stand-in: what a
//! test sees is what `hark serve` does.

mod audiohook;
mod error;
mod server;
mod voiceid;
mod voiceid_calls;

pub use error::TestkitError;
pub use server::Hark;
pub use voiceid::{VoiceIdClient, VoiceIdError};
