//! The apply worker: executes committed entries against each shard's data, in log order, on
//! its own thread, so a slow apply never stalls Raft (MULTI_RAFT.md, store loop step 5).
//!
//! The store loop hands over [`ApplyBatch`]es (one shard's committed entries) after the log
//! that covers them is persisted. The worker:
//!
//! 1. **Drains.** It waits for one batch, then takes whatever else is queued, up to
//!    [`DRAIN_BATCHES_MAX`] batches in all.
//! 2. **Applies in one write.** The drained batches' entries go through ONE
//!    `storage::ApplyGroup`: one transaction per shard, all staged into one RocksDB
//!    `WriteBatch` with each shard's new applied index, written once (not synced: the Raft log
//!    is the durable record, and replaying an applied index is a no-op). With many shards this
//!    is one write per drain instead of one per shard. Batches of one shard are contiguous in
//!    log order; a shard's later batch continues the transaction its earlier batch opened, so
//!    it sees that batch's writes exactly as if the two had been merged. Leader no-ops and conf
//!    changes apply an empty entry so the applied index keeps up with the log.
//! 3. **Completes.** Only after the write: proposers waiting for an entry get its results, and
//!    each shard's applied index is published on the watch channel that reads wait on.
//!
//! A batch may start with a snapshot install (`snapshot.rs`), which replaces the shard's data
//! before any later entry of that shard is applied. Order is kept: the group gathered before
//! the install is written and completed first, then the snapshot is installed, then the
//! install's entries and the batches after it form the next group.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use raft::{EntryKind, SnapshotMetadata};
use router::ShardId;
use storage::{ApplyGroup, ExecResult, ShardStore, WriteEntry};
use tokio::sync::{oneshot, watch};

use super::error::{ClusterError, ClusterResult};

/// Completes a proposal with the results of its ops.
pub type Responder = oneshot::Sender<ClusterResult<Vec<ExecResult>>>;

/// One committed entry to apply.
#[derive(Debug)]
pub struct ApplyEntry {
    /// Log index.
    pub index: u64,
    /// Term of the entry.
    pub term: u64,
    /// Normal (a `WriteEntry`, or empty for a leader's no-op) or a conf change.
    pub kind: EntryKind,
    /// Entry payload.
    pub data: Vec<u8>,
    /// The proposer waiting on this entry, if it was proposed here and is still waiting.
    pub responder: Option<Responder>,
    /// The entry's results if known before it applies: the store loop answers the proposer
    /// with them at commit and hands the entry over without its responder.
    pub known_results: Option<Vec<ExecResult>>,
}

/// Committed entries of one shard, in log order.
#[derive(Debug)]
pub struct ApplyBatch {
    /// The shard.
    pub shard: ShardId,
    /// A snapshot Raft accepted, whose staged payload is installed before `entries`.
    pub install: Option<SnapshotMetadata>,
    /// Entries, ascending and contiguous.
    pub entries: Vec<ApplyEntry>,
}

/// What the worker needs besides the shards: where snapshots are staged, and counters.
pub(crate) struct ApplyContext {
    pub(crate) snapshot_dir: PathBuf,
    /// Records per write batch when installing a snapshot (`snapshot_chunk_bytes_max`).
    pub(crate) install_batch_bytes_max: usize,
    /// Snapshots installed since start.
    pub(crate) installed: Arc<AtomicU64>,
}

/// What the worker applies to: each shard's data and the watch publishing its applied index.
pub(crate) struct ApplyTarget {
    pub(crate) store: Arc<ShardStore>,
    pub(crate) applied: watch::Sender<u64>,
}

/// Batches the worker applies per drain (one RocksDB write, unless a snapshot install splits
/// it): the one it waited for plus up to this many minus one already queued. Bounds the
/// entries held between staging and writing, and how long proposers of the first batch wait
/// for the others to be staged; 64 covers a few store rounds of 16 busy shards.
pub const DRAIN_BATCHES_MAX: usize = 64;

