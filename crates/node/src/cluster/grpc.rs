//! [`GrpcTransport`]: the [`Transport`] over tonic gRPC, and [`TransportService`], its
//! receiving side.
//!
//! Per destination node there is one bounded queue (`send_queue_max` batches) and one task
//! that keeps one long-lived client stream (`Transport.Raft`) open to that node, coalescing
//! queued batches into one `MessageBatch` per write (up to `batch_messages_max` messages).
//! [`Transport::send`] never blocks the store loop: a full queue drops the batch
//! ([`SendError::QueueFull`]) and a destination whose connection is down refuses it
//! ([`SendError::Unreachable`]); Raft retransmits either way. A failed connect or a broken
//! stream is reported to the store ([`Inbound::report_unreachable`]) and retried with
//! exponential backoff.
//!
//! A snapshot opens its own connection and `Transport.Snapshot` client stream (so a large
//! payload never delays the Raft messages of other shards); the sender thread feeds it through
//! a small bounded channel, so the stream's pace is the sender's (rate-limited) pace. The
//! receiving side stages chunks as they arrive and answers once the payload is durable.
//!
//! Forwarded client requests arrive on `Transport.ForwardStream` (the sending side is
//! `crate::forward::Peers`): the service starts each request through [`NodeService`] in
//! arrival order, runs them concurrently, and streams the replies back as they complete,
//! batched under `message_bytes_max`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use parking_lot::Mutex;
use prost::Message as _;
use raft::NodeId;
use redraft_proto as pb;
use router::ShardId;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};

use super::codec;
use super::snapshot::SnapshotReceiver;
use super::transport::{
    DeliverError, Inbound, SendError, ShardMessage, SnapshotChunk, SnapshotError, SnapshotSink,
    Transport,
};

/// Limits and timing of the gRPC transport.
#[derive(Debug, Clone)]
pub struct GrpcTransportConfig {
    /// This node's id (the `from_node` of every batch).
    pub node_id: NodeId,
    /// Batches queued per destination before sends are dropped.
    pub send_queue_max: usize,
    /// Messages coalesced into one `MessageBatch` on the wire.
    pub batch_messages_max: usize,
    /// Largest encoded `MessageBatch` accepted by the receiving side, in bytes.
    pub message_bytes_max: usize,
    /// First reconnect delay; doubles up to `reconnect_backoff_max_ms`.
    pub reconnect_backoff_min_ms: u64,
    /// Longest reconnect delay.
    pub reconnect_backoff_max_ms: u64,
    /// How long one connection attempt may take.
    pub connect_deadline_ms: u64,
    /// HTTP/2 keep-alive ping interval on idle streams, so a dead peer is noticed.
    pub keep_alive_interval_ms: u64,
}

impl GrpcTransportConfig {
    /// Defaults for node `node_id`.
    pub fn new(node_id: NodeId) -> Self {
        GrpcTransportConfig {
            node_id,
            send_queue_max: 4_096,
            batch_messages_max: 4_096,
            message_bytes_max: 64 << 20,
            reconnect_backoff_min_ms: 50,
            reconnect_backoff_max_ms: 2_000,
            connect_deadline_ms: 1_000,
            keep_alive_interval_ms: 1_000,
        }
    }
}

/// Link states (an `AtomicU8`).
const LINK_CONNECTING: u8 = 0;
const LINK_UP: u8 = 1;
const LINK_DOWN: u8 = 2;

/// The sending side of one destination.
struct Link {
    queue: mpsc::Sender<Vec<ShardMessage>>,
    state: Arc<AtomicU8>,
}

/// Sends Raft message batches to other nodes over gRPC.
pub struct GrpcTransport {
    cfg: GrpcTransportConfig,
    runtime: tokio::runtime::Handle,
    addrs: Mutex<HashMap<NodeId, String>>,
    links: Mutex<HashMap<NodeId, Link>>,
    /// Where connection failures are reported; set once the store is running.
    inbound: Arc<OnceLock<Inbound>>,
}

