//! RESP, the Redis serialization protocol, as RedRaft speaks it.
//!
//! This crate sits at the very edge of a RedRaft node: `crates/node` feeds the bytes it reads
//! from a client socket to a [`RequestDecoder`], which yields one command (`Vec<Bytes>`) at a
//! time, and writes replies with an [`Encoder`] bound to the connection's [`ProtocolVersion`]
//! (`HELLO 2|3`). The `pilot` CLI and the tests go the other way: they encode requests with
//! [`encode_request`] and decode replies into [`Frame`] values with a [`FrameDecoder`].
//!
//! The crate depends on no other RedRaft crate and does no I/O. Every decoder is incremental:
//! an incomplete input is `Ok(None)`, and every length read off the wire is checked against
//! [`Limits`] before anything is allocated for it. Protocol errors carry the exact texts that
//! Redis 7 sends (the server replies `-ERR <text>` and closes the connection).

mod double;
mod encode;
mod error;
mod frame;
mod fuzz;
mod inline;
mod limits;
mod line;
mod reply;
mod request;
mod version;

pub use double::format_double;
pub use encode::{encode_request, Encoder};
pub use error::Error;
pub use frame::Frame;
#[doc(hidden)]
pub use fuzz::fuzz_check;
pub use inline::split_args;
pub use limits::Limits;
pub use reply::FrameDecoder;
pub use request::RequestDecoder;
pub use version::ProtocolVersion;

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
