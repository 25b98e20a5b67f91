//! The write seam: how a write entry reaches a shard's state machine and comes back
//! acknowledged.
//!
//! [`Proposer`] is the seam Raft plugs into (issue #3): a proposal is a [`WriteEntry`] for one
//! shard; its result is one [`ExecResult`] per op, available only once the entry is durable.
//!
//! [`LocalProposer`] is the single-node implementation: a bounded queue
//! ([`Config::pending_writes_max`](crate::config::Config::pending_writes_max)) feeding ONE
//! dedicated writer thread. The writer drains up to `write_batch_max` entries and applies
//! them, per shard in queue order, with ONE [`ShardStore::apply_batch`] at the shard's next
//! indexes (one transaction and one atomic RocksDB write per shard and batch, no fsync), and
//! hands the batch to a sync thread, which makes every batch applied so far durable with ONE
//! [`Db::sync_wal`] (group commit across clients) and only then completes their replies, in
//! order. A write is acknowledged only after an fsync that followed its apply. The writer
//! applies the next batch while the previous one is being synced.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use router::ShardId;
use storage::{Db, ExecResult, ShardStore, WriteEntry};
use tokio::sync::{mpsc, oneshot};

/// Why a proposal has no result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProposeError {
    /// No shard with this id on this node.
    #[error("unknown shard {0}")]
    UnknownShard(ShardId),
    /// The write path is shutting down or its thread is gone.
    #[error("write path stopped")]
    Stopped,
    /// Applying or syncing failed; the text is logged, the client gets a generic error.
    #[error("storage failure: {0}")]
    Storage(String),
}

/// The outcome of one proposal: one result per op of the entry.
pub type ProposeResult = Result<Vec<ExecResult>, ProposeError>;

/// A proposal accepted into the write path; resolves once its entry is applied and durable.
#[derive(Debug)]
pub struct Proposal(oneshot::Receiver<ProposeResult>);

impl Future for Proposal {
    type Output = ProposeResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ProposeResult> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(ProposeError::Stopped)))
    }
}

/// A boxed future of a proposal's acceptance.
pub type Accepting<'a> = Pin<Box<dyn Future<Output = Result<Proposal, ProposeError>> + Send + 'a>>;

/// The write seam. Proposals to one shard from one caller are applied in the order they were
/// accepted, so a caller may accept several before awaiting any of them.
pub trait Proposer: Send + Sync {
    /// Queues `entry` for `shard`; resolves once accepted (waits while the queue is full).
    fn propose(&self, shard: ShardId, entry: WriteEntry) -> Accepting<'_>;

    /// Stops accepting, finishes and syncs everything accepted, and waits for the writer.
    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

enum Job {
    Write {
        shard: ShardId,
        entry: WriteEntry,
        reply: oneshot::Sender<ProposeResult>,
    },
    Stop(oneshot::Sender<()>),
}

/// The single-node write path: one writer thread, group commit.
pub struct LocalProposer {
    jobs: mpsc::Sender<Job>,
}

impl LocalProposer {
    /// Starts the writer thread over `shards`.
    ///
    /// `pending_writes_max` bounds the queue, `write_batch_max` the entries per fsync.
    pub fn start(
        db: Arc<Db>,
        shards: HashMap<ShardId, Arc<ShardStore>>,
        pending_writes_max: usize,
        write_batch_max: usize,
    ) -> std::io::Result<LocalProposer> {
        let (jobs, rx) = mpsc::channel(pending_writes_max.max(1));
        let writer = Writer::start(db, shards, write_batch_max.max(1))?;
        std::thread::Builder::new()
            .name("redraft-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(LocalProposer { jobs })
    }
}

impl Proposer for LocalProposer {
    fn propose(&self, shard: ShardId, entry: WriteEntry) -> Accepting<'_> {
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            self.jobs
                .send(Job::Write {
                    shard,
                    entry,
                    reply,
                })
                .await
                .map_err(|_| ProposeError::Stopped)?;
            Ok(Proposal(rx))
        })
    }

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let (done, rx) = oneshot::channel();
            if self.jobs.send(Job::Stop(done)).await.is_ok() {
                let _ = rx.await;
            }
        })
    }
}

/// Most applied batches waiting for the sync thread; the writer waits when it is full.
const SYNC_BACKLOG_BATCHES_MAX: usize = 4;

/// Applied proposals waiting for their fsync.
type Applied = Vec<(oneshot::Sender<ProposeResult>, ProposeResult)>;

