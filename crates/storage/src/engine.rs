//! How ops see and change one shard's data: the [`Reader`] trait, the apply-time [`Txn`], and
//! the point-in-time [`SnapshotView`].
//!
//! Type executors (`types/*`) are written against these and never touch RocksDB directly.
//!
//! Rules for executors:
//! 1. Reads go through [`Reader`]; expired keys are absent (see [`ReaderExt::meta`]).
//! 2. A write executor validates everything before its first write: an op that returns an
//!    [`ExecError`] must leave the [`Txn`] unchanged.
//! 3. Apply is deterministic: time is [`Reader::now_ms`] (chosen by the proposer and carried in
//!    the entry), randomness comes from a seed inside the op, versions from [`Txn::new_version`].

use std::collections::BTreeMap;
use std::ops::Bound;

use rocksdb::{ReadOptions, WriteBatch, WriteOptions};

use crate::db::{Db, RocksDb};
use crate::error::StorageError;
use crate::keys::{self, KeyKind, Meta, ShardState};
use crate::output::ExecError;

/// The slot of a user key (CRC16 with hash tags, as Redis Cluster computes it).
pub fn slot_of(user_key: &[u8]) -> u16 {
    router::Slot::for_key(user_key).get()
}

/// What a visitor wants after seeing one record.
pub type KeepGoing = bool;

/// Read access to one shard's records.
pub trait Reader {
    /// The time reads are made at, in Unix milliseconds: keys that expire at or before it are
    /// absent.
    fn now_ms(&self) -> u64;

    /// The raw value stored at `key`.
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Visits the records with keys in `[start, end)`, ascending (or descending when `reverse`),
    /// until `visit` returns false.
    fn scan_raw(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> KeepGoing,
    ) -> Result<(), StorageError>;

    /// Visits the metadata records of slots `first..=last` in key order, starting at the meta
    /// key `from` (inclusive) when given, until `visit` returns false. Visits expired keys too;
    /// callers filter with [`Meta::is_expired`].
    fn scan_metas(
        &self,
        first: u16,
        last: u16,
        from: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> KeepGoing,
    ) -> Result<(), StorageError> {
        let mut more = true;
        for slot in first..=last {
            let start = keys::meta_range_start(slot);
            let start = match from {
                Some(from) if from > start.as_slice() => from.to_vec(),
                _ => start,
            };
            let end = keys::meta_range_end(slot);
            if start >= end {
                continue;
            }
            self.scan_raw(&start, &end, false, &mut |k, v| {
                more = visit(k, v);
                more
            })?;
            if !more {
                break;
            }
        }
        Ok(())
    }
}

/// Typed reads on top of [`Reader`], available on every reader.
pub trait ReaderExt: Reader {
    /// The live metadata of `user_key`, or `None` if it does not exist or has expired.
    fn meta(&self, user_key: &[u8]) -> Result<Option<Meta>, StorageError> {
        let Some(raw) = self.get_raw(&keys::meta_key(slot_of(user_key), user_key))? else {
            return Ok(None);
        };
        let meta = keys::decode_meta(&raw)?;
        Ok((!meta.is_expired(self.now_ms())).then_some(meta))
    }

    /// The live metadata of `user_key` if it holds `kind`; `WrongType` if it holds another.
    fn meta_of(&self, user_key: &[u8], kind: KeyKind) -> Result<Option<Meta>, ExecError> {
        match self.meta(user_key)? {
            Some(meta) if meta.kind != kind => Err(ExecError::WrongType),
            other => Ok(other),
        }
    }

    /// One sub-key's value in the live version described by `meta`.
    fn sub_get(
        &self,
        user_key: &[u8],
        meta: &Meta,
        sub: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.get_raw(&keys::sub_key(
            slot_of(user_key),
            user_key,
            meta.version,
            sub,
        ))
    }

