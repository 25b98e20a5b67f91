//! [`LogStore`]: one shard's Raft log and hard state in the node's `raft` column family,
//! implementing [`raft::Storage`].
//!
//! Layout (`storage::keys`): log entry `shard:u64 0x01 index:u64`, hard state `shard:u64 0x02`,
//! and two named records `shard:u64 0x03 name`: `conf` (a `ConfStateRecord`: the configuration
//! as of the last applied conf change) and `snapshot` (a `SnapshotMetadata`: entries up to its
//! index are gone from the log). Values are the protobuf messages of `redraft-proto`
//! (see `codec.rs`), so fields can be added compatibly.
//!
//! Writes never go to RocksDB from here: the driver asks the store to stage them as
//! [`LogWrite`]s, and the store loop writes the writes of every shard of a round in one
//! `WriteBatch` with at most one fsync. The in-memory state (hard state, last index, the
//! entry cache) is updated when a write is staged; the loop writes the batch before it calls
//! back into Raft, and a failed write of the Raft log stops the node (it panics), so Raft never
//! observes state that is not on disk.

use std::collections::VecDeque;
use std::sync::Arc;

use prost::Message as _;
use raft::{ConfState, Entry, HardState, RaftState, Snapshot, SnapshotMetadata, Storage};
use rocksdb::{ReadOptions, WriteBatch};
use storage::db::RAFT_CF;
use storage::{keys, Db, ShardStore, StorageError};

use super::codec::{self, CodecError};

/// Index (and term) of the initial snapshot a founding replica starts from. Starting from a
/// snapshot rather than an empty log lets a leader bring a replica that joins later up to
/// date with that (empty) snapshot.
pub const BOOTSTRAP_INDEX: u64 = 1;
/// Name of the configuration record (`raft_state_key(shard, CONF_RECORD)`).
const CONF_RECORD: &[u8] = b"conf";
/// Name of the snapshot record (`raft_state_key(shard, SNAPSHOT_RECORD)`).
const SNAPSHOT_RECORD: &[u8] = b"snapshot";

/// One write to the `raft` column family, staged for the store loop's batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogWrite {
    /// Store `value` at `key`.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Delete every key in `[start, end)`.
    DeleteRange {
        /// First key deleted.
        start: Vec<u8>,
        /// First key kept.
        end: Vec<u8>,
    },
}

/// Adds `writes` to a batch on the `raft` column family.
pub fn stage_writes(
    db: &Db,
    batch: &mut WriteBatch,
    writes: &[LogWrite],
) -> Result<(), StorageError> {
    let cf = db.cf(RAFT_CF)?;
    for w in writes {
        match w {
            LogWrite::Put { key, value } => batch.put_cf(&cf, key, value),
            LogWrite::DeleteRange { start, end } => batch.delete_range_cf(&cf, start, end),
        }
    }
    Ok(())
}

/// One shard's Raft log, hard state and configuration, with a cache of recent entries.
pub struct LogStore {
    shard: u64,
    db: Arc<Db>,
    hard_state: HardState,
    /// Configuration as of the conf change at `conf_index`.
    conf_state: ConfState,
    conf_index: u64,
    /// Entries up to `snapshot.index` are not in the log.
    /// Invariant: `first_index() == snapshot.index + 1`.
    snapshot: SnapshotMetadata,
    /// Invariant: `last_index >= snapshot.index`.
    last_index: u64,
    /// A contiguous suffix of the log. Invariant: empty, or its last entry is at `last_index`.
    cache: VecDeque<Entry>,
    cache_bytes: u64,
    /// Entries are evicted from the front of the cache beyond this many bytes.
    cache_bytes_max: u64,
    /// Bytes of entries appended since the last compaction (approximate size of the log).
    appended_bytes: u64,
    /// The shard's data, whose applied index a snapshot is taken at (see [`Storage::snapshot`]).
    data: Option<Arc<ShardStore>>,
}

