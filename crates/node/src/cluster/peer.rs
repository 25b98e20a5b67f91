//! [`Peer`]: one replica of one shard on this node: its `RawNode` over a [`LogStore`], the
//! proposals and reads waiting on it, and the decisions taken for each of its `Ready`s.
//!
//! Nothing here does I/O. [`Peer::handle_ready`] turns a Ready into a [`PeerReady`] (log
//! writes to stage, messages to send before and after the persist, entries to apply with the
//! proposers waiting on them); the store loop does the I/O and then calls
//! [`Peer::on_persisted`], which applies conf changes, answers reads and advances Raft.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use raft::{
    ConfChange, Entry, EntryKind, Message, NodeId, RawNode, ReadState, Ready, SoftState, StateRole,
};
use router::ShardId;
use storage::ExecResult;
use tokio::sync::oneshot;

use super::apply::{self, ApplyEntry, Responder};
use super::chain::{ChainLink, Chains};
use super::error::{ClusterError, ClusterResult};
use super::log_store::{LogStore, LogWrite};

/// Answers a read request with the index the read must wait for.
pub type ReadResponder = oneshot::Sender<ClusterResult<u64>>;

/// A proposal accepted into the log, waiting for its entry to be applied.
#[derive(Debug)]
struct PendingProposal {
    index: u64,
    term: u64,
    deadline: Instant,
    responder: Responder,
    known_results: Option<Vec<ExecResult>>,
}

/// A read-index request waiting for the leader to confirm its leadership.
#[derive(Debug)]
struct PendingRead {
    ctx: Vec<u8>,
    /// Every read confirmed by this one ReadIndex round, with its deadline.
    waiters: Vec<(Instant, ReadResponder)>,
}

/// What a peer publishes for the store handle, without a round trip to the store loop.
#[derive(Debug, Default)]
pub struct PeerStatus {
    /// The leader this peer knows of (0: none).
    pub leader: AtomicU64,
    /// Woken (every waiter) when [`PeerStatus::leader`] changes.
    pub leader_changed: tokio::sync::Notify,
    /// Whether the group is quiesced here (as of the last tick).
    pub quiescent: AtomicBool,
    /// Whether this replica leads a group whose only voter it is: no other node can be
    /// elected, so once [`PeerStatus::term_start`] is applied here (every entry committed
    /// before this term is then applied too, e.g. the log replayed after a restart) its
    /// applied state is a linearizable read without a ReadIndex round.
    pub sole_leader: AtomicBool,
    /// Index of the first entry of this replica's leadership term (its no-op), set when it
    /// becomes leader.
    pub term_start: AtomicU64,
    /// This replica's leader lease, while it leads under one (see [`Peer::publish_lease`]).
    pub lease: Mutex<Option<Lease>>,
    /// The highest log index whose proposer was answered before the entry applied (with its
    /// known results, at commit). A read that must see every answered write waits for the
    /// applied index to reach it too.
    pub answered_early: AtomicU64,
    /// The first index still in this replica's log (entries below it were compacted or
    /// replaced by a snapshot), as of the last Ready or compaction.
    pub log_start: AtomicU64,
}

/// A leader lease as the store handle sees it: until `until`, a linearizable read may be
/// served here once the applied index reaches `commit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// When the lease ends (the start of the tick at which Raft's lease runs out).
    pub until: Instant,
    /// The commit index when the lease was published: it covers every entry committed in
    /// earlier terms (the lease needs an entry of this term committed). A write is
    /// acknowledged once applied, or, when its results are known before it applies, once
    /// committed and after a lease covering it is published; so a read that waits for this
    /// index and then reads the latest applied state sees every acknowledged write.
    pub commit: u64,
}

impl PeerStatus {
    /// The index a linearizable read at `now` must wait for, if the lease holds then.
    pub fn lease_read_index(&self, now: Instant) -> Option<u64> {
        let lease = (*self.lease.lock())?;
        (now < lease.until).then_some(lease.commit)
    }
}

