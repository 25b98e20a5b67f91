//! Log replication (Raft §5.3), commitment (§5.4.2), snapshots (§7) and proposals.

use std::ops::RangeInclusive;

use crate::error::{Error, Result};
use crate::message::{Entry, EntryKind, Message, MessageType, NodeId, StateRole};
use crate::progress::ProgressState;
use crate::raft::Raft;
use crate::storage::Storage;
use crate::tracker::ProgressTracker;

/// Indexes assigned to an accepted proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposed {
    /// Term of the new entries. If a different entry is later applied at one of these
    /// indexes, the proposal was lost.
    pub term: u64,
    /// Indexes of the entries, one per proposal in the batch.
    pub indexes: RangeInclusive<u64>,
}

impl<S: Storage> Raft<S> {
    /// Leader: appends a batch of commands (one entry each).
    pub fn propose_batch(&mut self, batch: Vec<Vec<u8>>) -> Result<Proposed> {
        self.check_can_propose()?;
        if batch.is_empty() {
            return Err(Error::EmptyProposal);
        }
        let ents: Vec<Entry> = batch
            .into_iter()
            .map(|data| Entry {
                kind: EntryKind::Normal,
                data,
                ..Default::default()
            })
            .collect();
        self.append_proposal(ents)
    }

    /// Refuses proposals with a typed error when they could not be appended.
    pub(crate) fn check_can_propose(&mut self) -> Result<()> {
        self.wake();
        self.idle_ticks = 0;
        if self.role != StateRole::Leader {
            return Err(Error::NotLeader {
                leader: self.leader_id,
            });
        }
        if let Some(t) = self.lead_transferee {
            return Err(Error::TransferInProgress(t));
        }
        if !self.tracker.voters.incoming.voters.contains(&self.id) {
            // Raft §6: a leader leaving the configuration takes no more entries, so its
            // log ends at the entry that removes it and any remaining voter holding that
            // entry is up-to-date enough to win the next election.
            return Err(Error::LeaderLeaving);
        }
        Ok(())
    }

    /// Appends `ents` as a leader proposal, enforcing `max_uncommitted_bytes`.
    pub(crate) fn append_proposal(&mut self, ents: Vec<Entry>) -> Result<Proposed> {
        let bytes: u64 = ents.iter().map(Entry::size_bytes).sum();
        if self.uncommitted_bytes > 0
            && self.uncommitted_bytes.saturating_add(bytes) > self.cfg.max_uncommitted_bytes
        {
            return Err(Error::UncommittedLimitExceeded);
        }
        self.uncommitted_bytes = self.uncommitted_bytes.saturating_add(bytes);
        let first = self.raft_log.last_index() + 1;
        let last = self.append_entries(ents);
        self.bcast_pending = true;
        Ok(Proposed {
            term: self.term,
            indexes: first..=last,
        })
    }

    /// Stamps `ents` with the current term and the next indexes and appends them. The
    /// leader's own progress advances only once they are persisted ([`Raft::on_persisted`]).
    pub(crate) fn append_entries(&mut self, mut ents: Vec<Entry>) -> u64 {
        let last = self.raft_log.last_index();
        for (i, e) in ents.iter_mut().enumerate() {
            e.term = self.term;
            e.index = last + 1 + i as u64;
        }
        self.raft_log.append(ents)
    }

    /// Called when the entries handed out in a `Ready` are durable: the leader counts
    /// its own log in the commit quorum only from now on (thesis §10.2.1).
    pub(crate) fn on_persisted(&mut self) {
        if self.role != StateRole::Leader {
            return;
        }
        let persisted = self.raft_log.persisted_last_index();
        let updated = self
            .tracker
            .progress
            .get_mut(&self.id)
            .is_some_and(|pr| pr.maybe_update(persisted));
        if updated && self.maybe_commit() {
            self.bcast_pending = true;
        }
    }

    /// Called when committed entries of `bytes` total size were applied.
    pub(crate) fn reduce_uncommitted(&mut self, bytes: u64) {
        self.uncommitted_bytes = self.uncommitted_bytes.saturating_sub(bytes);
    }

    /// Sends the broadcast that proposals or a commit advance asked for.
    pub(crate) fn flush_pending_appends(&mut self) {
        if std::mem::take(&mut self.bcast_pending) && self.role == StateRole::Leader {
            self.bcast_append();
        }
    }

