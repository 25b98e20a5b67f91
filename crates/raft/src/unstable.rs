//! [`Unstable`]: entries and a snapshot not yet handed to storage as durable.

use crate::message::{Entry, Snapshot};

/// The part of the log not yet persisted.
#[derive(Clone, Debug, Default)]
pub struct Unstable {
    /// A snapshot to persist, if any.
    pub snapshot: Option<Snapshot>,
    /// Entries to persist. Invariant: `entries[i].index == offset + i`.
    pub entries: Vec<Entry>,
    /// Index of `entries[0]` (or where the next entry goes).
    pub offset: u64,
}

impl Unstable {
    /// Unstable part starting after `last_index`.
    pub fn new(last_index: u64) -> Self {
        Self {
            snapshot: None,
            entries: Vec::new(),
            offset: last_index + 1,
        }
    }

    /// First index if a snapshot is pending.
    pub fn maybe_first_index(&self) -> Option<u64> {
        self.snapshot.as_ref().map(|s| s.metadata.index + 1)
    }

    /// Last index held here, if any.
    pub fn maybe_last_index(&self) -> Option<u64> {
        if !self.entries.is_empty() {
            return Some(self.offset + self.entries.len() as u64 - 1);
        }
        self.snapshot.as_ref().map(|s| s.metadata.index)
    }

    /// Term at `index` if held here.
    pub fn maybe_term(&self, index: u64) -> Option<u64> {
        if index < self.offset {
            let s = self.snapshot.as_ref()?;
            return (s.metadata.index == index).then_some(s.metadata.term);
        }
        let last = self.maybe_last_index()?;
        if index > last {
            return None;
        }
        Some(self.entries[(index - self.offset) as usize].term)
    }

    /// Marks entries up to `index` (whose term was `term`) as persisted.
    pub fn stable_to(&mut self, index: u64, term: u64) {
        if index < self.offset || self.maybe_term(index) != Some(term) {
            return;
        }
        self.entries.drain(..=(index - self.offset) as usize);
        self.offset = index + 1;
    }

    /// Marks the snapshot at `index` as persisted.
    pub fn stable_snap_to(&mut self, index: u64) {
        if self
            .snapshot
            .as_ref()
            .is_some_and(|s| s.metadata.index == index)
        {
            self.snapshot = None;
        }
    }

    /// Replaces everything with a snapshot.
    pub fn restore(&mut self, snapshot: Snapshot) {
        self.entries.clear();
        self.offset = snapshot.metadata.index + 1;
        self.snapshot = Some(snapshot);
    }

    /// Appends `ents`, truncating any conflicting suffix.
    pub fn truncate_and_append(&mut self, ents: Vec<Entry>) {
        let Some(first) = ents.first() else { return };
        let after = first.index;
        let end = self.offset + self.entries.len() as u64;
        if after == end {
            self.entries.extend(ents);
        } else if after <= self.offset {
            self.offset = after;
            self.entries = ents;
        } else {
            self.entries.truncate((after - self.offset) as usize);
            self.entries.extend(ents);
        }
    }

    /// Entries in `[lo, hi)`; the caller guarantees the range is held here.
    pub fn slice(&self, lo: u64, hi: u64) -> &[Entry] {
        assert!(
            lo >= self.offset && hi <= self.offset + self.entries.len() as u64,
            "unstable slice [{lo}, {hi}) out of bounds (offset {}, len {})",
            self.offset,
            self.entries.len()
        );
        &self.entries[(lo - self.offset) as usize..(hi - self.offset) as usize]
    }
}
