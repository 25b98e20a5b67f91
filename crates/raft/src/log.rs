//! [`RaftLog`]: the durable log seen through [`Storage`] plus the [`Unstable`] tail.

use crate::error::{Error, Result};
use crate::message::{Entry, Snapshot};
use crate::storage::{limit_size, Storage};
use crate::unstable::Unstable;

/// The log of one node.
#[derive(Debug)]
pub struct RaftLog<S: Storage> {
    /// Durable entries.
    pub(crate) store: S,
    /// Entries and snapshot not yet durable.
    pub(crate) unstable: Unstable,
    /// Highest index known committed. Invariant: `committed <= last_index()`.
    pub(crate) committed: u64,
    /// Highest index handed to the application. Invariant: `applied <= committed`.
    pub(crate) applied: u64,
}

impl<S: Storage> RaftLog<S> {
    /// Opens the log over `store`; `applied` is the application's applied index.
    pub fn new(store: S, applied: u64, committed: u64) -> Result<Self> {
        let first = store.first_index()?;
        let last = store.last_index()?;
        let committed = committed.max(first - 1);
        let applied = applied.max(first - 1);
        if applied > committed {
            return Err(Error::InvalidConfig(format!(
                "applied {applied} is beyond the durable commit index {committed}"
            )));
        }
        Ok(Self {
            store,
            unstable: Unstable::new(last),
            committed,
            applied,
        })
    }

    /// The storage.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Highest committed index.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Highest applied index.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// First index with an entry available.
    pub fn first_index(&self) -> u64 {
        match self.unstable.maybe_first_index() {
            Some(i) => i,
            None => self
                .store
                .first_index()
                .unwrap_or_else(|e| panic!("storage first_index: {e}")),
        }
    }

    /// Last index in the log.
    pub fn last_index(&self) -> u64 {
        match self.unstable.maybe_last_index() {
            Some(i) => i,
            None => self
                .store
                .last_index()
                .unwrap_or_else(|e| panic!("storage last_index: {e}")),
        }
    }

    /// Last index that is durable (not counting the unstable tail).
    pub fn persisted_last_index(&self) -> u64 {
        if self.unstable.snapshot.is_some() {
            return self.store.last_index().unwrap_or(0);
        }
        if self.unstable.entries.is_empty() {
            self.last_index()
        } else {
            self.unstable.offset - 1
        }
    }

    /// Term of the entry at `index`.
    pub fn term(&self, index: u64) -> Result<u64> {
        let dummy = self.first_index() - 1;
        if index < dummy {
            return Err(Error::Compacted);
        }
        if index > self.last_index() {
            return Err(Error::Unavailable);
        }
        match self.unstable.maybe_term(index) {
            Some(t) => Ok(t),
            None => self.store.term(index),
        }
    }

    /// Term of the last entry.
    pub fn last_term(&self) -> u64 {
        self.term(self.last_index())
            .unwrap_or_else(|e| panic!("term of last index: {e}"))
    }

    /// Whether the entry at `index` has term `term`.
    pub fn match_term(&self, index: u64, term: u64) -> bool {
        self.term(index).is_ok_and(|t| t == term)
    }

    /// Raft §5.4.1: is a log ending at (`last_index`, `term`) at least as up-to-date as ours?
    pub fn is_up_to_date(&self, last_index: u64, term: u64) -> bool {
        let our_term = self.last_term();
        term > our_term || (term == our_term && last_index >= self.last_index())
    }

    /// First index in `ents` that conflicts with (or extends) our log; 0 if none.
    pub fn find_conflict(&self, ents: &[Entry]) -> u64 {
        ents.iter()
            .find(|e| !self.match_term(e.index, e.term))
            .map_or(0, |e| e.index)
    }

    /// Largest index `<= index` whose term is `<= term`, with that term: the fast
    /// backtracking hint (Raft §5.3, optimisation on rejection).
    pub fn find_conflict_by_term(&self, index: u64, term: u64) -> (u64, u64) {
        let mut i = index.min(self.last_index());
        loop {
            match self.term(i) {
                Ok(t) if t > term && i > 0 => i -= 1,
                Ok(t) => return (i, t),
                Err(_) => return (i, 0),
            }
        }
    }

    /// Follower side of Raft §5.3: appends `ents` after (`index`, `log_term`) if it matches.
    /// Returns the last new index, or `None` on a mismatch.
    pub fn maybe_append(
        &mut self,
        index: u64,
        log_term: u64,
        committed: u64,
        ents: Vec<Entry>,
    ) -> Option<u64> {
        if !self.match_term(index, log_term) {
            return None;
        }
        let last_new = index + ents.len() as u64;
        let ci = self.find_conflict(&ents);
        if ci != 0 {
            assert!(
                ci > self.committed,
                "entry {ci} conflicts with committed entry (committed {})",
                self.committed
            );
            let start = (ci - index - 1) as usize;
            self.append(ents.into_iter().skip(start).collect());
        }
        self.commit_to(committed.min(last_new));
        Some(last_new)
    }