    /// Raft §5.4.2: commit the highest index on a quorum, only if it is of our term.
    pub(crate) fn maybe_commit(&mut self) -> bool {
        let mci = self.tracker.committed();
        let was_in_term = self.committed_in_current_term();
        if !self.raft_log.maybe_commit(mci, self.term) {
            return false;
        }
        if !was_in_term {
            self.release_pending_reads();
        }
        true
    }

    /// Whether an entry of the current term is committed.
    pub(crate) fn committed_in_current_term(&self) -> bool {
        self.raft_log
            .term(self.raft_log.committed)
            .is_ok_and(|t| t == self.term)
    }

    /// Sends entries (or a snapshot) to every peer.
    pub(crate) fn bcast_append(&mut self) {
        let ids: Vec<NodeId> = self.tracker.progress.keys().copied().collect();
        for id in ids {
            if id != self.id {
                self.send_append(id, true);
            }
        }
    }

    /// Sends the next entries to `to` if its flow control allows; a snapshot if the
    /// entries are compacted. Returns whether a message was sent.
    pub(crate) fn send_append(&mut self, to: NodeId, send_if_empty: bool) -> bool {
        let Some(pr) = self.tracker.progress.get(&to) else {
            return false;
        };
        if pr.is_paused() {
            return false;
        }
        let next = pr.next_idx;
        let term = self.raft_log.term(next - 1);
        let ents = self.raft_log.entries(next, self.cfg.max_size_per_msg_bytes);
        let (Ok(log_term), Ok(ents)) = (term, ents) else {
            return self.send_snapshot(to);
        };
        if ents.is_empty() && !send_if_empty {
            return false;
        }
        let last = ents.last().map_or(next - 1, |e| e.index);
        let n = ents.len();
        let mut m = self.new_message(to, MessageType::Append);
        m.index = next - 1;
        m.log_term = log_term;
        m.entries = ents;
        m.commit = self.raft_log.committed;
        if let Some(pr) = self.tracker.progress.get_mut(&to) {
            pr.sent_entries(n, last);
        }
        self.send(m);
        true
    }

    /// Raft §7: the follower is behind our first index; send it a snapshot.
    fn send_snapshot(&mut self, to: NodeId) -> bool {
        let Some(pr) = self.tracker.progress.get(&to) else {
            return false;
        };
        if !pr.recent_active {
            return false;
        }
        let snapshot = match self.raft_log.snapshot(pr.next_idx) {
            Ok(s) => s,
            Err(Error::SnapshotTemporarilyUnavailable) => return false,
            Err(e) => panic!("{}: cannot get snapshot for {to}: {e}", self.id),
        };
        assert!(
            snapshot.metadata.index > 0,
            "{}: empty snapshot for {to}",
            self.id
        );
        let index = snapshot.metadata.index;
        if let Some(pr) = self.tracker.progress.get_mut(&to) {
            pr.become_snapshot(index);
        }
        let mut m = self.new_message(to, MessageType::Snapshot);
        m.snapshot = Some(snapshot);
        self.send(m);
        true
    }

    /// Heartbeats every peer, with `ctx` of the newest pending read (thesis §6.4).
    // TODO(#4): with thousands of groups per node, the node crate should coalesce the
    // heartbeats of all groups led towards one peer into a single message.
    pub(crate) fn bcast_heartbeat(&mut self) {
        let ctx = self
            .read_only
            .last_pending_ctx()
            .cloned()
            .unwrap_or_default();
        let ids: Vec<NodeId> = self.tracker.progress.keys().copied().collect();
        for id in ids {
            if id != self.id {
                self.send_heartbeat(id, ctx.clone());
            }
        }
    }

    /// A heartbeat never carries a commit index beyond what the peer is known to hold.
    fn send_heartbeat(&mut self, to: NodeId, context: Vec<u8>) {
        let matched = self.tracker.progress.get(&to).map_or(0, |p| p.matched);
        let mut m = self.new_message(to, MessageType::Heartbeat);
        m.commit = matched.min(self.raft_log.committed);
        m.index = self.tick_count;
        m.context = context;
        self.send(m);
    }