/// Runs the worker until the store loop drops its sender.
pub(crate) fn run(
    rx: Receiver<ApplyBatch>,
    targets: HashMap<ShardId, ApplyTarget>,
    ctx: ApplyContext,
) {
    let mut drained = Vec::with_capacity(DRAIN_BATCHES_MAX);
    while let Ok(first) = rx.recv() {
        drained.push(first);
        drained.extend(rx.try_iter().take(DRAIN_BATCHES_MAX - 1));
        apply_drained(&mut drained, &targets, &ctx);
    }
}

/// Applies `batches` in order and empties it: consecutive batches go into one group write,
/// and a snapshot install ends the group before it (see the module docs).
fn apply_drained(
    batches: &mut Vec<ApplyBatch>,
    targets: &HashMap<ShardId, ApplyTarget>,
    ctx: &ApplyContext,
) {
    let mut group = Vec::with_capacity(batches.len());
    for mut batch in batches.drain(..) {
        if let Some(meta) = batch.install.take() {
            apply_group(std::mem::take(&mut group), targets);
            let target = target_of(targets, batch.shard);
            let index = install(target, &meta, ctx);
            publish(target, index);
        }
        group.push(batch);
    }
    apply_group(group, targets);
}

/// Applies the entries of `batches` (none with an install) in ONE group write, then completes
/// their proposers and publishes each shard's applied index.
///
/// # Panics
/// If an entry does not decode or storage fails: skipping an entry would make this replica
/// diverge from the others, so the node stops instead (a newer entry format needs a newer
/// binary; a storage failure needs an operator).
fn apply_group(batches: Vec<ApplyBatch>, targets: &HashMap<ShardId, ApplyTarget>) {
    let mut group = ApplyGroup::new();
    let mut staged = Vec::with_capacity(batches.len());
    let mut applied: BTreeMap<ShardId, u64> = BTreeMap::new();
    for batch in batches {
        let Some(last) = batch.entries.last().map(|e| e.index) else {
            continue;
        };
        let target = target_of(targets, batch.shard);
        let results = stage(&mut group, &target.store, &batch.entries);
        let index = applied.entry(batch.shard).or_default();
        *index = (*index).max(last);
        staged.push((batch.entries, results));
    }
    group.write().unwrap_or_else(|e| {
        let shards: Vec<_> = applied.keys().collect();
        panic!("shards {shards:?}: writing applied entries failed: {e}")
    });
    for (entries, results) in staged {
        for (entry, results) in entries.into_iter().zip(results) {
            if let Some(responder) = entry.responder {
                // The proposer may have given up (deadline); that is fine. A replayed entry
                // (applied before a restart) has no results.
                let _ = responder.send(Ok(results.unwrap_or_default()));
            }
        }
    }
    for (shard, index) in applied {
        publish(target_of(targets, shard), index);
    }
}

/// Stages one shard's `entries` into `group`; returns their results (`None` for replays),
/// which must not reach proposers before the group is written. Panics as [`apply_group`].
fn stage<'a>(
    group: &mut ApplyGroup<'a>,
    store: &'a ShardStore,
    entries: &[ApplyEntry],
) -> Vec<Option<Vec<ExecResult>>> {
    let decoded: Vec<Option<WriteEntry>> = entries
        .iter()
        .map(|entry| match entry.kind {
            EntryKind::Normal if !entry.data.is_empty() => {
                Some(WriteEntry::decode(&entry.data).unwrap_or_else(|e| {
                    panic!(
                        "shard {}: cannot decode entry {}: {e}",
                        store.id(),
                        entry.index
                    )
                }))
            }
            _ => None,
        })
        .collect();
    let indexed: Vec<(u64, &WriteEntry)> = entries
        .iter()
        .zip(&decoded)
        .map(|(entry, write)| (entry.index, write.as_ref().unwrap_or(&EMPTY)))
        .collect();
    group.stage(store, &indexed).unwrap_or_else(|e| {
        let (first, last) = (indexed[0].0, indexed[indexed.len() - 1].0);
        panic!(
            "shard {}: applying entries {first}..={last} failed: {e}",
            store.id()
        )
    })
}