impl GrpcTransport {
    /// A transport whose link tasks run on `runtime`. `addrs` maps node ids to URIs such as
    /// `http://127.0.0.1:7001`.
    pub fn new(
        cfg: GrpcTransportConfig,
        addrs: HashMap<NodeId, String>,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Self> {
        Arc::new(GrpcTransport {
            cfg,
            runtime,
            addrs: Mutex::new(addrs),
            links: Mutex::new(HashMap::new()),
            inbound: Arc::new(OnceLock::new()),
        })
    }

    /// Connects failure reports to the store (call once, after `Store::start`).
    pub fn set_inbound(&self, inbound: Inbound) {
        let _ = self.inbound.set(inbound);
    }

    /// Sets or changes the address of node `id` (the next connection attempt uses it).
    pub fn set_address(&self, id: NodeId, addr: String) {
        self.addrs.lock().insert(id, addr);
        self.links.lock().remove(&id);
    }

    fn open_link(&self, to: NodeId) -> Option<Link> {
        let addr = self.addrs.lock().get(&to)?.clone();
        let (tx, rx) = mpsc::channel(self.cfg.send_queue_max.max(1));
        let state = Arc::new(AtomicU8::new(LINK_CONNECTING));
        let task = LinkTask {
            cfg: self.cfg.clone(),
            to,
            addr,
            queue: rx,
            state: Arc::clone(&state),
            inbound: Arc::clone(&self.inbound),
        };
        self.runtime.spawn(task.run());
        Some(Link { queue: tx, state })
    }
}

impl Transport for GrpcTransport {
    fn send(&self, to: NodeId, batch: Vec<ShardMessage>) -> Result<(), SendError> {
        let mut links = self.links.lock();
        if links.get(&to).is_none_or(|l| l.queue.is_closed()) {
            let link = self.open_link(to).ok_or(SendError::Unreachable)?;
            links.insert(to, link);
        }
        let link = links.get(&to).ok_or(SendError::Unreachable)?;
        if link.state.load(Ordering::Acquire) == LINK_DOWN {
            return Err(SendError::Unreachable);
        }
        link.queue.try_send(batch).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => SendError::Unreachable,
        })
    }

    fn send_snapshot(&self, to: NodeId) -> Result<Box<dyn SnapshotSink>, SnapshotError> {
        let addr = self
            .addrs
            .lock()
            .get(&to)
            .cloned()
            .ok_or_else(|| SnapshotError::Broken(format!("no address for node {to}")))?;
        // Two chunks in flight: the sender thread blocks on the rest (back-pressure).
        let (tx, rx) = mpsc::channel::<pb::SnapshotChunk>(2);
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        let cfg = self.cfg.clone();
        self.runtime.spawn(async move {
            let _ = done_tx.send(stream_snapshot(cfg, addr, rx).await);
        });
        Ok(Box::new(GrpcSnapshotSink {
            from: self.cfg.node_id,
            to,
            tx: Some(tx),
            done: done_rx,
        }))
    }
}

/// Runs one `Transport.Snapshot` call over a fresh connection until the receiver answers.
async fn stream_snapshot(
    cfg: GrpcTransportConfig,
    addr: String,
    rx: mpsc::Receiver<pb::SnapshotChunk>,
) -> Result<(), SnapshotError> {
    let channel = connect(&cfg, &addr).await.map_err(SnapshotError::Broken)?;
    let mut client = pb::transport_client::TransportClient::new(channel)
        .max_encoding_message_size(cfg.message_bytes_max);
    match client.snapshot(ReceiverStream::new(rx)).await {
        Ok(_) => Ok(()),
        Err(status) => Err(SnapshotError::Refused(status.to_string())),
    }
}

/// The sending end of one snapshot stream, used from a snapshot sender thread.
struct GrpcSnapshotSink {
    from: NodeId,
    to: NodeId,
    tx: Option<mpsc::Sender<pb::SnapshotChunk>>,
    done: std::sync::mpsc::Receiver<Result<(), SnapshotError>>,
}