    /// Visits the sub-keys of the live version described by `meta` whose sub starts with
    /// `sub_prefix` and lies in `[sub_start, sub_end)` (unbounded ends when `None`), in sub order
    /// (descending when `reverse`), passing `(sub, value)` until `visit` returns false.
    fn sub_scan(
        &self,
        user_key: &[u8],
        meta: &Meta,
        range: SubRange<'_>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> KeepGoing,
    ) -> Result<(), StorageError> {
        let prefix = keys::sub_prefix(slot_of(user_key), user_key, meta.version);
        let mut start = prefix.clone();
        start.extend_from_slice(range.start.unwrap_or(range.prefix));
        let end = match range.end {
            Some(end) => [prefix.as_slice(), end].concat(),
            None => keys::prefix_end(&[prefix.as_slice(), range.prefix].concat())
                .expect("sub-key prefixes never end in all 0xFF"),
        };
        let prefix_len = prefix.len();
        self.scan_raw(&start, &end, range.reverse, &mut |k, v| {
            visit(&k[prefix_len..], v)
        })
    }
}

impl<R: Reader + ?Sized> ReaderExt for R {}

/// A range of subs within one collection, for [`ReaderExt::sub_scan`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SubRange<'a> {
    /// Only subs starting with this (for sorted sets, the member or score tag).
    pub prefix: &'a [u8],
    /// Inclusive start (a full sub, which must start with `prefix`); `None` means from `prefix`.
    pub start: Option<&'a [u8]>,
    /// Exclusive end (a full sub); `None` means to the end of `prefix`.
    pub end: Option<&'a [u8]>,
    /// Visit in descending order.
    pub reverse: bool,
}

impl<'a> SubRange<'a> {
    /// Every sub starting with `prefix`, ascending.
    pub fn prefixed(prefix: &'a [u8]) -> Self {
        SubRange {
            prefix,
            ..Default::default()
        }
    }

    /// Every sub, ascending.
    pub fn all() -> Self {
        SubRange::default()
    }
}

/// A deterministic pseudo-random generator (SplitMix64) for ops that choose at random
/// (SPOP, SRANDMEMBER, RANDOMKEY...). The seed travels inside the op, so every replica draws
/// the same numbers.
#[derive(Debug, Clone)]
pub struct OpRng(u64);

