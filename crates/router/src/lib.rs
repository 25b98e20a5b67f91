//! Hash slots and the routing table of RedRaft.
//!
//! RedRaft shards the key space like Redis Cluster: a key maps to one of [`SLOT_COUNT`]
//! (16384) hash slots by CRC16-XMODEM of the key, or of its hash tag (`{...}`), and
//! contiguous slot ranges belong to shards, each shard being one Raft group. `crates/node`
//! uses [`Slot::for_key`] to route every command and answers `CLUSTER SLOTS`/`MOVED` from a
//! [`RoutingTable`]; split, merge and migration produce a new table with a higher epoch.
//!
//! This crate depends on no other RedRaft crate and does no I/O.

mod error;
mod range;
mod shard;
mod slot;
mod table;

pub use error::Error;
pub use range::SlotRange;
pub use shard::ShardId;
pub use slot::{Slot, SLOT_COUNT};
pub use table::RoutingTable;

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
