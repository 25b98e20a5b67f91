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
        let mut state = self.state.lock();
        if index <= state.applied_index {
            return Ok(None);
        }
        let mut txn = Txn::new(&self.db, &self.cf_name, entry.now_ms, *state);
        let mut results = Vec::with_capacity(entry.ops.len());
        for op in &entry.ops {
            match op.apply(&mut txn) {
                Err(ExecError::Storage(e)) => return Err(e),
                result => results.push(result),
            }
        }
        *state = txn.commit(index)?;
        Ok(Some(results))
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