impl GrpcSnapshotSink {
    /// Why the call ended early (or a generic reason if it has not reported yet).
    fn failure(&self) -> SnapshotError {
        match self.done.try_recv() {
            Ok(Err(e)) => e,
            _ => SnapshotError::Broken("snapshot stream closed".into()),
        }
    }
}

impl SnapshotSink for GrpcSnapshotSink {
    fn send_chunk(&mut self, chunk: SnapshotChunk) -> Result<(), SnapshotError> {
        let wire = pb::SnapshotChunk {
            from_node: self.from.0,
            to_node: self.to.0,
            shard_id: chunk.shard.0,
            metadata: chunk
                .message
                .as_ref()
                .and_then(|m| m.snapshot.as_ref())
                .map(|s| codec::snapshot_metadata_to_pb(&s.metadata)),
            offset: chunk.offset,
            data: chunk.data,
            last: chunk.last,
            message: chunk.message.as_ref().map(codec::message_to_pb),
        };
        let tx = self.tx.as_ref().ok_or_else(|| self.failure())?;
        if tx.blocking_send(wire).is_err() {
            return Err(self.failure());
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), SnapshotError> {
        // Ends the client stream; the call then completes with the receiver's answer.
        self.tx = None;
        self.done
            .recv()
            .unwrap_or_else(|_| Err(SnapshotError::Broken("snapshot task ended".into())))
    }
}

/// Connects to `addr` with the transport's deadlines and keep-alive.
async fn connect(cfg: &GrpcTransportConfig, addr: &str) -> Result<Channel, String> {
    let keep_alive = Duration::from_millis(cfg.keep_alive_interval_ms.max(1));
    let endpoint = Endpoint::from_shared(addr.to_string())
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_millis(cfg.connect_deadline_ms))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(keep_alive)
        .keep_alive_timeout(keep_alive * 2)
        .keep_alive_while_idle(true);
    endpoint.connect().await.map_err(|e| e.to_string())
}

/// The task that owns the connection to one destination.
struct LinkTask {
    cfg: GrpcTransportConfig,
    to: NodeId,
    addr: String,
    queue: mpsc::Receiver<Vec<ShardMessage>>,
    state: Arc<AtomicU8>,
    inbound: Arc<OnceLock<Inbound>>,
}

/// Why a stream ended.
enum StreamEnd {
    /// The transport was dropped: stop.
    QueueClosed,
    /// The connection or the stream failed: reconnect.
    Broken(String),
}

impl LinkTask {
    async fn run(mut self) {
        let min = Duration::from_millis(self.cfg.reconnect_backoff_min_ms.max(1));
        let max = Duration::from_millis(self.cfg.reconnect_backoff_max_ms).max(min);
        let mut backoff = min;
        loop {
            let why = match self.connect().await {
                Ok(channel) => {
                    self.state.store(LINK_UP, Ordering::Release);
                    backoff = min;
                    match self.pump(channel).await {
                        StreamEnd::QueueClosed => return,
                        StreamEnd::Broken(why) => why,
                    }
                }
                Err(why) => why,
            };
            self.state.store(LINK_DOWN, Ordering::Release);
            tracing::debug!(to = %self.to, addr = %self.addr, %why, ?backoff, "link down");
            if let Some(inbound) = self.inbound.get() {
                inbound.report_unreachable(self.to);
            }
            // Queued messages are stale by the time the link is back; Raft resends.
            while self.queue.try_recv().is_ok() {}
            if self.queue.is_closed() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(max);
        }
    }

    async fn connect(&self) -> Result<Channel, String> {
        connect(&self.cfg, &self.addr).await
    }

