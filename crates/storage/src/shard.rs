//! One shard replica's data: applying entries and reading at a point in time.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::db::{shard_cf_name, Db};
use rocksdb::{WriteBatch, WriteOptions};

use crate::engine::{SnapshotView, Txn};
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
    /// The applied index and version floor. The lock also makes applies to one shard run one at
    /// a time, which deterministic apply requires.
    state: Mutex<ShardState>,
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
            state: Mutex::new(state),
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

    /// The shard's persistent state as of the last applied entry.
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
    pub fn apply_batch(
        &self,
        entries: &[(u64, &WriteEntry)],
    ) -> Result<Vec<Option<Vec<ExecResult>>>, StorageError> {
        let mut state = self.state.lock();
        let mut last_index = state.applied_index;
        let mut txn: Option<Txn<'_>> = None;
        let mut out = Vec::with_capacity(entries.len());
        for &(index, entry) in entries {
            if index <= last_index {
                out.push(None);
                continue;
            }
            let txn =
                txn.get_or_insert_with(|| Txn::new(&self.db, &self.cf_name, entry.now_ms, *state));
            txn.set_now_ms(entry.now_ms);
            out.push(Some(apply_ops(txn, entry)?));
            last_index = index;
        }
        if let Some(txn) = txn {
            *state = txn.commit(last_index)?;
        }
        Ok(out)
    }

    /// Runs `f` on a consistent point-in-time view of the shard, reading at `now_ms`.
    pub fn with_snapshot<T>(&self, now_ms: u64, f: impl FnOnce(&SnapshotView<'_>) -> T) -> T {
        let view = SnapshotView::new(&self.db, &self.cf_name, now_ms);
        f(&view)
    }

    /// Executes a read op on a fresh point-in-time view.
    pub fn read(&self, now_ms: u64, op: &ReadOp) -> ExecResult {
        self.with_snapshot(now_ms, |view| op.execute(view))
    }

    /// Writes an exported chunk's records verbatim and raises the version floor to the highest
    /// version they reference, in one batch (not synced). Does not move the applied index.
    pub fn import_chunk(&self, chunk: &Chunk) -> Result<(), StorageError> {
        let max_version = chunk.max_version()?;
        let mut state = self.state.lock();
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
            ..*state
        };
        batch.put_cf(&cf, keys::SHARD_STATE_KEY, keys::encode_shard_state(&next));
        self.write_unsynced(batch)?;
        *state = next;
        Ok(())
    }

    /// Replaces the shard's data with a snapshot's, under the apply lock: one range delete of
    /// every data record, then one batch per chunk `next_chunk` yields (records verbatim), then
    /// `state` (applied index and version floor) written last. Not atomic as a whole: a crash
    /// part-way leaves the old applied index over partial data, so the caller must redo the
    /// whole install on restart (it is idempotent) before serving the shard. Not synced.
    pub fn install_snapshot(
        &self,
        state: ShardState,
        next_chunk: &mut dyn FnMut() -> Result<Option<Chunk>, StorageError>,
    ) -> Result<(), StorageError> {
        let mut current = self.state.lock();
        let (start, end) = keys::slot_range_bounds(0, 0x3FFF);
        let cf = self.db.cf(&self.cf_name)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(&cf, start, end);
        self.write_unsynced(batch)?;
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
            self.write_unsynced(batch)?;
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(&cf, keys::SHARD_STATE_KEY, keys::encode_shard_state(&state));
        self.write_unsynced(batch)?;
        *current = state;
        Ok(())
    }

    /// Deletes every record of `range` (after it moved away), in O(1) writes: one range delete.
    pub fn delete_slot_range(&self, range: SlotRange) -> Result<(), StorageError> {
        let _applies = self.state.lock();
        let (start, end) = keys::slot_range_bounds(range.first, range.last);
        let cf = self.db.cf(&self.cf_name)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(&cf, start, end);
        self.write_unsynced(batch)
    }

    fn write_unsynced(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let mut opts = WriteOptions::default();
        opts.set_sync(false);
        Ok(self.db.rocks().write_opt(batch, &opts)?)
    }

    /// Runs `f` on a write transaction at `now_ms` over the current data and discards it:
    /// nothing is written. For tests and for checking what an entry would do.
    pub fn dry_run<T>(&self, now_ms: u64, f: impl FnOnce(&mut Txn<'_>) -> T) -> T {
        let state = self.state.lock();
        let mut txn = Txn::new(&self.db, &self.cf_name, now_ms, *state);
        f(&mut txn)
    }

    /// The name of the shard's column family.
    pub fn cf_name(&self) -> &str {
        &self.cf_name
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
}
