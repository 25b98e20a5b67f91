//! [`Store`]: the node's Multi-Raft runtime, as the rest of the node sees it. Starting a store
//! opens every shard replica it hosts and starts two threads: the store loop
//! (`store_loop.rs`), which drives every [`Peer`] (one per shard replica) through Raft, and
//! the apply worker (`apply.rs`), which executes committed entries. The handle submits
//! proposals and reads to the loop over its bounded inbox and waits for their outcome, and
//! reads what the peers publish (leader, lease, applied index) without a round trip.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use raft::{ConfState, NodeId, RawNode, SnapshotStatus};
use router::ShardId;
use storage::{Db, ExecResult, ReadOp, ShardStore, WriteEntry};
use tokio::sync::{oneshot, watch};

use super::apply::{self, ApplyContext, ApplyTarget};
use super::chain::ChainLink;
use super::error::{ClusterError, ClusterResult};
use super::log_store::LogStore;
use super::peer::{Peer, PeerStatus, Proposal, ReadResponder};
use super::snapshot;
use super::store_loop::StoreLoop;
use super::transport::{Inbound, ShardMessage, Transport};

/// Limits and timing of a store. Every limit is named `*_max` and is configurable.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// This node's id in every group it hosts (never 0).
    pub node_id: NodeId,
    /// Wall-clock length of one Raft tick.
    pub tick_interval_ms: u64,
    /// Minimum election timeout, in ticks.
    pub election_ticks: u64,
    /// Leader heartbeat interval, in ticks.
    pub heartbeat_ticks: u64,
    /// Idle ticks after which a group quiesces (0: never).
    pub quiesce_after_ticks: u64,
    /// Serve linearizable reads from the leader lease instead of a heartbeat round.
    pub lease_read: bool,
    /// Seed of the election jitter (mixed with the node and shard ids).
    pub seed: u64,
    /// Deadline of every proposal and read, from the moment it is submitted.
    pub request_deadline_ms: u64,
    /// Capacity of the store loop's inbox (messages, proposals, reads); a full inbox refuses
    /// proposals with `Busy` and drops inbound messages.
    pub inbox_max: usize,
    /// Inputs handled per round before the loop persists and sends.
    pub inputs_per_round_max: usize,
    /// Proposals and reads waiting on one shard; beyond it requests fail with `Busy`.
    pub pending_requests_per_shard_max: usize,
    /// Apply batches queued for the apply worker; when full the store loop waits
    /// (back-pressure from a slow apply to Raft).
    pub apply_queue_max: usize,
    /// Bytes of recent log entries cached in memory per shard.
    pub entry_cache_bytes_max: u64,
    /// Ticks between liveness probes to the other nodes.
    pub probe_interval_ticks: u64,
    /// Ticks of silence after which a node is considered down and shared groups are woken.
    pub node_down_after_ticks: u64,
    /// Record bytes per snapshot chunk (a chunk holds at least one record), and per write
    /// batch when a snapshot is installed.
    pub snapshot_chunk_bytes_max: usize,
    /// Pace of one snapshot stream, in payload bytes per second (0: unlimited).
    pub snapshot_bytes_per_sec_max: u64,
    /// Snapshot streams this node sends at once; more are refused (Raft retries later).
    pub snapshot_sends_max: usize,
    /// Compact a shard's log once its applied index is this many entries past the log's
    /// start.
    pub log_compact_entries_min: u64,
    /// ... or once this many bytes of entries were appended since the last compaction.
    pub log_compact_bytes_min: u64,
    /// Entries kept below the applied index on compaction, so a follower slightly behind
    /// catches up from the log rather than by snapshot.
    pub log_compact_keep_entries: u64,
    /// A leader compacts no further than what its slowest follower has (so a follower a
    /// little behind catches up from the log, not by a snapshot of the whole shard), unless
    /// that follower is more than this many entries behind the applied index (down, or too
    /// slow): then it gets a snapshot, and the log does not grow without bound.
    pub log_lag_entries_max: u64,
}

