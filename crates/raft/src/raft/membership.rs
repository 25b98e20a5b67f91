//! Membership changes (Raft §6, joint consensus), leader transfer (thesis §3.10) and
//! snapshot/unreachable reports from the driver.

use crate::confchange;
use crate::error::{Error, Result};
use crate::message::{
    ConfChange, ConfState, Entry, EntryKind, MessageType, NodeId, SnapshotStatus, StateRole,
};
use crate::progress::ProgressState;
use crate::raft::replication::Proposed;
use crate::raft::{CampaignKind, Raft};
use crate::storage::Storage;

impl<S: Storage> Raft<S> {
    /// Leader: proposes a membership change. One change may be pending at a time.
    pub fn propose_conf_change(&mut self, cc: &ConfChange) -> Result<Proposed> {
        self.check_can_propose()?;
        if self.pending_conf_index > self.raft_log.applied {
            return Err(Error::ConfChangePending);
        }
        confchange::mode(&self.tracker, cc)?;
        let next = self.raft_log.last_index() + 1;
        confchange::apply(&self.tracker, cc, next)?;
        let e = Entry {
            kind: EntryKind::ConfChange,
            data: cc.encode(),
            ..Default::default()
        };
        let proposed = self.append_proposal(vec![e])?;
        self.pending_conf_index = *proposed.indexes.end();
        Ok(proposed)
    }

    /// Applies a committed membership change (the driver calls this when it applies the
    /// entry). Returns the new configuration, which the driver persists with its state.
    pub fn apply_conf_change(&mut self, cc: &ConfChange) -> Result<ConfState> {
        let next = self.raft_log.last_index() + 1;
        self.tracker = confchange::apply(&self.tracker, cc, next)?;
        let cs = self.tracker.conf_state();
        let removed = !self.tracker.progress.contains_key(&self.id)
            || self
                .tracker
                .progress
                .get(&self.id)
                .is_some_and(|p| p.is_learner);
        if self.role == StateRole::Leader {
            if removed {
                // Raft §6: a leader that is no longer a voter steps down.
                self.become_follower(self.term, None);
                return Ok(cs);
            }
            if self.maybe_commit() {
                self.bcast_pending = true;
            }
            self.bcast_pending = true;
            if self
                .lead_transferee
                .is_some_and(|t| !self.tracker.is_voter(t))
            {
                self.abort_leader_transfer();
            }
        }
        Ok(cs)
    }

    /// Called once entries up to the applied index are applied: a leader in a joint
    /// configuration with `auto_leave` proposes leaving it (Raft §6, second phase).
    pub(crate) fn on_applied(&mut self) {
        if self.role != StateRole::Leader
            || !self.tracker.is_joint()
            || !self.tracker.auto_leave
            || self.pending_conf_index > self.raft_log.applied
        {
            return;
        }
        let e = Entry {
            kind: EntryKind::ConfChange,
            data: ConfChange::default().encode(),
            ..Default::default()
        };
        let last = self.append_entries(vec![e]);
        self.pending_conf_index = last;
        self.bcast_pending = true;
    }

    /// Leader: hands leadership to `target` once its log is caught up (thesis §3.10).
    /// Proposals fail with [`Error::TransferInProgress`] until it completes or an
    /// election timeout passes.
    pub fn transfer_leader(&mut self, target: NodeId) -> Result<()> {
        self.wake();
        self.idle_ticks = 0;
        if self.role != StateRole::Leader {
            return Err(Error::NotLeader {
                leader: self.leader_id,
            });
        }
        if self.lead_transferee == Some(target) || target == self.id {
            return Ok(());
        }
        if !self.tracker.is_voter(target) || !self.tracker.progress.contains_key(&target) {
            return Err(Error::InvalidTransferTarget(target));
        }
        self.abort_leader_transfer();
        self.election_elapsed_ticks = 0;
        self.lead_transferee = Some(target);
        let caught_up = self
            .tracker
            .progress
            .get(&target)
            .is_some_and(|p| p.matched == self.raft_log.last_index());
        if caught_up {
            self.send_timeout_now(target);
        } else {
            self.send_append(target, true);
        }
        Ok(())
    }

    /// Tells `to` to campaign now. From here on this term's lease is unsafe: `to`'s
    /// forced election ignores the voters' leases.
    pub(crate) fn send_timeout_now(&mut self, to: NodeId) {
        self.lease_disabled = true;
        let m = self.new_message(to, MessageType::TimeoutNow);
        self.send(m);
    }

    /// Gives up a leader transfer.
    pub(crate) fn abort_leader_transfer(&mut self) {
        self.lead_transferee = None;
    }

    /// Follower: the leader asked us to campaign at once, skipping pre-vote.
    pub(crate) fn handle_timeout_now(&mut self) {
        // A refusal (learner, unapplied conf change) leaves the old leader to time out
        // the transfer.
        let _ = self.hup(CampaignKind::Transfer);
    }

    /// Leader: the driver reports how sending a snapshot to `id` ended.
    pub fn report_snapshot(&mut self, id: NodeId, status: SnapshotStatus) {
        if self.role != StateRole::Leader {
            return;
        }
        let Some(pr) = self.tracker.progress.get_mut(&id) else {
            return;
        };
        if pr.state != ProgressState::Snapshot {
            return;
        }
        if status == SnapshotStatus::Failure {
            pr.pending_snapshot = 0;
        }
        pr.become_probe();
        // Wait for the follower's answer (or a heartbeat response) before probing.
        pr.probe_sent = true;
    }

    /// Leader: the driver could not reach `id`; stop pipelining to it.
    pub fn report_unreachable(&mut self, id: NodeId) {
        if self.role != StateRole::Leader {
            return;
        }
        if let Some(pr) = self.tracker.progress.get_mut(&id) {
            if pr.state == ProgressState::Replicate {
                pr.become_probe();
            }
        }
    }
}
