//! The store loop: one thread drives every [`Peer`] (one per shard replica) of a [`Store`],
//! and hands committed entries to the apply worker thread (`apply.rs`).
//!
//! [`Store`]: super::store::Store
//!
//! The loop follows the `raft` crate's driver contract for all peers at once (MULTI_RAFT.md):
//!
//! 1. **Inputs**: ticks (peers that are quiesced are skipped), inbound message batches,
//!    proposals (batched per shard into one `propose_batch`), read requests.
//! 2. **Collect** every peer's Ready and decide without I/O ([`Outbox::collect`]).
//! 3. **Send** `messages` to their nodes, one batch per destination.
//! 4. **Persist** the log writes of *all* peers in one `WriteBatch`, with at most one fsync.
//! 5. **Send** `persisted_messages`.
//! 6. **Finish** each peer: conf changes, confirmed reads, `advance`.
//! 7. **Apply**: committed entries go to the apply worker (`apply.rs`), which completes the
//!    proposers' futures once their entry is applied.
//!    Committed entries that an earlier round already made durable here (all of them below
//!    the first entry this Ready appends, no snapshot, no conf change) go to the worker
//!    before step 3 instead: the contract's "apply after persist" holds for them already, and
//!    a lone leader's replies then do not wait for the next round's fsync.
//!
//! Raft's own notion of "applied" is the hand-off to the apply worker (which applies in
//! order); reads wait for the worker's applied index, published on a watch channel.
//!
//! Snapshots: a leader's `Snapshot` messages do not go out with the batches; each is handed to
//! a sender thread (at most `snapshot_sends_max` at once) that streams the shard's data and
//! reports the outcome back to the loop, which tells Raft (`report_snapshot`). See
//! `snapshot.rs`. Log compaction: every ten ticks, a shard whose applied index is
//! `log_compact_entries_min` past the log's start (or whose log grew by
//! `log_compact_bytes_min`) has its log deleted up to `log_compact_keep_entries` before the
//! applied index (one range delete on the `raft` column family).
//!
//! Failure detection: every `probe_interval_ticks` the store sends an empty batch to every
//! node it shares a shard with; a node not heard from for `node_down_after_ticks`, or one
//! the transport reports unreachable, gets its shared groups woken (driver contract rule 9),
//! so quiesced followers of a dead leader start an election.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use raft::{MessageType, NodeId, SnapshotStatus};
use router::ShardId;
use storage::{Db, ShardStore};

use super::apply::{self, ApplyBatch};
use super::error::ClusterError;
use super::log_store::{self, LogWrite};
use super::peer::{Peer, PeerReady, Proposal, ReadResponder};
use super::snapshot::{self, SendJob};
use super::store::{Counters, StoreConfig, StoreMsg};
use super::transport::{SendError, ShardMessage, Transport};

/// Everything one round decided for all peers: the store loop's to-do list.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Log writes of every peer, for one `WriteBatch`.
    pub writes: Vec<LogWrite>,
    /// Whether the batch must be synced (any peer's Ready required it).
    pub must_sync: bool,
    /// Messages that may go before the persist, grouped by destination node.
    pub messages: BTreeMap<NodeId, Vec<ShardMessage>>,
    /// Messages that go after the persist, grouped by destination node.
    pub persisted_messages: BTreeMap<NodeId, Vec<ShardMessage>>,
    /// Committed entries per shard for the apply worker, once the round's writes are durable.
    pub applies: Vec<ApplyBatch>,
    /// Committed entries already durable here: to the apply worker before the round's persist,
    /// so a lone leader's replies do not wait for the next round's fsync.
    pub durable_applies: Vec<ApplyBatch>,
    /// Leader snapshot messages with data, for snapshot sender threads (not the batches).
    pub snapshots: Vec<ShardMessage>,
}