impl StoreConfig {
    /// Defaults for node `node_id`: 100 ms ticks, elections after 1-2 s.
    pub fn new(node_id: NodeId) -> Self {
        StoreConfig {
            node_id,
            tick_interval_ms: 100,
            election_ticks: 10,
            heartbeat_ticks: 2,
            quiesce_after_ticks: 30,
            lease_read: false,
            seed: node_id.0,
            request_deadline_ms: 5_000,
            inbox_max: 16_384,
            inputs_per_round_max: 4_096,
            pending_requests_per_shard_max: 16_384,
            apply_queue_max: 1_024,
            entry_cache_bytes_max: 4 << 20,
            probe_interval_ticks: 3,
            node_down_after_ticks: 10,
            snapshot_chunk_bytes_max: 1 << 20,
            snapshot_bytes_per_sec_max: 64 << 20,
            snapshot_sends_max: 4,
            log_compact_entries_min: 1_024,
            log_compact_bytes_min: 64 << 20,
            log_compact_keep_entries: 64,
            log_lag_entries_max: 100_000,
        }
    }

    fn raft_config(&self, shard: ShardId, applied: u64) -> raft::Config {
        let mut c = raft::Config::new(self.node_id);
        c.election_ticks = self.election_ticks;
        c.heartbeat_ticks = self.heartbeat_ticks;
        // Mix the shard in so the groups of one node do not time out in lockstep.
        c.seed = self.seed ^ shard.0.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        c.lease_read = self.lease_read;
        c.lease_ticks = self.election_ticks.saturating_sub(2).max(1);
        c.quiesce_after_ticks = self.quiesce_after_ticks;
        c.applied = applied;
        c
    }
}

/// A shard this node hosts a replica of, and the nodes of its founding voters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardReplicas {
    /// The shard.
    pub shard: ShardId,
    /// Founding voters (this node among them). Used only when the shard has no Raft state
    /// on this node yet.
    pub nodes: Vec<NodeId>,
}

/// How a read is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadConsistency {
    /// On the leader, after a ReadIndex round (or within the leader lease when
    /// [`StoreConfig::lease_read`]), once the local applied index reaches the read index.
    #[default]
    Linearizable,
    /// From this replica's applied state at once, on any replica; may be stale.
    Stale,
}

/// Inputs of the store loop.
#[derive(Debug)]
pub(crate) enum StoreMsg {
    /// A batch from another node (possibly empty: a liveness probe).
    Raft {
        from: NodeId,
        batch: Vec<ShardMessage>,
    },
    /// The transport could not reach a node.
    Unreachable(NodeId),
    /// A client proposal.
    Propose { shard: ShardId, proposal: Proposal },
    /// A linearizable read request.
    Read {
        shard: ShardId,
        deadline: Instant,
        responder: ReadResponder,
    },
    /// Campaign for leadership of a shard now.
    Campaign(ShardId),
    /// Hand leadership of a shard to another voter.
    Transfer { shard: ShardId, to: NodeId },
    /// A snapshot sender thread finished streaming to `to`.
    SnapshotSent {
        shard: ShardId,
        to: NodeId,
        status: SnapshotStatus,
    },
    /// Stop the loop.
    Stop,
}

/// What the handle knows of one shard.
pub(crate) struct ShardHandle {
    data: Arc<ShardStore>,
    applied: watch::Receiver<u64>,
    /// Leader hint and quiescence kept by the peer.
    status: Arc<PeerStatus>,
}

/// What a store counts, for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Snapshot streams this node completed as a sender.
    pub snapshots_sent: u64,
    /// Snapshot streams this node failed to complete as a sender.
    pub snapshots_failed: u64,
    /// Snapshots installed into this node's data.
    pub snapshots_installed: u64,
    /// Log compactions done here.
    pub log_compactions: u64,
    /// Store loop rounds that had work (some peer had a Ready).
    pub rounds: u64,
    /// Rounds whose log writes were fsynced.
    pub rounds_synced: u64,
    /// Writes (entries, hard states, deletions) made to the `raft` column family.
    pub log_writes: u64,
    /// Message batches handed to the transport (one per destination node per send).
    pub batches_sent: u64,
}

/// What the store counts as it runs (see [`StoreStats`]), and what it believes of the other
/// nodes.
#[derive(Default)]
pub(crate) struct Counters {
    /// The nodes the store loop considers down: silent for `node_down_after_ticks`, until a
    /// message from them arrives. The loop's only record of it, and written only by the loop.
    pub(crate) down_nodes: RwLock<BTreeSet<NodeId>>,
    pub(crate) snapshots_sent: AtomicU64,
    pub(crate) snapshots_failed: AtomicU64,
    pub(crate) snapshots_installed: Arc<AtomicU64>,
    pub(crate) log_compactions: AtomicU64,
    pub(crate) rounds: AtomicU64,
    pub(crate) rounds_synced: AtomicU64,
    pub(crate) log_writes: AtomicU64,
    pub(crate) batches_sent: AtomicU64,
}