    /// Streams queued batches until the stream breaks or the queue closes.
    async fn pump(&mut self, channel: Channel) -> StreamEnd {
        let mut client = pb::transport_client::TransportClient::new(channel)
            .max_encoding_message_size(self.cfg.message_bytes_max);
        // A small window: batches wait in `queue` (bounded, droppable), not in the stream.
        let (tx, rx) = mpsc::channel::<pb::MessageBatch>(2);
        let call = client.raft(ReceiverStream::new(rx));
        tokio::pin!(call);
        loop {
            tokio::select! {
                result = &mut call => {
                    let why = match result {
                        Ok(_) => "stream closed by peer".to_string(),
                        Err(status) => status.to_string(),
                    };
                    return StreamEnd::Broken(why);
                }
                batch = self.queue.recv() => {
                    let Some(first) = batch else { return StreamEnd::QueueClosed };
                    let wire = self.coalesce(first);
                    if tx.send(wire).await.is_err() {
                        return StreamEnd::Broken("stream body dropped".into());
                    }
                }
            }
        }
    }

    /// One wire batch from `first` and whatever else is queued, up to `batch_messages_max`.
    fn coalesce(&mut self, first: Vec<ShardMessage>) -> pb::MessageBatch {
        let mut messages: Vec<pb::ShardMessage> = first.iter().map(shard_message_to_pb).collect();
        while messages.len() < self.cfg.batch_messages_max {
            match self.queue.try_recv() {
                Ok(more) => messages.extend(more.iter().map(shard_message_to_pb)),
                Err(_) => break,
            }
        }
        pb::MessageBatch {
            from_node: self.cfg.node_id.0,
            to_node: self.to.0,
            messages,
        }
    }
}

fn shard_message_to_pb(m: &ShardMessage) -> pb::ShardMessage {
    pb::ShardMessage {
        shard_id: m.shard.0,
        message: Some(codec::message_to_pb(&m.msg)),
    }
}

fn shard_message_from_pb(m: pb::ShardMessage) -> Result<ShardMessage, codec::CodecError> {
    let msg = m
        .message
        .ok_or(codec::CodecError::Missing("ShardMessage.message"))?;
    Ok(ShardMessage {
        shard: ShardId(m.shard_id),
        msg: codec::message_from_pb(msg)?,
    })
}

fn snapshot_chunk_from_pb(c: pb::SnapshotChunk) -> Result<SnapshotChunk, codec::CodecError> {
    Ok(SnapshotChunk {
        shard: ShardId(c.shard_id),
        message: c.message.map(codec::message_from_pb).transpose()?,
        offset: c.offset,
        data: c.data,
        last: c.last,
    })
}

/// The reply to one forwarded request, once it completes.
pub type ForwardReplyFuture = Pin<Box<dyn Future<Output = pb::ForwardReply> + Send>>;

/// What the node above the store answers on the transport: forwarded client requests and
/// who it is. Implemented by the server (`crate::forward`); without one, both RPCs answer
/// UNAVAILABLE.
pub trait NodeService: Send + Sync + 'static {
    /// Starts a forwarded request on this node's replica of its shard. A write is in the
    /// store's queue before this returns, so requests started one after another are proposed
    /// in that order; the future resolves to the reply (carrying the request's `id`).
    fn start_forward(&self, request: pb::ForwardRequest) -> ForwardReplyFuture;
    /// This node's name and Redis address.
    fn hello(&self) -> pb::HelloReply;
}

/// Reply batches queued for one `ForwardStream` before its writer waits for the peer to read.
const FORWARD_REPLY_BATCHES_QUEUED: usize = 4;

/// Bytes a message spends on one element of a repeated field beyond its own encoding (tag and
/// length prefix), rounded up.
const REPEATED_ITEM_OVERHEAD_BYTES: usize = 16;

/// The receiving side: delivers every inbound batch to the store.
pub struct TransportService {
    inbound: Inbound,
    node_id: NodeId,
    node: Option<Arc<dyn NodeService>>,
    /// Largest message either way (set by [`TransportService::into_server`]); forwarded
    /// replies are batched under it.
    message_bytes_max: usize,
}

impl TransportService {
    /// A service delivering to the store behind `inbound`, for node `node_id`.
    pub fn new(node_id: NodeId, inbound: Inbound) -> Self {
        TransportService {
            inbound,
            node_id,
            node: None,
            message_bytes_max: GrpcTransportConfig::new(node_id).message_bytes_max,
        }
    }

