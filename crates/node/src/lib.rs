//! The RedRaft node: the `redraft` server.
//!
//! Where it sits: on top of every other crate. It accepts Redis clients (RESP over TCP),
//! parses commands into storage ops (`cmd`), sends writes through the owning shard's Raft log
//! and reads to its leader (forwarding to another node when needed), and turns op outputs into
//! RESP replies.
//!
//! - [`config`]: flags, environment, TOML file.
//! - [`server`]: the listener, startup and graceful shutdown.
//! - [`connection`]: one client's socket loop (read, execute in order, one write per batch).
//! - [`session`]: one client's state and in-order execution; [`dispatch`]: routing plans to
//!   shards; [`reply`]: outputs to RESP.
//! - [`cmd`]: the command table and every command's parser.
//! - [`topology`]: members, shard placement, the bootstrap routing table.
//! - [`cluster`]: the Multi-Raft store every write goes through (also on a lone node).
//! - [`forward`]: forwarding planned requests to a shard's leader over gRPC.
//! - [`fanout`]: multi-shard MGET/DEL/EXISTS/TOUCH/UNLINK and cluster-wide SCAN.
//! - [`placement`]: member discovery, leader balancing, the replicated routing table.
//! - [`cron`]: active expiry and periodic stats.

pub mod clients;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod cron;
pub mod dispatch;
pub mod errors;
pub mod fanout;
pub mod forward;
pub mod info;
pub mod keycount;
pub mod placement;
pub mod reply;
pub mod server;
pub mod session;
pub mod state;
pub mod topology;
