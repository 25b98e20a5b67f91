//! One shard replica's data: applying entries and reading at a point in time.
//!
//! Entries are applied through an [`ApplyGroup`]: one transaction per shard, all staged into
//! ONE RocksDB `WriteBatch` and written once, so applying the committed entries of many shards
//! costs one write instead of one per shard. [`ShardStore::apply_batch`] is a group of one.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use crate::db::{shard_cf_name, Db};
use rocksdb::WriteBatch;

use crate::engine::{write_unsynced, PrefetchView, SnapshotView, Txn};
use crate::error::StorageError;
use crate::export::{Chunk, SlotRange};
use crate::keys::{self, ShardState};
use crate::op::{ReadOp, WriteEntry};
use crate::output::{ExecError, ExecResult};

/// The data of one shard replica in its own column family.
pub struct ShardStore {
    db: Arc<Db>,
    id: u64,
    cf_name: String,
    /// Held by everything that changes the shard (applies, imports, installs, range deletes),
    /// so they run one at a time, which deterministic apply requires. Taken before `state`.
    apply_lock: Mutex<()>,
    /// The applied index and version floor as of the last completed write. Invariant: the
    /// data it covers is written (it is replaced only after the write that moves it, under
    /// `apply_lock`), so a reader never waits for an apply and never sees a state ahead of
    /// its data.
    state: Mutex<ShardState>,
    /// Odd while a snapshot install is replacing the data, even otherwise; moves by one at
    /// each start and end of an install (see [`ShardStore::read_unless_installing`]).
    installs: AtomicU64,
}

/// Ends an install on every path out of it (see [`ShardStore::installs`]).
struct InstallMark<'a>(&'a AtomicU64);

impl InstallMark<'_> {
    fn start(installs: &AtomicU64) -> InstallMark<'_> {
        installs.fetch_add(1, Ordering::SeqCst);
        InstallMark(installs)
    }
}

impl Drop for InstallMark<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl ShardStore {
    pub(crate) fn open(db: Arc<Db>, id: u64) -> Result<Self, StorageError> {
        let cf_name = shard_cf_name(id);
        let cf = db
            .rocks()
            .cf_handle(&cf_name)
            .ok_or(StorageError::UnknownShard(id))?;
        let state = match db.rocks().get_cf(&cf, keys::SHARD_STATE_KEY)? {
            Some(bytes) => keys::decode_shard_state(&bytes)?,
            None => ShardState::default(),
        };
        drop(cf);
        Ok(ShardStore {
            db,
            id,
            cf_name,
            apply_lock: Mutex::new(()),
            state: Mutex::new(state),
            installs: AtomicU64::new(0),
        })
    }

    /// The shard's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The database this shard lives in.
    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The shard's persistent state as of the last applied entry whose write completed. Never
    /// waits for an apply in progress.
    pub fn state(&self) -> ShardState {
        *self.state.lock()
    }

    /// Applies the entry at `index`: every op in order, then one atomic write of their effects
    /// and the new applied index. Returns one result per op, or `None` when `index` was applied
    /// already (a replay after restart). Not synced: the caller syncs the log or the WAL.
    pub fn apply(
        &self,
        index: u64,
        entry: &WriteEntry,
    ) -> Result<Option<Vec<ExecResult>>, StorageError> {
        let mut results = self.apply_batch(&[(index, entry)])?;
        Ok(results.pop().flatten())
    }

    /// Applies a run of entries, each at its index, in ONE transaction committed as ONE atomic
    /// write together with the shard state, whose applied index becomes the last applied
    /// entry's index. Returns, per entry, its op results, or `None` for an entry whose index is
    /// at or below the applied index (a replay; an index that does not rise within the batch
    /// is treated the same way). Not synced: the caller syncs the log or the WAL.
    ///
    /// The outcome is exactly that of calling [`ShardStore::apply`] on each entry in order:
    /// - Entries see the writes of earlier entries through the transaction's overlay, and
    ///   each entry's ops run at that entry's `now_ms`; versions keep rising across entries.
    /// - An op that fails validation writes nothing (executor rule), so later entries see the
    ///   same data they would see after a commit per entry.
    /// - The batch is atomic: on a storage error nothing of it is written and the applied index
    ///   does not move, so the applied index always covers exactly the data written.
    ///
    /// This is an [`ApplyGroup`] of one shard; several shards share one write through a group.
    pub fn apply_batch(
        &self,
        entries: &[(u64, &WriteEntry)],
    ) -> Result<Vec<Option<Vec<ExecResult>>>, StorageError> {
        let mut group = ApplyGroup::new();
        let results = group.stage(self, entries)?;
        group.write()?;
        Ok(results)
    }

