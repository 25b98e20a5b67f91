//! [`ProgressTracker`]: the configuration, every peer's [`Progress`], and the votes.

use std::collections::{BTreeMap, BTreeSet};

use crate::message::{ConfState, NodeId};
use crate::progress::Progress;
use crate::quorum::{JointConfig, MajorityConfig, VoteResult};

/// Membership and replication state of a group, as one node sees it.
#[derive(Clone, Debug, Default)]
pub struct ProgressTracker {
    /// Voters (joint while a change is in progress).
    pub voters: JointConfig,
    /// Learners. Invariant: disjoint from `voters`.
    pub learners: BTreeSet<NodeId>,
    /// Outgoing voters that become learners when the joint configuration is left.
    /// Invariant: a subset of `voters.outgoing`.
    pub learners_next: BTreeSet<NodeId>,
    /// Leave the joint configuration automatically.
    pub auto_leave: bool,
    /// Progress of every voter and learner. Invariant: keys == voters ∪ learners ∪ learners_next.
    pub progress: BTreeMap<NodeId, Progress>,
    /// Votes received in the current election.
    pub votes: BTreeMap<NodeId, bool>,
    /// Window size for new progresses.
    pub max_inflight_msgs: usize,
}

impl ProgressTracker {
    /// An empty tracker.
    pub fn new(max_inflight_msgs: usize) -> Self {
        Self {
            max_inflight_msgs,
            ..Default::default()
        }
    }

    /// Builds the tracker for `cs`; new progresses start probing at `next_idx`.
    pub fn from_conf_state(cs: &ConfState, next_idx: u64, max_inflight_msgs: usize) -> Self {
        let set = |v: &[NodeId]| v.iter().copied().collect::<BTreeSet<_>>();
        let mut t = Self::new(max_inflight_msgs);
        t.voters = JointConfig {
            incoming: MajorityConfig {
                voters: set(&cs.voters),
            },
            outgoing: MajorityConfig {
                voters: set(&cs.voters_outgoing),
            },
        };
        t.learners = set(&cs.learners);
        t.learners_next = set(&cs.learners_next);
        t.auto_leave = cs.auto_leave;
        for id in t.voters.ids().into_iter().chain(t.learners.iter().copied()) {
            let mut pr = Progress::new(next_idx, max_inflight_msgs);
            pr.is_learner = t.learners.contains(&id);
            pr.recent_active = true;
            t.progress.insert(id, pr);
        }
        t
    }

    /// The configuration as a [`ConfState`].
    pub fn conf_state(&self) -> ConfState {
        ConfState {
            voters: self.voters.incoming.voters.iter().copied().collect(),
            learners: self.learners.iter().copied().collect(),
            voters_outgoing: self.voters.outgoing.voters.iter().copied().collect(),
            learners_next: self.learners_next.iter().copied().collect(),
            auto_leave: self.auto_leave,
        }
    }

    /// Whether a joint configuration is in effect.
    pub fn is_joint(&self) -> bool {
        !self.voters.outgoing.voters.is_empty()
    }

    /// Whether `id` is a voter (of either half).
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(id)
    }

    /// Whether `id` is the only voter.
    pub fn is_singleton(&self, id: NodeId) -> bool {
        let ids = self.voters.ids();
        ids.len() == 1 && ids.contains(&id)
    }

    /// Highest index replicated on a (joint) quorum of voters (Raft §5.4.2 before the
    /// term check).
    pub fn committed(&self) -> u64 {
        self.voters
            .committed_index(|id| self.progress.get(&id).map_or(0, |p| p.matched))
    }

    /// Whether a quorum was recently active (CheckQuorum). `self_id` always counts.
    pub fn quorum_active(&self, self_id: NodeId) -> bool {
        let votes: BTreeMap<NodeId, bool> = self
            .progress
            .iter()
            .filter(|(id, _)| self.voters.contains(**id))
            .map(|(&id, p)| (id, id == self_id || p.recent_active))
            .collect();
        self.voters.vote_result(&votes) == VoteResult::Won
    }

    /// Forgets the votes of the previous election.
    pub fn reset_votes(&mut self) {
        self.votes.clear();
    }

    /// Records a vote (the first vote from a node wins).
    pub fn record_vote(&mut self, id: NodeId, granted: bool) {
        self.votes.entry(id).or_insert(granted);
    }

    /// Current result of the election.
    pub fn tally_votes(&self) -> VoteResult {
        self.voters.vote_result(&self.votes)
    }
}