    /// Leader: a follower's answer to an append (Raft §5.3).
    pub(crate) fn handle_append_response(&mut self, m: &Message) {
        let first_index = self.raft_log.first_index();
        let Some(pr) = self.tracker.progress.get_mut(&m.from) else {
            return;
        };
        if m.reject {
            self.handle_append_rejection(m);
            return;
        }
        let was_paused = pr.is_paused();
        if !pr.maybe_update(m.index) {
            return;
        }
        match pr.state {
            ProgressState::Probe => pr.become_replicate(),
            ProgressState::Snapshot if pr.matched + 1 >= first_index => pr.become_replicate(),
            ProgressState::Snapshot => {}
            ProgressState::Replicate => pr.inflights.free_le(m.index),
        }
        let matched = pr.matched;
        if self.maybe_commit() {
            self.bcast_pending = true;
        } else if was_paused {
            self.send_append(m.from, true);
        }
        while self.send_append(m.from, false) {}
        if self.lead_transferee == Some(m.from) && matched == self.raft_log.last_index() {
            self.send_timeout_now(m.from);
        }
    }

    /// Fast backtracking: jump over the follower's conflicting term using its hint.
    fn handle_append_rejection(&mut self, m: &Message) {
        let mut next_probe = m.reject_hint;
        if m.log_term > 0 {
            next_probe = self
                .raft_log
                .find_conflict_by_term(m.reject_hint, m.log_term)
                .0;
        }
        let Some(pr) = self.tracker.progress.get_mut(&m.from) else {
            return;
        };
        if pr.maybe_decr_to(m.index, next_probe) {
            if pr.state == ProgressState::Replicate {
                pr.become_probe();
            }
            self.send_append(m.from, true);
        }
    }

    /// Leader: a heartbeat answer — liveness, flow control, lease and read acks.
    pub(crate) fn handle_heartbeat_response(&mut self, m: &Message) {
        let last = self.raft_log.last_index();
        let Some(pr) = self.tracker.progress.get_mut(&m.from) else {
            return;
        };
        pr.recent_active = true;
        pr.probe_sent = false;
        pr.heartbeat_ack_tick = pr.heartbeat_ack_tick.max(m.index);
        if pr.state == ProgressState::Replicate && pr.inflights.full() {
            pr.inflights.free_first_one();
        }
        if pr.matched < last {
            self.wake();
            self.send_append(m.from, true);
        }
        if !m.context.is_empty() {
            self.handle_read_ack(m.from, &m.context);
        }
    }

    /// Follower: Raft §5.3 consistency check and append.
    pub(crate) fn handle_append(&mut self, m: Message) {
        let mut r = self.new_message(m.from, MessageType::AppendResponse);
        if m.index < self.raft_log.committed {
            r.index = self.raft_log.committed;
            self.send(r);
            return;
        }
        let (index, log_term) = (m.index, m.log_term);
        match self
            .raft_log
            .maybe_append(index, log_term, m.commit, m.entries)
        {
            Some(last) => r.index = last,
            None => {
                let hint = index.min(self.raft_log.last_index());
                let (hint_index, hint_term) = self.raft_log.find_conflict_by_term(hint, log_term);
                r.index = index;
                r.reject = true;
                r.reject_hint = hint_index;
                r.log_term = hint_term;
            }
        }
        self.send(r);
    }

    /// Follower: a heartbeat carries a commit index the leader knows we hold.
    pub(crate) fn handle_heartbeat(&mut self, m: &Message) {
        let commit = m.commit.min(self.raft_log.last_index());
        self.raft_log.commit_to(commit);
        let mut r = self.new_message(m.from, MessageType::HeartbeatResponse);
        r.index = m.index;
        r.context = m.context.clone();
        self.send(r);
    }

    /// Follower: Raft §7 InstallSnapshot.
    pub(crate) fn handle_snapshot(&mut self, m: Message) {
        let Some(snapshot) = m.snapshot else { return };
        let mut r = self.new_message(m.from, MessageType::AppendResponse);
        r.index = if self.restore(snapshot) {
            self.raft_log.last_index()
        } else {
            self.raft_log.committed
        };
        self.send(r);
    }

    /// Installs `snapshot` unless the log already covers it; returns whether it did.
    fn restore(&mut self, snapshot: crate::message::Snapshot) -> bool {
        let meta = &snapshot.metadata;
        if meta.index <= self.raft_log.committed {
            return false;
        }
        if self.raft_log.match_term(meta.index, meta.term) {
            // Raft §7: the log already holds the snapshot's last entry; keep what follows.
            self.raft_log.commit_to(meta.index);
            return false;
        }
        let next = meta.index + 1;
        self.tracker =
            ProgressTracker::from_conf_state(&meta.conf_state, next, self.cfg.max_inflight_msgs);
        self.raft_log.restore(snapshot);
        true
    }
}
