//! [`RawNode`]: the driver-facing API around [`Raft`], producing [`Ready`] batches.

use crate::config::Config;
use crate::error::Result;
use crate::log::RaftLog;
use crate::message::{
    ConfChange, ConfState, Entry, EntryKind, HardState, Message, MessageType, NodeId, ReadState,
    Snapshot, SnapshotStatus, SoftState,
};
use crate::raft::replication::Proposed;
use crate::raft::{CampaignKind, Raft};
use crate::status::{ProgressStatus, Status};
use crate::storage::Storage;
use crate::tracker::ProgressTracker;

/// Everything the driver must do, in the order given by the driver contract (crate docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// Hard state to persist, if it changed.
    pub hard_state: Option<HardState>,
    /// Entries to append to storage (after truncating any conflicting suffix).
    pub entries: Vec<Entry>,
    /// Whether the writes must be synced before the `persisted_messages` go out: true
    /// when there are entries or the term or vote changed.
    pub must_sync: bool,
    /// Snapshot to install in storage and in the state machine.
    pub snapshot: Option<Snapshot>,
    /// Messages that may be sent at once, before or during the persist (the leader's
    /// appends, heartbeats, snapshots, TimeoutNow, read answers, quiesce notices).
    pub messages: Vec<Message>,
    /// Messages to send only after this Ready's snapshot, entries and hard state are
    /// durable (votes, vote requests, append and heartbeat responses...).
    pub persisted_messages: Vec<Message>,
    /// Committed entries to apply, in order, after the persist.
    pub committed_entries: Vec<Entry>,
    /// Confirmed read points.
    pub read_states: Vec<ReadState>,
    /// Role and leader, if they changed.
    pub soft_state: Option<SoftState>,
}

/// What a handed-out Ready covered, acknowledged by [`RawNode::advance`].
#[derive(Clone, Debug)]
struct ReadyRecord {
    last_entry: Option<(u64, u64)>,
    snapshot_index: Option<u64>,
    hard_state: Option<HardState>,
    last_committed: Option<u64>,
    committed_bytes: u64,
}

/// The driver's handle on one Raft group member.
#[derive(Debug)]
pub struct RawNode<S: Storage> {
    /// The protocol state machine.
    raft: Raft<S>,
    /// Hard state as last handed out.
    prev_hard_state: HardState,
    /// Soft state as last handed out.
    prev_soft_state: SoftState,
    /// The Ready handed out and not yet advanced. Invariant: at most one.
    outstanding: Option<ReadyRecord>,
}

impl<S: Storage> RawNode<S> {
    /// Opens a node over `store` with `cfg` (validated).
    pub fn new(cfg: &Config, store: S) -> Result<Self> {
        let raft = Raft::new(cfg, store)?;
        let prev_hard_state = raft.hard_state();
        let prev_soft_state = raft.soft_state();
        Ok(Self {
            raft,
            prev_hard_state,
            prev_soft_state,
            outstanding: None,
        })
    }

    /// Advances time one tick. Returns false when the group is quiesced here and the
    /// tick did nothing (the driver may skip `has_ready`).
    pub fn tick(&mut self) -> bool {
        self.raft.tick()
    }

    /// Handles a message from a peer. Wakes a quiesced group.
    pub fn step(&mut self, m: Message) -> crate::Result<()> {
        self.raft.step(m)
    }

    /// Proposes one command (leader only). See [`RawNode::propose_batch`].
    pub fn propose(&mut self, data: Vec<u8>) -> Result<Proposed> {
        self.raft.propose_batch(vec![data])
    }

    /// Proposes several commands, one entry each, sent to followers together. Fails with
    /// a typed error (`NotLeader`, `TransferInProgress`, `UncommittedLimitExceeded`).
    pub fn propose_batch(&mut self, batch: Vec<Vec<u8>>) -> Result<Proposed> {
        self.raft.propose_batch(batch)
    }

    /// Proposes a membership change (leader only; one pending at a time).
    pub fn propose_conf_change(&mut self, cc: &ConfChange) -> Result<Proposed> {
        self.raft.propose_conf_change(cc)
    }