    /// Runs `f` on a consistent point-in-time view of the shard, reading at `now_ms`.
    pub fn with_snapshot<T>(&self, now_ms: u64, f: impl FnOnce(&SnapshotView<'_>) -> T) -> T {
        let view = SnapshotView::new(&self.db, &self.cf_name, now_ms);
        f(&view)
    }

    /// Executes a read op on a fresh point-in-time view: a one-record op through
    /// [`ShardStore::read_points`], any other on a snapshot.
    pub fn read(&self, now_ms: u64, op: &ReadOp) -> ExecResult {
        if op.reads_one_record() {
            if let Some(result) = self.read_points(now_ms, std::slice::from_ref(op)).pop() {
                return result;
            }
        }
        self.read_on_snapshot(now_ms, op)
    }

    /// Executes one-record ops (see [`ReadOp::reads_one_record`]) without a snapshot, as a
    /// pipeline of GETs asks: each op's key is found by running it on a probing view, all
    /// the records come from one RocksDB `MultiGet` (one pass through the memtables and
    /// table files for the lot), and each op then runs on its own record, so it answers what
    /// it would alone. Any other op, or one that asks for more than its record, runs on a
    /// snapshot. Results are in the order of `ops`.
    pub fn read_points(&self, now_ms: u64, ops: &[ReadOp]) -> Vec<ExecResult> {
        let keys: Vec<Option<Vec<u8>>> = ops
            .iter()
            .map(|op| {
                if !op.reads_one_record() {
                    return None;
                }
                let probe = PrefetchView::probe(now_ms);
                // The probe fails the op's read on purpose; only the key it asked for counts.
                let _ = op.execute(&probe);
                probe.asked()
            })
            .collect();
        let Ok(cf) = self.db.cf(&self.cf_name) else {
            // Each op reports the missing column family itself.
            return ops
                .iter()
                .map(|op| self.read_on_snapshot(now_ms, op))
                .collect();
        };
        let rocks = self.db.rocks();
        let wanted: Vec<&Vec<u8>> = keys.iter().flatten().collect();
        // One key (a GET alone) is a plain `Get`: a `MultiGet` of one cost 0.5 us more.
        let mut fetched: std::vec::IntoIter<Result<Option<Vec<u8>>, rocksdb::Error>> =
            match wanted.as_slice() {
                [key] => vec![rocks.get_cf(&cf, key)],
                _ => rocks
                    .batched_multi_get_cf(&cf, wanted, false)
                    .into_iter()
                    .map(|r| r.map(|record| record.map(|slice| slice.to_vec())))
                    .collect(),
            }
            .into_iter();
        ops.iter()
            .zip(keys)
            .map(|(op, key)| {
                // Only ops with a key have a record in `fetched`.
                let Some((key, record)) = key.and_then(|key| Some((key, fetched.next()?))) else {
                    return self.read_on_snapshot(now_ms, op);
                };
                let record = record.map_err(StorageError::from)?;
                match op.execute(&PrefetchView::serving(now_ms, key, record)) {
                    Err(ExecError::Storage(StorageError::NotPointRead)) => {
                        self.read_on_snapshot(now_ms, op)
                    }
                    done => done,
                }
            })
            .collect()
    }

    /// Executes a read op on a snapshot.
    fn read_on_snapshot(&self, now_ms: u64, op: &ReadOp) -> ExecResult {
        self.with_snapshot(now_ms, |view| op.execute(view))
    }

    /// Writes an exported chunk's records verbatim and raises the version floor to the highest
    /// version they reference, in one batch (not synced). Does not move the applied index.
    pub fn import_chunk(&self, chunk: &Chunk) -> Result<(), StorageError> {
        let max_version = chunk.max_version()?;
        let _applies = self.apply_lock.lock();
        let state = self.state();
        let cf = self.db.cf(&self.cf_name)?;
        let mut batch = WriteBatch::default();
        for (key, value) in &chunk.records {
            if keys::is_shard_local(key) {
                return Err(StorageError::Corrupt(
                    "an exported chunk holds a shard-local record".into(),
                ));
            }
            batch.put_cf(&cf, key, value);
        }
        let next = ShardState {
            last_version: state.last_version.max(max_version),
            ..state
        };
        batch.put_cf(&cf, keys::SHARD_STATE_KEY, keys::encode_shard_state(&next));
        write_unsynced(&self.db, batch)?;
        *self.state.lock() = next;
        Ok(())
    }

    /// Replaces the shard's data with a snapshot's, under the apply lock: one range delete of
    /// every data record, then one batch per chunk `next_chunk` yields (records verbatim), then
    /// `state` (applied index and version floor) written last. Not atomic as a whole: a crash
    /// part-way leaves the old applied index over partial data, so the caller must redo the
    /// whole install on restart (it is idempotent) before serving the shard. Not synced.
    /// [`ShardStore::state`] returns the old state until the new one is written.
    pub fn install_snapshot(
        &self,
        state: ShardState,
        next_chunk: &mut dyn FnMut() -> Result<Option<Chunk>, StorageError>,
    ) -> Result<(), StorageError> {
        let _applies = self.apply_lock.lock();
        let _installing = InstallMark::start(&self.installs);
        let (start, end) = keys::slot_range_bounds(0, 0x3FFF);
        let cf = self.db.cf(&self.cf_name)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(&cf, start, end);
        write_unsynced(&self.db, batch)?;
        while let Some(chunk) = next_chunk()? {
            let mut batch = WriteBatch::default();
            for (key, value) in &chunk.records {
                if keys::is_shard_local(key) {
                    return Err(StorageError::Corrupt(
                        "a snapshot chunk holds a shard-local record".into(),
                    ));
                }
                batch.put_cf(&cf, key, value);
            }
            write_unsynced(&self.db, batch)?;
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(&cf, keys::SHARD_STATE_KEY, keys::encode_shard_state(&state));
        write_unsynced(&self.db, batch)?;
        *self.state.lock() = state;
        Ok(())
    }

    /// Runs `f` (which reads the shard, e.g. through [`ShardStore::read`]) unless a snapshot
    /// install was replacing the data at any point while it ran: `None` then, since the read
    /// may have seen the old data half deleted or the new data half written. A read that
    /// never waits for the applied index (a stale read on a follower) needs this; reads that
    /// wait for it never run against a shard being installed (the applied index moves only
    /// when the install is complete), and a leader never installs.
    pub fn read_unless_installing<T>(&self, f: impl FnOnce(&ShardStore) -> T) -> Option<T> {
        let before = self.installs.load(Ordering::SeqCst);
        if before % 2 == 1 {
            return None;
        }
        let out = f(self);
        (self.installs.load(Ordering::SeqCst) == before).then_some(out)
    }

    /// Deletes every record of `range` (after it moved away), in O(1) writes: one range delete.
    pub fn delete_slot_range(&self, range: SlotRange) -> Result<(), StorageError> {
        let _applies = self.apply_lock.lock();
        let (start, end) = keys::slot_range_bounds(range.first, range.last);
        let cf = self.db.cf(&self.cf_name)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(&cf, start, end);
        write_unsynced(&self.db, batch)
    }

    /// Runs `f` on a write transaction at `now_ms` over the current data and discards it:
    /// nothing is written. For tests and for checking what an entry would do.
    pub fn dry_run<T>(&self, now_ms: u64, f: impl FnOnce(&mut Txn<'_>) -> T) -> T {
        let _applies = self.apply_lock.lock();
        let mut txn = Txn::new(&self.db, &self.cf_name, now_ms, self.state());
        f(&mut txn)
    }

    /// The name of the shard's column family.
    pub fn cf_name(&self) -> &str {
        &self.cf_name
    }
}

/// Applies the committed entries of several shards in ONE atomic RocksDB write: each shard's
/// entries run in one transaction of their own ([`ApplyGroup::stage`]), every transaction is
/// staged into one `WriteBatch` with its shard's new state, and [`ApplyGroup::write`] writes it
/// once (not synced) and only then publishes each shard's new state.
///
/// Per shard, everything [`ShardStore::apply_batch`] promises holds (it is a group of one):
/// entries apply in order and deterministically, entries at or below the applied index are
/// replays that apply nothing and return `None`, and the applied index moves in the same
/// write as the data it covers. Across shards:
/// - **One write.** Every staged shard's data and state reach RocksDB in one `WriteBatch`, or
///   none does: a storage error while staging or writing writes nothing for any shard.
/// - **A shard staged again continues its transaction**, so its later entries see the writes
///   of its earlier ones and the outcome is that of staging both runs as one. Shards are
///   independent (one column family each), so the order between shards does not matter.
/// - **Readers never see a state before its data.** Staging a shard takes its apply lock and
///   holds it until the group is written or dropped, so no other apply, import or install of
///   that shard interleaves; [`ShardStore::state`] does not wait and returns the old state
///   until the write completes, the new one after.
///
/// Rules for callers: stage, then write or drop, promptly (other changes to a staged shard
/// wait); hold one group at a time on a thread, and do not change a staged shard otherwise
/// while the group lives (installing a snapshot into it would deadlock): write the group
/// first. All shards of a group live in one [`Db`].
#[derive(Default)]
pub struct ApplyGroup<'a> {
    /// The database every staged shard lives in; `None` until the first stage.
    db: Option<&'a Db>,
    /// The shards staged so far, by id.
    shards: BTreeMap<u64, Staged<'a>>,
    /// Set when a stage failed: the group holds a partial entry and must be dropped.
    failed: bool,
}

/// One shard's part of an [`ApplyGroup`].
struct Staged<'a> {
    store: &'a ShardStore,
    /// The shard's apply lock, held until the group is written or dropped.
    _applies: MutexGuard<'a, ()>,
    /// The shard's state when it was first staged (nothing else changes it while staged).
    base: ShardState,
    /// The highest index applied or staged. Invariant: `last_index >= base.applied_index`.
    last_index: u64,
    /// The open transaction, once an entry above the applied index has been staged.
    txn: Option<Txn<'a>>,
}

impl<'a> ApplyGroup<'a> {
    /// An empty group.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `entries` (ascending indexes) of `store`'s shard in the shard's transaction of
    /// this group, which is opened on the shard's first stage and continued on later ones.
    /// Returns, per entry, its op results, or `None` for a replay (at or below the highest
    /// index applied or staged). Nothing is written before [`ApplyGroup::write`], so the
    /// caller must not hand the results out before that succeeds.
    ///
    /// On a storage error the group holds a partial entry: drop it (nothing is written).
    ///
    /// # Panics
    /// If an earlier stage failed, if `store` lives in another database than the shards staged
    /// before, or if another `ShardStore` of the same shard was staged before.
    pub fn stage(
        &mut self,
        store: &'a ShardStore,
        entries: &[(u64, &WriteEntry)],
    ) -> Result<Vec<Option<Vec<ExecResult>>>, StorageError> {
        assert!(
            !self.failed,
            "shard {}: staged into an apply group whose earlier stage failed",
            store.id
        );
        let db: &'a Db = &store.db;
        let group_db = *self.db.get_or_insert(db);
        assert!(
            std::ptr::eq(group_db, db),
            "shard {}: staged into an apply group of another database",
            store.id
        );
        let staged = self.shards.entry(store.id).or_insert_with(|| {
            let applies = store.apply_lock.lock();
            let base = store.state();
            Staged {
                store,
                _applies: applies,
                base,
                last_index: base.applied_index,
                txn: None,
            }
        });
        assert!(
            std::ptr::eq(staged.store, store),
            "shard {}: staged through two stores of the same shard",
            store.id
        );
        let result = staged.stage(entries);
        self.failed = result.is_err();
        result
    }

