//! The RedRaft node: the `redraft` server.
//!
//! Where it sits: on top of every other crate. It accepts Redis clients (RESP over TCP),
//! parses commands into storage ops (`cmd`), sends writes through the write path and reads to
//! the shard that owns the key, and turns op outputs into RESP replies.
//!
//! - [`config`]: flags, environment, TOML file.
//! - [`server`]: the listener, startup and graceful shutdown.
//! - [`connection`]: one client's socket loop (read, execute in order, one write per batch).
//! - [`session`]: one client's state and in-order execution; [`dispatch`]: routing plans to
//!   shards; [`reply`]: outputs to RESP.
//! - [`cmd`]: the command table and every command's parser.
//! - [`write_path`]: the write seam ([`write_path::Proposer`]) and the single-node group commit.
//! - [`cron`]: active expiry and periodic stats.

pub mod clients;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod cron;
pub mod dispatch;
pub mod errors;
pub mod info;
pub mod keycount;
pub mod reply;
pub mod server;
pub mod session;
pub mod state;
pub mod write_path;
