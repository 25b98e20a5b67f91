//! Majority and joint quorums: commit index and vote tallies (Raft §5.2, §5.4.2, §6).

use std::collections::{BTreeMap, BTreeSet};

use crate::message::NodeId;

/// Outcome of counting votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteResult {
    /// Not decided yet.
    Pending,
    /// A quorum rejected.
    Lost,
    /// A quorum granted.
    Won,
}

/// A simple majority configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MajorityConfig {
    /// The voters.
    pub voters: BTreeSet<NodeId>,
}

impl MajorityConfig {
    /// The highest index acknowledged by a majority, looking up each voter with `index_of`.
    /// An empty configuration returns `u64::MAX` (it agrees with anything).
    pub fn committed_index(&self, index_of: impl Fn(NodeId) -> u64) -> u64 {
        if self.voters.is_empty() {
            return u64::MAX;
        }
        let mut srt: Vec<u64> = self.voters.iter().map(|&id| index_of(id)).collect();
        srt.sort_unstable();
        let quorum = srt.len() / 2 + 1;
        srt[srt.len() - quorum]
    }

    /// Tallies `votes` (missing voters are pending).
    pub fn vote_result(&self, votes: &BTreeMap<NodeId, bool>) -> VoteResult {
        if self.voters.is_empty() {
            return VoteResult::Won;
        }
        let (mut yes, mut missing) = (0, 0);
        for id in &self.voters {
            match votes.get(id) {
                Some(true) => yes += 1,
                Some(false) => {}
                None => missing += 1,
            }
        }
        let quorum = self.voters.len() / 2 + 1;
        if yes >= quorum {
            VoteResult::Won
        } else if yes + missing >= quorum {
            VoteResult::Pending
        } else {
            VoteResult::Lost
        }
    }
}

/// Two majorities that must both agree while a membership change is in progress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JointConfig {
    /// The new (or only) configuration.
    pub incoming: MajorityConfig,
    /// The old configuration; empty when not joint.
    pub outgoing: MajorityConfig,
}

impl JointConfig {
    /// Minimum of both majorities' committed indexes (Raft §6).
    pub fn committed_index(&self, index_of: impl Fn(NodeId) -> u64) -> u64 {
        let a = self.incoming.committed_index(&index_of);
        let b = self.outgoing.committed_index(&index_of);
        a.min(b)
    }

    /// Won only if both win; lost if either loses.
    pub fn vote_result(&self, votes: &BTreeMap<NodeId, bool>) -> VoteResult {
        let a = self.incoming.vote_result(votes);
        let b = self.outgoing.vote_result(votes);
        match (a, b) {
            (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
            (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
            _ => VoteResult::Pending,
        }
    }

    /// Every voter of either half.
    pub fn ids(&self) -> BTreeSet<NodeId> {
        self.incoming
            .voters
            .union(&self.outgoing.voters)
            .copied()
            .collect()
    }

    /// Whether `id` votes in either half.
    pub fn contains(&self, id: NodeId) -> bool {
        self.incoming.voters.contains(&id) || self.outgoing.voters.contains(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(ids: &[u64]) -> MajorityConfig {
        MajorityConfig {
            voters: ids.iter().map(|&i| NodeId(i)).collect(),
        }
    }

    #[test]
    fn majority_commit_is_the_quorum_th_largest() {
        let c = cfg(&[1, 2, 3]);
        let matched = [0, 5, 3, 1];
        assert_eq!(c.committed_index(|id| matched[id.0 as usize]), 3);
        let j = JointConfig {
            incoming: c,
            outgoing: cfg(&[3]),
        };
        assert_eq!(j.committed_index(|id| matched[id.0 as usize]), 1);
    }

    #[test]
    fn joint_votes_need_both_halves() {
        let j = JointConfig {
            incoming: cfg(&[1, 2, 3]),
            outgoing: cfg(&[3, 4, 5]),
        };
        let mut v = BTreeMap::new();
        v.insert(NodeId(1), true);
        v.insert(NodeId(2), true);
        assert_eq!(j.vote_result(&v), VoteResult::Pending);
        v.insert(NodeId(4), false);
        v.insert(NodeId(5), false);
        assert_eq!(j.vote_result(&v), VoteResult::Lost);
    }
}
