//! [`ReadOnly`]: read-index requests waiting for a heartbeat quorum (Raft thesis §6.4).

use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::message::NodeId;

/// One pending read-index request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadIndexStatus {
    /// Who asked (this node for local reads, or a follower that forwarded).
    pub from: NodeId,
    /// The caller's context, unique per request.
    pub ctx: Vec<u8>,
    /// The commit index when the request arrived.
    pub index: u64,
    /// Voters that acknowledged a heartbeat carrying `ctx` (or a later one).
    pub acks: BTreeSet<NodeId>,
}

/// Read requests in arrival order.
#[derive(Clone, Debug, Default)]
pub struct ReadOnly {
    /// Requests by context. Invariant: same keys as `queue`.
    pending: HashMap<Vec<u8>, ReadIndexStatus>,
    /// Contexts in arrival order.
    queue: VecDeque<Vec<u8>>,
}

impl ReadOnly {
    /// Number of pending requests.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Adds a request; a context already pending is ignored.
    pub fn add_request(&mut self, index: u64, from: NodeId, ctx: Vec<u8>) {
        if self.pending.contains_key(&ctx) {
            return;
        }
        let status = ReadIndexStatus {
            from,
            ctx: ctx.clone(),
            index,
            acks: BTreeSet::new(),
        };
        self.pending.insert(ctx.clone(), status);
        self.queue.push_back(ctx);
    }

    /// Records `from`'s acknowledgement of `ctx`; returns the acks so far.
    pub fn recv_ack(&mut self, from: NodeId, ctx: &[u8]) -> Option<&BTreeSet<NodeId>> {
        let status = self.pending.get_mut(ctx)?;
        status.acks.insert(from);
        Some(&status.acks)
    }

    /// Removes and returns every request up to and including `ctx` (a heartbeat quorum
    /// for `ctx` also confirms leadership for the earlier ones).
    pub fn advance(&mut self, ctx: &[u8]) -> Vec<ReadIndexStatus> {
        let Some(pos) = self.queue.iter().position(|c| c == ctx) else {
            return Vec::new();
        };
        self.queue
            .drain(..=pos)
            .filter_map(|c| self.pending.remove(&c))
            .collect()
    }

    /// Context of the newest request, sent with heartbeats.
    pub fn last_pending_ctx(&self) -> Option<&Vec<u8>> {
        self.queue.back()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_releases_earlier_requests() {
        let mut r = ReadOnly::default();
        r.add_request(5, NodeId(1), b"a".to_vec());
        r.add_request(6, NodeId(2), b"b".to_vec());
        r.add_request(7, NodeId(1), b"c".to_vec());
        assert_eq!(r.recv_ack(NodeId(2), b"b").map(|a| a.len()), Some(1));
        let done = r.advance(b"b");
        assert_eq!(done.iter().map(|s| s.index).collect::<Vec<_>>(), vec![5, 6]);
        assert_eq!(r.len(), 1);
    }
}