    /// Writes every staged transaction in ONE atomic RocksDB write (not synced: the caller
    /// syncs the log or the WAL), then publishes each shard's new state. A group whose entries
    /// were all replays writes nothing. On an error nothing is written and no state moves.
    ///
    /// # Panics
    /// If a stage failed: the group holds a partial entry, which must never be written.
    pub fn write(mut self) -> Result<(), StorageError> {
        assert!(
            !self.failed,
            "an apply group is written after a failed stage"
        );
        let Some(db) = self.db else {
            return Ok(());
        };
        let mut batch = WriteBatch::default();
        let mut next = Vec::with_capacity(self.shards.len());
        for staged in self.shards.values_mut() {
            next.push(match staged.txn.take() {
                Some(txn) => Some(txn.commit_into(staged.last_index, &mut batch)?),
                None => None,
            });
        }
        if batch.is_empty() {
            return Ok(());
        }
        write_unsynced(db, batch)?;
        // Published only now that the data is written.
        for (staged, next) in self.shards.values().zip(next) {
            if let Some(next) = next {
                *staged.store.state.lock() = next;
            }
        }
        Ok(())
    }

    /// Whether nothing has been staged.
    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }
}

impl Staged<'_> {
    /// Runs `entries` above `last_index` in the shard's transaction (see [`ApplyGroup::stage`]).
    fn stage(
        &mut self,
        entries: &[(u64, &WriteEntry)],
    ) -> Result<Vec<Option<Vec<ExecResult>>>, StorageError> {
        let store = self.store;
        let mut out = Vec::with_capacity(entries.len());
        for &(index, entry) in entries {
            if index <= self.last_index {
                out.push(None);
                continue;
            }
            let txn = self.txn.get_or_insert_with(|| {
                Txn::new(&store.db, &store.cf_name, entry.now_ms, self.base)
            });
            txn.set_now_ms(entry.now_ms);
            out.push(Some(apply_ops(txn, entry)?));
            self.last_index = index;
        }
        Ok(out)
    }
}