    /// Serves `ForwardStream` and `Hello` with `node`.
    pub fn with_node_service(mut self, node: Arc<dyn NodeService>) -> Self {
        self.node = Some(node);
        self
    }

    /// The tonic service, with the message size limit (inbound messages, forwarded reply
    /// batches).
    pub fn into_server(
        mut self,
        message_bytes_max: usize,
    ) -> pb::transport_server::TransportServer<Self> {
        self.message_bytes_max = message_bytes_max;
        pb::transport_server::TransportServer::new(self)
            .max_decoding_message_size(message_bytes_max)
    }

    /// Hands one wire batch to the store. Fails only when the store has stopped.
    fn on_batch(&self, batch: pb::MessageBatch) -> Result<(), DeliverError> {
        if batch.to_node != self.node_id.0 {
            tracing::warn!(node = %self.node_id, to = batch.to_node, "batch for another node dropped");
            return Ok(());
        }
        let from = NodeId(batch.from_node);
        let mut msgs = Vec::with_capacity(batch.messages.len());
        for m in batch.messages {
            match shard_message_from_pb(m) {
                Ok(m) => msgs.push(m),
                Err(e) => tracing::warn!(%from, error = %e, "undecodable message dropped"),
            }
        }
        match self.inbound.deliver(from, msgs) {
            // A full inbox drops the batch, as a lossy network would; Raft resends.
            Ok(()) | Err(DeliverError::Full) => Ok(()),
            Err(DeliverError::Stopped) => Err(DeliverError::Stopped),
        }
    }
}

#[tonic::async_trait]
impl pb::transport_server::Transport for TransportService {
    async fn raft(
        &self,
        request: Request<Streaming<pb::MessageBatch>>,
    ) -> Result<Response<pb::Done>, Status> {
        let mut stream = request.into_inner();
        while let Some(batch) = stream.message().await? {
            // Ending the stream makes the sender reconnect, to the next store started here.
            if self.on_batch(batch).is_err() {
                return Err(Status::unavailable("store stopped"));
            }
        }
        Ok(Response::new(pb::Done {}))
    }

    /// Stages the chunks as they arrive (small synchronous file writes; the final fsync and
    /// the hand-off to the store happen on the last chunk) and answers once delivered.
    async fn snapshot(
        &self,
        request: Request<Streaming<pb::SnapshotChunk>>,
    ) -> Result<Response<pb::Done>, Status> {
        let mut stream = request.into_inner();
        let mut receiver: Option<SnapshotReceiver> = None;
        while let Some(wire) = stream.message().await? {
            if wire.to_node != self.node_id.0 {
                return Err(Status::invalid_argument("snapshot for another node"));
            }
            let from = NodeId(wire.from_node);
            let r = receiver.get_or_insert_with(|| self.inbound.snapshot_receiver(from));
            let chunk = snapshot_chunk_from_pb(wire)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            r.on_chunk(chunk)
                .map_err(|e| Status::aborted(e.to_string()))?;
            if r.is_done() {
                return Ok(Response::new(pb::Done {}));
            }
        }
        Err(Status::aborted(
            "snapshot stream ended before its last chunk",
        ))
    }

    type ForwardStreamStream = ReceiverStream<Result<pb::ForwardReplyBatch, Status>>;