struct Shared {
    cfg: StoreConfig,
    inbox: SyncSender<StoreMsg>,
    snapshot_dir: Arc<PathBuf>,
    counters: Arc<Counters>,
    shards: HashMap<ShardId, ShardHandle>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = self.inbox.send(StoreMsg::Stop);
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
    }
}

/// Runs `f` (the body of the store loop or the apply worker thread); if it panics, stops the
/// whole process. Those threads panic only when the node cannot go on (a Raft log write
/// failed, an entry cannot be applied without diverging): a process left running without
/// them would keep accepting clients it can never answer, and a supervisor would not restart
/// it. Restarting recovers from RocksDB.
fn fatal_on_panic(what: &str, f: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
        tracing::error!(
            thread = what,
            "a store thread panicked; stopping the process"
        );
        std::process::abort();
    }
}

/// Handle on a running store; cheap to clone. The store stops when the last handle is
/// dropped (or on [`Store::stop`]).
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

impl Store {
    /// Opens every shard replica in `shards` (bootstrapping those with no Raft state yet),
    /// and starts the store loop and the apply worker.
    pub fn start(
        cfg: StoreConfig,
        db: Arc<Db>,
        shards: &[ShardReplicas],
        transport: Arc<dyn Transport>,
    ) -> ClusterResult<Store> {
        let (inbox_tx, inbox_rx) = sync_channel(cfg.inbox_max);
        let mut peers = BTreeMap::new();
        let mut handles = HashMap::new();
        let mut targets = HashMap::new();
        let mut data = BTreeMap::new();
        for spec in shards {
            let (peer, handle, target) = open_peer(&cfg, &db, spec)?;
            data.insert(spec.shard, Arc::clone(&handle.data));
            peers.insert(spec.shard, peer);
            handles.insert(spec.shard, handle);
            targets.insert(spec.shard, target);
        }
        let counters = Arc::new(Counters::default());
        let snapshot_dir = Arc::new(snapshot::snapshot_dir(db.path()));
        let ctx = ApplyContext {
            snapshot_dir: snapshot_dir.to_path_buf(),
            install_batch_bytes_max: cfg.snapshot_chunk_bytes_max,
            installed: Arc::clone(&counters.snapshots_installed),
        };
        let (apply_tx, apply_rx) = sync_channel(cfg.apply_queue_max);
        let node = cfg.node_id;
        let apply_thread = std::thread::Builder::new()
            .name(format!("redraft-apply-{node}"))
            .spawn(move || fatal_on_panic("apply worker", || apply::run(apply_rx, targets, ctx)))
            .map_err(|e| ClusterError::Storage(e.to_string()))?;
        let mut lp = StoreLoop::new(
            cfg.clone(),
            db,
            peers,
            data,
            transport,
            apply_tx,
            (inbox_tx.clone(), inbox_rx),
            Arc::clone(&counters),
        );
        let loop_thread = std::thread::Builder::new()
            .name(format!("redraft-store-{node}"))
            .spawn(move || fatal_on_panic("store loop", || lp.run()))
            .map_err(|e| ClusterError::Storage(e.to_string()))?;
        let shared = Shared {
            cfg,
            inbox: inbox_tx,
            snapshot_dir,
            counters,
            shards: handles,
            threads: Mutex::new(vec![loop_thread, apply_thread]),
        };
        Ok(Store {
            shared: Arc::new(shared),
        })
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.shared.cfg.node_id
    }

    /// The input a transport delivers inbound batches to.
    pub fn inbound(&self) -> Inbound {
        Inbound {
            tx: self.shared.inbox.clone(),
            snapshot_dir: Arc::clone(&self.shared.snapshot_dir),
        }
    }