/// Runs the ops of one entry in order; a storage failure aborts the whole transaction.
fn apply_ops(txn: &mut Txn<'_>, entry: &WriteEntry) -> Result<Vec<ExecResult>, StorageError> {
    let mut results = Vec::with_capacity(entry.ops.len());
    for op in &entry.ops {
        match op.apply(txn) {
            Err(ExecError::Storage(e)) => return Err(e),
            result => results.push(result),
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::StorageConfig;
    use crate::op::WriteOp;
    use crate::output::Output;
    use crate::types::string::{ExpiryChange, SetCond, StringRead, StringWrite};

    fn entry(now_ms: u64, ops: Vec<StringWrite>) -> WriteEntry {
        WriteEntry {
            now_ms,
            ops: ops.into_iter().map(WriteOp::String).collect(),
        }
    }

    fn set(key: &str, value: &str, cond: SetCond, expiry: ExpiryChange) -> StringWrite {
        StringWrite::Set {
            key: key.into(),
            value: value.into(),
            cond,
            expiry,
            get: false,
        }
    }

    fn incr(key: &str) -> StringWrite {
        StringWrite::IncrBy {
            key: key.into(),
            delta: 1,
        }
    }

    /// A mix of entries that read each other's writes, fail validation, and expire keys.
    fn entries() -> Vec<WriteEntry> {
        vec![
            entry(
                1_000,
                vec![set("a", "1", SetCond::Always, ExpiryChange::Clear)],
            ),
            entry(1_001, vec![incr("a"), incr("a")]),
            entry(
                1_002,
                vec![set("b", "x", SetCond::Always, ExpiryChange::At(1_010))],
            ),
            entry(
                1_003,
                vec![
                    incr("b"),
                    set("a", "z", SetCond::IfMissing, ExpiryChange::Clear),
                ],
            ),
            entry(
                1_020,
                vec![set("b", "y", SetCond::IfMissing, ExpiryChange::Clear)],
            ),
        ]
    }

    fn open(dir: &std::path::Path) -> (Arc<Db>, ShardStore) {
        let db = Db::open(dir, &StorageConfig::default()).expect("open");
        db.create_shard(1).expect("create shard");
        let store = db.shard(1).expect("shard");
        (db, store)
    }

    fn get(store: &ShardStore, key: &str) -> Output {
        let op = ReadOp::String(StringRead::Get { key: key.into() });
        store.read(1_020, &op).expect("get")
    }

    /// Every record of shard `id`'s column family, state record included.
    fn dump(db: &Db, id: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let cf = db.cf(&shard_cf_name(id)).unwrap();
        db.rocks()
            .iterator_cf(&cf, rocksdb::IteratorMode::Start)
            .map(|r| {
                let (k, v) = r.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect()
    }

    /// How many writes (WAL records) reached `db` after `sequence`.
    fn writes_since(db: &Db, sequence: u64) -> usize {
        db.sync_wal().unwrap();
        db.rocks()
            .get_updates_since(0)
            .unwrap()
            .filter(|update| update.as_ref().unwrap().0 > sequence)
            .count()
    }

    fn open_shards(dir: &std::path::Path, ids: &[u64]) -> (Arc<Db>, Vec<ShardStore>) {
        let db = Db::open(dir, &StorageConfig::default()).expect("open");
        let stores = ids
            .iter()
            .map(|&id| {
                db.create_shard(id).expect("create shard");
                db.shard(id).expect("shard")
            })
            .collect();
        (db, stores)
    }

    /// Per shard, a different cut of [`entries`] so the shards' data differ.
    fn shard_entries(shard: usize) -> Vec<WriteEntry> {
        entries().into_iter().skip(shard % 2).collect()
    }

    #[test]
    fn a_group_of_shards_writes_what_each_shard_writes_alone() {
        let (alone_dir, group_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ids = [1, 2, 3];
        let (alone_db, alone) = open_shards(alone_dir.path(), &ids);
        let (group_db, grouped) = open_shards(group_dir.path(), &ids);
        let per_shard: Vec<Vec<WriteEntry>> = (0..ids.len()).map(shard_entries).collect();
        let indexed: Vec<Vec<(u64, &WriteEntry)>> = per_shard
            .iter()
            .map(|entries| (1u64..).zip(entries).collect())
            .collect();

        let expected: Vec<_> = alone
            .iter()
            .zip(&indexed)
            .map(|(store, entries)| store.apply_batch(entries).unwrap())
            .collect();

        // Shard 1 is staged in two runs around the others: its second run reads the first's
        // writes ("a" is incremented from the value its first run set).
        let mut group = ApplyGroup::new();
        let mut results: Vec<Vec<_>> = (0..ids.len()).map(|_| Vec::new()).collect();
        let (head, tail) = indexed[0].split_at(2);
        results[0].extend(group.stage(&grouped[0], head).unwrap());
        for i in 1..ids.len() {
            results[i] = group.stage(&grouped[i], &indexed[i]).unwrap();
        }
        results[0].extend(group.stage(&grouped[0], tail).unwrap());
        // Nothing is visible before the write: no data, the old state (readers do not wait),
        // and other changes to a staged shard wait.
        assert!(
            dump(&group_db, 1).is_empty(),
            "nothing is written before the group is"
        );
        assert_eq!(grouped[0].state(), ShardState::default());
        assert!(
            grouped[0].apply_lock.try_lock().is_none(),
            "staged shards stay locked"
        );
        let sequence = group_db.rocks().latest_sequence_number();
        group.write().unwrap();
        assert_eq!(
            writes_since(&group_db, sequence),
            1,
            "one write for every shard"
        );

        assert_eq!(format!("{expected:?}"), format!("{results:?}"));
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(alone[i].state(), grouped[i].state(), "shard {id}");
            assert_eq!(dump(&alone_db, *id), dump(&group_db, *id), "shard {id}");
        }
        assert_eq!(grouped[0].state().applied_index, 5);
        assert_eq!(get(&grouped[0], "a"), Output::bulk("3"));
    }

    #[test]
    fn a_storage_error_in_a_group_writes_nothing_for_any_shard() {
        let dir = tempfile::tempdir().unwrap();
        let (db, stores) = open_shards(dir.path(), &[1, 2]);
        // A metadata record that does not decode: reading "bad" is a storage error.
        let cf = db.cf(&shard_cf_name(2)).unwrap();
        let bad_key = keys::meta_key(crate::engine::slot_of(b"bad"), b"bad");
        db.rocks().put_cf(&cf, &bad_key, []).unwrap();
        drop(cf);
        let before = (dump(&db, 1), dump(&db, 2));

        let good = entries();
        let good: Vec<_> = (1u64..).zip(&good).collect();
        let failing = failing_entries();
        let failing: Vec<_> = (1u64..).zip(&failing).collect();
        let mut group = ApplyGroup::new();
        group.stage(&stores[0], &good).unwrap();
        assert!(matches!(
            group.stage(&stores[1], &failing),
            Err(StorageError::Corrupt(_))
        ));
        drop(group);

        assert_eq!((dump(&db, 1), dump(&db, 2)), before);
        assert_eq!(stores[0].state(), ShardState::default());
        assert_eq!(stores[1].state(), ShardState::default());
        // The locks are released and the shards apply normally afterwards.
        stores[0].apply_batch(&good).unwrap();
        assert_eq!(stores[0].state().applied_index, 5);
        assert!(stores[1].apply_batch(&failing).is_err());
        assert_eq!(dump(&db, 2), before.1);
    }

    /// A good entry, then an INCR of `bad`, which fails with a storage error once `bad`'s
    /// metadata record is corrupt.
    fn failing_entries() -> [WriteEntry; 2] {
        [
            entry(
                1_000,
                vec![set("x", "1", SetCond::Always, ExpiryChange::Clear)],
            ),
            entry(1_001, vec![incr("bad")]),
        ]
    }

    #[test]
    #[should_panic(expected = "written after a failed stage")]
    fn a_group_whose_stage_failed_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let (db, stores) = open_shards(dir.path(), &[1]);
        let cf = db.cf(&shard_cf_name(1)).unwrap();
        let bad_key = keys::meta_key(crate::engine::slot_of(b"bad"), b"bad");
        db.rocks().put_cf(&cf, &bad_key, []).unwrap();
        drop(cf);
        let failing = failing_entries();
        let failing: Vec<_> = (1u64..).zip(&failing).collect();
        let mut group = ApplyGroup::new();
        assert!(group.stage(&stores[0], &failing).is_err());
        let _ = group.write();
    }

    #[test]
    fn a_group_skips_replays_per_shard_and_writes_nothing_for_replays_only() {
        let dir = tempfile::tempdir().unwrap();
        let (db, stores) = open_shards(dir.path(), &[1, 2]);
        let entries = entries();
        let all: Vec<_> = (1u64..).zip(&entries).collect();
        stores[0].apply_batch(&all[..2]).unwrap();

        let mut group = ApplyGroup::new();
        let first = group.stage(&stores[0], &all).unwrap();
        let other = group.stage(&stores[1], &all[..2]).unwrap();
        // Shard 1 again, overlapping what this group staged: 4 and 5 are replays now.
        let extra = entry(1_030, vec![incr("a")]);
        let again = group
            .stage(&stores[0], &[all[3], all[4], (6, &extra)])
            .unwrap();
        group.write().unwrap();

        assert!(first[0].is_none() && first[1].is_none());
        assert!(first[2..].iter().all(Option::is_some));
        assert!(other.iter().all(Option::is_some));
        assert!(again[0].is_none() && again[1].is_none());
        assert_eq!(
            format!("{:?}", again[2]),
            format!("{:?}", Some(vec![Ok::<_, ExecError>(Output::Int(4))]))
        );
        assert_eq!(stores[0].state().applied_index, 6);
        assert_eq!(stores[1].state().applied_index, 2);

        // Only replays: nothing is written at all.
        let sequence = db.rocks().latest_sequence_number();
        let mut group = ApplyGroup::new();
        assert!(group
            .stage(&stores[0], &all)
            .unwrap()
            .iter()
            .all(Option::is_none));
        assert!(group
            .stage(&stores[1], &all[..2])
            .unwrap()
            .iter()
            .all(Option::is_none));
        group.write().unwrap();
        assert_eq!(db.rocks().latest_sequence_number(), sequence);
        assert_eq!(stores[0].state().applied_index, 6);
    }

    #[test]
    fn reads_during_a_snapshot_install_are_refused_and_reads_after_it_pass() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, stores) = open_shards(dir.path(), &[1]);
        let store = &stores[0];
        let good = entries();
        let good: Vec<_> = (1u64..).zip(&good).collect();
        store.apply_batch(&good).unwrap();
        let read = |s: &ShardStore| s.state().applied_index;
        assert_eq!(store.read_unless_installing(read), Some(5));
        let mut seen_mid_install = Vec::new();
        let mut chunks = 0;
        let state = ShardState {
            applied_index: 9,
            ..store.state()
        };
        store
            .install_snapshot(state, &mut || {
                // Called between the install's writes, as a concurrent read would see them.
                seen_mid_install.push(store.read_unless_installing(read));
                chunks += 1;
                Ok((chunks == 1).then(|| Chunk {
                    records: Vec::new(),
                    next: None,
                }))
            })
            .unwrap();
        assert_eq!(seen_mid_install, vec![None, None]);
        assert_eq!(store.read_unless_installing(read), Some(9));
        // A failed install ends too: reads pass again afterwards.
        let failed =
            store.install_snapshot(state, &mut || Err(StorageError::Corrupt("cut".into())));
        assert!(failed.is_err());
        assert_eq!(store.read_unless_installing(read), Some(9));
    }

    #[test]
    fn a_batch_applies_exactly_like_entries_one_by_one() {
        let (one_dir, batch_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ((_db1, one), (_db2, batch)) = (open(one_dir.path()), open(batch_dir.path()));
        let entries = entries();
        let singles: Vec<_> = (1u64..)
            .zip(&entries)
            .map(|(i, e)| one.apply(i, e).unwrap())
            .collect();
        let indexed: Vec<_> = (1u64..).zip(&entries).collect();
        let batched = batch.apply_batch(&indexed).unwrap();
        // ExecError has no PartialEq: compare the results' debug forms.
        assert_eq!(format!("{singles:?}"), format!("{batched:?}"));
        assert!(matches!(
            batched[3].as_ref().unwrap()[0],
            Err(ExecError::NotInteger)
        ));
        assert_eq!(one.state(), batch.state());
        assert_eq!(batch.state().applied_index, 5);
        for key in ["a", "b"] {
            assert_eq!(get(&one, key), get(&batch, key));
        }
        assert_eq!(get(&batch, "a"), Output::bulk("3"));
        assert_eq!(get(&batch, "b"), Output::bulk("y"));
    }

    #[test]
    fn a_batch_skips_replayed_indexes_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let entries = entries();
        {
            let (_db, store) = open(dir.path());
            let first: Vec<_> = (1u64..).zip(&entries[..2]).collect();
            store.apply_batch(&first).unwrap();
        }
        let (_db, store) = open(dir.path());
        assert_eq!(store.state().applied_index, 2);
        // A replay of 1..=5: the first two are skipped, so "a" is incremented only once more.
        let all: Vec<_> = (1u64..).zip(&entries).collect();
        let results = store.apply_batch(&all).unwrap();
        assert!(results[0].is_none() && results[1].is_none());
        assert!(results[2..].iter().all(Option::is_some));
        assert_eq!(store.state().applied_index, 5);
        assert_eq!(get(&store, "a"), Output::bulk("3"));
        assert!(store.apply_batch(&all).unwrap().iter().all(Option::is_none));
        assert!(store.apply(5, &entries[0]).unwrap().is_none());
    }

    #[test]
    fn one_record_reads_skip_the_snapshot_and_agree_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, store) = open(dir.path());
        let hash = WriteEntry {
            now_ms: 1_000,
            ops: vec![WriteOp::Hash(crate::types::hash::HashWrite::Set {
                key: b"h".to_vec(),
                pairs: vec![(b"f".to_vec(), b"v".to_vec())],
                reply_ok: false,
            })],
        };
        for (index, entry) in (1u64..).zip(entries().iter().chain([&hash])) {
            store.apply(index, entry).unwrap();
        }
        // "a" and "b" hold strings ("b" set again after it expired), "h" a hash; "none" is
        // missing.
        for key in ["a", "b", "h", "none"] {
            let ops = [
                StringRead::Get { key: key.into() },
                StringRead::StrLen { key: key.into() },
                StringRead::GetRange {
                    key: key.into(),
                    start: 0,
                    end: -1,
                },
            ];
            for op in ops.map(ReadOp::String) {
                assert!(op.reads_one_record(), "{op:?}");
                assert_eq!(
                    format!("{:?}", store.read(1_020, &op)),
                    format!("{:?}", store.read_on_snapshot(1_020, &op)),
                    "{op:?}"
                );
            }
        }
        let mget = ReadOp::String(StringRead::MGet {
            keys: vec![b"a".to_vec(), b"b".to_vec()],
        });
        assert!(!mget.reads_one_record());
        assert_eq!(
            store.read(1_020, &mget).unwrap(),
            Output::Array(vec![Output::bulk("3"), Output::bulk("y")])
        );

        // Together (one MultiGet), including a repeated key and an op that needs more.
        let mut ops: Vec<ReadOp> = ["a", "h", "none", "b", "a"]
            .into_iter()
            .map(|key| ReadOp::String(StringRead::Get { key: key.into() }))
            .collect();
        ops.insert(2, mget);
        ops.push(ReadOp::String(StringRead::StrLen { key: "b".into() }));
        let together = store.read_points(1_020, &ops);
        let alone: Vec<_> = ops.iter().map(|op| store.read(1_020, op)).collect();
        assert_eq!(format!("{together:?}"), format!("{alone:?}"));
        assert_eq!(together[0].as_ref().unwrap(), &Output::bulk("3"));
        assert!(matches!(together[1], Err(ExecError::WrongType)));
    }

    #[test]
    fn a_prefetch_view_records_one_key_then_serves_its_record_once() {
        use crate::engine::Reader as _;
        let refused =
            |r: Result<Option<Vec<u8>>, StorageError>| matches!(r, Err(StorageError::NotPointRead));
        let probe = PrefetchView::probe(5);
        assert!(refused(probe.get_raw(b"k")));
        assert!(refused(probe.get_raw(b"other")));
        assert_eq!(probe.asked(), Some(b"k".to_vec()));

        let view = PrefetchView::serving(5, b"k".to_vec(), Some(b"v".to_vec()));
        assert_eq!(view.now_ms(), 5);
        assert!(refused(view.get_raw(b"other")));
        assert_eq!(view.get_raw(b"k").unwrap(), Some(b"v".to_vec()));
        assert!(refused(view.get_raw(b"k")));
        let mut visit = |_: &[u8], _: &[u8]| true;
        assert!(matches!(
            view.scan_raw(b"a", b"z", false, &mut visit),
            Err(StorageError::NotPointRead)
        ));
    }
}