impl Outbox {
    /// Gathers the I/O of the given Readys (their conf changes and read states stay behind
    /// for [`Peer::on_persisted`]).
    pub fn collect(readys: &mut [(ShardId, PeerReady)]) -> Outbox {
        let mut out = Outbox::default();
        for (shard, rd) in readys.iter_mut() {
            out.writes.append(&mut rd.writes);
            out.must_sync |= rd.must_sync;
            for msg in rd.messages.drain(..) {
                let sm = ShardMessage { shard: *shard, msg };
                if is_streamed_snapshot(&sm) {
                    out.snapshots.push(sm);
                } else {
                    out.messages.entry(sm.msg.to).or_default().push(sm);
                }
            }
            for msg in rd.persisted_messages.drain(..) {
                let sm = ShardMessage { shard: *shard, msg };
                if is_streamed_snapshot(&sm) {
                    out.snapshots.push(sm);
                } else {
                    out.persisted_messages
                        .entry(sm.msg.to)
                        .or_default()
                        .push(sm);
                }
            }
            if !rd.applies.is_empty() || rd.install.is_some() {
                let batch = ApplyBatch {
                    shard: *shard,
                    install: rd.install.take(),
                    entries: std::mem::take(&mut rd.applies),
                };
                if rd.applies_durable && batch.install.is_none() {
                    out.durable_applies.push(batch);
                } else {
                    out.applies.push(batch);
                }
            }
        }
        out
    }
}

/// On a leader, the lowest index a follower (or learner) is known to hold.
fn slowest_follower(peer: &Peer) -> Option<u64> {
    let status = peer.raw().status();
    status
        .progress
        .iter()
        .filter(|(id, _)| **id != status.id)
        .map(|(_, p)| p.matched)
        .min()
}

/// Whether `sm` is a snapshot whose data must be streamed (the bootstrap snapshot, which has
/// none, travels in a batch like any message).
fn is_streamed_snapshot(sm: &ShardMessage) -> bool {
    sm.msg.msg_type == MessageType::Snapshot
        && sm.msg.snapshot.as_ref().is_some_and(|s| !s.data.is_empty())
}

/// The store loop's state; runs on its own thread.
pub(crate) struct StoreLoop {
    cfg: StoreConfig,
    db: Arc<Db>,
    peers: BTreeMap<ShardId, Peer>,
    /// Every shard's data (applied index for compaction, views for snapshots).
    data: BTreeMap<ShardId, Arc<ShardStore>>,
    transport: Arc<dyn Transport>,
    apply_tx: SyncSender<ApplyBatch>,
    /// The loop's own inbox, for snapshot sender threads to report back.
    self_tx: SyncSender<StoreMsg>,
    /// Snapshot sender threads running. Invariant: `<= snapshot_sends_max`.
    snapshot_sends: usize,
    /// Sender threads started (finished ones are pruned as new ones start).
    snapshot_threads: Vec<JoinHandle<()>>,
    /// Set when the loop stops: sender threads give up at their next chunk.
    cancel_snapshots: Arc<AtomicBool>,
    counters: Arc<Counters>,
    inbox: Receiver<StoreMsg>,
    /// Ticks since start.
    ticks: u64,
    /// When the next tick is due.
    next_tick: Instant,
    next_read_ctx: u64,
    /// Tick at which each other node was last heard from.
    last_heard: HashMap<NodeId, u64>,
    /// Proposals gathered this round, per shard, proposed together.
    proposals: BTreeMap<ShardId, Vec<Proposal>>,
    /// Linearizable reads gathered this round, per shard, confirmed by one ReadIndex.
    reads: BTreeMap<ShardId, Vec<(Instant, ReadResponder)>>,
    /// Every node this store shares a shard with, as of the last refresh.
    members: BTreeSet<NodeId>,
}

/// Ticks between refreshes of the set of nodes this store shares shards with.
const MEMBERS_REFRESH_TICKS: u64 = 50;
/// Ticks between checks of every shard's log against the compaction thresholds.
const COMPACT_CHECK_TICKS: u64 = 10;

