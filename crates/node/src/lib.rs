//! The RedRaft node: the `redraft` server.
//!
//! Where it sits: on top of every other crate. It accepts Redis clients (RESP over TCP),
//! parses commands into storage ops (`cmd`), sends writes through the write path and reads to
//! the shard that owns the key, and turns op outputs into RESP replies.

pub mod cluster;
pub mod cmd;
pub mod errors;
