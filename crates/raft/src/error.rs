//! The crate's single error type.

use crate::message::NodeId;

/// Errors returned by the Raft library. Expected conditions (no leader, a pending
/// configuration change, a compacted log...) are values of this enum; a broken
/// invariant panics instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// This node is not the leader; `leader` is the leader it knows of, if any.
    #[error("not the leader (known leader: {leader:?})")]
    NotLeader {
        /// The leader this node currently knows of.
        leader: Option<NodeId>,
    },
    /// A leader transfer to the given node is in progress; proposals are refused.
    #[error("leader transfer to {0} in progress")]
    TransferInProgress(NodeId),
    /// This leader is being removed from (or demoted in) the configuration and takes
    /// no more proposals.
    #[error("leader is leaving the configuration")]
    LeaderLeaving,
    /// Appending the proposal would exceed `max_uncommitted_bytes`.
    #[error("proposal would exceed max_uncommitted_bytes")]
    UncommittedLimitExceeded,
    /// A proposal batch was empty.
    #[error("empty proposal batch")]
    EmptyProposal,
    /// A configuration change is already pending (Raft §6: one change at a time).
    #[error("a configuration change is already pending")]
    ConfChangePending,
    /// The configuration change is not valid against the current configuration.
    #[error("invalid configuration change: {0}")]
    InvalidConfChange(String),
    /// The leader transfer target is not a voter of the current configuration.
    #[error("cannot transfer leadership to {0}: not a voter")]
    InvalidTransferTarget(NodeId),
    /// More than `max_pending_reads` read requests are waiting.
    #[error("too many pending read requests (max_pending_reads)")]
    TooManyPendingReads,
    /// This node cannot campaign (it is a learner, not in the configuration, or has
    /// unapplied configuration changes).
    #[error("cannot campaign: {0}")]
    CannotCampaign(&'static str),
    /// The configuration is invalid.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// The requested index is compacted away.
    #[error("requested index is compacted")]
    Compacted,
    /// The requested entries are not (yet) available.
    #[error("requested entries are unavailable")]
    Unavailable,
    /// The storage cannot produce a snapshot right now; the leader retries later.
    #[error("snapshot temporarily unavailable")]
    SnapshotTemporarilyUnavailable,
    /// The snapshot is older than the one already held.
    #[error("snapshot out of date")]
    SnapshotOutOfDate,
    /// A message came from a node with no progress entry (not in the configuration).
    #[error("peer {0} not found in the configuration")]
    PeerNotFound(NodeId),
    /// Bytes could not be decoded (e.g. a configuration change entry).
    #[error("decode error: {0}")]
    Decode(String),
    /// Storage failure reported by a [`crate::Storage`] implementation.
    #[error("storage error: {0}")]
    Storage(String),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