    /// Applies a committed membership change; call it when applying its entry.
    pub fn apply_conf_change(&mut self, cc: &ConfChange) -> Result<ConfState> {
        self.raft.apply_conf_change(cc)
    }

    /// Starts leader transfer to `target` (leader only).
    pub fn transfer_leader(&mut self, target: NodeId) -> Result<()> {
        self.raft.transfer_leader(target)
    }

    /// Requests a linearizable read point for `ctx` (answered as a [`ReadState`]).
    pub fn read_index(&mut self, ctx: Vec<u8>) -> Result<()> {
        self.raft.read_index(ctx)
    }

    /// Campaigns now (with pre-vote if configured).
    pub fn campaign(&mut self) -> Result<()> {
        self.raft.wake();
        let kind = if self.raft.cfg.pre_vote {
            CampaignKind::PreElection
        } else {
            CampaignKind::Election
        };
        self.raft.hup(kind)
    }

    /// Reports the outcome of sending a snapshot to `id`.
    pub fn report_snapshot(&mut self, id: NodeId, status: SnapshotStatus) {
        self.raft.report_snapshot(id, status);
    }

    /// Reports that `id` could not be reached.
    pub fn report_unreachable(&mut self, id: NodeId) {
        self.raft.report_unreachable(id);
    }

    /// Whether the group is quiesced here.
    pub fn is_quiescent(&self) -> bool {
        self.raft.is_quiescent()
    }

    /// While this node leads under a lease ([`Config::lease_read`]) that is in force: how
    /// many more ticks it holds (at least 1). A driver may answer a read at once from this,
    /// at the current commit index, without [`RawNode::read_index`], as long as it counts
    /// the ticks on the same clock that drives [`RawNode::tick`] and stops when they run out
    /// (a driver that measures ticks in wall-clock time can turn this into a deadline).
    /// `None` when lease reads are off or the lease is not in force.
    pub fn lease_ticks_left(&self) -> Option<u64> {
        self.raft.lease_ticks_left()
    }

    /// Wakes a quiesced group (e.g. when the failure detector sees a peer down).
    pub fn wake(&mut self) {
        self.raft.wake();
    }

    /// The storage.
    pub fn store(&self) -> &S {
        &self.raft.raft_log.store
    }

