//! The apply worker: executes committed entries against each shard's data, in log order, on
//! its own thread, so a slow apply never stalls Raft (MULTI_RAFT.md, store loop step 5).
//!
//! The store loop hands over [`ApplyBatch`]es after the log that covers them is persisted.
//! Each entry goes through `ShardStore::apply(index, entry)`, which writes the data and the
//! applied index in one atomic batch (not synced: the Raft log is the durable record, and
//! replaying an applied index is a no-op). Leader no-ops and conf changes apply an empty entry
//! so the applied index keeps up with the log. After each batch the shard's applied index is
//! published on a watch channel that reads wait on; proposers waiting for an entry get its
//! results. A batch may start with a snapshot install (`snapshot.rs`), which replaces the
//! shard's data before any later entry is applied.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use raft::{EntryKind, SnapshotMetadata};
use router::ShardId;
use storage::{ExecResult, ShardStore, WriteEntry};
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

/// Runs the worker until the store loop drops its sender.
pub(crate) fn run(
    rx: Receiver<ApplyBatch>,
    targets: HashMap<ShardId, ApplyTarget>,
    ctx: ApplyContext,
) {
    while let Ok(batch) = rx.recv() {
        let target = targets
            .get(&batch.shard)
            .unwrap_or_else(|| panic!("apply for shard {} with no replica here", batch.shard));
        let mut last = None;
        if let Some(meta) = &batch.install {
            last = Some(install(target, meta, &ctx));
        }
        if let Some(index) = apply_entries(&target.store, batch.entries) {
            last = Some(index);
        }
        if let Some(index) = last {
            target.applied.send_if_modified(|applied| {
                let moved = index > *applied;
                *applied = (*applied).max(index);
                moved
            });
        }
    }
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

/// Applies `entries` in one atomic write (one transaction, one RocksDB batch with the new
/// applied index), completes their proposers, and returns the last index.
///
/// # Panics
/// If an entry does not decode or storage fails: skipping an entry would make this replica
/// diverge from the others, so the node stops instead (a newer entry format needs a newer
/// binary; a storage failure needs an operator).
fn apply_entries(store: &ShardStore, entries: Vec<ApplyEntry>) -> Option<u64> {
    let last = entries.last()?.index;
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
    let batch: Vec<(u64, &WriteEntry)> = entries
        .iter()
        .zip(&decoded)
        .map(|(entry, write)| (entry.index, write.as_ref().unwrap_or(&EMPTY)))
        .collect();
    let results = store.apply_batch(&batch).unwrap_or_else(|e| {
        panic!(
            "shard {}: applying entries up to {last} failed: {e}",
            store.id()
        )
    });
    for (entry, results) in entries.into_iter().zip(results) {
        if let Some(responder) = entry.responder {
            // The proposer may have given up (deadline); that is fine. A replayed entry
            // (applied before a restart) has no results.
            let _ = responder.send(Ok(results.unwrap_or_default()));
        }
    }
    Some(last)
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