    /// What this store counted so far (rounds, fsyncs, snapshots, compactions).
    pub fn stats(&self) -> StoreStats {
        let c = &self.shared.counters;
        StoreStats {
            snapshots_sent: c.snapshots_sent.load(Ordering::Relaxed),
            snapshots_failed: c.snapshots_failed.load(Ordering::Relaxed),
            snapshots_installed: c.snapshots_installed.load(Ordering::Relaxed),
            log_compactions: c.log_compactions.load(Ordering::Relaxed),
            rounds: c.rounds.load(Ordering::Relaxed),
            rounds_synced: c.rounds_synced.load(Ordering::Relaxed),
            log_writes: c.log_writes.load(Ordering::Relaxed),
            batches_sent: c.batches_sent.load(Ordering::Relaxed),
        }
    }

    /// The shards with a replica here, ascending.
    pub fn shards(&self) -> Vec<ShardId> {
        let mut ids: Vec<ShardId> = self.shared.shards.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Proposes `entry` to `shard`'s group and waits until it is applied here, returning
    /// one result per op. Fails with `NotLeader` (and a leader hint) on a follower,
    /// `DeadlineExceeded` after `request_deadline_ms` (the entry may still commit later),
    /// `ProposalDropped` when a leader change replaced it (it will never apply), `Busy`.
    pub async fn propose(
        &self,
        shard: ShardId,
        entry: &WriteEntry,
    ) -> ClusterResult<Vec<ExecResult>> {
        let known = entry.results_without_state();
        self.submit_proposal(shard, entry.encode(), known, None)?
            .wait()
            .await
    }

    /// Hands an encoded `WriteEntry` to `shard`'s group at once (before returning), so
    /// proposals submitted one after another by one caller are proposed in that order; the
    /// returned [`PendingProposal`] waits for the outcome, as [`Store::propose`] describes.
    /// `known_results` are the entry's results if known before it applies
    /// (`WriteEntry::results_without_state`); the outcome then arrives at commit. `chain`
    /// places a session's write in its chain of writes to the shard (`cluster::chain`).
    pub fn submit_proposal(
        &self,
        shard: ShardId,
        data: Vec<u8>,
        known_results: Option<Vec<ExecResult>>,
        chain: Option<ChainLink>,
    ) -> ClusterResult<PendingProposal> {
        self.handle(shard)?;
        let deadline = self.deadline();
        let (responder, rx) = oneshot::channel();
        let proposal = Proposal {
            data,
            deadline,
            responder,
            known_results,
            chain,
        };
        self.submit(StoreMsg::Propose { shard, proposal })?;
        Ok(PendingProposal { deadline, rx })
    }

    /// Executes a read op on `shard` at `now_ms` with the given consistency.
    pub async fn read(
        &self,
        shard: ShardId,
        op: &ReadOp,
        now_ms: u64,
        consistency: ReadConsistency,
    ) -> ClusterResult<ExecResult> {
        self.read_with(shard, consistency, |data| data.read(now_ms, op))
            .await
    }

    /// Runs `f` on `shard`'s data once a read with the given consistency may be served. A
    /// leader that is its group's only voter, once it applied its term's first entry, serves
    /// a linearizable read once every write it answered early (at commit) is applied too (no
    /// other node can lead). A leader whose published lease holds serves it once its applied
    /// index reaches the lease's commit index, without asking the store loop; otherwise the
    /// loop runs a ReadIndex round (or checks the lease itself). A stale read waits only for
    /// the writes this replica answered early, so a client reads its own writes on the node
    /// that acknowledged them; it fails with [`ClusterError::Installing`] if a snapshot
    /// install was replacing the data meanwhile.
    pub async fn read_with<T>(
        &self,
        shard: ShardId,
        consistency: ReadConsistency,
        f: impl FnOnce(&ShardStore) -> T,
    ) -> ClusterResult<T> {
        let handle = self.handle(shard)?;
        // Checked after `sole_leader`, which is published after `term_start`.
        let sole = handle.status.sole_leader.load(Ordering::Acquire)
            && *handle.applied.borrow() >= handle.status.term_start.load(Ordering::Acquire);
        if consistency == ReadConsistency::Linearizable {
            let deadline = self.deadline();
            let lease_index = || handle.status.lease_read_index(Instant::now());
            // A sole leader has applied every write it answered after applying; those it
            // answered at commit (known results) are applied once `answered_early` is.
            let sole_index = || sole.then(|| handle.status.answered_early.load(Ordering::Acquire));
            let index = match sole_index().or_else(lease_index) {
                Some(index) => index,
                None => {
                    let (responder, rx) = oneshot::channel();
                    self.submit(StoreMsg::Read {
                        shard,
                        deadline,
                        responder,
                    })?;
                    wait(deadline, rx).await??
                }
            };
            wait_applied(handle, index, deadline).await?;
        }
        if consistency == ReadConsistency::Stale {
            // Stale, but never older than what this replica answered: a client reads its own
            // writes on the node that acknowledged them, as on a Redis master.
            wait_answered_applied(handle, self.deadline()).await?;
            // Nothing else waited for the applied index, which an install moves only once done.
            return handle
                .data
                .read_unless_installing(f)
                .ok_or(ClusterError::Installing);
        }
        Ok(f(&handle.data))
    }

    /// Waits until each of `shards` has applied every write this replica answered at commit,
    /// before it applied; all of them within one request deadline. Code that reads the data
    /// outside [`Store::read_with`] (`INFO keyspace`) calls this first, so a client sees its
    /// acknowledged writes there too. Shards no longer here are skipped; past the deadline
    /// the wait ends with [`ClusterError::DeadlineExceeded`].
    pub async fn await_answered_applied(&self, shards: &[ShardId]) -> ClusterResult<()> {
        let deadline = self.deadline();
        for &shard in shards {
            if let Ok(handle) = self.handle(shard) {
                wait_answered_applied(handle, deadline).await?;
            }
        }
        Ok(())
    }

    /// The leader of `shard` as this node last heard (a hint for redirects and forwarding).
    pub fn leader_of(&self, shard: ShardId) -> Option<NodeId> {
        let id = self
            .handle(shard)
            .ok()?
            .status
            .leader
            .load(Ordering::Acquire);
        (id != 0).then_some(NodeId(id))
    }

    /// The leader of `shard` as this node's replica knows it, waiting (woken when the replica
    /// learns of one) until `deadline`; `None` past it, or when no replica of `shard` is here.
    pub async fn await_leader(&self, shard: ShardId, deadline: Instant) -> Option<NodeId> {
        let status = &self.handle(shard).ok()?.status;
        loop {
            let changed = status.leader_changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a change between the check and the wait wakes it.
            changed.as_mut().enable();
            if let Some(leader) = self.leader_of(shard) {
                return Some(leader);
            }
            tokio::time::timeout_at(deadline.into(), changed)
                .await
                .ok()?;
        }
    }

    /// Whether this node believes it leads `shard`.
    pub fn is_leader(&self, shard: ShardId) -> bool {
        self.leader_of(shard) == Some(self.node_id())
    }

    /// Whether `shard`'s group is quiesced here (idle: no heartbeats, no election timer).
    pub fn is_quiescent(&self, shard: ShardId) -> bool {
        self.handle(shard)
            .is_ok_and(|h| h.status.quiescent.load(Ordering::Acquire))
    }

    /// The index of the last entry applied to `shard`'s data here.
    pub fn applied_index(&self, shard: ShardId) -> Option<u64> {
        self.handle(shard).ok().map(|h| *h.applied.borrow())
    }

    /// The first index still in `shard`'s log here (entries below it were compacted or
    /// replaced by a snapshot).
    pub fn log_start(&self, shard: ShardId) -> Option<u64> {
        let handle = self.handle(shard).ok()?;
        Some(handle.status.log_start.load(Ordering::Acquire))
    }

    /// `shard`'s data on this node (for stale reads, tests and diagnostics).
    pub fn shard_data(&self, shard: ShardId) -> Option<Arc<ShardStore>> {
        self.handle(shard).ok().map(|h| Arc::clone(&h.data))
    }

    /// Asks this node, if it leads `shard`, to hand leadership to `to` (Raft leader transfer).
    pub fn transfer_leader(&self, shard: ShardId, to: NodeId) -> ClusterResult<()> {
        self.handle(shard)?;
        self.submit(StoreMsg::Transfer { shard, to })
    }

    /// Whether this store considers `node` down: no message from it for
    /// [`StoreConfig::node_down_after_ticks`], and none since. A node this store shares no
    /// shard with is never considered down (it is not watched).
    pub fn seems_down(&self, node: NodeId) -> bool {
        self.shared.counters.down_nodes.read().contains(&node)
    }

    /// Asks this node to campaign for leadership of `shard` now.
    pub fn campaign(&self, shard: ShardId) -> ClusterResult<()> {
        self.handle(shard)?;
        self.submit(StoreMsg::Campaign(shard))
    }

    /// Stops the store loop and the apply worker of this handle's store, waiting for both.
    /// Other handles fail with `Stopped` afterwards.
    pub fn stop(&self) {
        let _ = self.shared.inbox.send(StoreMsg::Stop);
        for t in self.shared.threads.lock().drain(..) {
            let _ = t.join();
        }
    }

    fn handle(&self, shard: ShardId) -> ClusterResult<&ShardHandle> {
        self.shared
            .shards
            .get(&shard)
            .ok_or(ClusterError::UnknownShard(shard))
    }

    fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.shared.cfg.request_deadline_ms)
    }

    fn submit(&self, msg: StoreMsg) -> ClusterResult<()> {
        self.shared.inbox.try_send(msg).map_err(|e| match e {
            TrySendError::Full(_) => ClusterError::Busy("inbox_max"),
            TrySendError::Disconnected(_) => ClusterError::Stopped,
        })
    }
}