/// One proposal handed to [`Peer::propose`].
#[derive(Debug)]
pub struct Proposal {
    /// The encoded `WriteEntry`.
    pub data: Vec<u8>,
    /// When the proposer gives up.
    pub deadline: Instant,
    /// Where the results go.
    pub responder: Responder,
    /// The entry's results when they are known before it applies
    /// (`WriteEntry::results_without_state`): the proposer then gets them once the entry is
    /// committed, without waiting for the apply worker.
    pub known_results: Option<Vec<ExecResult>>,
    /// The session's chain this write belongs to; `None` for the node's own writes (expiry,
    /// placement), which no session orders.
    pub chain: Option<ChainLink>,
}

/// The decisions for one Ready of one peer, for the store loop to carry out.
#[derive(Debug, Default)]
pub struct PeerReady {
    /// Writes to the `raft` column family (snapshot, entries, hard state).
    pub writes: Vec<LogWrite>,
    /// Whether the writes must be synced before `persisted_messages` go out.
    pub must_sync: bool,
    /// Messages that may be sent before the persist.
    pub messages: Vec<Message>,
    /// Messages to send only after the persist.
    pub persisted_messages: Vec<Message>,
    /// Committed entries for the apply worker, with the proposers waiting on them.
    pub applies: Vec<ApplyEntry>,
    /// A snapshot with data Raft accepted: its staged payload is installed before `applies`.
    pub install: Option<raft::SnapshotMetadata>,
    /// Whether `applies` may go to the apply worker before this Ready's writes are durable:
    /// every entry in it was persisted by an earlier round (it sorts below the first entry
    /// this Ready appends), and there is no snapshot or conf change to order against.
    pub applies_durable: bool,
    /// Committed conf changes, applied to Raft after the persist.
    conf_changes: Vec<(u64, ConfChange)>,
    /// Confirmed read points, answered after the persist.
    read_states: Vec<ReadState>,
}

/// One replica of one shard.
pub struct Peer {
    shard: ShardId,
    node: NodeId,
    raw: RawNode<LogStore>,
    /// Invariant: ascending by index.
    proposals: VecDeque<PendingProposal>,
    reads: Vec<PendingRead>,
    /// The last write of each session that wrote here recently, to keep sessions' writes in
    /// order across leader changes (see `chain`).
    chains: Chains,
    /// Leader hint and quiescence, shared with the store handle.
    status: Arc<PeerStatus>,
}

impl Peer {
    /// Wraps a Raft node over `log`; `status` is kept current for the store handle.
    pub fn new(shard: ShardId, raw: RawNode<LogStore>, status: Arc<PeerStatus>) -> Self {
        let node = raw.status().id;
        let peer = Peer {
            shard,
            node,
            raw,
            proposals: VecDeque::new(),
            reads: Vec::new(),
            chains: Chains::default(),
            status,
        };
        peer.publish_leader(peer.raw.soft_state());
        peer.publish_log_start();
        peer
    }

    /// The shard.
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// The Raft node (for inspection).
    pub fn raw(&self) -> &RawNode<LogStore> {
        &self.raw
    }

    /// The Raft node, for inputs (tick, step, wake, campaign).
    pub fn raw_mut(&mut self) -> &mut RawNode<LogStore> {
        &mut self.raw
    }

