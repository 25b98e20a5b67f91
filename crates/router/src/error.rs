//! The one error type of the crate.

use crate::{ShardId, Slot, SlotRange};

/// Why a slot, range or routing table is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A slot number of 16384 or more.
    #[error("slot {0} is out of range (0..16384)")]
    SlotOutOfRange(u64),
    /// A range whose start is after its end.
    #[error("slot range {start}-{end} is empty")]
    EmptyRange {
        /// The range's first slot.
        start: Slot,
        /// The range's last slot.
        end: Slot,
    },
    /// Two ranges given to a table share a slot.
    #[error("slot {slot} is assigned twice ({first} and {second})")]
    Overlap {
        /// The first slot found in both.
        slot: Slot,
        /// The range that assigned it first.
        first: SlotRange,
        /// The range that assigned it again.
        second: SlotRange,
    },
    /// A number of shards that cannot split the slots (0, or more than there are slots).
    #[error("cannot split {SLOT_COUNT} slots over {0} shards", SLOT_COUNT = crate::SLOT_COUNT)]
    ShardCount(u64),
    /// A table would hold more distinct shards than [`RoutingTable::SHARDS_MAX`](crate::RoutingTable::SHARDS_MAX).
    #[error("a routing table holds at most {max} shards", max = crate::RoutingTable::SHARDS_MAX)]
    TooManyShards,
    /// An operation named a shard that owns no slot in the table.
    #[error("shard {0} owns no slot")]
    UnknownShard(ShardId),
    /// A split named, as the new shard, one that already owns slots.
    #[error("shard {0} already owns slots")]
    ShardExists(ShardId),
    /// A shard owning a single slot cannot be split.
    #[error("shard {0} owns a single slot and cannot be split")]
    TooSmallToSplit(ShardId),
}