/// A proposal handed to the store, waiting for its outcome.
#[derive(Debug)]
pub struct PendingProposal {
    deadline: Instant,
    rx: oneshot::Receiver<ClusterResult<Vec<ExecResult>>>,
}

impl PendingProposal {
    /// The results once the entry is applied here, or why not (see [`Store::propose`]).
    pub async fn wait(self) -> ClusterResult<Vec<ExecResult>> {
        wait(self.deadline, self.rx).await?
    }
}

/// Waits until `handle`'s shard has applied every write this replica answered at commit (its
/// `answered_early` index), or until `deadline`.
async fn wait_answered_applied(handle: &ShardHandle, deadline: Instant) -> ClusterResult<()> {
    let index = handle.status.answered_early.load(Ordering::Acquire);
    wait_applied(handle, index, deadline).await
}

/// Waits until `handle`'s shard has applied `index`, or until `deadline`.
async fn wait_applied(handle: &ShardHandle, index: u64, deadline: Instant) -> ClusterResult<()> {
    if *handle.applied.borrow() >= index {
        return Ok(());
    }
    let mut applied = handle.applied.clone();
    let reached = applied.wait_for(|a| *a >= index);
    // Map the `watch::Ref` away at once: it must not be held across an await.
    let outcome = tokio::time::timeout_at(deadline.into(), reached)
        .await
        .map(|r| r.is_ok());
    match outcome {
        Ok(true) => Ok(()),
        Ok(false) => Err(ClusterError::Stopped),
        Err(_) => Err(ClusterError::DeadlineExceeded),
    }
}