    async fn forward_stream(
        &self,
        request: Request<Streaming<pb::ForwardBatch>>,
    ) -> Result<Response<Self::ForwardStreamStream>, Status> {
        let Some(node) = self.node.clone() else {
            return Err(Status::unavailable("this node serves no clients"));
        };
        let (tx, rx) = mpsc::channel(FORWARD_REPLY_BATCHES_QUEUED);
        tokio::spawn(serve_forward_stream(
            node,
            request.into_inner(),
            tx,
            self.message_bytes_max,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn hello(
        &self,
        _request: Request<pb::HelloRequest>,
    ) -> Result<Response<pb::HelloReply>, Status> {
        match &self.node {
            Some(node) => Ok(Response::new(node.hello())),
            None => Err(Status::unavailable("this node serves no clients")),
        }
    }
}

/// Serves one `ForwardStream`: starts its requests in arrival order (so one sender's writes to
/// a shard are proposed in the order it sent them), lets each run on its own task, and hands
/// each reply to the stream's writer as it completes.
///
/// Requests in progress are bounded by the sender's window (`--forward-inflight-max` on the
/// sending node) and by the store's own queues, which answer `REJECTED` (busy) beyond their
/// limits. A broken stream stops the reading; requests already started still complete (a
/// write may apply), their replies have nowhere to go and are dropped.
async fn serve_forward_stream(
    node: Arc<dyn NodeService>,
    mut requests: Streaming<pb::ForwardBatch>,
    out: mpsc::Sender<Result<pb::ForwardReplyBatch, Status>>,
    message_bytes_max: usize,
) {
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    tokio::spawn(write_forward_replies(done_rx, out, message_bytes_max));
    loop {
        let message = tokio::select! {
            message = requests.message() => message,
            // The writer ended the stream (this node is stopping, or the peer went away).
            () = done_tx.closed() => break,
        };
        match message {
            Ok(Some(batch)) => {
                for request in batch.requests {
                    let mut reply = node.start_forward(request);
                    // Most reads (under the leader lease) are answered at once: no task for
                    // them. A request that has to wait gets its own task, whose first poll
                    // registers the real waker.
                    let mut cx = Context::from_waker(Waker::noop());
                    if let Poll::Ready(done) = reply.as_mut().poll(&mut cx) {
                        let _ = done_tx.send(done);
                        continue;
                    }
                    let done = done_tx.clone();
                    tokio::spawn(async move {
                        let _ = done.send(reply.await);
                    });
                }
            }
            Ok(None) => break,
            Err(status) => {
                tracing::debug!(%status, "forward stream ended");
                break;
            }
        }
    }
    // Dropping `done_tx` lets the writer end once every started request has answered.
}

/// Streams replies as they complete, several per message when several are ready (up to
/// `message_bytes_max`), until every request has answered or the peer stops reading. Ends
/// the stream after a `STOPPING` reply: this node's store has stopped, and an open stream
/// would hold up the transport's graceful shutdown.
async fn write_forward_replies(
    mut done: mpsc::UnboundedReceiver<pb::ForwardReply>,
    out: mpsc::Sender<Result<pb::ForwardReplyBatch, Status>>,
    message_bytes_max: usize,
) {
    let budget = message_bytes_max.saturating_sub(REPEATED_ITEM_OVERHEAD_BYTES);
    let mut held: Option<pb::ForwardReply> = None;
    loop {
        let first = match held.take() {
            Some(reply) => reply,
            None => match done.recv().await {
                Some(reply) => reply,
                None => return,
            },
        };
        let first = fit_reply(first, budget);
        let mut bytes = first.encoded_len() + REPEATED_ITEM_OVERHEAD_BYTES;
        let mut replies = vec![first];
        while let Ok(reply) = done.try_recv() {
            let reply = fit_reply(reply, budget);
            let len = reply.encoded_len() + REPEATED_ITEM_OVERHEAD_BYTES;
            if bytes + len > budget {
                held = Some(reply);
                break;
            }
            bytes += len;
            replies.push(reply);
        }
        let stopping = replies
            .iter()
            .any(|r| r.outcome == pb::ForwardOutcome::Stopping as i32);
        if out
            .send(Ok(pb::ForwardReplyBatch { replies }))
            .await
            .is_err()
            || stopping
        {
            return;
        }
    }
}

/// `reply`, or a `REJECTED` reply in its place when it alone would exceed `budget` bytes on
/// the wire (the sender could not decode it).
fn fit_reply(reply: pb::ForwardReply, budget: usize) -> pb::ForwardReply {
    let len = reply.encoded_len();
    if len <= budget {
        return reply;
    }
    pb::ForwardReply {
        id: reply.id,
        outcome: pb::ForwardOutcome::Rejected as i32,
        detail: format!("reply of {len} bytes exceeds the transport message limit"),
        ..Default::default()
    }
}
