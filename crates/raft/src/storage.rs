//! The [`Storage`] trait the library reads the durable log through, and
//! [`MemStorage`], an in-memory implementation for tests and examples.
//!
//! The library only reads storage; the driver writes to it while handling a
//! [`crate::Ready`] (see the driver contract in the crate docs).

use crate::error::{Error, Result};
use crate::message::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};

/// What a node recovers on start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftState {
    /// The last durable hard state.
    pub hard_state: HardState,
    /// The configuration as of the applied index given in [`crate::Config::applied`].
    pub conf_state: ConfState,
}

/// Read access to the durable Raft log.
///
/// Indexes in `[first_index() - 1, last_index()]` have a term; `first_index() - 1` is
/// the index of the last compacted entry (or of the snapshot).
pub trait Storage {
    /// The durable hard state and configuration.
    fn initial_state(&self) -> Result<RaftState>;
    /// Entries in `[low, high)`, at most `max_size_bytes` in total but at least one entry
    /// if the range is not empty. `Err(Compacted)` if `low < first_index()`.
    fn entries(&self, low: u64, high: u64, max_size_bytes: u64) -> Result<Vec<Entry>>;
    /// Term of the entry at `index`; `Err(Compacted)` below `first_index() - 1`,
    /// `Err(Unavailable)` above `last_index()`.
    fn term(&self, index: u64) -> Result<u64>;
    /// Index of the first entry still available.
    fn first_index(&self) -> Result<u64>;
    /// Index of the last durable entry.
    fn last_index(&self) -> Result<u64>;
    /// The most recent snapshot; `Err(SnapshotTemporarilyUnavailable)` makes the leader
    /// retry later. `request_index` is the follower's next index (a hint).
    fn snapshot(&self, request_index: u64) -> Result<Snapshot>;
}

/// In-memory [`Storage`]. Entries after the compaction point are kept in a `Vec`.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    hard_state: HardState,
    conf_state: ConfState,
    /// Latest snapshot. Invariant: `snapshot.metadata.index >= offset_index`.
    snapshot: Snapshot,
    /// Index of the last compacted entry. Invariant: `entries[0].index == offset_index + 1`.
    offset_index: u64,
    /// Term of the entry at `offset_index`.
    offset_term: u64,
    entries: Vec<Entry>,
}

impl MemStorage {
    /// Empty storage: no configuration, term 0. Used for nodes joining an existing group
    /// (they receive a snapshot from the leader).
    pub fn new() -> Self {
        Self::default()
    }

    /// Storage of a founding member: a snapshot at index 1, term 1, holding `conf_state`,
    /// and a hard state of term 1 with commit 1. Starting from a snapshot (rather than
    /// index 0) lets the leader bring later joiners up to date with that snapshot.
    pub fn new_with_conf_state(conf_state: ConfState) -> Self {
        let metadata = SnapshotMetadata {
            index: 1,
            term: 1,
            conf_state: conf_state.clone(),
        };
        Self {
            hard_state: HardState {
                term: 1,
                vote: None,
                commit: 1,
            },
            conf_state,
            snapshot: Snapshot {
                metadata,
                data: Vec::new(),
            },
            offset_index: 1,
            offset_term: 1,
            entries: Vec::new(),
        }
    }

    /// The stored hard state.
    pub fn hard_state(&self) -> HardState {
        self.hard_state
    }

    /// Persists the hard state.
    pub fn set_hard_state(&mut self, hs: HardState) {
        self.hard_state = hs;
    }

    /// Persists the configuration (call when applying a configuration change).
    pub fn set_conf_state(&mut self, cs: ConfState) {
        self.conf_state = cs;
    }

    /// Appends entries, truncating any conflicting suffix first.
    ///
    /// # Panics
    /// If the entries leave a gap after the last index (a driver bug).
    pub fn append(&mut self, ents: &[Entry]) {
        let Some(first) = ents.first() else { return };
        let first_index = self.offset_index + 1;
        let skip = first_index.saturating_sub(first.index) as usize;
        if skip >= ents.len() {
            return;
        }
        let ents = &ents[skip..];
        let start = ents[0].index;
        let last = self.offset_index + self.entries.len() as u64;
        assert!(
            start <= last + 1,
            "append leaves a gap: last {last}, appending at {start}"
        );
        self.entries.truncate((start - first_index) as usize);
        self.entries.extend_from_slice(ents);
    }