/// Waits for a reply from the store until `deadline`.
async fn wait<T>(deadline: Instant, rx: oneshot::Receiver<T>) -> ClusterResult<T> {
    match tokio::time::timeout_at(deadline.into(), rx).await {
        Ok(Ok(v)) => Ok(v),
        // The loop drops a waiter only once its deadline passed, or when it stops.
        Ok(Err(_)) if Instant::now() >= deadline => Err(ClusterError::DeadlineExceeded),
        Ok(Err(_)) => Err(ClusterError::Stopped),
        Err(_) => Err(ClusterError::DeadlineExceeded),
    }
}

/// Opens (bootstrapping if new) one shard replica.
pub(crate) fn open_peer(
    cfg: &StoreConfig,
    db: &Arc<Db>,
    spec: &ShardReplicas,
) -> ClusterResult<(Peer, ShardHandle, ApplyTarget)> {
    let id = spec.shard.0;
    if !LogStore::exists(db, id)? {
        assert!(
            spec.nodes.contains(&cfg.node_id),
            "shard {id}: node {} is not among its founding voters {:?}",
            cfg.node_id,
            spec.nodes
        );
        db.create_shard(id)?;
        let mut voters = spec.nodes.clone();
        voters.sort_unstable();
        voters.dedup();
        LogStore::bootstrap(
            db,
            id,
            &ConfState {
                voters,
                ..Default::default()
            },
        )?;
    }
    let data = Arc::new(db.shard(id)?);
    let mut log = LogStore::open(Arc::clone(db), id, cfg.entry_cache_bytes_max)?;
    let dir = snapshot::snapshot_dir(db.path());
    snapshot::recover_install(&data, &log, &dir, cfg.snapshot_chunk_bytes_max)
        .map_err(|e| ClusterError::Storage(e.to_string()))?;
    log.attach_data(Arc::clone(&data));
    let applied = data.state().applied_index;
    // Raft hands out committed entries after `applied`: the durable applied index of the
    // data, never beyond the durable commit (entries up to the log's snapshot are covered).
    let raft_applied = applied
        .max(log.truncated_index())
        .min(log.hard_state().commit.max(log.truncated_index()));
    let raw = RawNode::new(&cfg.raft_config(spec.shard, raft_applied), log)
        .map_err(ClusterError::Raft)?;
    let status = Arc::new(PeerStatus::default());
    let (applied_tx, applied_rx) = watch::channel(applied);
    let peer = Peer::new(spec.shard, raw, Arc::clone(&status));
    let handle = ShardHandle {
        data: Arc::clone(&data),
        applied: applied_rx,
        status,
    };
    Ok((
        peer,
        handle,
        ApplyTarget {
            store: data,
            applied: applied_tx,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::sim::SimNetwork;

    fn open_db(dir: &std::path::Path) -> Arc<Db> {
        Db::open(dir, &storage::StorageConfig::default()).unwrap()
    }

    /// A store of node 1 alone, with a one-voter group for each of `shards`, once it leads
    /// them all.
    async fn lone_store(dir: &std::path::Path, shards: &[u64]) -> Store {
        let db = open_db(dir);
        let mut cfg = StoreConfig::new(NodeId(1));
        cfg.tick_interval_ms = 5;
        let specs: Vec<ShardReplicas> = shards
            .iter()
            .map(|&id| ShardReplicas {
                shard: ShardId(id),
                nodes: vec![NodeId(1)],
            })
            .collect();
        let net = SimNetwork::new(1);
        let store = Store::start(cfg, db, &specs, net.transport(NodeId(1))).unwrap();
        net.register(NodeId(1), store.inbound());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !shards.iter().all(|&id| store.is_leader(ShardId(id))) {
            assert!(Instant::now() < deadline, "no leader");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        store
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn single_node_store_proposes_applies_and_reads() {
        let dir = tempfile::tempdir().unwrap();
        let store = lone_store(dir.path(), &[0, 1]).await;
        for i in 0..10 {
            let entry = WriteEntry {
                now_ms: i,
                ops: Vec::new(),
            };
            let results = store.propose(ShardId(i % 2), &entry).await.unwrap();
            assert!(results.is_empty());
        }
        let applied = store
            .read_with(ShardId(0), ReadConsistency::Linearizable, |data| {
                data.state().applied_index
            })
            .await
            .unwrap();
        assert!(
            applied >= 7,
            "leader no-op plus five entries, got {applied}"
        );
        assert_eq!(store.applied_index(ShardId(0)), Some(applied));
        assert_eq!(store.leader_of(ShardId(1)), Some(NodeId(1)));
        store.stop();
        assert_eq!(
            store
                .propose(
                    ShardId(0),
                    &WriteEntry {
                        now_ms: 0,
                        ops: Vec::new()
                    }
                )
                .await
                .unwrap_err(),
            ClusterError::Stopped
        );
    }

    /// A plain SET is answered at commit, before it applies; a linearizable read that starts
    /// after the answer must still see it, on a sole leader too (which reads without a
    /// ReadIndex round or a lease).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_answered_at_commit_is_seen_by_the_next_read() {
        use storage::types::string::{ExpiryChange, SetCond, StringRead, StringWrite};
        use storage::{Output, ReadOp, WriteOp};
        let dir = tempfile::tempdir().unwrap();
        let store = lone_store(dir.path(), &[1]).await;
        let get = ReadOp::String(StringRead::Get { key: b"k".to_vec() });
        for i in 0..500u64 {
            let set = StringWrite::Set {
                key: b"k".to_vec(),
                value: i.to_string().into_bytes(),
                cond: SetCond::Always,
                expiry: ExpiryChange::Clear,
                get: false,
            };
            let entry = WriteEntry {
                now_ms: 1,
                ops: vec![WriteOp::String(set)],
            };
            assert!(entry.results_without_state().is_some());
            store.propose(ShardId(1), &entry).await.unwrap();
            let read = store.read(ShardId(1), &get, 1, ReadConsistency::Linearizable);
            let value = read.await.unwrap().unwrap();
            assert_eq!(value, Output::bulk(i.to_string()), "write {i}");
        }
        store.stop();
    }
}
