//! [`Status`]: a snapshot of a node's state for metrics and debugging.

use std::collections::BTreeMap;

use crate::message::{ConfState, HardState, NodeId, SoftState};
use crate::progress::ProgressState;

/// One follower's replication state, as seen by the leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgressStatus {
    /// Highest index known replicated.
    pub matched: u64,
    /// Next index to send.
    pub next_idx: u64,
    /// Flow-control state.
    pub state: ProgressState,
    /// Whether the peer is a learner.
    pub is_learner: bool,
    /// Whether the peer was heard from recently.
    pub recent_active: bool,
    /// Append messages in flight.
    pub inflight_msgs: usize,
}

/// State of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// This node.
    pub id: NodeId,
    /// Term, vote and commit index.
    pub hard_state: HardState,
    /// Leader and role.
    pub soft_state: SoftState,
    /// Applied index. Invariant: `applied <= hard_state.commit`.
    pub applied: u64,
    /// Last log index.
    pub last_index: u64,
    /// Every peer's progress; empty unless this node is the leader.
    pub progress: BTreeMap<NodeId, ProgressStatus>,
    /// Leader transfer target, if a transfer is in progress.
    pub lead_transferee: Option<NodeId>,
    /// Whether the group is quiesced at this node.
    pub quiescent: bool,
    /// Current configuration.
    pub conf_state: ConfState,
}
