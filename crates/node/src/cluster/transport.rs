//! The [`Transport`] seam between a node's store loop and the other nodes.
//!
//! Outbound, the store loop calls [`Transport::send`] once per destination node per round with
//! every message of every shard for that node; the call never blocks (a full queue or a down
//! peer is reported as a [`SendError`], and Raft retransmits). Inbound, a transport hands
//! batches to the store through an [`Inbound`] handle, which feeds the store's bounded inbox
//! and drops (never blocks) when the inbox is full.
//!
//! Snapshots of shard data do not travel in batches: a snapshot sender thread (never the store
//! loop) opens a [`SnapshotSink`] with [`Transport::send_snapshot`] and streams
//! [`SnapshotChunk`]s through it; the receiving transport hands them to a
//! [`SnapshotReceiver`] from [`Inbound::snapshot_receiver`], which stages the payload on disk and
//! then delivers the Raft snapshot message to the store.
//!
//! Implementations: `SimNetwork` (in memory, with partitions and seeded drops, for tests) and
//! `GrpcTransport` (tonic, one long-lived stream per destination node).

use std::path::PathBuf;
use std::sync::mpsc::TrySendError;
use std::sync::Arc;

use raft::{Message, NodeId};
use router::ShardId;

use super::snapshot::SnapshotReceiver;
use super::store::StoreMsg;

/// One piece of a streamed snapshot of one shard's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotChunk {
    /// The shard.
    pub shard: ShardId,
    /// The Raft snapshot message: on the first chunk only.
    pub message: Option<Message>,
    /// Byte offset of `data` in the whole payload.
    pub offset: u64,
    /// Payload bytes (at most `snapshot_chunk_bytes_max` plus one record).
    pub data: Vec<u8>,
    /// Whether this is the last chunk.
    pub last: bool,
}

/// Why a snapshot stream failed; the leader reports the failure to Raft and retries later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The destination could not be reached, or the stream broke.
    #[error("snapshot stream broken: {0}")]
    Broken(String),
    /// The receiver refused the stream (malformed, out of order, or its store is gone).
    #[error("snapshot refused: {0}")]
    Refused(String),
    /// Local I/O failed while producing or staging the snapshot.
    #[error("snapshot i/o: {0}")]
    Io(String),
}

/// An open snapshot stream to one node.
pub trait SnapshotSink: Send {
    /// Sends the next chunk; may block (this runs on a snapshot sender thread).
    fn send_chunk(&mut self, chunk: SnapshotChunk) -> Result<(), SnapshotError>;
    /// Waits until the receiver acknowledged the whole stream (staged durably).
    fn finish(self: Box<Self>) -> Result<(), SnapshotError>;
}

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

    /// Opens a snapshot stream to node `to`. Called on a snapshot sender thread; may block.
    fn send_snapshot(&self, to: NodeId) -> Result<Box<dyn SnapshotSink>, SnapshotError>;
}

/// The store's input for a transport: delivers inbound batches and failure reports.
#[derive(Clone, Debug)]
pub struct Inbound {
    pub(crate) tx: std::sync::mpsc::SyncSender<StoreMsg>,
    /// Where received snapshots are staged (`<db>/snapshots`).
    pub(crate) snapshot_dir: Arc<PathBuf>,
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

    /// A receiver for one snapshot stream from node `from`.
    pub fn snapshot_receiver(&self, from: NodeId) -> SnapshotReceiver {
        SnapshotReceiver::new(from, self.clone())
    }

    /// Delivers a fully staged snapshot's Raft message; unlike [`Inbound::deliver`] it waits
    /// for room in the inbox, since the stream that carried it was expensive.
    pub(crate) fn deliver_snapshot(
        &self,
        from: NodeId,
        sm: ShardMessage,
    ) -> Result<(), DeliverError> {
        self.tx
            .send(StoreMsg::Raft {
                from,
                batch: vec![sm],
            })
            .map_err(|_| DeliverError::Stopped)
    }

    /// Reports that node `node` could not be reached (a broken stream, a failed connect).
    pub fn report_unreachable(&self, node: NodeId) {
        // A full inbox loses the report; the store's own failure detector notices the silence.
        let _ = self.tx.try_send(StoreMsg::Unreachable(node));
    }
}
