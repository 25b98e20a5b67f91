//! Linearizable reads: ReadIndex (thesis §6.4) and leader leases (thesis §6.4.1).

use crate::error::{Error, Result};
use crate::message::{MessageType, NodeId, ReadState, StateRole};
use crate::quorum::VoteResult;
use crate::raft::Raft;
use crate::storage::Storage;

impl<S: Storage> Raft<S> {
    /// Requests a read index for `ctx`. On the leader it is confirmed with a heartbeat
    /// round (or the lease); a follower forwards it to the leader. The answer arrives as
    /// a [`ReadState`] in a later `Ready`; it may be lost if leadership changes, so the
    /// driver retries on its own deadline.
    pub fn read_index(&mut self, ctx: Vec<u8>) -> Result<()> {
        self.wake();
        self.idle_ticks = 0;
        match self.role {
            StateRole::Leader => {
                if self.pending_reads.len() + self.read_only.len() >= self.cfg.max_pending_reads {
                    return Err(Error::TooManyPendingReads);
                }
                self.handle_read_index_request(self.id, ctx);
                Ok(())
            }
            _ => {
                let Some(leader) = self.leader_id else {
                    return Err(Error::NotLeader { leader: None });
                };
                let mut m = self.new_message(leader, MessageType::ReadIndex);
                m.context = ctx;
                self.send(m);
                Ok(())
            }
        }
    }

    /// Leader: a read request from `from` (this node or a follower).
    pub(crate) fn handle_read_index_request(&mut self, from: NodeId, ctx: Vec<u8>) {
        if self.pending_reads.len() + self.read_only.len() >= self.cfg.max_pending_reads {
            return; // Bounded: the forwarding follower's client times out and retries.
        }
        if !self.committed_in_current_term() {
            // Thesis §6.4 step 1: wait until an entry of this term commits.
            self.pending_reads.push((from, ctx));
            return;
        }
        let committed = self.raft_log.committed;
        if self.tracker.is_singleton(self.id) || self.lease_valid() {
            self.respond_read(from, committed, ctx);
            return;
        }
        self.read_only.add_request(committed, from, ctx.clone());
        self.handle_read_ack(self.id, &ctx);
        self.bcast_heartbeat();
    }

    /// Records a heartbeat acknowledgement of `ctx`; answers every read it confirms.
    pub(crate) fn handle_read_ack(&mut self, from: NodeId, ctx: &[u8]) {
        let Some(acks) = self.read_only.recv_ack(from, ctx) else {
            return;
        };
        let votes = acks.iter().map(|&id| (id, true)).collect();
        if self.tracker.voters.vote_result(&votes) != VoteResult::Won {
            return;
        }
        for rs in self.read_only.advance(ctx) {
            self.respond_read(rs.from, rs.index, rs.ctx);
        }
    }

    fn respond_read(&mut self, from: NodeId, index: u64, ctx: Vec<u8>) {
        if from == self.id {
            self.read_states.push(ReadState {
                index,
                request_ctx: ctx,
            });
        } else {
            let mut m = self.new_message(from, MessageType::ReadIndexResponse);
            m.index = index;
            m.context = ctx;
            self.send(m);
        }
    }

    /// Re-handles reads that waited for the first commit of this term.
    pub(crate) fn release_pending_reads(&mut self) {
        for (from, ctx) in std::mem::take(&mut self.pending_reads) {
            self.handle_read_index_request(from, ctx);
        }
    }

    /// Whether the leader lease is in force: lease reads on (so CheckQuorum on), no
    /// transfer started this term, an entry of this term committed, and a quorum acked a
    /// heartbeat round stamped less than `lease_ticks` ago. Followers refuse votes for
    /// `election_ticks > lease_ticks` after hearing from us (thesis §6.4.1).
    pub(crate) fn lease_valid(&self) -> bool {
        self.lease_ticks_left().is_some()
    }

    /// While the lease is in force (see [`Raft::lease_valid`]): the ticks it still holds,
    /// at least 1 (it ends when `tick_count` reaches the acknowledged round's stamp plus
    /// `lease_ticks`).
    pub(crate) fn lease_ticks_left(&self) -> Option<u64> {
        if !(self.cfg.lease_read && self.cfg.check_quorum)
            || self.role != StateRole::Leader
            || self.lease_disabled
            || self.lead_transferee.is_some()
            || !self.committed_in_current_term()
        {
            return None;
        }
        let now = self.tick_count;
        let start = self.tracker.voters.committed_index(|id| {
            if id == self.id {
                now
            } else {
                self.tracker
                    .progress
                    .get(&id)
                    .map_or(0, |p| p.heartbeat_ack_tick)
            }
        });
        let end = start.saturating_add(self.cfg.lease_ticks);
        (start > 0 && now < end).then(|| end - now)
    }
}