/// One applied batch handed to the sync thread.
struct SyncJob {
    applied: Applied,
    /// Set on the last batch: answered once everything is durable and the database released.
    stop: Option<oneshot::Sender<()>>,
}

/// The writer thread's state: applies entries in queue order.
struct Writer {
    shards: HashMap<ShardId, (Arc<ShardStore>, u64)>,
    batch_max: usize,
    synced: std::sync::mpsc::SyncSender<SyncJob>,
}

impl Writer {
    /// Starts the sync thread and returns the writer that feeds it.
    fn start(
        db: Arc<Db>,
        shards: HashMap<ShardId, Arc<ShardStore>>,
        batch_max: usize,
    ) -> std::io::Result<Writer> {
        let (synced, rx) = std::sync::mpsc::sync_channel(SYNC_BACKLOG_BATCHES_MAX);
        std::thread::Builder::new()
            .name("redraft-sync".into())
            .spawn(move || sync_loop(db, rx))?;
        // Invariant: the index kept next to each shard is its applied index; the next entry
        // goes at applied + 1.
        let shards = shards
            .into_iter()
            .map(|(id, store)| {
                let applied = store.state().applied_index;
                (id, (store, applied))
            })
            .collect();
        Ok(Writer {
            shards,
            batch_max,
            synced,
        })
    }

    /// Applies batches of up to `batch_max` entries and hands each to the sync thread, so the
    /// next batch is applied while the previous one is being made durable.
    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let started = Instant::now();
            let (group, stop) = self.drain(first, &mut rx);
            let applied = self.apply_group(group);
            let apply_us = started.elapsed().as_micros() as u64;
            tracing::trace!(entries = applied.len(), apply_us, "applied a batch");
            let last = stop.is_some();
            let synced = self.synced.clone();
            if last {
                // Release the shards (and so the database) before the sync thread answers.
                drop(self);
                let _ = synced.send(SyncJob { applied, stop });
                return;
            }
            if synced.send(SyncJob { applied, stop }).is_err() {
                panic!("the sync thread of the write path is gone");
            }
        }
    }

    /// Takes `first` and whatever else is already queued, up to `batch_max` writes or a stop.
    fn drain(
        &self,
        first: Job,
        rx: &mut mpsc::Receiver<Job>,
    ) -> (Vec<Queued>, Option<oneshot::Sender<()>>) {
        let mut group = Vec::with_capacity(self.batch_max.min(1024));
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write {
                    shard,
                    entry,
                    reply,
                } => group.push(Queued {
                    shard,
                    entry,
                    reply,
                }),
                Job::Stop(done) => return (group, Some(done)),
            }
            if group.len() < self.batch_max {
                next = rx.try_recv().ok();
            }
        }
        (group, None)
    }

    /// Applies a drained group: the entries of each shard in queue order with ONE
    /// [`ShardStore::apply_batch`] (one transaction, one RocksDB write incl. the applied index),
    /// at the shard's next indexes. Replies keep queue order.
    fn apply_group(&mut self, group: Vec<Queued>) -> Applied {
        let mut by_shard: HashMap<ShardId, Vec<usize>> = HashMap::new();
        for (position, queued) in group.iter().enumerate() {
            by_shard.entry(queued.shard).or_default().push(position);
        }
        let mut results: Vec<Option<ProposeResult>> = group.iter().map(|_| None).collect();
        for (shard, positions) in by_shard {
            let entries: Vec<&WriteEntry> = positions.iter().map(|&p| &group[p].entry).collect();
            for (position, result) in positions.into_iter().zip(self.apply(shard, &entries)) {
                results[position] = Some(result);
            }
        }
        group
            .into_iter()
            .zip(results)
            .map(|(queued, result)| {
                (
                    queued.reply,
                    result.expect("every queued write belongs to one shard's run"),
                )
            })
            .collect()
    }

    /// Applies `entries` to `shard` as one batch; one result per entry.
    fn apply(&mut self, shard: ShardId, entries: &[&WriteEntry]) -> Vec<ProposeResult> {
        let Some((store, applied)) = self.shards.get_mut(&shard) else {
            return entries
                .iter()
                .map(|_| Err(ProposeError::UnknownShard(shard)))
                .collect();
        };
        let first = *applied + 1;
        let indexed: Vec<(u64, &WriteEntry)> = (first..).zip(entries.iter().copied()).collect();
        match store.apply_batch(&indexed) {
            Ok(outcomes) => {
                *applied += indexed.len() as u64;
                let answer = |(index, outcome): (u64, Option<Vec<ExecResult>>)| match outcome {
                    Some(results) => Ok(results),
                    None => panic!(
                        "shard {shard} already applied index {index}: the writer lost track of it"
                    ),
                };
                (first..).zip(outcomes).map(answer).collect()
            }
            Err(e) => {
                tracing::error!(shard = shard.0, first, entries = entries.len(), error = %e,
                    "applying a batch of write entries failed; none of it was written");
                let e = ProposeError::Storage(e.to_string());
                entries.iter().map(|_| Err(e.clone())).collect()
            }
        }
    }
}

