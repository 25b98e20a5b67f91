//! Moving a slot range between shards: consistent export as a stream of chunks, import into
//! another shard, and deletion of the range. The building block of Raft snapshots and slot
//! migration (TODO(#4): wire into the cluster's migration and snapshot transfer).
//!
//! # Chunk format
//!
//! A [`Chunk`] is the raw records (key, value exactly as stored, see `keys.rs`) of a slot range,
//! in key order, read from one point-in-time view (a RocksDB snapshot), together with the key
//! to resume at. A chunk holds at least one record and stops at the first record that would
//! take it past `chunk_bytes_max` (key plus value bytes). Because every data key starts with its
//! slot and a slot's metadata sorts before its sub-keys, chunks carry a key's metadata before
//! (or with) its sub-keys; importing chunks in order therefore never exposes a sub-key without
//! its metadata to the compaction filter (`gc.rs`). Stale sub-keys are exported as stored; the
//! destination's compaction filter drops them.
//!
//! Records are copied verbatim, including collection versions; the destination raises its
//! version floor to the highest version imported ([`crate::ShardStore::import_chunk`]), so its
//! new versions never collide with imported ones.

use crate::engine::{KeepGoing, Reader};
use crate::error::StorageError;
use crate::keys;

/// An inclusive range of slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRange {
    /// First slot.
    pub first: u16,
    /// Last slot (inclusive, below 16384).
    pub last: u16,
}

/// A batch of raw records of a slot range, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunk {
    /// `(key, value)` as stored.
    pub records: Vec<(Vec<u8>, Vec<u8>)>,
    /// The key the next chunk starts at (inclusive), or `None` if the range is exhausted.
    pub next: Option<Vec<u8>>,
}

impl Chunk {
    /// Total key and value bytes.
    pub fn bytes(&self) -> usize {
        self.records.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// The highest collection version referenced by the chunk's records (0 if none).
    pub fn max_version(&self) -> Result<u64, StorageError> {
        let mut max = 0;
        for (key, value) in &self.records {
            if let Some(sub) = keys::parse_sub_key(key) {
                max = max.max(sub.version);
            } else if keys::parse_meta_key(key).is_some() {
                max = max.max(keys::decode_meta(value)?.version);
            }
        }
        Ok(max)
    }
}

/// Reads the chunk of `range` starting at `from` (the range's start when `None`) from `reader`,
/// which should be a [`crate::SnapshotView`] so successive chunks are consistent.
pub fn export_chunk(
    reader: &dyn Reader,
    range: SlotRange,
    from: Option<&[u8]>,
    chunk_bytes_max: usize,
) -> Result<Chunk, StorageError> {
    let (start, end) = keys::slot_range_bounds(range.first, range.last);
    let start = match from {
        Some(from) if from > start.as_slice() => from.to_vec(),
        _ => start,
    };
    let mut chunk = Chunk::default();
    let mut bytes = 0usize;
    reader.scan_raw(&start, &end, false, &mut |k, v| -> KeepGoing {
        let size = k.len() + v.len();
        if !chunk.records.is_empty() && bytes + size > chunk_bytes_max {
            chunk.next = Some(k.to_vec());
            return false;
        }
        bytes += size;
        chunk.records.push((k.to_vec(), v.to_vec()));
        true
    })?;
    Ok(chunk)
}

/// Exports all of `range` from `reader` chunk by chunk, handing each to `sink` until it
/// returns false. Returns the number of chunks sent.
pub fn export_range(
    reader: &dyn Reader,
    range: SlotRange,
    chunk_bytes_max: usize,
    sink: &mut dyn FnMut(Chunk) -> Result<KeepGoing, StorageError>,
) -> Result<u64, StorageError> {
    let mut from: Option<Vec<u8>> = None;
    let mut sent = 0;
    loop {
        let chunk = export_chunk(reader, range, from.as_deref(), chunk_bytes_max)?;
        if chunk.records.is_empty() {
            return Ok(sent);
        }
        from = chunk.next.clone();
        sent += 1;
        if !sink(chunk)? || from.is_none() {
            return Ok(sent);
        }
    }
}
