//! [`Config`]: everything that parameterises one Raft node, with its limits.

use crate::error::{Error, Result};
use crate::message::NodeId;

/// Parameters of one node. Every limit is named `max_*` and is configurable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's identity; must not be `NodeId(0)`.
    pub id: NodeId,
    /// Minimum election timeout in ticks; the actual timeout is drawn from
    /// `[election_ticks, 2 * election_ticks)` with the seeded PRNG (Raft §5.2).
    pub election_ticks: u64,
    /// Ticks between leader heartbeats. Invariant: `heartbeat_ticks < election_ticks`.
    pub heartbeat_ticks: u64,
    /// Seed of the election-jitter PRNG (mixed with `id`).
    pub seed: u64,
    /// Run a pre-vote round before raising the term (thesis §9.6).
    pub pre_vote: bool,
    /// A leader steps down when it has not heard from a quorum for an election timeout
    /// (thesis §6.2). (Followers ignore votes while they hear from a leader whether or
    /// not this is on, Raft §6.)
    pub check_quorum: bool,
    /// Serve reads from a leader lease (requires `check_quorum`).
    pub lease_read: bool,
    /// Length of the leader lease in ticks, counted from the heartbeat round a quorum
    /// acknowledged. Invariant (if `lease_read`): `0 < lease_ticks < election_ticks`.
    pub lease_ticks: u64,
    /// Maximum bytes of entries in one append message (at least one entry is sent).
    pub max_size_per_msg_bytes: u64,
    /// Maximum append messages in flight to one follower (pipelining window).
    pub max_inflight_msgs: usize,
    /// Maximum bytes of entries the leader holds uncommitted; proposals beyond it fail
    /// with [`Error::UncommittedLimitExceeded`].
    pub max_uncommitted_bytes: u64,
    /// Maximum bytes of committed entries in one `Ready` (at least one entry).
    pub max_committed_bytes_per_ready: u64,
    /// Maximum read-index requests waiting at the leader.
    pub max_pending_reads: usize,
    /// Idle ticks after which a leader with everything replicated and committed
    /// quiesces the group; 0 disables quiescence.
    pub quiesce_after_ticks: u64,
    /// Index the application has applied (durably, with its state); entries up to it
    /// are not handed out again. Raised to the storage's snapshot index if lower; must
    /// not exceed the durable commit index.
    pub applied: u64,
}

impl Config {
    /// A config with production-sized defaults for node `id`.
    pub fn new(id: NodeId) -> Self {
        Self {
            id,
            election_ticks: 10,
            heartbeat_ticks: 1,
            seed: id.0,
            pre_vote: true,
            check_quorum: true,
            lease_read: false,
            lease_ticks: 8,
            max_size_per_msg_bytes: 1 << 20,
            max_inflight_msgs: 256,
            max_uncommitted_bytes: 64 << 20,
            max_committed_bytes_per_ready: 16 << 20,
            max_pending_reads: 4096,
            quiesce_after_ticks: 0,
            applied: 0,
        }
    }

    /// Checks the invariants documented on each field.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: &str| Err(Error::InvalidConfig(why.to_string()));
        if self.id == NodeId(0) {
            return bad("id must not be 0");
        }
        if self.heartbeat_ticks == 0 {
            return bad("heartbeat_ticks must be greater than 0");
        }
        if self.election_ticks <= self.heartbeat_ticks {
            return bad("election_ticks must be greater than heartbeat_ticks");
        }
        if self.lease_read && !self.check_quorum {
            return bad("lease_read requires check_quorum");
        }
        if self.lease_read && (self.lease_ticks == 0 || self.lease_ticks >= self.election_ticks) {
            return bad("lease_ticks must be in 1..election_ticks");
        }
        if self.max_size_per_msg_bytes == 0
            || self.max_inflight_msgs == 0
            || self.max_uncommitted_bytes == 0
            || self.max_committed_bytes_per_ready == 0
            || self.max_pending_reads == 0
        {
            return bad("max_* limits must be greater than 0");
        }
        if self.quiesce_after_ticks != 0 && self.quiesce_after_ticks < self.heartbeat_ticks {
            return bad("quiesce_after_ticks must be 0 or at least heartbeat_ticks");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_rejects_unsafe_lease() {
        let mut c = Config::new(NodeId(1));
        assert!(c.validate().is_ok());
        c.lease_read = true;
        c.lease_ticks = c.election_ticks;
        assert!(c.validate().is_err());
        c.lease_ticks = c.election_ticks - 1;
        assert!(c.validate().is_ok());
        c.check_quorum = false;
        assert!(c.validate().is_err());
    }
}