impl OpRng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        OpRng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`. Panics if `bound` is 0.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "OpRng::below(0)");
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// The write transaction that applies one entry, or a batch of entries, to one shard.
///
/// Writes are buffered in an ordered overlay that reads see (read-your-writes across the ops of
/// one entry and across the entries of a batch) and are staged into one RocksDB `WriteBatch`
/// together with the shard state (`Txn::commit_into`), so the applied index moves atomically
/// with the data it covers. The batch may carry other shards' transactions too.
pub struct Txn<'a> {
    db: &'a Db,
    cf_name: &'a str,
    now_ms: u64,
    /// Pending point writes: `Some` is a put, `None` a delete.
    overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Pending range deletes `[start, end)`, applied before the point writes.
    cleared: Vec<(Vec<u8>, Vec<u8>)>,
    state: ShardState,
}

impl<'a> Txn<'a> {
    pub(crate) fn new(db: &'a Db, cf_name: &'a str, now_ms: u64, state: ShardState) -> Self {
        Txn {
            db,
            cf_name,
            now_ms,
            overlay: BTreeMap::new(),
            cleared: Vec::new(),
            state,
        }
    }

    /// Moves the transaction's clock to the next entry's time, when one transaction applies a
    /// batch of entries (each entry's ops run at the time the entry carries).
    pub(crate) fn set_now_ms(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    /// Stores `value` at `key`.
    pub fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.overlay.insert(key, Some(value));
    }

    /// Deletes `key`.
    pub fn delete_raw(&mut self, key: Vec<u8>) {
        self.overlay.insert(key, None);
    }

    /// Deletes every record in `[start, end)`.
    pub fn delete_range_raw(&mut self, start: Vec<u8>, end: Vec<u8>) {
        self.overlay
            .retain(|k, _| k.as_slice() < start.as_slice() || k.as_slice() >= end.as_slice());
        self.cleared.push((start, end));
    }

    /// Writes the metadata of `user_key`.
    pub fn put_meta(&mut self, user_key: &[u8], meta: &Meta) {
        self.put_raw(
            keys::meta_key(slot_of(user_key), user_key),
            keys::encode_meta(meta),
        );
    }

    /// Deletes `user_key` in O(1): only the metadata goes; a collection's sub-keys become stale
    /// and are reclaimed by compaction.
    pub fn delete_key(&mut self, user_key: &[u8]) {
        self.delete_raw(keys::meta_key(slot_of(user_key), user_key));
    }

    /// Writes one sub-key of the collection version described by `meta`.
    pub fn put_sub(&mut self, user_key: &[u8], meta: &Meta, sub: &[u8], value: Vec<u8>) {
        self.put_raw(
            keys::sub_key(slot_of(user_key), user_key, meta.version, sub),
            value,
        );
    }

    /// Deletes one sub-key of the collection version described by `meta`.
    pub fn delete_sub(&mut self, user_key: &[u8], meta: &Meta, sub: &[u8]) {
        self.delete_raw(keys::sub_key(
            slot_of(user_key),
            user_key,
            meta.version,
            sub,
        ));
    }

    /// A collection version never handed out before in this shard: at least `now_ms << 16`
    /// and above every earlier one, so a recreated key never sees its predecessor's sub-keys.
    pub fn new_version(&mut self) -> u64 {
        let version = (self.now_ms << 16).max(self.state.last_version + 1);
        self.state.last_version = version;
        version
    }

    /// Raises the version floor to at least `version` (after importing records from elsewhere).
    pub fn observe_version(&mut self, version: u64) {
        self.state.last_version = self.state.last_version.max(version);
    }

    /// Whether nothing has been written yet.
    pub fn is_clean(&self) -> bool {
        self.overlay.is_empty() && self.cleared.is_empty()
    }

    /// Stages all writes and the shard state at `applied_index` into `batch`, in this shard's
    /// column family: range deletes first, then the point writes, then the state record, so the
    /// applied index lands in the same atomic write as the data it covers. The caller writes
    /// `batch`, possibly together with other shards' transactions (see
    /// [`crate::shard::ApplyGroup`]), and publishes the returned state only once that write
    /// succeeded.
    pub(crate) fn commit_into(
        mut self,
        applied_index: u64,
        batch: &mut WriteBatch,
    ) -> Result<ShardState, StorageError> {
        self.state.applied_index = applied_index;
        let cf = self.db.cf(self.cf_name)?;
        for (start, end) in &self.cleared {
            batch.delete_range_cf(&cf, start, end);
        }
        for (key, value) in &self.overlay {
            match value {
                Some(v) => batch.put_cf(&cf, key, v),
                None => batch.delete_cf(&cf, key),
            }
        }
        batch.put_cf(
            &cf,
            keys::SHARD_STATE_KEY,
            keys::encode_shard_state(&self.state),
        );
        Ok(self.state)
    }

    /// Commits all writes and the shard state at `applied_index` in one batch of their own,
    /// without fsync, bypassing the shard's cached state: for tests that write directly.
    #[cfg(test)]
    pub(crate) fn commit(self, applied_index: u64) -> Result<ShardState, StorageError> {
        let db = self.db;
        let mut batch = WriteBatch::default();
        let state = self.commit_into(applied_index, &mut batch)?;
        write_unsynced(db, batch)?;
        Ok(state)
    }

    fn is_cleared(&self, key: &[u8]) -> bool {
        self.cleared
            .iter()
            .any(|(s, e)| key >= s.as_slice() && key < e.as_slice())
    }
}

impl Reader for Txn<'_> {
    fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(pending) = self.overlay.get(key) {
            return Ok(pending.clone());
        }
        if self.is_cleared(key) {
            return Ok(None);
        }
        let cf = self.db.cf(self.cf_name)?;
        Ok(self.db.rocks().get_cf(&cf, key)?)
    }

    fn scan_raw(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> KeepGoing,
    ) -> Result<(), StorageError> {
        let cf = self.db.cf(self.cf_name)?;
        let mut iter = self
            .db
            .rocks()
            .raw_iterator_cf_opt(&cf, bounded_read_options(start, end));
        let range = (
            Bound::Included(start.to_vec()),
            Bound::Excluded(end.to_vec()),
        );
        let mut pending = self.overlay.range::<Vec<u8>, _>(range);
        if reverse {
            iter.seek_to_last()
        } else {
            iter.seek_to_first()
        }
        let mut over = next_in(&mut pending, reverse);
        loop {
            // Skip stored records hidden by a pending range delete.
            while let Some(k) = iter.key() {
                if !self.is_cleared(k) {
                    break;
                }
                if reverse {
                    iter.prev()
                } else {
                    iter.next()
                }
            }
            let stored = iter.key().zip(iter.value());
            let take_pending = match (stored, over) {
                (None, None) => break,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some((sk, _)), Some((pk, _))) => {
                    if reverse {
                        pk.as_slice() >= sk
                    } else {
                        pk.as_slice() <= sk
                    }
                }
            };
            if take_pending {
                let (pk, pv) = over.expect("checked above");
                if stored.is_some_and(|(sk, _)| sk == pk.as_slice()) {
                    if reverse {
                        iter.prev()
                    } else {
                        iter.next()
                    }
                }
                over = next_in(&mut pending, reverse);
                if let Some(v) = pv {
                    if !visit(pk, v) {
                        break;
                    }
                }
            } else {
                let (sk, sv) = stored.expect("checked above");
                if !visit(sk, sv) {
                    break;
                }
                if reverse {
                    iter.prev()
                } else {
                    iter.next()
                }
            }
        }
        iter.status()?;
        Ok(())
    }
}

/// The view a one-record op (see [`crate::ReadOp::reads_one_record`]) runs on in
/// [`crate::ShardStore::read_points`], without a RocksDB snapshot: first it *probes*,
/// recording the key the op asks for (and failing that read), then it *serves* that key's
/// record, fetched with other ops' records in one `MultiGet`, once. Any other read, or any
/// scan, fails with [`StorageError::NotPointRead`], so an op that needs more runs again on a
/// [`SnapshotView`] rather than mixing two states.
///
/// No snapshot is needed: a `MultiGet` reads every key at one state on its own, and the
/// compaction filter (`gc.rs`), which a snapshot's registration guards against, drops only
/// sub-keys of dead versions, never the metadata records these ops read.
pub(crate) struct PrefetchView {
    now_ms: u64,
    state: std::cell::RefCell<Prefetch>,
}

/// What a [`PrefetchView`] does with the next read.
enum Prefetch {
    /// Record the key asked for (`None` until the op asks).
    Probe(Option<Vec<u8>>),
    /// Answer a read of `key` with `record`, which is taken by the first such read.
    Serve {
        key: Vec<u8>,
        record: Option<Option<Vec<u8>>>,
    },
}

impl PrefetchView {
    /// A view that records the key asked for.
    pub(crate) fn probe(now_ms: u64) -> Self {
        PrefetchView {
            now_ms,
            state: std::cell::RefCell::new(Prefetch::Probe(None)),
        }
    }

    /// The key the op asked for while probing.
    pub(crate) fn asked(self) -> Option<Vec<u8>> {
        match self.state.into_inner() {
            Prefetch::Probe(key) => key,
            Prefetch::Serve { .. } => None,
        }
    }

    /// A view serving `record` as the value at `key`, once.
    pub(crate) fn serving(now_ms: u64, key: Vec<u8>, record: Option<Vec<u8>>) -> Self {
        PrefetchView {
            now_ms,
            state: std::cell::RefCell::new(Prefetch::Serve {
                key,
                record: Some(record),
            }),
        }
    }
}

impl Reader for PrefetchView {
    fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match &mut *self.state.borrow_mut() {
            Prefetch::Probe(asked @ None) => *asked = Some(key.to_vec()),
            Prefetch::Serve { key: k, record } if k.as_slice() == key => {
                if let Some(record) = record.take() {
                    return Ok(record);
                }
            }
            _ => {}
        }
        Err(StorageError::NotPointRead)
    }

    fn scan_raw(
        &self,
        _start: &[u8],
        _end: &[u8],
        _reverse: bool,
        _visit: &mut dyn FnMut(&[u8], &[u8]) -> KeepGoing,
    ) -> Result<(), StorageError> {
        Err(StorageError::NotPointRead)
    }
}

/// A consistent point-in-time view of one shard (a RocksDB snapshot).
pub struct SnapshotView<'a> {
    db: &'a Db,
    cf_name: &'a str,
    snapshot: rocksdb::SnapshotWithThreadMode<'a, RocksDb>,
    now_ms: u64,
    /// Registration in the DB's snapshot registry; dropped when the view is, after its last
    /// read.
    epoch: u64,
}

impl<'a> SnapshotView<'a> {
    pub(crate) fn new(db: &'a Db, cf_name: &'a str, now_ms: u64) -> Self {
        // Register before taking the snapshot, so the compaction filter never drops a record
        // this snapshot can see (see `gc.rs`).
        let epoch = db.snapshots().register();
        SnapshotView {
            db,
            cf_name,
            snapshot: db.rocks().snapshot(),
            now_ms,
            epoch,
        }
    }
}

impl Drop for SnapshotView<'_> {
    fn drop(&mut self) {
        self.db.snapshots().unregister(self.epoch);
    }
}

impl Reader for SnapshotView<'_> {
    fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let cf = self.db.cf(self.cf_name)?;
        Ok(self.snapshot.get_cf(&cf, key)?)
    }

    fn scan_raw(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> KeepGoing,
    ) -> Result<(), StorageError> {
        let cf = self.db.cf(self.cf_name)?;
        let mut iter = self
            .snapshot
            .raw_iterator_cf_opt(&cf, bounded_read_options(start, end));
        if reverse {
            iter.seek_to_last()
        } else {
            iter.seek_to_first()
        }
        while let (Some(k), Some(v)) = (iter.key(), iter.value()) {
            if !visit(k, v) {
                break;
            }
            if reverse {
                iter.prev()
            } else {
                iter.next()
            }
        }
        iter.status()?;
        Ok(())
    }

    fn scan_metas(
        &self,
        first: u16,
        last: u16,
        from: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> KeepGoing,
    ) -> Result<(), StorageError> {
        // One iterator over the whole slot range; sub-key regions are skipped with a seek to the
        // next slot instead of opening an iterator per slot.
        let (start, end) = keys::slot_range_bounds(first, last);
        let cf = self.db.cf(self.cf_name)?;
        let mut iter = self
            .snapshot
            .raw_iterator_cf_opt(&cf, bounded_read_options(&start, &end));
        iter.seek(from.unwrap_or(&start));
        while let (Some(k), Some(v)) = (iter.key(), iter.value()) {
            if keys::parse_meta_key(k).is_some() {
                if !visit(k, v) {
                    break;
                }
                iter.next();
                continue;
            }
            let slot = u16::from_be_bytes([k[0], k[1]]);
            if slot >= last {
                break;
            }
            iter.seek(keys::meta_range_start(slot + 1));
        }
        iter.status()?;
        Ok(())
    }
}

/// Writes `batch` as one atomic RocksDB write, without fsync: callers sync the Raft log or the
/// WAL where durability matters (applied entries are redone from the log after a crash).
pub(crate) fn write_unsynced(db: &Db, batch: WriteBatch) -> Result<(), StorageError> {
    let mut opts = WriteOptions::default();
    opts.set_sync(false);
    Ok(db.rocks().write_opt(batch, &opts)?)
}

type PendingRange<'r> = std::collections::btree_map::Range<'r, Vec<u8>, Option<Vec<u8>>>;

/// The next pending write in scan direction.
fn next_in<'r>(
    pending: &mut PendingRange<'r>,
    reverse: bool,
) -> Option<(&'r Vec<u8>, &'r Option<Vec<u8>>)> {
    if reverse {
        pending.next_back()
    } else {
        pending.next()
    }
}

fn bounded_read_options(start: &[u8], end: &[u8]) -> ReadOptions {
    let mut opts = ReadOptions::default();
    opts.set_iterate_lower_bound(start.to_vec());
    opts.set_iterate_upper_bound(end.to_vec());
    opts
}