/// The target of `shard`.
///
/// # Panics
/// If this node has no replica of `shard`: the store loop only applies shards it hosts.
fn target_of(targets: &HashMap<ShardId, ApplyTarget>, shard: ShardId) -> &ApplyTarget {
    targets
        .get(&shard)
        .unwrap_or_else(|| panic!("apply for shard {shard} with no replica here"))
}

/// Publishes `index` as the shard's applied index, unless it is behind what was published.
fn publish(target: &ApplyTarget, index: u64) {
    target.applied.send_if_modified(|applied| {
        let moved = index > *applied;
        *applied = (*applied).max(index);
        moved
    });
}

/// Installs the staged payload of the snapshot Raft accepted at `meta`; returns the new
/// applied index (which may be past `meta.index`, see `snapshot.rs`).
///
/// # Panics
/// If the staged payload is missing or does not install: the log already starts after the
/// snapshot, so the replica cannot go on without its data.
fn install(target: &ApplyTarget, meta: &SnapshotMetadata, ctx: &ApplyContext) -> u64 {
    let shard = target.store.id();
    let path = super::snapshot::staged_path(&ctx.snapshot_dir, shard, meta.index, meta.term);
    let state = super::snapshot::install_staged(&target.store, &path, ctx.install_batch_bytes_max)
        .unwrap_or_else(|e| panic!("shard {shard}: installing snapshot {}: {e}", meta.index));
    ctx.installed.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        shard,
        index = meta.index,
        applied = state.applied_index,
        "snapshot installed"
    );
    state.applied_index
}

/// The entry applied for leader no-ops and conf changes: it only moves the applied index.
static EMPTY: WriteEntry = WriteEntry {
    now_ms: 0,
    ops: Vec::new(),
};

