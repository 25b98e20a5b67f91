//! Quiescence: an idle group stops heartbeats and election timers so that one node can
//! host thousands of groups. Any message or proposal wakes it; the driver wakes it when
//! its failure detector sees a peer go down.

use crate::message::{MessageType, NodeId, StateRole};
use crate::progress::ProgressState;
use crate::raft::Raft;
use crate::storage::Storage;

impl<S: Storage> Raft<S> {
    /// Leader: quiesce when idle for `quiesce_after_ticks` and nothing is in flight —
    /// every peer holds the whole log, everything is committed and applied, no read,
    /// transfer or membership change is pending. Returns whether it quiesced.
    pub(crate) fn maybe_quiesce(&mut self) -> bool {
        if !self.can_quiesce() {
            return false;
        }
        let (index, log_term) = (self.raft_log.last_index(), self.raft_log.last_term());
        let commit = self.raft_log.committed;
        let ids: Vec<NodeId> = self.tracker.progress.keys().copied().collect();
        for id in ids {
            if id != self.id {
                let mut m = self.new_message(id, MessageType::Quiesce);
                m.index = index;
                m.log_term = log_term;
                m.commit = commit;
                self.send(m);
            }
        }
        self.quiesced = true;
        true
    }

    fn can_quiesce(&self) -> bool {
        let log = &self.raft_log;
        let last = log.last_index();
        self.cfg.quiesce_after_ticks > 0
            && self.idle_ticks >= self.cfg.quiesce_after_ticks
            && self.role == StateRole::Leader
            && log.committed == last
            && log.applied == last
            && log.persisted_last_index() == last
            && self.read_only.is_empty()
            && self.pending_reads.is_empty()
            && self.lead_transferee.is_none()
            && !self.tracker.is_joint()
            && !self.bcast_pending
            && self.tracker.progress.iter().all(|(&id, pr)| {
                id == self.id
                    || (pr.matched == last
                        && pr.state == ProgressState::Replicate
                        && pr.inflights.count() == 0)
            })
    }

    /// Follower: the leader says the group is idle. Quiesce only if our log and commit
    /// match the leader's exactly; otherwise keep the election timer running.
    pub(crate) fn handle_quiesce(&mut self, m: &crate::message::Message) {
        let log = &self.raft_log;
        if log.last_index() == m.index && log.match_term(m.index, m.log_term) {
            self.raft_log.commit_to(m.commit);
            self.election_elapsed_ticks = 0;
            self.quiesced = true;
        }
    }

    /// Ends quiescence: timers restart from zero, and a leader heartbeats at once so its
    /// followers wake too. A no-op if not quiesced.
    pub fn wake(&mut self) {
        if !self.quiesced {
            return;
        }
        self.quiesced = false;
        self.idle_ticks = 0;
        self.election_elapsed_ticks = 0;
        self.heartbeat_elapsed_ticks = 0;
        if self.role == StateRole::Leader {
            for pr in self.tracker.progress.values_mut() {
                pr.recent_active = true;
            }
            self.bcast_heartbeat();
        }
    }

    /// Whether the group is quiesced at this node.
    pub fn is_quiescent(&self) -> bool {
        self.quiesced
    }
}