    /// The voters and learners of the group other than this node.
    pub fn other_members(&self) -> Vec<NodeId> {
        let cs = self.raw.store().conf_state().1;
        let mut ids: Vec<NodeId> = cs
            .voters
            .iter()
            .chain(&cs.learners)
            .chain(&cs.voters_outgoing)
            .copied()
            .filter(|id| *id != self.node)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Number of proposals and reads waiting here.
    pub fn pending_count(&self) -> usize {
        self.proposals.len() + self.reads.len()
    }

    /// Proposes a batch of entries (one Raft entry each). Proposals that cannot be accepted
    /// fail at once: `OutOfOrder` when an earlier write of the same session did not make it
    /// into this term's log (see `chain`), else `NotLeader` with the leader hint, or the
    /// Raft error.
    pub fn propose(&mut self, batch: Vec<Proposal>) {
        let term = self.raw.hard_state().term;
        let (batch, out_of_order): (Vec<Proposal>, Vec<Proposal>) =
            batch.into_iter().partition(|p| {
                p.chain
                    .is_none_or(|link| self.chains.admit(link, term, p.deadline))
            });
        for p in out_of_order {
            apply::fail(p.responder, ClusterError::OutOfOrder);
        }
        if batch.is_empty() {
            return;
        }
        let data: Vec<Vec<u8>> = batch.iter().map(|p| p.data.clone()).collect();
        match self.raw.propose_batch(data) {
            Ok(proposed) => {
                for (p, index) in batch.into_iter().zip(proposed.indexes) {
                    self.track_proposal(index, proposed.term, p);
                }
            }
            Err(e) => {
                let err = self.map_raft_error(e);
                for p in batch {
                    if let Some(link) = p.chain {
                        self.chains.refused(link, p.deadline);
                    }
                    apply::fail(p.responder, err.clone());
                }
            }
        }
    }

    /// Asks for a linearizable read point (leader only: a follower answers `NotLeader` so
    /// the server sends the read to the leader).
    pub fn read_index(&mut self, ctx: Vec<u8>, deadline: Instant, responder: ReadResponder) {
        self.read_index_batch(ctx, vec![(deadline, responder)]);
    }

    /// One ReadIndex round (`ctx` unique per round) confirming every read in `waiters`.
    pub fn read_index_batch(&mut self, ctx: Vec<u8>, waiters: Vec<(Instant, ReadResponder)>) {
        let failed = if self.raw.soft_state().role != StateRole::Leader {
            self.not_leader()
        } else {
            match self.raw.read_index(ctx.clone()) {
                Ok(()) => return self.reads.push(PendingRead { ctx, waiters }),
                Err(e) => self.map_raft_error(e),
            }
        };
        for (_, responder) in waiters {
            let _ = responder.send(Err(failed.clone()));
        }
    }

    /// Drops waiters whose deadline passed (their callers have already given up).
    pub fn expire(&mut self, now: Instant) {
        self.chains.expire(now);
        self.proposals
            .retain(|p| p.deadline > now && !p.responder.is_closed());
        for r in &mut self.reads {
            r.waiters
                .retain(|(deadline, w)| *deadline > now && !w.is_closed());
        }
        self.reads.retain(|r| !r.waiters.is_empty());
    }

    /// Takes the peer's Ready, if any, and decides what to do with it (no I/O).
    pub fn handle_ready(&mut self) -> Option<PeerReady> {
        if !self.raw.has_ready() {
            return None;
        }
        let mut rd: Ready = self.raw.ready();
        let mut out = PeerReady {
            must_sync: rd.must_sync,
            messages: std::mem::take(&mut rd.messages),
            persisted_messages: std::mem::take(&mut rd.persisted_messages),
            read_states: std::mem::take(&mut rd.read_states),
            ..Default::default()
        };
        let log = self.raw.store_mut();
        if let Some(snapshot) = &rd.snapshot {
            // A snapshot with data was staged on disk before Raft saw it; the apply worker
            // installs it. One without data is the (empty) bootstrap state.
            if !snapshot.data.is_empty() {
                out.install = Some(snapshot.metadata.clone());
            }
            // The new log position must be durable before the data is replaced, so a crash
            // either keeps the old state or redoes the install (`snapshot::recover_install`).
            out.must_sync = true;
            log.apply_snapshot(&snapshot.metadata, &mut out.writes);
        }
        let first_new = rd.entries.first().map(|e| e.index);
        log.append(&rd.entries, &mut out.writes);
        if let Some(hs) = rd.hard_state {
            log.set_hard_state(hs, &mut out.writes);
        }
        if rd.snapshot.is_some() {
            self.publish_log_start();
        }
        if let Some(ss) = rd.soft_state {
            self.on_soft_state(ss);
        }
        for e in std::mem::take(&mut rd.committed_entries) {
            self.on_committed(e, &mut out);
        }
        out.applies_durable = rd.snapshot.is_none()
            && out.conf_changes.is_empty()
            && match (first_new, out.applies.last()) {
                (Some(first), Some(last)) => last.index < first,
                _ => true,
            };
        Some(out)
    }

    /// After the Ready's writes are durable: applies its conf changes to Raft (staging the
    /// new configuration in `writes`), answers its confirmed reads, and advances.
    pub fn on_persisted(&mut self, ready: &mut PeerReady, writes: &mut Vec<LogWrite>) {
        for (index, cc) in std::mem::take(&mut ready.conf_changes) {
            // A conf change at or below the recorded one was applied before a restart.
            if index <= self.raw.store().conf_state().0 {
                continue;
            }
            match self.raw.apply_conf_change(&cc) {
                Ok(cs) => {
                    // A configuration growing past one voter ends local reads before the
                    // change can take effect anywhere.
                    self.raw.store_mut().set_conf_state(index, cs, writes);
                    self.publish_sole_leader();
                }
                Err(e) => {
                    tracing::warn!(shard = %self.shard, index, error = %e, "conf change refused")
                }
            }
        }
        for rs in std::mem::take(&mut ready.read_states) {
            if let Some(pos) = self.reads.iter().position(|r| r.ctx == rs.request_ctx) {
                let read = self.reads.swap_remove(pos);
                for (_, responder) in read.waiters {
                    let _ = responder.send(Ok(rs.index));
                }
            }
        }
        self.raw.advance();
    }

    fn on_committed(&mut self, e: Entry, out: &mut PeerReady) {
        let (responder, known_results) = self.take_responder(e.index, e.term).unzip();
        if e.kind == EntryKind::ConfChange {
            let cc = ConfChange::decode(&e.data).unwrap_or_else(|err| {
                panic!(
                    "shard {}: undecodable conf change at {}: {err}",
                    self.shard, e.index
                )
            });
            out.conf_changes.push((e.index, cc));
        }
        out.applies.push(ApplyEntry {
            index: e.index,
            term: e.term,
            kind: e.kind,
            data: e.data,
            responder,
            known_results: known_results.flatten(),
        });
    }

    /// Answers the proposers of committed `entries` whose results are known before they
    /// apply, after publishing the highest such index in [`PeerStatus::answered_early`]; the
    /// entries go on to the apply worker without them. The store loop calls this when it
    /// hands the entries over: after the round's lease is published (a lease read that starts
    /// after an answer then waits for its entry), and, for entries not yet durable here, after
    /// the persist.
    pub fn answer_known(&self, entries: &mut [ApplyEntry]) {
        let answerable = |e: &&mut ApplyEntry| e.responder.is_some() && e.known_results.is_some();
        let Some(last) = entries.iter_mut().filter(answerable).map(|e| e.index).max() else {
            return;
        };
        self.status
            .answered_early
            .fetch_max(last, Ordering::Release);
        for e in entries.iter_mut().filter(answerable) {
            if let (Some(responder), Some(results)) = (e.responder.take(), e.known_results.take()) {
                let _ = responder.send(Ok(results));
            }
        }
    }

    /// The proposer waiting for the entry at `index`, if that entry is the one it proposed
    /// (same term). Proposers of entries replaced by another leader's fail with
    /// `ProposalDropped`.
    fn take_responder(
        &mut self,
        index: u64,
        term: u64,
    ) -> Option<(Responder, Option<Vec<ExecResult>>)> {
        while let Some(front) = self.proposals.front() {
            if front.index > index {
                return None;
            }
            let p = self.proposals.pop_front().expect("front exists");
            if p.index == index && p.term == term {
                return Some((p.responder, p.known_results));
            }
            apply::fail(p.responder, ClusterError::ProposalDropped);
        }
        None
    }

    fn track_proposal(&mut self, index: u64, term: u64, p: Proposal) {
        // A new leader may reuse indexes of proposals made in an older term: those older
        // proposals' entries will be overwritten, so they fail now.
        while self.proposals.back().is_some_and(|b| b.index >= index) {
            let old = self.proposals.pop_back().expect("back exists");
            apply::fail(old.responder, ClusterError::ProposalDropped);
        }
        self.proposals.push_back(PendingProposal {
            index,
            term,
            deadline: p.deadline,
            responder: p.responder,
            known_results: p.known_results,
        });
    }

    fn on_soft_state(&mut self, ss: SoftState) {
        self.publish_leader(ss);
        tracing::debug!(shard = %self.shard, node = %self.node, role = ?ss.role, leader = ?ss.leader, "role change");
        if ss.role != StateRole::Leader {
            // Read-index requests are lost with the leadership; fail them so callers retry
            // against the new leader rather than wait for their deadline.
            let err = self.not_leader();
            for (_, responder) in self.reads.drain(..).flat_map(|r| r.waiters) {
                let _ = responder.send(Err(err.clone()));
            }
        }
    }

    fn publish_leader(&self, ss: SoftState) {
        let leader = ss.leader.map_or(0, |l| l.0);
        if ss.role == StateRole::Leader {
            // Becoming leader appended the term's no-op: the log's last entry.
            let start = self.raw.raft_log().last_index();
            self.status.term_start.store(start, Ordering::Release);
        }
        if self.status.leader.swap(leader, Ordering::AcqRel) != leader {
            self.status.leader_changed.notify_waiters();
        }
        self.publish_sole_leader();
    }

    /// Keeps [`PeerStatus::sole_leader`] true exactly while this replica leads a group whose
    /// only voter (with no learners or joint configuration) it is.
    fn publish_sole_leader(&self) {
        let cs = self.raw.store().conf_state().1;
        let sole = self.raw.soft_state().role == StateRole::Leader
            && cs.voters == [self.node]
            && cs.learners.is_empty()
            && cs.voters_outgoing.is_empty()
            && cs.learners_next.is_empty();
        self.status.sole_leader.store(sole, Ordering::Release);
    }

    /// Publishes the leader lease for reads that skip the store loop: while Raft holds the
    /// lease for `left` more ticks, it ends `left` tick intervals after `tick_began` (when
    /// the current tick began on the loop's clock, which catches up with the wall clock).
    /// Cleared when the lease is not in force (not leader, transfer started, lease lapsed).
    pub fn publish_lease(&self, tick_began: Instant, interval: Duration) {
        let lease = self.raw.lease_ticks_left().map(|left| Lease {
            until: tick_began + interval * u32::try_from(left).unwrap_or(u32::MAX),
            commit: self.raw.raft_log().committed(),
        });
        let mut slot = self.status.lease.lock();
        if *slot != lease {
            *slot = lease;
        }
    }

    /// Publishes where the log starts now ([`PeerStatus::log_start`]); call after a
    /// compaction.
    pub fn publish_log_start(&self) {
        let start = self.raw.store().truncated_index() + 1;
        self.status.log_start.store(start, Ordering::Release);
    }

    /// Advances Raft's time one tick, and publishes whether the group is quiesced here. A
    /// quiesced group's tick only moves its clock (no heartbeats, no election timer), and
    /// it must: a lease counted in ticks has to run out in a quiet group too.
    pub fn tick(&mut self) {
        self.raw.tick();
        let quiescent = self.raw.is_quiescent();
        self.status.quiescent.store(quiescent, Ordering::Release);
    }

    fn not_leader(&self) -> ClusterError {
        let leader = self.raw.soft_state().leader.filter(|l| *l != self.node);
        ClusterError::NotLeader {
            shard: self.shard,
            leader,
        }
    }

    fn map_raft_error(&self, e: raft::Error) -> ClusterError {
        match e {
            raft::Error::NotLeader { .. }
            | raft::Error::LeaderLeaving
            | raft::Error::TransferInProgress(_) => self.not_leader(),
            raft::Error::UncommittedLimitExceeded => ClusterError::Busy("max_uncommitted_bytes"),
            raft::Error::TooManyPendingReads => ClusterError::Busy("max_pending_reads"),
            other => ClusterError::Raft(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::store::{open_peer, ShardReplicas, StoreConfig};

    type ProposalRx = oneshot::Receiver<ClusterResult<Vec<storage::ExecResult>>>;

    fn proposal() -> (Proposal, ProposalRx) {
        chained(None)
    }

    fn chained(chain: Option<ChainLink>) -> (Proposal, ProposalRx) {
        let (responder, rx) = oneshot::channel();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let data = storage::WriteEntry {
            now_ms: 1,
            ops: Vec::new(),
        }
        .encode();
        (
            Proposal {
                data,
                deadline,
                responder,
                known_results: None,
                chain,
            },
            rx,
        )
    }

    fn peer(dir: &std::path::Path) -> Peer {
        let db = storage::Db::open(dir, &storage::StorageConfig::default()).unwrap();
        let spec = ShardReplicas {
            shard: ShardId(1),
            nodes: vec![NodeId(1), NodeId(2), NodeId(3)],
        };
        open_peer(&StoreConfig::new(NodeId(1)), &db, &spec)
            .unwrap()
            .0
    }

    #[test]
    fn only_proposers_with_known_results_are_answered_at_commit() {
        let dir = tempfile::tempdir().unwrap();
        let p = peer(dir.path());
        let entry = |index: u64, known: bool| {
            let (responder, rx) = oneshot::channel();
            let e = ApplyEntry {
                index,
                term: 1,
                kind: EntryKind::Normal,
                data: Vec::new(),
                responder: Some(responder),
                known_results: known.then(Vec::new),
            };
            (e, rx)
        };
        let (early, mut early_rx) = entry(7, true);
        let (later, mut later_rx) = entry(8, false);
        let mut entries = vec![early, later];
        p.answer_known(&mut entries);
        assert!(matches!(early_rx.try_recv(), Ok(Ok(r)) if r.is_empty()));
        assert!(entries[0].responder.is_none());
        // The other proposer still waits for the apply worker.
        assert!(entries[1].responder.is_some());
        assert!(matches!(
            later_rx.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        ));
        assert_eq!(p.status.answered_early.load(Ordering::Acquire), 7);
    }

    #[test]
    fn a_proposal_whose_index_gets_another_term_fails_with_proposal_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = peer(dir.path());
        let (a, mut a_rx) = proposal();
        let (b, mut b_rx) = proposal();
        p.track_proposal(5, 2, a);
        p.track_proposal(6, 2, b);
        // Index 5 was committed with another leader's entry: the proposal is lost.
        assert!(p.take_responder(5, 3).is_none());
        assert!(matches!(
            a_rx.try_recv(),
            Ok(Err(ClusterError::ProposalDropped))
        ));
        // Index 6 carries the proposed entry.
        assert!(p.take_responder(6, 2).is_some());
        assert!(b_rx.try_recv().is_err());
        assert_eq!(p.pending_count(), 0);
    }

    #[test]
    fn a_new_term_reusing_indexes_fails_the_older_proposals_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = peer(dir.path());
        let (a, mut a_rx) = proposal();
        let (b, mut b_rx) = proposal();
        let (c, _c_rx) = proposal();
        p.track_proposal(5, 2, a);
        p.track_proposal(6, 2, b);
        p.track_proposal(6, 3, c);
        assert!(a_rx.try_recv().is_err(), "index 5 may still commit");
        assert!(matches!(
            b_rx.try_recv(),
            Ok(Err(ClusterError::ProposalDropped))
        ));
        assert_eq!(p.pending_count(), 2);
    }

    /// The only voter of its group, not yet its leader, over a database in `dir`.
    fn lone_voter(dir: &std::path::Path) -> Peer {
        let db = storage::Db::open(dir, &storage::StorageConfig::default()).unwrap();
        let spec = ShardReplicas {
            shard: ShardId(1),
            nodes: vec![NodeId(1)],
        };
        open_peer(&StoreConfig::new(NodeId(1)), &db, &spec)
            .unwrap()
            .0
    }

    /// The only voter of its group, just elected.
    fn lone_leader(dir: &std::path::Path) -> Peer {
        let mut p = lone_voter(dir);
        p.raw_mut().campaign().unwrap();
        assert!(p.raw().soft_state().role == StateRole::Leader);
        p
    }

    #[test]
    fn a_write_following_one_refused_before_the_leadership_is_refused_too() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = lone_voter(dir.path());
        let session = crate::cluster::chain::SessionKey { node: 1, client: 9 };
        let first = ChainLink {
            session,
            seq: 1,
            follows: None,
        };
        let next = ChainLink {
            session,
            seq: 2,
            follows: Some(1),
        };
        // Not the leader yet: the session's first write is refused ...
        let (a, mut a_rx) = chained(Some(first));
        p.propose(vec![a]);
        assert!(matches!(
            a_rx.try_recv(),
            Ok(Err(ClusterError::NotLeader { .. }))
        ));
        // ... and once it leads, the write sent behind it must not overtake it.
        p.raw_mut().campaign().unwrap();
        assert!(p.raw().soft_state().role == StateRole::Leader);
        let (b, mut b_rx) = chained(Some(next));
        p.propose(vec![b]);
        assert!(matches!(b_rx.try_recv(), Ok(Err(ClusterError::OutOfOrder))));
        // The retry of the first (following nothing) and the write right behind it are
        // accepted, in order.
        let (retry, mut retry_rx) = chained(Some(first.retried()));
        let (again, mut again_rx) = chained(Some(next));
        p.propose(vec![retry, again]);
        assert!(retry_rx.try_recv().is_err() && again_rx.try_recv().is_err());
        assert_eq!(p.pending_count(), 2);
    }

    #[test]
    fn writes_that_follow_in_one_batch_are_accepted_together_or_refused_together() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = lone_leader(dir.path());
        let s1 = crate::cluster::chain::SessionKey { node: 1, client: 1 };
        let s2 = crate::cluster::chain::SessionKey { node: 1, client: 2 };
        let link = |session, seq, follows| {
            Some(ChainLink {
                session,
                seq,
                follows,
            })
        };
        let (a, _a_rx) = chained(link(s1, 1, None));
        let (b, _b_rx) = chained(link(s1, 2, Some(1)));
        // s2's write 4 never reached this replica (or its record expired).
        let (c, mut c_rx) = chained(link(s2, 5, Some(4)));
        let (d, mut d_rx) = chained(link(s2, 6, Some(5)));
        let (e, _e_rx) = chained(None);
        p.propose(vec![a, b, c, d, e]);
        assert!(matches!(c_rx.try_recv(), Ok(Err(ClusterError::OutOfOrder))));
        assert!(matches!(d_rx.try_recv(), Ok(Err(ClusterError::OutOfOrder))));
        assert_eq!(p.pending_count(), 3, "s1's two writes and the node's own");
    }

    #[test]
    fn a_follower_refuses_proposals_and_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = peer(dir.path());
        let (a, mut a_rx) = proposal();
        p.propose(vec![a]);
        let want = ClusterError::NotLeader {
            shard: ShardId(1),
            leader: None,
        };
        assert!(matches!(a_rx.try_recv(), Ok(Err(e)) if e == want));
        let (tx, mut rx) = oneshot::channel();
        p.read_index(vec![1], Instant::now(), tx);
        assert_eq!(rx.try_recv().unwrap(), Err(want));
    }
}