impl std::fmt::Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("shard", &self.shard)
            .field("hard_state", &self.hard_state)
            .field("first_index", &(self.snapshot.index + 1))
            .field("last_index", &self.last_index)
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl LogStore {
    /// Whether `shard` has Raft state on this node.
    pub fn exists(db: &Db, shard: u64) -> Result<bool, StorageError> {
        let cf = db.cf(RAFT_CF)?;
        Ok(db
            .rocks()
            .get_cf(&cf, keys::raft_hard_state_key(shard))?
            .is_some())
    }

    /// Writes (and syncs) the initial state of a founding replica of `shard`: a snapshot at
    /// [`BOOTSTRAP_INDEX`] holding `conf_state`, and a hard state of that term and commit.
    pub fn bootstrap(db: &Db, shard: u64, conf_state: &ConfState) -> Result<(), StorageError> {
        let meta = SnapshotMetadata {
            index: BOOTSTRAP_INDEX,
            term: BOOTSTRAP_INDEX,
            conf_state: conf_state.clone(),
        };
        let hs = HardState {
            term: BOOTSTRAP_INDEX,
            vote: None,
            commit: BOOTSTRAP_INDEX,
        };
        let writes = [
            snapshot_write(shard, &meta),
            conf_write(shard, BOOTSTRAP_INDEX, conf_state),
            hard_state_write(shard, &hs),
        ];
        let mut batch = WriteBatch::default();
        stage_writes(db, &mut batch, &writes)?;
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        db.rocks().write_opt(batch, &opts)?;
        Ok(())
    }

    /// Opens the Raft state of `shard` as last written.
    pub fn open(db: Arc<Db>, shard: u64, cache_bytes_max: u64) -> Result<Self, StorageError> {
        let cf = db.cf(RAFT_CF)?;
        let get = |key: &[u8]| db.rocks().get_cf(&cf, key);
        let hard_state = match get(&keys::raft_hard_state_key(shard))? {
            Some(v) => codec::decode_hard_state(&v).map_err(corrupt)?,
            None => HardState::default(),
        };
        let (conf_index, conf_state) = match get(&keys::raft_state_key(shard, CONF_RECORD))? {
            Some(v) => {
                let rec: redraft_proto::ConfStateRecord = codec::decode_pb(&v).map_err(corrupt)?;
                let cs = rec.conf_state.as_ref().map(codec::conf_state_from_pb);
                (rec.index, cs.unwrap_or_default())
            }
            None => (0, ConfState::default()),
        };
        let snapshot = match get(&keys::raft_state_key(shard, SNAPSHOT_RECORD))? {
            Some(v) => codec::snapshot_metadata_from_pb(&codec::decode_pb(&v).map_err(corrupt)?),
            None => SnapshotMetadata::default(),
        };
        drop(cf);
        let mut store = LogStore {
            shard,
            db,
            hard_state,
            conf_state,
            conf_index,
            last_index: snapshot.index,
            snapshot,
            cache: VecDeque::new(),
            cache_bytes: 0,
            cache_bytes_max,
            appended_bytes: 0,
            data: None,
        };
        if let Some(last) = store.last_stored_index()? {
            store.last_index = last.max(store.snapshot.index);
        }
        Ok(store)
    }

    /// The shard this log belongs to.
    pub fn shard(&self) -> u64 {
        self.shard
    }

    /// The hard state as last staged.
    pub fn hard_state(&self) -> HardState {
        self.hard_state
    }

    /// The configuration and the index of the conf change it is as of.
    pub fn conf_state(&self) -> (u64, &ConfState) {
        (self.conf_index, &self.conf_state)
    }

    /// Index of the last compacted entry (or of the installed snapshot).
    pub fn truncated_index(&self) -> u64 {
        self.snapshot.index
    }

    /// The position the log starts after: the last compaction or installed snapshot.
    pub fn snapshot_metadata(&self) -> &SnapshotMetadata {
        &self.snapshot
    }

    /// Bytes of entries appended since the last compaction (an approximation of the log's
    /// size: truncated suffixes are not subtracted).
    pub fn appended_bytes(&self) -> u64 {
        self.appended_bytes
    }

    /// Lets [`Storage::snapshot`] produce snapshots of `data` (the shard's applied state).
    pub fn attach_data(&mut self, data: Arc<ShardStore>) {
        self.data = Some(data);
    }

    /// Stages `entries` (contiguous), truncating any conflicting suffix first.
    ///
    /// # Panics
    /// If the entries leave a gap after the last index (a driver bug).
    pub fn append(&mut self, entries: &[Entry], out: &mut Vec<LogWrite>) {
        let skip = entries
            .iter()
            .take_while(|e| e.index <= self.snapshot.index)
            .count();
        let entries = &entries[skip..];
        let Some(first) = entries.first().map(|e| e.index) else {
            return;
        };
        assert!(
            first <= self.last_index + 1,
            "shard {}: append at {first} leaves a gap after last index {}",
            self.shard,
            self.last_index
        );
        if first <= self.last_index {
            out.push(LogWrite::DeleteRange {
                start: keys::raft_log_key(self.shard, first).to_vec(),
                end: keys::raft_log_key(self.shard, self.last_index + 1).to_vec(),
            });
            while self.cache.back().is_some_and(|e| e.index >= first) {
                let e = self.cache.pop_back().expect("checked non-empty");
                self.cache_bytes -= e.size_bytes();
            }
        }
        for e in entries {
            out.push(LogWrite::Put {
                key: keys::raft_log_key(self.shard, e.index).to_vec(),
                value: codec::encode_entry(e),
            });
            self.cache_bytes += e.size_bytes();
            self.appended_bytes = self.appended_bytes.saturating_add(e.size_bytes());
            self.cache.push_back(e.clone());
        }
        self.last_index = entries.last().map_or(self.last_index, |e| e.index);
        while self.cache_bytes > self.cache_bytes_max && self.cache.len() > 1 {
            let e = self.cache.pop_front().expect("len > 1");
            self.cache_bytes -= e.size_bytes();
        }
    }

    /// Stages the hard state.
    pub fn set_hard_state(&mut self, hs: HardState, out: &mut Vec<LogWrite>) {
        self.hard_state = hs;
        out.push(hard_state_write(self.shard, &hs));
    }

    /// Stages the configuration produced by applying the conf change at `index`.
    pub fn set_conf_state(&mut self, index: u64, cs: ConfState, out: &mut Vec<LogWrite>) {
        out.push(conf_write(self.shard, index, &cs));
        self.conf_index = index;
        self.conf_state = cs;
    }

    /// Stages the installation of a snapshot received from the leader: the whole log is
    /// replaced by the snapshot's position, and the configuration by the snapshot's.
    pub fn apply_snapshot(&mut self, meta: &SnapshotMetadata, out: &mut Vec<LogWrite>) {
        out.push(LogWrite::DeleteRange {
            start: keys::raft_log_key(self.shard, 0).to_vec(),
            end: keys::raft_log_key(self.shard, u64::MAX).to_vec(),
        });
        out.push(snapshot_write(self.shard, meta));
        self.set_conf_state(meta.index, meta.conf_state.clone(), out);
        self.snapshot = meta.clone();
        self.last_index = meta.index;
        self.cache.clear();
        self.cache_bytes = 0;
        self.appended_bytes = 0;
        let mut hs = self.hard_state;
        hs.commit = hs.commit.max(meta.index);
        hs.term = hs.term.max(meta.term);
        self.set_hard_state(hs, out);
    }

    /// Stages the removal of log entries up to and including `index`, which the caller has
    /// applied. Returns false (staging nothing) when there is nothing to remove.
    pub fn compact(&mut self, index: u64, out: &mut Vec<LogWrite>) -> Result<bool, raft::Error> {
        if index <= self.snapshot.index {
            return Ok(false);
        }
        if index > self.last_index {
            return Err(raft::Error::Unavailable);
        }
        let term = self.term(index)?;
        out.push(LogWrite::DeleteRange {
            start: keys::raft_log_key(self.shard, self.snapshot.index + 1).to_vec(),
            end: keys::raft_log_key(self.shard, index + 1).to_vec(),
        });
        // The configuration as of `index` is the current one when the last conf change is at
        // or before it; otherwise keep the older recorded one (only used for diagnostics, since
        // a compacted log never serves a snapshot, see `Storage::snapshot`).
        let conf_state = if self.conf_index <= index {
            self.conf_state.clone()
        } else {
            self.snapshot.conf_state.clone()
        };
        self.snapshot = SnapshotMetadata {
            index,
            term,
            conf_state,
        };
        out.push(snapshot_write(self.shard, &self.snapshot));
        self.appended_bytes = 0;
        while self.cache.front().is_some_and(|e| e.index <= index) {
            let e = self.cache.pop_front().expect("checked non-empty");
            self.cache_bytes -= e.size_bytes();
        }
        Ok(true)
    }

    /// The highest log index stored in RocksDB for this shard.
    fn last_stored_index(&self) -> Result<Option<u64>, StorageError> {
        let cf = self.db.cf(RAFT_CF)?;
        let mut opts = ReadOptions::default();
        opts.set_iterate_lower_bound(keys::raft_log_key(self.shard, 0).to_vec());
        opts.set_iterate_upper_bound(keys::raft_log_key(self.shard, u64::MAX).to_vec());
        let mut iter = self.db.rocks().raw_iterator_cf_opt(&cf, opts);
        iter.seek_to_last();
        let last = iter
            .key()
            .and_then(keys::parse_raft_log_key)
            .map(|(_, index)| index);
        iter.status()?;
        Ok(last)
    }

    /// Reads entries `[low, high)` from RocksDB (below the cache), within `max_size_bytes`.
    fn read_entries(
        &self,
        low: u64,
        high: u64,
        max_size_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> raft::Result<()> {
        let cf = self.db.cf(RAFT_CF).map_err(storage_err)?;
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(keys::raft_log_key(self.shard, high).to_vec());
        let mut iter = self.db.rocks().raw_iterator_cf_opt(&cf, opts);
        iter.seek(keys::raft_log_key(self.shard, low));
        let mut expect = low;
        let mut size = 0u64;
        while let Some(v) = iter.value() {
            let e = codec::decode_entry(v).map_err(|e| raft::Error::Storage(e.to_string()))?;
            assert_eq!(
                e.index, expect,
                "shard {}: gap in the stored log",
                self.shard
            );
            size = size.saturating_add(e.size_bytes());
            if !out.is_empty() && size > max_size_bytes {
                return Ok(());
            }
            out.push(e);
            expect += 1;
            iter.next();
        }
        iter.status().map_err(|e| storage_err(e.into()))?;
        assert_eq!(
            expect, high,
            "shard {}: stored log ends before {high}",
            self.shard
        );
        Ok(())
    }

    fn cache_first(&self) -> u64 {
        self.cache.front().map_or(self.last_index + 1, |e| e.index)
    }
}

impl Storage for LogStore {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState {
            hard_state: self.hard_state,
            conf_state: self.conf_state.clone(),
        })
    }

    fn entries(&self, low: u64, high: u64, max_size_bytes: u64) -> raft::Result<Vec<Entry>> {
        if low <= self.snapshot.index {
            return Err(raft::Error::Compacted);
        }
        if high > self.last_index + 1 {
            return Err(raft::Error::Unavailable);
        }
        let mut out = Vec::new();
        let cache_first = self.cache_first();
        if low < cache_first {
            self.read_entries(low, high.min(cache_first), max_size_bytes, &mut out)?;
            if high <= cache_first || (out.len() as u64) < cache_first - low {
                return Ok(out);
            }
        }
        let mut size: u64 = out.iter().map(Entry::size_bytes).sum();
        // The cache holds contiguous indexes: start at `low`'s position rather than walking
        // up to it (the cache may hold thousands of entries, and this runs every round).
        let skip = low.saturating_sub(cache_first) as usize;
        for e in self
            .cache
            .range(skip.min(self.cache.len())..)
            .take_while(|e| e.index < high)
        {
            size = size.saturating_add(e.size_bytes());
            if !out.is_empty() && size > max_size_bytes {
                break;
            }
            out.push(e.clone());
        }
        Ok(out)
    }

    fn term(&self, index: u64) -> raft::Result<u64> {
        if index == self.snapshot.index {
            return Ok(self.snapshot.term);
        }
        if index < self.snapshot.index {
            return Err(raft::Error::Compacted);
        }
        if index > self.last_index {
            return Err(raft::Error::Unavailable);
        }
        let cache_first = self.cache_first();
        if index >= cache_first {
            return Ok(self.cache[(index - cache_first) as usize].term);
        }
        let mut out = Vec::with_capacity(1);
        self.read_entries(index, index + 1, 0, &mut out)?;
        Ok(out[0].term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.snapshot.index + 1)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last_index)
    }

    /// A snapshot at the shard's applied index, whose `data` is a descriptor: the node streams
    /// the payload itself (`snapshot.rs`). Before anything was applied, the bootstrap snapshot
    /// (the empty state at [`BOOTSTRAP_INDEX`], no data). "Temporarily unavailable" (the leader
    /// retries) when no data is attached, or while the applied index lags the log's start or
    /// the last applied conf change (the configuration as of the applied index is not known).
    fn snapshot(&self, _request_index: u64) -> raft::Result<Snapshot> {
        let applied = self.data.as_ref().map(|d| d.state().applied_index);
        let Some(applied) = applied.filter(|a| *a > BOOTSTRAP_INDEX) else {
            if self.snapshot.index > BOOTSTRAP_INDEX {
                return Err(raft::Error::SnapshotTemporarilyUnavailable);
            }
            return Ok(Snapshot {
                metadata: self.snapshot.clone(),
                data: Vec::new(),
            });
        };
        if applied < self.snapshot.index || self.conf_index > applied {
            return Err(raft::Error::SnapshotTemporarilyUnavailable);
        }
        let term = self
            .term(applied)
            .map_err(|_| raft::Error::SnapshotTemporarilyUnavailable)?;
        Ok(Snapshot {
            metadata: SnapshotMetadata {
                index: applied,
                term,
                conf_state: self.conf_state.clone(),
            },
            data: super::snapshot::descriptor(self.shard),
        })
    }
}

