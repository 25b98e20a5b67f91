//! The [`Transport`] seam between a node's store loop and the other nodes.
//!
//! Outbound, the store loop calls [`Transport::send`] once per destination node per round with
//! every message of every shard for that node; the call never blocks (a full queue or a down
//! peer is reported as a [`SendError`], and Raft retransmits). Inbound, a transport hands
//! batches to the store through an [`Inbound`] handle, which feeds the store's bounded inbox
//! and drops (never blocks) when the inbox is full.
//!
//! Implementations: `SimNetwork` (in memory, with partitions and seeded drops, for tests) and
//! `GrpcTransport` (tonic, one long-lived stream per destination node).

use std::sync::mpsc::TrySendError;

use raft::{Message, NodeId};
use router::ShardId;

use super::store::StoreMsg;

/// A Raft message of one shard's group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMessage {
    /// The shard whose group the message belongs to.
    pub shard: ShardId,
    /// The message; `msg.to` and `msg.from` are node ids.
    pub msg: Message,
}

/// Why a batch was not queued for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The destination is known to be down or cut off.
    #[error("node unreachable")]
    Unreachable,
    /// The destination's send queue is full (`send_queue_max`).
    #[error("send queue full")]
    QueueFull,
}

/// Why an inbound batch was not handed to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeliverError {
    /// The store's inbox is full (`inbox_max`); the batch is dropped.
    #[error("store inbox full")]
    Full,
    /// The store has stopped.
    #[error("store stopped")]
    Stopped,
}

/// Sends message batches to other nodes.
pub trait Transport: Send + Sync + 'static {
    /// Queues `batch` (possibly empty: a liveness probe) for node `to`. Never blocks.
    fn send(&self, to: NodeId, batch: Vec<ShardMessage>) -> Result<(), SendError>;
}

/// The store's input for a transport: delivers inbound batches and failure reports.
#[derive(Clone, Debug)]
pub struct Inbound {
    pub(crate) tx: std::sync::mpsc::SyncSender<StoreMsg>,
}

impl Inbound {
    /// Delivers a batch received from node `from`. A full inbox drops the batch, as a lossy
    /// network would (Raft resends); a stopped store refuses it, so a transport can end the
    /// stream and make the sender reconnect to whatever store runs there next.
    pub fn deliver(&self, from: NodeId, batch: Vec<ShardMessage>) -> Result<(), DeliverError> {
        self.tx
            .try_send(StoreMsg::Raft { from, batch })
            .map_err(|e| match e {
                TrySendError::Full(_) => DeliverError::Full,
                TrySendError::Disconnected(_) => DeliverError::Stopped,
            })
    }

    /// Reports that node `node` could not be reached (a broken stream, a failed connect).
    pub fn report_unreachable(&self, node: NodeId) {
        // A full inbox loses the report; the store's own failure detector notices the silence.
        let _ = self.tx.try_send(StoreMsg::Unreachable(node));
    }
}