/// A write taken off the queue, waiting to be applied.
struct Queued {
    shard: ShardId,
    entry: WriteEntry,
    reply: oneshot::Sender<ProposeResult>,
}

/// The sync thread: one WAL fsync covers every batch applied so far (group commit), then the
/// proposals of those batches are answered, in order.
fn sync_loop(db: Arc<Db>, rx: std::sync::mpsc::Receiver<SyncJob>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.last().is_some_and(|j| j.stop.is_none()) {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let synced = db.sync_wal();
        let entries: usize = jobs.iter().map(|j| j.applied.len()).sum();
        let sync_us = started.elapsed().as_micros() as u64;
        tracing::trace!(entries, sync_us, "group commit");
        if let Err(e) = &synced {
            tracing::error!(error = %e, "syncing the write-ahead log failed");
        }
        let mut stop = None;
        for job in jobs {
            for (reply, result) in job.applied {
                let result = match &synced {
                    Ok(()) => result,
                    Err(e) => Err(ProposeError::Storage(e.to_string())),
                };
                let _ = reply.send(result);
            }
            stop = stop.or(job.stop);
        }
        if let Some(done) = stop {
            tracing::info!("write path stopped; every accepted write is durable");
            // Release the database before answering, so the caller may reopen it.
            drop(db);
            let _ = done.send(());
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use storage::types::string::{StringRead, StringWrite};
    use storage::{Output, ReadOp, StorageConfig, WriteOp};

    use super::*;

    fn mset(key: &str, value: String) -> WriteEntry {
        let pairs = vec![(key.as_bytes().to_vec(), value.into_bytes())];
        WriteEntry {
            now_ms: 1,
            ops: vec![WriteOp::String(StringWrite::MSet { pairs, nx: false })],
        }
    }

    fn setup(dir: &std::path::Path) -> (Arc<ShardStore>, LocalProposer) {
        let db = Db::open(dir, &StorageConfig::default()).unwrap();
        db.create_shard(1).unwrap();
        let store = Arc::new(db.shard(1).unwrap());
        let shards = HashMap::from([(ShardId(1), Arc::clone(&store))]);
        (store, LocalProposer::start(db, shards, 64, 16).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_proposals_apply_in_order_per_caller() {
        let dir = tempfile::tempdir().unwrap();
        let (store, proposer) = setup(dir.path());
        let proposer = Arc::new(proposer);
        let mut tasks = Vec::new();
        for client in 0..8 {
            let proposer = Arc::clone(&proposer);
            tasks.push(tokio::spawn(async move {
                // Accept all before awaiting any: they must still apply in order.
                let mut pending = Vec::new();
                for i in 0..50 {
                    let entry = mset(&format!("k{client}"), i.to_string());
                    pending.push(proposer.propose(ShardId(1), entry).await.unwrap());
                }
                for p in pending {
                    assert_eq!(p.await.unwrap()[0].as_ref().unwrap(), &Output::Ok);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(store.state().applied_index, 400);
        for client in 0..8 {
            let get = ReadOp::String(StringRead::Get {
                key: format!("k{client}").into_bytes(),
            });
            assert_eq!(store.read(1, &get).unwrap(), Output::bulk("49"));
        }
        proposer.shutdown().await;
        let late = proposer.propose(ShardId(1), mset("late", "x".into())).await;
        assert!(matches!(late, Err(ProposeError::Stopped)));
    }

    #[tokio::test]
    async fn applied_index_continues_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (_, proposer) = setup(dir.path());
            proposer
                .propose(ShardId(1), mset("a", "1".into()))
                .await
                .unwrap()
                .await
                .unwrap();
            proposer.shutdown().await;
        }
        let (store, proposer) = setup(dir.path());
        assert_eq!(store.state().applied_index, 1);
        proposer
            .propose(ShardId(1), mset("a", "2".into()))
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(store.state().applied_index, 2);
        let unknown = proposer
            .propose(ShardId(9), mset("a", "3".into()))
            .await
            .unwrap()
            .await;
        assert!(matches!(
            unknown,
            Err(ProposeError::UnknownShard(ShardId(9)))
        ));
        proposer.shutdown().await;
    }
}