fn hard_state_write(shard: u64, hs: &HardState) -> LogWrite {
    LogWrite::Put {
        key: keys::raft_hard_state_key(shard).to_vec(),
        value: codec::encode_hard_state(hs),
    }
}

fn conf_write(shard: u64, index: u64, cs: &ConfState) -> LogWrite {
    let rec = redraft_proto::ConfStateRecord {
        index,
        conf_state: Some(codec::conf_state_to_pb(cs)),
    };
    LogWrite::Put {
        key: keys::raft_state_key(shard, CONF_RECORD),
        value: rec.encode_to_vec(),
    }
}

fn snapshot_write(shard: u64, meta: &SnapshotMetadata) -> LogWrite {
    LogWrite::Put {
        key: keys::raft_state_key(shard, SNAPSHOT_RECORD),
        value: codec::snapshot_metadata_to_pb(meta).encode_to_vec(),
    }
}

fn corrupt(e: CodecError) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

fn storage_err(e: StorageError) -> raft::Error {
    raft::Error::Storage(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::{EntryKind, NodeId};

    fn ent(index: u64, term: u64) -> Entry {
        Entry {
            term,
            index,
            kind: EntryKind::Normal,
            data: vec![index as u8; 10],
        }
    }

    fn write(db: &Db, writes: &[LogWrite]) {
        let mut batch = WriteBatch::default();
        stage_writes(db, &mut batch, writes).unwrap();
        db.rocks().write(batch).unwrap();
    }

    fn voters() -> ConfState {
        ConfState {
            voters: vec![NodeId(1), NodeId(2), NodeId(3)],
            ..Default::default()
        }
    }

    fn open_db(dir: &std::path::Path) -> Arc<Db> {
        Db::open(dir, &storage::StorageConfig::default()).unwrap()
    }

    #[test]
    fn restart_recovers_hard_state_entries_and_conf_state() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_db(dir.path());
        assert!(!LogStore::exists(&db, 7).unwrap());
        LogStore::bootstrap(&db, 7, &voters()).unwrap();
        assert!(LogStore::exists(&db, 7).unwrap());
        let mut s = LogStore::open(Arc::clone(&db), 7, 1 << 20).unwrap();
        assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (2, 1));
        assert_eq!(s.snapshot(0).unwrap().metadata.conf_state, voters());
        let mut out = Vec::new();
        s.append(&[ent(2, 1), ent(3, 2), ent(4, 2)], &mut out);
        let hs = HardState {
            term: 2,
            vote: Some(NodeId(2)),
            commit: 3,
        };
        s.set_hard_state(hs, &mut out);
        let mut cs = voters();
        cs.learners = vec![NodeId(4)];
        s.set_conf_state(3, cs.clone(), &mut out);
        write(&db, &out);
        // Another shard's records must not leak into this one.
        LogStore::bootstrap(&db, 8, &voters()).unwrap();
        drop(s);
        drop(db);

        let db = open_db(dir.path());
        let s = LogStore::open(Arc::clone(&db), 7, 1 << 20).unwrap();
        assert_eq!(
            s.initial_state().unwrap(),
            RaftState {
                hard_state: hs,
                conf_state: cs.clone()
            }
        );
        assert_eq!(s.conf_state(), (3, &cs));
        assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (2, 4));
        assert_eq!(
            s.entries(2, 5, u64::MAX).unwrap(),
            vec![ent(2, 1), ent(3, 2), ent(4, 2)]
        );
        assert_eq!(s.term(1).unwrap(), 1);
        assert_eq!(s.term(3).unwrap(), 2);
        assert_eq!(s.term(0), Err(raft::Error::Compacted));
        assert_eq!(s.term(5), Err(raft::Error::Unavailable));
        let other = LogStore::open(db, 8, 1 << 20).unwrap();
        assert_eq!(other.last_index().unwrap(), 1);
    }

    #[test]
    fn append_truncates_conflicting_suffix_on_disk_and_in_cache() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_db(dir.path());
        LogStore::bootstrap(&db, 1, &voters()).unwrap();
        let mut s = LogStore::open(Arc::clone(&db), 1, 1 << 20).unwrap();
        let mut out = Vec::new();
        s.append(&[ent(2, 1), ent(3, 1), ent(4, 1), ent(5, 1)], &mut out);
        s.append(&[ent(3, 2)], &mut out);
        write(&db, &out);
        assert_eq!(s.last_index().unwrap(), 3);
        assert_eq!(
            s.entries(2, 4, u64::MAX).unwrap(),
            vec![ent(2, 1), ent(3, 2)]
        );
        let reopened = LogStore::open(db, 1, 1 << 20).unwrap();
        assert_eq!(reopened.last_index().unwrap(), 3);
        assert_eq!(
            reopened.entries(2, 4, u64::MAX).unwrap(),
            vec![ent(2, 1), ent(3, 2)]
        );
    }

    #[test]
    fn reads_span_disk_and_cache_and_respect_size_limit() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_db(dir.path());
        LogStore::bootstrap(&db, 1, &voters()).unwrap();
        // A tiny cache: most entries are read back from RocksDB.
        let mut s = LogStore::open(Arc::clone(&db), 1, 100).unwrap();
        let ents: Vec<Entry> = (2..=20).map(|i| ent(i, 1)).collect();
        let mut out = Vec::new();
        s.append(&ents, &mut out);
        write(&db, &out);
        assert!(s.cache.len() < ents.len());
        assert_eq!(s.entries(2, 21, u64::MAX).unwrap(), ents);
        assert_eq!(s.entries(5, 21, 0).unwrap(), vec![ent(5, 1)]);
        let size = ent(2, 1).size_bytes();
        assert_eq!(s.entries(2, 21, 3 * size).unwrap().len(), 3);
        assert_eq!(
            s.entries(18, 21, 2 * size).unwrap(),
            vec![ent(18, 1), ent(19, 1)]
        );
        for i in 2..=20 {
            assert_eq!(s.term(i).unwrap(), 1);
        }
    }

    #[test]
    fn compaction_and_snapshot_install_move_the_first_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_db(dir.path());
        LogStore::bootstrap(&db, 1, &voters()).unwrap();
        let mut s = LogStore::open(Arc::clone(&db), 1, 1 << 20).unwrap();
        let mut out = Vec::new();
        s.append(&(2..=10).map(|i| ent(i, 3)).collect::<Vec<_>>(), &mut out);
        assert!(s.compact(6, &mut out).unwrap());
        assert!(!s.compact(6, &mut out).unwrap());
        assert_eq!(s.compact(11, &mut out), Err(raft::Error::Unavailable));
        write(&db, &out);
        assert_eq!(s.first_index().unwrap(), 7);
        assert_eq!(s.entries(6, 8, u64::MAX), Err(raft::Error::Compacted));
        assert_eq!(
            s.snapshot(0),
            Err(raft::Error::SnapshotTemporarilyUnavailable)
        );
        let reopened = LogStore::open(Arc::clone(&db), 1, 1 << 20).unwrap();
        assert_eq!(
            (
                reopened.first_index().unwrap(),
                reopened.last_index().unwrap()
            ),
            (7, 10)
        );
        assert_eq!(reopened.term(6).unwrap(), 3);

        let mut out = Vec::new();
        let meta = SnapshotMetadata {
            index: 15,
            term: 4,
            conf_state: voters(),
        };
        s.apply_snapshot(&meta, &mut out);
        write(&db, &out);
        let reopened = LogStore::open(db, 1, 1 << 20).unwrap();
        assert_eq!(
            (
                reopened.first_index().unwrap(),
                reopened.last_index().unwrap()
            ),
            (16, 15)
        );
        assert_eq!(reopened.hard_state().commit, 15);
        assert_eq!(reopened.term(15).unwrap(), 4);
    }
}