/// Fails a proposal that will never be applied.
pub(crate) fn fail(responder: Responder, err: ClusterError) {
    let _ = responder.send(Err(err));
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::mpsc::sync_channel;

    use storage::keys::{self, Meta};
    use storage::types::string::{ExpiryChange, SetCond, StringRead, StringWrite};
    use storage::{Db, Output, ReadOp, StorageConfig, WriteOp};

    use super::*;

    /// A node's shards, and what the worker publishes about them.
    struct Fixture {
        _dir: tempfile::TempDir,
        db: Arc<Db>,
        stores: HashMap<ShardId, Arc<ShardStore>>,
        applied: HashMap<ShardId, watch::Receiver<u64>>,
        installed: Arc<AtomicU64>,
    }

    impl Fixture {
        fn new(shards: &[u64]) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let db = Db::open(dir.path(), &StorageConfig::default()).unwrap();
            let mut stores = HashMap::new();
            for &id in shards {
                db.create_shard(id).unwrap();
                stores.insert(ShardId(id), Arc::new(db.shard(id).unwrap()));
            }
            Fixture {
                _dir: dir,
                db,
                stores,
                applied: HashMap::new(),
                installed: Arc::default(),
            }
        }

        fn snapshot_dir(&self) -> PathBuf {
            super::super::snapshot::snapshot_dir(self.db.path())
        }

        /// Runs the worker over `batches`, all queued before it starts, until they are done.
        fn run(&mut self, batches: Vec<ApplyBatch>) {
            let (tx, rx) = sync_channel(batches.len());
            for batch in batches {
                tx.send(batch).unwrap();
            }
            drop(tx);
            let mut targets = HashMap::new();
            for (shard, store) in &self.stores {
                let applied = store.state().applied_index;
                let (applied_tx, applied_rx) = watch::channel(applied);
                let store = Arc::clone(store);
                targets.insert(
                    *shard,
                    ApplyTarget {
                        store,
                        applied: applied_tx,
                    },
                );
                self.applied.insert(*shard, applied_rx);
            }
            let ctx = ApplyContext {
                snapshot_dir: self.snapshot_dir(),
                install_batch_bytes_max: 1 << 20,
                installed: Arc::clone(&self.installed),
            };
            run(rx, targets, ctx);
        }

        fn get(&self, shard: u64, key: &str) -> Output {
            let op = ReadOp::String(StringRead::Get { key: key.into() });
            self.stores[&ShardId(shard)].read(0, &op).unwrap()
        }

        fn applied(&self, shard: u64) -> u64 {
            *self.applied[&ShardId(shard)].borrow()
        }

        /// Writes (WAL records) after `sequence`.
        fn writes_since(&self, sequence: u64) -> usize {
            self.db.sync_wal().unwrap();
            self.db
                .rocks()
                .get_updates_since(0)
                .unwrap()
                .filter(|update| update.as_ref().unwrap().0 > sequence)
                .count()
        }
    }

    fn set(key: &str, value: &str) -> WriteOp {
        WriteOp::String(StringWrite::Set {
            key: key.into(),
            value: value.into(),
            cond: SetCond::Always,
            expiry: ExpiryChange::Clear,
            get: false,
        })
    }

    fn incr(key: &str) -> WriteOp {
        WriteOp::String(StringWrite::IncrBy {
            key: key.into(),
            delta: 1,
        })
    }

    type Waiter = oneshot::Receiver<ClusterResult<Vec<ExecResult>>>;

    /// A committed entry of `op` at `index`, with a proposer waiting on it.
    fn entry(index: u64, op: WriteOp) -> (ApplyEntry, Waiter) {
        let (tx, rx) = oneshot::channel();
        let write = WriteEntry {
            now_ms: 1_000 + index,
            ops: vec![op],
        };
        let entry = ApplyEntry {
            index,
            term: 1,
            kind: EntryKind::Normal,
            data: write.encode(),
            responder: Some(tx),
            known_results: None,
        };
        (entry, rx)
    }

    /// A leader's no-op at `index`.
    fn noop(index: u64) -> ApplyEntry {
        ApplyEntry {
            index,
            term: 1,
            kind: EntryKind::Normal,
            data: Vec::new(),
            responder: None,
            known_results: None,
        }
    }

    fn batch(shard: u64, entries: Vec<ApplyEntry>) -> ApplyBatch {
        ApplyBatch {
            shard: ShardId(shard),
            install: None,
            entries,
        }
    }

    /// The one result of a waiter's entry, in debug form (`ExecError` has no `PartialEq`).
    fn result(mut waiter: Waiter) -> String {
        let results = waiter.try_recv().expect("completed").expect("applied");
        format!("{results:?}")
    }

    fn int(n: i64) -> String {
        format!("{:?}", vec![Ok::<_, storage::ExecError>(Output::Int(n))])
    }

    #[test]
    fn drained_batches_of_many_shards_apply_in_log_order_in_one_write() {
        let mut f = Fixture::new(&[1, 2, 3]);
        // Shard 3 applied up to 1 before a restart: its entry 1 comes again as a replay.
        let replayed = WriteEntry {
            now_ms: 1_000,
            ops: vec![set("c", "10")],
        };
        f.stores[&ShardId(3)].apply(1, &replayed).unwrap();
        let sequence = f.db.rocks().latest_sequence_number();

        let (a1, w_a1) = entry(1, set("a", "1"));
        let (a2, w_a2) = entry(2, incr("a"));
        let (b2, w_b2) = entry(2, incr("b"));
        let (c1, w_c1) = entry(1, set("c", "10"));
        let (c2, w_c2) = entry(2, incr("c"));
        let (a4, w_a4) = entry(4, incr("a"));
        let (a5, w_a5) = entry(5, incr("a"));
        // Shard 1 comes three times: each later batch must see the earlier batches' writes.
        f.run(vec![
            batch(1, vec![a1, a2]),
            batch(2, vec![noop(1), b2]),
            batch(1, vec![noop(3), a4]),
            batch(3, vec![c1, c2]),
            batch(1, vec![a5]),
        ]);

        assert_eq!(f.writes_since(sequence), 1, "one write for the whole drain");
        assert_eq!(
            result(w_a1),
            format!("{:?}", vec![Ok::<_, storage::ExecError>(Output::Ok)])
        );
        assert_eq!(result(w_a2), int(2));
        assert_eq!(result(w_a4), int(3));
        assert_eq!(result(w_a5), int(4));
        assert_eq!(result(w_b2), int(1));
        assert_eq!(result(w_c1), "[]", "a replay has no results");
        assert_eq!(result(w_c2), int(11));
        assert_eq!(f.get(1, "a"), Output::bulk("4"));
        assert_eq!(f.get(3, "c"), Output::bulk("11"));
        assert_eq!((f.applied(1), f.applied(2), f.applied(3)), (5, 2, 2));
        for shard in [1, 2, 3] {
            let state = f.stores[&ShardId(shard)].state();
            assert_eq!(state.applied_index, f.applied(shard), "shard {shard}");
        }
    }

    /// Stages a snapshot payload of `shard` at `index` holding one string key.
    fn stage_snapshot(
        f: &Fixture,
        shard: u64,
        index: u64,
        key: &str,
        value: &str,
    ) -> SnapshotMetadata {
        let dir = f.snapshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = super::super::snapshot::staged_path(&dir, shard, index, 2);
        let slot = router::Slot::for_key(key.as_bytes()).get();
        let record = (
            keys::meta_key(slot, key.as_bytes()),
            keys::encode_meta(&Meta::string(value.as_bytes().to_vec())),
        );
        // The payload: magic, applied index, version floor, then length-prefixed records.
        let mut payload = b"RRS1".to_vec();
        payload.extend_from_slice(&index.to_be_bytes());
        payload.extend_from_slice(&0u64.to_be_bytes());
        for part in [&record.0, &record.1] {
            payload.extend_from_slice(&(part.len() as u32).to_be_bytes());
            payload.extend_from_slice(part);
        }
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&payload)
            .unwrap();
        SnapshotMetadata {
            index,
            term: 2,
            ..Default::default()
        }
    }

    #[test]
    fn a_snapshot_install_splits_the_drain_and_keeps_log_order() {
        let mut f = Fixture::new(&[1, 2]);
        let meta = stage_snapshot(&f, 1, 10, "snap", "5");
        let (before, w_before) = entry(1, set("before", "x"));
        let (x1, w_x1) = entry(1, set("x", "1"));
        let (after, w_after) = entry(11, incr("snap"));
        let (x2, w_x2) = entry(2, incr("x"));
        let mut install = batch(1, vec![after]);
        install.install = Some(meta);
        f.run(vec![
            batch(1, vec![before]),
            batch(2, vec![x1]),
            install,
            batch(2, vec![x2]),
        ]);

        // The entry before the install was applied (its proposer got a result), then the
        // snapshot replaced the shard's data, then the entry after it applied on top.
        assert_eq!(
            result(w_before),
            format!("{:?}", vec![Ok::<_, storage::ExecError>(Output::Ok)])
        );
        assert_eq!(f.get(1, "before"), Output::Nil);
        assert_eq!(result(w_after), int(6));
        assert_eq!(f.get(1, "snap"), Output::bulk("6"));
        assert_eq!(f.installed.load(Ordering::Relaxed), 1);
        assert_eq!(f.applied(1), 11);
        // The other shard is untouched by the install and applies on both sides of it.
        assert_eq!(
            result(w_x1),
            format!("{:?}", vec![Ok::<_, storage::ExecError>(Output::Ok)])
        );
        assert_eq!(result(w_x2), int(2));
        assert_eq!(f.applied(2), 2);
    }
}
