//! The cluster runtime's error type: what a proposal or a read can fail with.

use raft::NodeId;
use router::ShardId;

use super::codec::CodecError;

/// Why a cluster operation failed. Expected conditions (not the leader, a deadline passed, a
/// proposal lost to a leader change) are values the server maps to client replies
/// (`MOVED`/forwarding, `TRYAGAIN`, `CLUSTERDOWN`); a broken invariant panics instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// This node does not lead the shard; `leader` is the node it believes leads, if any.
    #[error("shard {shard} is led elsewhere (leader: {leader:?})")]
    NotLeader {
        /// The shard.
        shard: ShardId,
        /// The leader this node knows of.
        leader: Option<NodeId>,
    },
    /// The shard has no replica on this node.
    #[error("shard {0} has no replica on this node")]
    UnknownShard(ShardId),
    /// The request did not complete before its deadline (`request_deadline_ms`); it may
    /// still take effect.
    #[error("request deadline exceeded")]
    DeadlineExceeded,
    /// The proposal's log position was taken by a different entry after a leader change:
    /// it did not and will not take effect; the client may retry.
    #[error("proposal dropped by a leader change; retry")]
    ProposalDropped,
    /// The write follows one of its session that this replica did not accept in its current
    /// term (refused it, accepted it in an earlier term, or never got it), so it could
    /// overtake that one: it was not done; the session retries it after the earlier one
    /// (see `cluster::chain`).
    #[error("an earlier write of the session was not accepted in this term; retry")]
    OutOfOrder,
    /// A queue or limit (`*_max`) is full; the client may retry later.
    #[error("busy: {0}")]
    Busy(&'static str),
    /// A stale read found this replica installing a snapshot (its data is half replaced);
    /// the client may retry shortly.
    #[error("replica installing a snapshot")]
    Installing,
    /// The Raft group refused the request for a reason other than leadership.
    #[error("raft: {0}")]
    Raft(raft::Error),
    /// The store is shutting down or has stopped.
    #[error("store stopped")]
    Stopped,
    /// Storage failed (RocksDB) or stored bytes did not decode.
    #[error("storage: {0}")]
    Storage(String),
}

impl From<storage::StorageError> for ClusterError {
    fn from(e: storage::StorageError) -> Self {
        ClusterError::Storage(e.to_string())
    }
}

impl From<CodecError> for ClusterError {
    fn from(e: CodecError) -> Self {
        ClusterError::Storage(e.to_string())
    }
}

/// Result type of the cluster runtime.
pub type ClusterResult<T> = Result<T, ClusterError>;