    /// Appends entries to the unstable tail; returns the new last index.
    pub fn append(&mut self, ents: Vec<Entry>) -> u64 {
        let Some(first) = ents.first() else {
            return self.last_index();
        };
        assert!(
            first.index > self.committed,
            "appending at {} would overwrite committed {}",
            first.index,
            self.committed
        );
        self.unstable.truncate_and_append(ents);
        self.last_index()
    }

    /// Raises the commit index.
    pub fn commit_to(&mut self, to_commit: u64) {
        if to_commit > self.committed {
            assert!(
                to_commit <= self.last_index(),
                "commit {to_commit} is beyond the last index {}",
                self.last_index()
            );
            self.committed = to_commit;
        }
    }

    /// Commits `max_index` if its entry is from `term` (Raft §5.4.2).
    pub fn maybe_commit(&mut self, max_index: u64, term: u64) -> bool {
        if max_index > self.committed && self.match_term(max_index, term) {
            self.commit_to(max_index);
            return true;
        }
        false
    }

    /// Records that the application applied up to `index`.
    pub fn applied_to(&mut self, index: u64) {
        assert!(
            index <= self.committed,
            "applied {index} beyond committed {}",
            self.committed
        );
        self.applied = self.applied.max(index);
    }

    /// Entries in `[lo, hi)` up to `max_size_bytes` (at least one).
    pub fn slice(&self, lo: u64, hi: u64, max_size_bytes: u64) -> Result<Vec<Entry>> {
        if lo >= hi {
            return Ok(Vec::new());
        }
        if lo < self.first_index() {
            return Err(Error::Compacted);
        }
        assert!(
            hi <= self.last_index() + 1,
            "slice [{lo}, {hi}) beyond the log"
        );
        let offset = self.unstable.offset;
        let mut ents = if lo < offset {
            self.store.entries(lo, hi.min(offset), max_size_bytes)?
        } else {
            Vec::new()
        };
        if hi > offset && (ents.is_empty() || ents.len() as u64 == offset.min(hi) - lo) {
            let from = lo.max(offset);
            ents.extend_from_slice(self.unstable.slice(from, hi));
            return Ok(limit_size(&ents, max_size_bytes));
        }
        Ok(ents)
    }

    /// Entries from `index` to the end, limited in size.
    pub fn entries(&self, index: u64, max_size_bytes: u64) -> Result<Vec<Entry>> {
        self.slice(index, self.last_index() + 1, max_size_bytes)
    }

    /// Committed entries not yet handed to the application.
    pub fn next_committed_entries(&self, max_size_bytes: u64) -> Vec<Entry> {
        if self.unstable.snapshot.is_some() {
            return Vec::new();
        }
        let lo = (self.applied + 1).max(self.first_index());
        self.slice(lo, self.committed + 1, max_size_bytes)
            .unwrap_or_else(|e| panic!("committed entries [{lo}, {}]: {e}", self.committed))
    }

    /// Whether [`RaftLog::next_committed_entries`] would return something.
    pub fn has_next_committed_entries(&self) -> bool {
        self.unstable.snapshot.is_none() && self.committed > self.applied
    }

    /// The snapshot to send to a lagging follower.
    pub fn snapshot(&self, request_index: u64) -> Result<Snapshot> {
        match &self.unstable.snapshot {
            Some(s) => Ok(s.clone()),
            None => self.store.snapshot(request_index),
        }
    }

    /// Installs a snapshot: the log becomes the snapshot (Raft §7).
    pub fn restore(&mut self, snapshot: Snapshot) {
        self.committed = snapshot.metadata.index;
        self.unstable.restore(snapshot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStorage;

    fn ent(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Default::default()
        }
    }

    fn log_with(ents: &[(u64, u64)]) -> RaftLog<MemStorage> {
        let mut s = MemStorage::new();
        s.append(&ents.iter().map(|&(i, t)| ent(i, t)).collect::<Vec<_>>());
        RaftLog::new(s, 0, 0).unwrap()
    }

    #[test]
    fn find_conflict_by_term_walks_back() {
        let l = log_with(&[(1, 1), (2, 2), (3, 2), (4, 5)]);
        assert_eq!(l.find_conflict_by_term(4, 3), (3, 2));
        assert_eq!(l.find_conflict_by_term(4, 1), (1, 1));
        assert_eq!(l.find_conflict_by_term(4, 5), (4, 5));
    }

    #[test]
    fn slice_spans_storage_and_unstable() {
        let mut l = log_with(&[(1, 1), (2, 1)]);
        l.append(vec![ent(3, 2), ent(4, 2)]);
        let s = l.slice(1, 5, u64::MAX).unwrap();
        assert_eq!(
            s.iter().map(|e| e.index).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(l.persisted_last_index(), 2);
        l.store.append(&[ent(3, 2), ent(4, 2)]);
        l.unstable.stable_to(4, 2);
        assert_eq!(l.persisted_last_index(), 4);
    }
}