    /// The storage, for the driver's writes while handling a Ready.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.raft.raft_log.store
    }

    /// The log (read-only), for inspection.
    pub fn raft_log(&self) -> &RaftLog<S> {
        &self.raft.raft_log
    }

    /// Current term, vote and commit index.
    pub fn hard_state(&self) -> HardState {
        self.raft.hard_state()
    }

    /// Current role and known leader.
    pub fn soft_state(&self) -> SoftState {
        self.raft.soft_state()
    }

    /// Whether [`RawNode::ready`] has anything. False while a Ready is outstanding.
    pub fn has_ready(&self) -> bool {
        let r = &self.raft;
        self.outstanding.is_none()
            && (!r.msgs.is_empty()
                || r.bcast_pending
                || !r.raft_log.unstable.entries.is_empty()
                || r.raft_log.unstable.snapshot.is_some()
                || r.hard_state() != self.prev_hard_state
                || r.soft_state() != self.prev_soft_state
                || r.raft_log.has_next_committed_entries()
                || !r.read_states.is_empty())
    }

    /// Takes the next batch of work. Must be followed by [`RawNode::advance`] before the
    /// next `ready`.
    ///
    /// # Panics
    /// If the previous Ready was not advanced.
    pub fn ready(&mut self) -> Ready {
        assert!(
            self.outstanding.is_none(),
            "ready() called before advance()"
        );
        self.raft.flush_pending_appends();
        let r = &mut self.raft;
        let entries = r.raft_log.unstable.entries.clone();
        let snapshot = r.raft_log.unstable.snapshot.clone();
        let hs = r.hard_state();
        let hard_state = (hs != self.prev_hard_state).then_some(hs);
        let term_or_vote_changed =
            hs.term != self.prev_hard_state.term || hs.vote != self.prev_hard_state.vote;
        let ss = r.soft_state();
        let soft_state = (ss != self.prev_soft_state).then_some(ss);
        self.prev_soft_state = ss;
        let committed_entries = r
            .raft_log
            .next_committed_entries(r.cfg.max_committed_bytes_per_ready);
        let (messages, persisted_messages) = split_messages(
            std::mem::take(&mut r.msgs),
            term_or_vote_changed,
            &r.tracker,
        );
        self.outstanding = Some(ReadyRecord {
            last_entry: entries.last().map(|e| (e.index, e.term)),
            snapshot_index: snapshot.as_ref().map(|s| s.metadata.index),
            hard_state,
            last_committed: committed_entries.last().map(|e| e.index),
            committed_bytes: committed_entries
                .iter()
                .filter(|e| e.kind == EntryKind::Normal)
                .map(Entry::size_bytes)
                .sum(),
        });
        Ready {
            must_sync: term_or_vote_changed || !entries.is_empty(),
            hard_state,
            entries,
            snapshot,
            messages,
            persisted_messages,
            committed_entries,
            read_states: std::mem::take(&mut r.read_states),
            soft_state,
        }
    }

    /// Acknowledges the last Ready: its snapshot, entries and hard state are durable,
    /// its persisted messages sent and its committed entries applied.
    ///
    /// # Panics
    /// If no Ready is outstanding.
    pub fn advance(&mut self) {
        let rec = self
            .outstanding
            .take()
            .expect("advance() without an outstanding ready()");
        let log = &mut self.raft.raft_log;
        if let Some(index) = rec.snapshot_index {
            log.unstable.stable_snap_to(index);
            log.applied = log.applied.max(index);
        }
        if let Some((index, term)) = rec.last_entry {
            log.unstable.stable_to(index, term);
        }
        if let Some(hs) = rec.hard_state {
            self.prev_hard_state = hs;
        }
        if let Some(index) = rec.last_committed {
            log.applied_to(index);
        }
        self.raft.reduce_uncommitted(rec.committed_bytes);
        self.raft.on_persisted();
        self.raft.on_applied();
    }

    /// State for metrics and debugging.
    pub fn status(&self) -> Status {
        let r = &self.raft;
        let progress = if r.role == crate::StateRole::Leader {
            r.tracker
                .progress
                .iter()
                .map(|(&id, p)| {
                    let ps = ProgressStatus {
                        matched: p.matched,
                        next_idx: p.next_idx,
                        state: p.state,
                        is_learner: p.is_learner,
                        recent_active: p.recent_active,
                        inflight_msgs: p.inflights.count(),
                    };
                    (id, ps)
                })
                .collect()
        } else {
            Default::default()
        };
        Status {
            id: r.id,
            hard_state: r.hard_state(),
            soft_state: r.soft_state(),
            applied: r.raft_log.applied,
            last_index: r.raft_log.last_index(),
            progress,
            lead_transferee: r.lead_transferee,
            quiescent: r.quiesced,
            conf_state: r.tracker.conf_state(),
        }
    }
}

/// Splits messages into those safe to send at once and those that must wait for the
/// persist. If the term or vote changed in this Ready, everything waits. Appends also
/// wait while a joint configuration is in effect (or when addressed to a node no longer
/// in it): otherwise a leader that crashes before persisting could leave its unpersisted
/// entries only on an outgoing voter which, having applied its own removal, cannot
/// campaign, yet whose longer log makes it refuse the votes the joint quorum needs from
/// it (found by the simulation, seed 6894).
fn split_messages(
    msgs: Vec<Message>,
    term_or_vote_changed: bool,
    tracker: &ProgressTracker,
) -> (Vec<Message>, Vec<Message>) {
    if term_or_vote_changed {
        return (Vec::new(), msgs);
    }
    let joint = tracker.is_joint();
    msgs.into_iter().partition(|m| {
        let hold_append =
            m.msg_type == MessageType::Append && (joint || !tracker.progress.contains_key(&m.to));
        !hold_append
            && matches!(
                m.msg_type,
                MessageType::Append
                    | MessageType::Heartbeat
                    | MessageType::Snapshot
                    | MessageType::TimeoutNow
                    | MessageType::ReadIndexResponse
                    | MessageType::Quiesce
            )
    })
}