    /// Replaces the state with a snapshot received from the leader.
    pub fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<()> {
        if snapshot.metadata.index < self.snapshot.metadata.index {
            return Err(Error::SnapshotOutOfDate);
        }
        self.offset_index = snapshot.metadata.index;
        self.offset_term = snapshot.metadata.term;
        self.entries.clear();
        self.conf_state = snapshot.metadata.conf_state.clone();
        self.hard_state.commit = self.hard_state.commit.max(snapshot.metadata.index);
        self.hard_state.term = self.hard_state.term.max(snapshot.metadata.term);
        self.snapshot = snapshot;
        Ok(())
    }

    /// Records a snapshot of the application state at `index` (which must be applied).
    pub fn create_snapshot(
        &mut self,
        index: u64,
        conf_state: ConfState,
        data: Vec<u8>,
    ) -> Result<Snapshot> {
        if index <= self.snapshot.metadata.index {
            return Err(Error::SnapshotOutOfDate);
        }
        let term = self.term(index)?;
        self.snapshot = Snapshot {
            metadata: SnapshotMetadata {
                index,
                term,
                conf_state,
            },
            data,
        };
        Ok(self.snapshot.clone())
    }

    /// Discards entries up to and including `index`, which must be covered by the
    /// latest snapshot (so a lagging follower can still catch up).
    pub fn compact(&mut self, index: u64) -> Result<()> {
        if index <= self.offset_index {
            return Ok(());
        }
        if index > self.snapshot.metadata.index {
            return Err(Error::Unavailable);
        }
        let term = self.term(index)?;
        let drop = (index - self.offset_index) as usize;
        self.entries.drain(..drop);
        self.offset_index = index;
        self.offset_term = term;
        Ok(())
    }

    fn last(&self) -> u64 {
        self.offset_index + self.entries.len() as u64
    }
}

impl Storage for MemStorage {
    fn initial_state(&self) -> Result<RaftState> {
        Ok(RaftState {
            hard_state: self.hard_state,
            conf_state: self.conf_state.clone(),
        })
    }

    fn entries(&self, low: u64, high: u64, max_size_bytes: u64) -> Result<Vec<Entry>> {
        if low <= self.offset_index {
            return Err(Error::Compacted);
        }
        if high > self.last() + 1 {
            return Err(Error::Unavailable);
        }
        let lo = (low - self.offset_index - 1) as usize;
        let hi = (high - self.offset_index - 1) as usize;
        Ok(limit_size(&self.entries[lo..hi.max(lo)], max_size_bytes))
    }

    fn term(&self, index: u64) -> Result<u64> {
        if index == self.offset_index {
            return Ok(self.offset_term);
        }
        if index < self.offset_index {
            return Err(Error::Compacted);
        }
        if index > self.last() {
            return Err(Error::Unavailable);
        }
        Ok(self.entries[(index - self.offset_index - 1) as usize].term)
    }

    fn first_index(&self) -> Result<u64> {
        Ok(self.offset_index + 1)
    }

    fn last_index(&self) -> Result<u64> {
        Ok(self.last())
    }

    fn snapshot(&self, _request_index: u64) -> Result<Snapshot> {
        Ok(self.snapshot.clone())
    }
}

/// Returns the longest prefix of `ents` within `max_size_bytes` (at least one entry).
pub(crate) fn limit_size(ents: &[Entry], max_size_bytes: u64) -> Vec<Entry> {
    let mut size = 0u64;
    let mut n = 0;
    for e in ents {
        size = size.saturating_add(e.size_bytes());
        if n > 0 && size > max_size_bytes {
            break;
        }
        n += 1;
    }
    ents[..n].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ent(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Default::default()
        }
    }

    #[test]
    fn append_truncates_conflicts_and_compacts() {
        let mut s = MemStorage::new();
        s.append(&[ent(1, 1), ent(2, 1), ent(3, 1)]);
        s.append(&[ent(2, 2)]);
        assert_eq!(s.last_index().unwrap(), 2);
        assert_eq!(s.term(2).unwrap(), 2);
        s.create_snapshot(2, ConfState::default(), vec![]).unwrap();
        s.compact(2).unwrap();
        assert_eq!(s.first_index().unwrap(), 3);
        assert_eq!(s.term(1), Err(Error::Compacted));
        assert_eq!(s.term(2).unwrap(), 2);
        assert_eq!(s.entries(2, 3, u64::MAX), Err(Error::Compacted));
    }

    #[test]
    fn entries_respect_size_limit_but_return_one() {
        let mut s = MemStorage::new();
        s.append(&[ent(1, 1), ent(2, 1), ent(3, 1)]);
        assert_eq!(s.entries(1, 4, 0).unwrap().len(), 1);
        assert_eq!(s.entries(1, 4, 2 * ENTRY_OVERHEAD).unwrap().len(), 2);
    }

    const ENTRY_OVERHEAD: u64 = crate::message::ENTRY_OVERHEAD_BYTES;
}