impl StoreLoop {
    /// A loop over `peers` (with their shards' `data`), reading `inbox` (whose sender the
    /// loop keeps for its snapshot sender threads) and handing committed entries to
    /// `apply_tx`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        cfg: StoreConfig,
        db: Arc<Db>,
        peers: BTreeMap<ShardId, Peer>,
        data: BTreeMap<ShardId, Arc<ShardStore>>,
        transport: Arc<dyn Transport>,
        apply_tx: SyncSender<ApplyBatch>,
        inbox: (SyncSender<StoreMsg>, Receiver<StoreMsg>),
        counters: Arc<Counters>,
    ) -> StoreLoop {
        let next_tick = Instant::now() + Duration::from_millis(cfg.tick_interval_ms.max(1));
        StoreLoop {
            cfg,
            db,
            peers,
            data,
            transport,
            apply_tx,
            self_tx: inbox.0,
            snapshot_sends: 0,
            snapshot_threads: Vec::new(),
            cancel_snapshots: Arc::default(),
            counters,
            inbox: inbox.1,
            ticks: 0,
            next_tick,
            next_read_ctx: 0,
            last_heard: HashMap::new(),
            proposals: BTreeMap::new(),
            reads: BTreeMap::new(),
            members: BTreeSet::new(),
        }
    }

    /// Runs until stopped, then cancels and joins the snapshot sender threads (they hold the
    /// database open, which a restart in the same directory needs closed).
    pub(crate) fn run(&mut self) {
        self.run_until_stop();
        self.cancel_snapshots.store(true, Ordering::Release);
        for t in self.snapshot_threads.drain(..) {
            let _ = t.join();
        }
    }

    fn run_until_stop(&mut self) {
        let mut busy = false;
        loop {
            let wait = if busy {
                Duration::ZERO
            } else {
                self.next_tick.saturating_duration_since(Instant::now())
            };
            match self.inbox.recv_timeout(wait) {
                Ok(StoreMsg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(msg) => self.on_msg(msg),
                Err(RecvTimeoutError::Timeout) => {}
            }
            for _ in 0..self.cfg.inputs_per_round_max {
                match self.inbox.try_recv() {
                    Ok(StoreMsg::Stop) => return,
                    Ok(msg) => self.on_msg(msg),
                    Err(_) => break,
                }
            }
            // After the inputs and before the reads they brought are started: a lease read
            // is then checked against a clock no older than the read (see `catch_up_ticks`).
            self.catch_up_ticks();
            self.flush_proposals();
            busy = self.run_round();
        }
    }

    /// Ticks once for every tick interval that passed since the last tick, so Raft's clock
    /// never runs behind the wall clock, even after the loop was held up (a slow fsync, the
    /// thread not scheduled): a leader counts its lease in ticks, and a lease read checked
    /// against a clock that fell behind could outlive the lease. Peers get at most
    /// `election_ticks + 1` ticks at once (by then every lease and election timeout has run
    /// out, so more would change nothing); the node-level chores of a tick run once.
    fn catch_up_ticks(&mut self) {
        let now = Instant::now();
        if now < self.next_tick {
            return;
        }
        let interval = Duration::from_millis(self.cfg.tick_interval_ms.max(1));
        let mut due = 0u64;
        while now >= self.next_tick && due <= self.cfg.election_ticks {
            due += 1;
            self.next_tick += interval;
        }
        if now >= self.next_tick {
            self.next_tick = now + interval;
        }
        self.on_tick(now, due);
    }

    fn on_msg(&mut self, msg: StoreMsg) {
        match msg {
            StoreMsg::Raft { from, batch } => self.on_raft(from, batch),
            StoreMsg::Unreachable(node) => self.on_unreachable(node, true),
            StoreMsg::Propose { shard, proposal } => self.on_propose(shard, proposal),
            StoreMsg::Read {
                shard,
                deadline,
                responder,
            } => self.on_read(shard, deadline, responder),
            StoreMsg::Campaign(shard) => {
                if let Some(peer) = self.peers.get_mut(&shard) {
                    if let Err(e) = peer.raw_mut().campaign() {
                        tracing::debug!(%shard, error = %e, "campaign refused");
                    }
                }
            }
            StoreMsg::Transfer { shard, to } => {
                if let Some(peer) = self.peers.get_mut(&shard) {
                    if let Err(e) = peer.raw_mut().transfer_leader(to) {
                        tracing::debug!(%shard, %to, error = %e, "leader transfer refused");
                    }
                }
            }
            StoreMsg::SnapshotSent { shard, to, status } => {
                self.snapshot_sends -= 1;
                if let Some(peer) = self.peers.get_mut(&shard) {
                    peer.raw_mut().report_snapshot(to, status);
                }
            }
            StoreMsg::Stop => {}
        }
    }

    /// Starts a sender thread streaming `sm`'s snapshot, or reports a failure at once when
    /// `snapshot_sends_max` streams are running (Raft retries later).
    fn start_snapshot_send(&mut self, sm: ShardMessage) {
        let (shard, to) = (sm.shard, sm.msg.to);
        let data = self.data.get(&shard).map(Arc::clone);
        let Some(data) = data.filter(|_| self.snapshot_sends < self.cfg.snapshot_sends_max) else {
            if let Some(peer) = self.peers.get_mut(&shard) {
                peer.raw_mut().report_snapshot(to, SnapshotStatus::Failure);
            }
            return;
        };
        let job = SendJob {
            shard,
            to,
            message: sm.msg,
            data,
            chunk_bytes_max: self.cfg.snapshot_chunk_bytes_max,
            bytes_per_sec_max: self.cfg.snapshot_bytes_per_sec_max,
            cancel: Arc::clone(&self.cancel_snapshots),
        };
        let transport = Arc::clone(&self.transport);
        let tx = self.self_tx.clone();
        let counters = Arc::clone(&self.counters);
        let spawned = std::thread::Builder::new()
            .name(format!("redraft-snap-{shard}-{to}"))
            .spawn(move || {
                let status = match snapshot::send(&job, transport.as_ref()) {
                    Ok(bytes) => {
                        counters.snapshots_sent.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(%shard, %to, bytes, "snapshot sent");
                        SnapshotStatus::Finish
                    }
                    Err(e) => {
                        counters.snapshots_failed.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(%shard, %to, error = %e, "snapshot send failed");
                        SnapshotStatus::Failure
                    }
                };
                // A stopped loop no longer cares; never block on its inbox (it joins us).
                let _ = tx.try_send(StoreMsg::SnapshotSent { shard, to, status });
            });
        match spawned {
            Ok(handle) => {
                self.snapshot_sends += 1;
                self.snapshot_threads.retain(|t| !t.is_finished());
                self.snapshot_threads.push(handle);
            }
            Err(e) => {
                tracing::warn!(%shard, %to, error = %e, "cannot start a snapshot sender");
                if let Some(peer) = self.peers.get_mut(&shard) {
                    peer.raw_mut().report_snapshot(to, SnapshotStatus::Failure);
                }
            }
        }
    }

    /// Compacts the log of every shard past its thresholds (see the module docs), in one
    /// unsynced batch: losing a compaction in a crash only keeps entries longer.
    fn maybe_compact_logs(&mut self) {
        let mut writes = Vec::new();
        for (shard, peer) in &mut self.peers {
            let Some(data) = self.data.get(shard) else {
                continue;
            };
            let applied = data.state().applied_index;
            let log = peer.raw().store();
            let first = log.truncated_index() + 1;
            let behind = applied.saturating_sub(first);
            if behind < self.cfg.log_compact_entries_min
                && log.appended_bytes() < self.cfg.log_compact_bytes_min
            {
                continue;
            }
            let mut to = applied.saturating_sub(self.cfg.log_compact_keep_entries);
            if let Some(slowest) = slowest_follower(peer) {
                if applied.saturating_sub(slowest) <= self.cfg.log_lag_entries_max {
                    to = to.min(slowest);
                }
            }
            match peer.raw_mut().store_mut().compact(to, &mut writes) {
                Ok(true) => {
                    peer.publish_log_start();
                    self.counters
                        .log_compactions
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%shard, to, "log compacted");
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(%shard, to, error = %e, "log compaction refused"),
            }
        }
        self.persist(&writes, false);
    }

    fn on_raft(&mut self, from: NodeId, batch: Vec<ShardMessage>) {
        // A message may start a lease read here (a follower's ReadIndex, or reads released
        // by a commit): the clock must not be older than the message.
        self.catch_up_ticks();
        self.last_heard.insert(from, self.ticks);
        // Only this loop writes the set, so a read then a write is not a race.
        let was_down = self.counters.down_nodes.read().contains(&from);
        if was_down && self.counters.down_nodes.write().remove(&from) {
            tracing::info!(node = %self.cfg.node_id, peer = %from, "node is back");
        }
        let (tick_began, interval) = self.tick_began();
        let mut last = None;
        for sm in batch {
            let Some(peer) = self.peers.get_mut(&sm.shard) else {
                tracing::debug!(shard = %sm.shard, %from, "message for a shard with no replica here");
                continue;
            };
            if let Err(e) = peer.raw_mut().step(sm.msg) {
                tracing::debug!(shard = %sm.shard, %from, error = %e, "message refused");
            }
            // Heartbeat acknowledgements renew the lease. A batch holds a shard's messages
            // together, so publish when the batch moves on to another shard (and at its end).
            if last.is_some_and(|s| s != sm.shard) {
                self.publish_lease(last, tick_began, interval);
            }
            last = Some(sm.shard);
        }
        self.publish_lease(last, tick_began, interval);
    }

    /// When the current tick began on the loop's clock, and the tick interval.
    fn tick_began(&self) -> (Instant, Duration) {
        let interval = Duration::from_millis(self.cfg.tick_interval_ms.max(1));
        (self.next_tick - interval, interval)
    }

    /// Publishes `shard`'s lease (see `Peer::publish_lease`); nothing to do without lease reads.
    fn publish_lease(&self, shard: Option<ShardId>, tick_began: Instant, interval: Duration) {
        if !self.cfg.lease_read {
            return;
        }
        if let Some(peer) = shard.and_then(|s| self.peers.get(&s)) {
            peer.publish_lease(tick_began, interval);
        }
    }

    /// A node could not be reached: tell the groups shared with it (their leaders slow down
    /// replication to it) and, if `wake`, wake them so quiesced followers notice a dead leader.
    fn on_unreachable(&mut self, node: NodeId, wake: bool) {
        for peer in self.peers.values_mut() {
            if peer.other_members().contains(&node) {
                peer.raw_mut().report_unreachable(node);
                if wake {
                    peer.raw_mut().wake();
                }
            }
        }
    }

    fn on_propose(&mut self, shard: ShardId, proposal: Proposal) {
        let Some(peer) = self.peers.get(&shard) else {
            apply::fail(proposal.responder, ClusterError::UnknownShard(shard));
            return;
        };
        let queued = self.proposals.get(&shard).map_or(0, Vec::len);
        if peer.pending_count() + queued >= self.cfg.pending_requests_per_shard_max {
            apply::fail(
                proposal.responder,
                ClusterError::Busy("pending_requests_per_shard_max"),
            );
            return;
        }
        self.proposals.entry(shard).or_default().push(proposal);
    }

    fn on_read(&mut self, shard: ShardId, deadline: Instant, responder: ReadResponder) {
        let Some(peer) = self.peers.get_mut(&shard) else {
            let _ = responder.send(Err(ClusterError::UnknownShard(shard)));
            return;
        };
        if peer.pending_count() >= self.cfg.pending_requests_per_shard_max {
            let _ = responder.send(Err(ClusterError::Busy("pending_requests_per_shard_max")));
            return;
        }
        self.reads
            .entry(shard)
            .or_default()
            .push((deadline, responder));
    }

    /// Hands the pass's proposals to their peers, and starts one ReadIndex round per shard
    /// for all the reads that arrived in the pass.
    fn flush_proposals(&mut self) {
        for (shard, batch) in std::mem::take(&mut self.proposals) {
            if let Some(peer) = self.peers.get_mut(&shard) {
                peer.propose(batch);
            }
        }
        for (shard, waiters) in std::mem::take(&mut self.reads) {
            if let Some(peer) = self.peers.get_mut(&shard) {
                self.next_read_ctx += 1;
                peer.read_index_batch(self.next_read_ctx.to_be_bytes().to_vec(), waiters);
            }
        }
    }

    /// `ticks` ticks of every peer at once (see `catch_up_ticks`), then the node's chores
    /// (membership refresh, liveness probes, log compaction, failure detection), each run
    /// when its period was crossed.
    fn on_tick(&mut self, now: Instant, ticks: u64) {
        let before = self.ticks;
        self.ticks += ticks;
        let after = self.ticks;
        let crossed = |period: u64| before / period.max(1) != after / period.max(1);
        for peer in self.peers.values_mut() {
            for _ in 0..ticks {
                peer.tick();
            }
            peer.expire(now);
        }
        // Group membership changes rarely: recompute the node set now and then, not every tick
        // (a walk over every peer, which shows with a thousand idle shards).
        if crossed(MEMBERS_REFRESH_TICKS) || self.members.is_empty() {
            self.members = self.other_nodes();
        }
        let nodes = self.members.clone();
        if crossed(self.cfg.probe_interval_ticks) {
            for &node in &nodes {
                if self.transport.send(node, Vec::new()).is_err() {
                    self.on_unreachable(node, true);
                }
            }
        }
        if crossed(COMPACT_CHECK_TICKS) {
            self.maybe_compact_logs();
        }
        for node in nodes {
            let heard = *self.last_heard.entry(node).or_insert(self.ticks);
            let silent = self.ticks - heard > self.cfg.node_down_after_ticks;
            if silent && self.counters.down_nodes.write().insert(node) {
                tracing::info!(node = %self.cfg.node_id, peer = %node, "node seems down; waking shared groups");
                self.on_unreachable(node, true);
            }
        }
    }

    /// Every node this store shares a shard with.
    fn other_nodes(&self) -> BTreeSet<NodeId> {
        self.peers.values().flat_map(Peer::other_members).collect()
    }

    /// One round over every peer with a Ready: persist once, send, finish, apply. Returns
    /// whether any peer had a Ready (so the loop polls again at once).
    fn run_round(&mut self) -> bool {
        let mut readys: Vec<(ShardId, PeerReady)> = self
            .peers
            .iter_mut()
            .filter_map(|(shard, peer)| peer.handle_ready().map(|rd| (*shard, rd)))
            .collect();
        if readys.is_empty() {
            return false;
        }
        // Before anything goes out: a lease that ended (a transfer's TimeoutNow is in this
        // round's messages, or leadership was lost) must be withdrawn before another node can
        // act on it, and the published commit index must cover this round's applies.
        let (tick_began, interval) = self.tick_began();
        for (shard, _) in &readys {
            self.publish_lease(Some(*shard), tick_began, interval);
        }
        let mut outbox = Outbox::collect(&mut readys);
        self.counters.rounds.fetch_add(1, Ordering::Relaxed);
        for sm in std::mem::take(&mut outbox.snapshots) {
            self.start_snapshot_send(sm);
        }
        for batch in std::mem::take(&mut outbox.durable_applies) {
            self.send_apply(batch);
        }
        self.send_all(outbox.messages);
        self.persist(&outbox.writes, outbox.must_sync);
        self.send_all(outbox.persisted_messages);
        let mut conf_writes = Vec::new();
        for (shard, rd) in &mut readys {
            if let Some(peer) = self.peers.get_mut(shard) {
                peer.on_persisted(rd, &mut conf_writes);
            }
        }
        // Written before the entries are applied, so a durable applied index always implies
        // a durable configuration as of it (the WAL keeps write order).
        self.persist(&conf_writes, false);
        for batch in outbox.applies {
            self.send_apply(batch);
        }
        true
    }

    /// Hands committed entries to the apply worker (waits while its queue is full), first
    /// answering the proposers whose results are known before applying.
    fn send_apply(&self, mut batch: ApplyBatch) {
        if let Some(peer) = self.peers.get(&batch.shard) {
            peer.answer_known(&mut batch.entries);
        }
        self.apply_tx
            .send(batch)
            .unwrap_or_else(|_| panic!("node {}: the apply worker stopped", self.cfg.node_id));
    }

    fn send_all(&mut self, batches: BTreeMap<NodeId, Vec<ShardMessage>>) {
        for (node, batch) in batches {
            let shards: Vec<ShardId> = batch.iter().map(|m| m.shard).collect();
            self.counters.batches_sent.fetch_add(1, Ordering::Relaxed);
            match self.transport.send(node, batch) {
                Ok(()) => {}
                Err(e) => {
                    for shard in shards {
                        if let Some(peer) = self.peers.get_mut(&shard) {
                            peer.raw_mut().report_unreachable(node);
                        }
                    }
                    if e == SendError::Unreachable {
                        self.on_unreachable(node, true);
                    }
                }
            }
        }
    }

    /// Writes the round's log writes in one batch, synced if `sync`.
    ///
    /// The fsync is not the write's own (`WriteOptions::sync`) but a separate `Db::sync_wal`
    /// after it: RocksDB runs a synced write inside its write group, so the apply worker's
    /// next write (which needs no fsync) would queue behind this one's fsync, and replies to
    /// entries already committed would wait for the next round's log to reach the disk.
    /// `sync_wal` writes out the WAL buffer (this batch is in it) and fsyncs while other
    /// writes go on; once it returns the batch is as durable as a synced write.
    ///
    /// # Panics
    /// If RocksDB fails: Raft has been told nothing yet, but its in-memory log already holds
    /// the entries, so the node stops rather than continue with a log it cannot persist.
    fn persist(&self, writes: &[LogWrite], sync: bool) {
        if writes.is_empty() {
            return;
        }
        let c = &self.counters;
        c.log_writes
            .fetch_add(writes.len() as u64, Ordering::Relaxed);
        if sync {
            c.rounds_synced.fetch_add(1, Ordering::Relaxed);
        }
        let mut batch = rocksdb::WriteBatch::default();
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(false);
        let result = log_store::stage_writes(&self.db, &mut batch, writes)
            .and_then(|()| self.db.rocks().write_opt(batch, &opts).map_err(Into::into))
            .and_then(|()| if sync { self.db.sync_wal() } else { Ok(()) });
        if let Err(e) = result {
            panic!(
                "node {}: persisting the Raft log failed: {e}",
                self.cfg.node_id
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::store::{open_peer, ShardReplicas};
    use storage::{keys, WriteEntry};
    use tokio::sync::oneshot;

    fn open_db(dir: &std::path::Path) -> Arc<Db> {
        Db::open(dir, &storage::StorageConfig::default()).unwrap()
    }

    fn persist(db: &Db, writes: &[LogWrite]) {
        let mut batch = rocksdb::WriteBatch::default();
        log_store::stage_writes(db, &mut batch, writes).unwrap();
        db.rocks().write(batch).unwrap();
    }

    fn log_put_at(writes: &[LogWrite], shard: u64, index: u64) -> bool {
        let key = keys::raft_log_key(shard, index);
        writes
            .iter()
            .any(|w| matches!(w, LogWrite::Put { key: k, .. } if k[..] == key[..]))
    }

    #[test]
    fn a_round_persists_entries_then_hands_committed_ones_to_apply_with_their_proposer() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_db(dir.path());
        let cfg = StoreConfig::new(NodeId(1));
        let spec = ShardReplicas {
            shard: ShardId(5),
            nodes: vec![NodeId(1)],
        };
        let (mut peer, _handle, _target) = open_peer(&cfg, &db, &spec).unwrap();
        peer.raw_mut().campaign().unwrap();
        // Round 1: the new leader's term and its no-op entry must be synced.
        let mut readys = vec![(ShardId(5), peer.handle_ready().unwrap())];
        let out = Outbox::collect(&mut readys);
        assert!(out.must_sync);
        assert!(log_put_at(&out.writes, 5, 2), "{:?}", out.writes);
        assert!(out.messages.is_empty() && out.persisted_messages.is_empty());
        persist(&db, &out.writes);
        peer.on_persisted(&mut readys[0].1, &mut Vec::new());

        let (responder, mut rx) = oneshot::channel();
        let deadline = Instant::now() + Duration::from_secs(5);
        let data = WriteEntry {
            now_ms: 7,
            ops: Vec::new(),
        }
        .encode();
        peer.propose(vec![Proposal {
            data,
            deadline,
            responder,
            known_results: None,
            chain: None,
        }]);
        let mut handed = Vec::new();
        for _ in 0..4 {
            let Some(rd) = peer.handle_ready() else { break };
            let mut readys = vec![(ShardId(5), rd)];
            let out = Outbox::collect(&mut readys);
            persist(&db, &out.writes);
            peer.on_persisted(&mut readys[0].1, &mut Vec::new());
            // Entries committed after an earlier round made them durable may go first.
            let batches = out.durable_applies.into_iter().chain(out.applies);
            handed.extend(batches.flat_map(|b| b.entries));
        }
        let mine: Vec<_> = handed.iter().filter(|e| e.responder.is_some()).collect();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].index, 3);
        assert!(rx.try_recv().is_err(), "completed only by the apply worker");
    }
}
