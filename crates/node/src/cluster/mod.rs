//! The Multi-Raft node runtime (being built): a node hosts one replica of many shards, each
//! shard's writes going through that shard's Raft log before they are applied to its data.
//!
//! - [`codec`]: Raft types <-> protobuf (wire and stored values).
//! - [`error`]: what cluster operations fail with.
//! - [`log_store`]: `raft::Storage` on the `raft` column family.

pub mod codec;
pub mod error;
pub mod log_store;

pub use error::{ClusterError, ClusterResult};
