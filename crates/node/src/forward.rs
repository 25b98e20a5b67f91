//! Forwarding between nodes: a node that does not lead a shard sends the *planned* request
//! (an encoded `WriteEntry`, or a `ReadOp` with its time and read mode) to the node that
//! does, over the transport's `ForwardStream` RPC, and gets back each op's result.
//!
//! - [`Peers`]: the gRPC clients to the other members (connected lazily), what each told us
//!   in `Hello` (its Redis address), and the last leader hint of every shard. Per member, one
//!   long-lived stream, opened by the first request: [`Peers::submit`] queues a request (in
//!   the caller's order) and returns a [`PendingForward`]; a sender task writes queued
//!   requests to the stream in queue order, several per message when several are queued,
//!   each with an id; a reader task hands each reply to its waiter by id. At most
//!   `--forward-inflight-max` requests per member are queued or in flight; beyond it
//!   [`Peers::submit`] answers [`Forwarded::Busy`].
//! - When a stream breaks, every request sent on it completes as [`Forwarded::Lost`] (the
//!   caller retries a read; a write's outcome is unknown) and requests still queued go out on
//!   the next stream. The next request reopens it at once; after a failed open, requests are
//!   refused ([`Forwarded::Rejected`]) for a backoff of 20 ms doubling up to 1 s. A request
//!   whose waiter gave up (its deadline passed) before it was sent is not sent.
//! - [`ForwardServer`]: the receiving side ([`NodeService`]): starts each request on this
//!   node's replica as it arrives (a write is in the store's queue at once, so one stream's
//!   writes keep their order), never forwarding it again; a node that does not lead the shard
//!   answers `NOT_LEADER` with its hint and the sender retries there.
//!
//! Results cross the wire as [`WireResult`]s (postcard): an [`Output`] mirror, or the error's
//! reply text, so the forwarding node merges and encodes them for its own client exactly as
//! it would local results.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};
use prost::Message as _;
use raft::NodeId;
use redraft_proto as pb;
use router::ShardId;
use serde::{Deserialize, Serialize};
use storage::{ExecError, ExecResult, Output, ReadOp, WriteEntry};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

use crate::cluster::grpc::ForwardReplyFuture;
use crate::cluster::{ClusterError, NodeService, ReadConsistency, Store};
use crate::errors;
use crate::topology::Topology;

/// [`Output`] on the wire (statuses travel as text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WireOutput {
    /// `+OK`.
    Ok,
    /// A simple status.
    Status(String),
    /// A null bulk.
    Nil,
    /// A null array.
    NilArray,
    /// An integer.
    Int(i64),
    /// A bulk string.
    Bulk(Vec<u8>),
    /// A double.
    Double(f64),
    /// An array.
    Array(Vec<WireOutput>),
    /// A map.
    Map(Vec<(WireOutput, WireOutput)>),
    /// A set.
    Set(Vec<WireOutput>),
    /// Pairs.
    Pairs(Vec<(WireOutput, WireOutput)>),
}

/// One op's result on the wire: its output or its error reply text.
pub type WireResult = Result<WireOutput, String>;

/// Statuses an op can produce; a forwarded status maps back onto one of these.
const STATUSES: &[&str] = &[
    "OK", "PONG", "string", "list", "set", "zset", "hash", "none",
];

impl WireOutput {
    fn from_output(o: &Output) -> WireOutput {
        let pairs = |p: &[(Output, Output)]| {
            p.iter()
                .map(|(a, b)| (WireOutput::from_output(a), WireOutput::from_output(b)))
                .collect()
        };
        let items = |v: &[Output]| v.iter().map(WireOutput::from_output).collect();
        match o {
            Output::Ok => WireOutput::Ok,
            Output::Status(s) => WireOutput::Status((*s).to_string()),
            Output::Nil => WireOutput::Nil,
            Output::NilArray => WireOutput::NilArray,
            Output::Int(n) => WireOutput::Int(*n),
            Output::Bulk(b) => WireOutput::Bulk(b.clone()),
            Output::Double(d) => WireOutput::Double(*d),
            Output::Array(v) => WireOutput::Array(items(v)),
            Output::Map(p) => WireOutput::Map(pairs(p)),
            Output::Set(v) => WireOutput::Set(items(v)),
            Output::Pairs(p) => WireOutput::Pairs(pairs(p)),
        }
    }

    fn into_output(self) -> Output {
        let pairs = |p: Vec<(WireOutput, WireOutput)>| {
            p.into_iter()
                .map(|(a, b)| (a.into_output(), b.into_output()))
                .collect()
        };
        let items = |v: Vec<WireOutput>| v.into_iter().map(WireOutput::into_output).collect();
        match self {
            WireOutput::Ok => Output::Ok,
            WireOutput::Status(s) => match STATUSES.iter().find(|k| **k == s) {
                Some(k) => Output::Status(k),
                None => Output::Bulk(s.into_bytes()),
            },
            WireOutput::Nil => Output::Nil,
            WireOutput::NilArray => Output::NilArray,
            WireOutput::Int(n) => Output::Int(n),
            WireOutput::Bulk(b) => Output::Bulk(b),
            WireOutput::Double(d) => Output::Double(d),
            WireOutput::Array(v) => Output::Array(items(v)),
            WireOutput::Map(p) => Output::Map(pairs(p)),
            WireOutput::Set(v) => Output::Set(items(v)),
            WireOutput::Pairs(p) => Output::Pairs(pairs(p)),
        }
    }
}

/// Encodes op results for a `ForwardReply`.
pub fn encode_results(results: &[ExecResult]) -> Vec<u8> {
    let wire: Vec<WireResult> = results
        .iter()
        .map(|r| match r {
            Ok(o) => Ok(WireOutput::from_output(o)),
            Err(e) => Err(errors::exec_error_text(e)),
        })
        .collect();
    postcard::to_stdvec(&wire).expect("encoding results into memory cannot fail")
}

/// Decodes what [`encode_results`] wrote.
pub fn decode_results(bytes: &[u8]) -> Result<Vec<ExecResult>, postcard::Error> {
    let wire: Vec<WireResult> = postcard::from_bytes(bytes)?;
    Ok(wire
        .into_iter()
        .map(|r| r.map(WireOutput::into_output).map_err(ExecError::Reply))
        .collect())
}

/// What a forwarded request came back with.
#[derive(Debug)]
pub enum Forwarded {
    /// Done: one result per op.
    Done(Vec<ExecResult>),
    /// The node does not lead the shard; its hint (if any).
    NotLeader(Option<NodeId>),
    /// No outcome within the deadline: a write may still apply.
    TimedOut,
    /// Not done, safe to retry (dropped, busy there, never sent, or the node is unreachable).
    Rejected(String),
    /// Not done: the write followed one of its session that the leader did not take
    /// (`crate::cluster::chain`); safe to send again once that one is done.
    OutOfOrder,
    /// Sent, but the stream broke before the reply: it may or may not have run (safe to retry
    /// for a read; a write's outcome is unknown).
    Lost(String),
    /// Not sent: `--forward-inflight-max` requests to that node are already queued or in
    /// flight.
    Busy,
}

/// First pause before reopening a stream after a failed open; doubles on each failure in a
/// row, up to [`REOPEN_BACKOFF_MAX`]. While it runs, requests to that node are rejected at
/// once (the sender retries elsewhere or later, within the request's deadline).
const REOPEN_BACKOFF_MIN: Duration = Duration::from_millis(20);
/// Longest pause before reopening a stream.
const REOPEN_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long connecting to a member may take.
const CONNECT_WAIT: Duration = Duration::from_secs(1);
/// How long opening a stream (connecting, then the peer's answer) may take.
const STREAM_OPEN_WAIT: Duration = Duration::from_secs(2);
/// HTTP/2 keep-alive ping interval, so a dead peer breaks the stream (and fails its requests
/// in flight) rather than leaving them to their deadlines.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(1);
/// Batches handed to a stream before the sender waits for the connection to take them;
/// requests wait in the link's queue meanwhile and go out together in the next batch.
const STREAM_BATCHES_QUEUED: usize = 2;
/// How long a stream with nothing queued or in flight stays open.
const STREAM_IDLE_CLOSE: Duration = Duration::from_secs(2);
/// Bytes a message spends on one element of a repeated field beyond its own encoding.
const REPEATED_ITEM_OVERHEAD_BYTES: usize = 16;

/// How the link answers one request's waiter.
enum LinkReply {
    /// The peer's reply.
    Reply(pb::ForwardReply),
    /// Never sent (the stream could not be opened, or the request alone exceeds the message
    /// limit): safe to retry.
    Refused(String),
    /// Sent on a stream that broke before the reply.
    Lost(String),
}

/// A request in a link's queue. Holds one of the link's permits until it is answered.
struct Queued {
    request: pb::ForwardRequest,
    reply: oneshot::Sender<LinkReply>,
    permit: OwnedSemaphorePermit,
}

/// A request sent on a stream, waiting for its reply.
struct Waiter {
    reply: oneshot::Sender<LinkReply>,
    /// Released once the reply arrives or the stream breaks (not when the waiter gives up:
    /// the request is still in flight until then).
    _permit: OwnedSemaphorePermit,
}

/// Requests sent on one stream, by id. Only the link's sender task inserts; the reply reader
/// removes what it answers; the sender fails what is left once the stream broke.
type InFlight = Arc<Mutex<HashMap<u64, Waiter>>>;

/// Forwarding to one member: an ordered queue drained by one sender task.
struct Link {
    queue: mpsc::UnboundedSender<Queued>,
    /// One permit per request queued or in flight. Invariant: at most
    /// `--forward-inflight-max` requests to this member wait for replies at once.
    permits: Arc<Semaphore>,
    /// The sender task until the first request spawns it.
    idle: Mutex<Option<LinkTask>>,
}

/// The other members, as this node reaches them.
pub struct Peers {
    me: NodeId,
    clients: HashMap<NodeId, pb::transport_client::TransportClient<Channel>>,
    /// Where forwarded requests to each member are queued.
    links: HashMap<NodeId, Link>,
    /// Redis addresses learned through `Hello`.
    redis_addrs: RwLock<HashMap<NodeId, String>>,
    /// The last leader each shard was seen with (by this node or a forward reply).
    leaders: DashMap<ShardId, NodeId>,
}

impl Peers {
    /// Clients to every member of `topology` but this node (nothing connects yet). At most
    /// `inflight_max` forwarded requests per member wait at once; messages stay under
    /// `message_bytes_max`.
    pub fn new(topology: &Topology, message_bytes_max: usize, inflight_max: usize) -> Peers {
        let mut clients = HashMap::new();
        let mut links = HashMap::new();
        for m in &topology.members {
            if m.id == topology.me {
                continue;
            }
            let Ok(endpoint) = Endpoint::from_shared(format!("http://{}", m.addr)) else {
                tracing::error!(node = %m.name, addr = %m.addr, "unusable member address");
                continue;
            };
            let channel = endpoint
                .connect_timeout(CONNECT_WAIT)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
                .keep_alive_timeout(KEEP_ALIVE_INTERVAL * 2)
                .keep_alive_while_idle(true)
                .connect_lazy();
            let client = pb::transport_client::TransportClient::new(channel)
                .max_decoding_message_size(message_bytes_max)
                .max_encoding_message_size(message_bytes_max);
            let (queue, rx) = mpsc::unbounded_channel();
            let task = LinkTask {
                me: topology.me,
                to: m.id,
                client: client.clone(),
                queue: rx,
                held: None,
                next_id: 0,
                batch_bytes_max: message_bytes_max.saturating_sub(REPEATED_ITEM_OVERHEAD_BYTES),
            };
            links.insert(
                m.id,
                Link {
                    queue,
                    permits: Arc::new(Semaphore::new(
                        inflight_max.clamp(1, Semaphore::MAX_PERMITS),
                    )),
                    idle: Mutex::new(Some(task)),
                },
            );
            clients.insert(m.id, client);
        }
        Peers {
            me: topology.me,
            clients,
            links,
            redis_addrs: RwLock::new(HashMap::new()),
            leaders: DashMap::new(),
        }
    }

    /// The Redis address `node` announced, if known.
    pub fn redis_addr(&self, node: NodeId) -> Option<String> {
        self.redis_addrs.read().get(&node).cloned()
    }

    /// Records what a member said in `Hello`.
    pub fn learn_redis_addr(&self, node: NodeId, addr: String) {
        self.redis_addrs.write().insert(node, addr);
    }

    /// The leader `shard` was last seen with.
    pub fn leader_hint(&self, shard: ShardId) -> Option<NodeId> {
        self.leaders.get(&shard).map(|l| *l)
    }

    /// Remembers `leader` as `shard`'s leader.
    pub fn set_leader_hint(&self, shard: ShardId, leader: NodeId) {
        self.leaders.insert(shard, leader);
    }

    /// Asks `node` who it is.
    pub async fn hello(&self, node: NodeId) -> Option<pb::HelloReply> {
        let mut client = self.clients.get(&node)?.clone();
        let req = pb::HelloRequest {
            from_node: self.me.0,
        };
        client
            .hello(req)
            .await
            .ok()
            .map(tonic::Response::into_inner)
    }

    /// Queues `request` for `node` at once (before returning), so requests submitted one
    /// after another reach `node` and are started there in that order; the returned
    /// [`PendingForward`] waits for the reply until `deadline`. Must run inside the Tokio
    /// runtime (the first request to a member starts its sender task).
    pub fn submit(
        &self,
        node: NodeId,
        request: pb::ForwardRequest,
        deadline: Instant,
    ) -> PendingForward {
        let sent_at = Instant::now();
        let ready = |outcome| PendingForward {
            node,
            sent_at,
            deadline,
            state: Err(outcome),
        };
        let Some(link) = self.links.get(&node) else {
            return ready(Forwarded::Rejected(format!("node {node} is not a member")));
        };
        let Ok(permit) = Arc::clone(&link.permits).try_acquire_owned() else {
            return ready(Forwarded::Busy);
        };
        if let Some(task) = link.idle.lock().take() {
            tokio::spawn(task.run());
        }
        let (reply, rx) = oneshot::channel();
        let queued = Queued {
            request,
            reply,
            permit,
        };
        if link.queue.send(queued).is_err() {
            return ready(Forwarded::Rejected(format!("link to node {node} stopped")));
        }
        PendingForward {
            node,
            sent_at,
            deadline,
            state: Ok(rx),
        }
    }
}

/// A forwarded request on its way (see [`Peers::submit`]).
pub struct PendingForward {
    node: NodeId,
    /// When it was queued.
    sent_at: Instant,
    deadline: Instant,
    /// The link's answer to come, or the outcome already known.
    state: Result<oneshot::Receiver<LinkReply>, Forwarded>,
}

impl PendingForward {
    /// When the request was queued for its node.
    pub fn sent_at(&self) -> Instant {
        self.sent_at
    }

    /// The outcome, or [`Forwarded::TimedOut`] once the deadline passes.
    pub async fn wait(self) -> Forwarded {
        let rx = match self.state {
            Ok(rx) => rx,
            Err(outcome) => return outcome,
        };
        let node = self.node;
        match tokio::time::timeout_at(self.deadline.into(), rx).await {
            Err(_) => Forwarded::TimedOut,
            // The link answers every request it took; it is gone only with the runtime.
            Ok(Err(_)) => Forwarded::Lost(format!("link to node {node} stopped")),
            Ok(Ok(LinkReply::Refused(why))) => Forwarded::Rejected(why),
            Ok(Ok(LinkReply::Lost(why))) => Forwarded::Lost(why),
            Ok(Ok(LinkReply::Reply(reply))) => outcome_of(node, reply),
        }
    }
}

/// What `node`'s reply says.
fn outcome_of(node: NodeId, reply: pb::ForwardReply) -> Forwarded {
    match pb::ForwardOutcome::try_from(reply.outcome) {
        Ok(pb::ForwardOutcome::Done) => match decode_results(&reply.results) {
            Ok(results) => Forwarded::Done(results),
            // Ran there, but its results are lost: as good as a broken stream.
            Err(e) => Forwarded::Lost(format!("undecodable reply from node {node}: {e}")),
        },
        Ok(pb::ForwardOutcome::NotLeader) => {
            Forwarded::NotLeader((reply.leader_hint != 0).then_some(NodeId(reply.leader_hint)))
        }
        Ok(pb::ForwardOutcome::TimedOut) => Forwarded::TimedOut,
        Ok(pb::ForwardOutcome::OutOfOrder) => Forwarded::OutOfOrder,
        Ok(pb::ForwardOutcome::Stopping) => Forwarded::Lost(format!("node {node} is stopping")),
        Ok(pb::ForwardOutcome::Rejected) | Err(_) => Forwarded::Rejected(reply.detail),
    }
}

/// Why a stream stopped.
enum StreamEnd {
    /// It broke, or the peer closed it; `replied` says whether any reply came on it.
    Broken { why: String, replied: bool },
    /// Nothing was queued or in flight for [`STREAM_IDLE_CLOSE`]: closed, so that an idle
    /// stream never holds up the peer's graceful shutdown.
    Idle,
    /// Every [`Peers`] handle is gone: the node is stopping.
    QueueClosed,
}

/// The sender task of one link: opens the stream when a request comes, writes queued
/// requests in queue order, and reopens the stream (with backoff) after it breaks.
struct LinkTask {
    me: NodeId,
    to: NodeId,
    client: pb::transport_client::TransportClient<Channel>,
    queue: mpsc::UnboundedReceiver<Queued>,
    /// A request taken from the queue that did not fit in the last batch; goes first next.
    held: Option<Queued>,
    /// The id of the next request sent; unique for the link's life.
    next_id: u64,
    /// Largest batch of requests, in bytes (the transport's message limit).
    batch_bytes_max: usize,
}

impl LinkTask {
    async fn run(mut self) {
        let mut backoff = REOPEN_BACKOFF_MIN;
        let mut closed_until: Option<Instant> = None;
        while let Some(first) = self.next_queued().await {
            if closed_until.is_some_and(|t| Instant::now() < t) {
                self.refuse(first, &format!("node {} unreachable", self.to));
                continue;
            }
            let (tx, replies) = match self.open().await {
                Ok(stream) => stream,
                Err(why) => {
                    tracing::debug!(to = %self.to, %why, ?backoff, "forward stream not opened");
                    self.refuse(first, &format!("node {}: {why}", self.to));
                    closed_until = Some(Instant::now() + backoff);
                    backoff = (backoff * 2).min(REOPEN_BACKOFF_MAX);
                    continue;
                }
            };
            self.held = Some(first);
            match self.pump(tx, replies).await {
                StreamEnd::QueueClosed => return,
                StreamEnd::Idle => {
                    backoff = REOPEN_BACKOFF_MIN;
                    closed_until = None;
                }
                StreamEnd::Broken { why, replied } => {
                    tracing::debug!(to = %self.to, %why, "forward stream broke");
                    // A stream that answered was healthy: reopen at once for the next
                    // request. One that broke before any reply counts as a failed open.
                    if replied {
                        backoff = REOPEN_BACKOFF_MIN;
                        closed_until = None;
                    } else {
                        closed_until = Some(Instant::now() + backoff);
                        backoff = (backoff * 2).min(REOPEN_BACKOFF_MAX);
                    }
                }
            }
        }
    }

    /// The held request, else the next queued one; `None` once every [`Peers`] is gone.
    async fn next_queued(&mut self) -> Option<Queued> {
        match self.held.take() {
            Some(q) => Some(q),
            None => self.queue.recv().await,
        }
    }

    /// Answers `first` and everything queued behind it as never sent.
    fn refuse(&mut self, first: Queued, why: &str) {
        let _ = first.reply.send(LinkReply::Refused(why.to_string()));
        while let Ok(q) = self.queue.try_recv() {
            let _ = q.reply.send(LinkReply::Refused(why.to_string()));
        }
    }

    /// Opens the stream: its request body (fed through the returned sender) and its replies.
    async fn open(
        &mut self,
    ) -> Result<
        (
            mpsc::Sender<pb::ForwardBatch>,
            tonic::Streaming<pb::ForwardReplyBatch>,
        ),
        String,
    > {
        let (tx, rx) = mpsc::channel(STREAM_BATCHES_QUEUED);
        let call = self.client.forward_stream(ReceiverStream::new(rx));
        match tokio::time::timeout(STREAM_OPEN_WAIT, call).await {
            Ok(Ok(response)) => Ok((tx, response.into_inner())),
            Ok(Err(status)) => Err(status.to_string()),
            Err(_) => Err(format!("no answer within {STREAM_OPEN_WAIT:?}")),
        }
    }

    /// Writes queued requests to the stream until it breaks, idles, or the queue closes; then
    /// fails every request in flight on it.
    async fn pump(
        &mut self,
        tx: mpsc::Sender<pb::ForwardBatch>,
        replies: tonic::Streaming<pb::ForwardReplyBatch>,
    ) -> StreamEnd {
        let in_flight: InFlight = Arc::new(Mutex::new(HashMap::new()));
        let replied = Arc::new(AtomicBool::new(false));
        let (broken_tx, mut broken) = oneshot::channel();
        let reader = tokio::spawn(read_replies(
            replies,
            Arc::clone(&in_flight),
            Arc::clone(&replied),
            broken_tx,
        ));
        let mut end = loop {
            let first = match self.held.take() {
                Some(q) => q,
                None => tokio::select! {
                    why = &mut broken => break StreamEnd::Broken {
                        why: why.unwrap_or_default(),
                        replied: false,
                    },
                    q = self.queue.recv() => match q {
                        Some(q) => q,
                        None => break StreamEnd::QueueClosed,
                    },
                    () = tokio::time::sleep(STREAM_IDLE_CLOSE) => {
                        if in_flight.lock().is_empty() {
                            break StreamEnd::Idle;
                        }
                        continue;
                    }
                },
            };
            let batch = self.batch(first, &in_flight);
            if batch.requests.is_empty() {
                continue;
            }
            let ids: Vec<u64> = batch.requests.iter().map(|r| r.id).collect();
            let why = tokio::select! {
                sent = tx.send(batch) => match sent {
                    Ok(()) => continue,
                    Err(_) => "stream body dropped".to_string(),
                },
                why = &mut broken => why.unwrap_or_default(),
            };
            // The batch never reached the stream: its requests were not sent.
            let mut map = in_flight.lock();
            for id in ids {
                if let Some(w) = map.remove(&id) {
                    let _ = w
                        .reply
                        .send(LinkReply::Refused(format!("node {}: {why}", self.to)));
                }
            }
            break StreamEnd::Broken {
                why,
                replied: false,
            };
        };
        reader.abort();
        let why = match &mut end {
            StreamEnd::Broken { why, replied: r } => {
                *r = replied.load(Ordering::Relaxed);
                why.as_str()
            }
            StreamEnd::QueueClosed | StreamEnd::Idle => "node stopping",
        };
        for (_, w) in in_flight.lock().drain() {
            let _ = w
                .reply
                .send(LinkReply::Lost(format!("node {}: {why}", self.to)));
        }
        end
    }

    /// One message from `first` and whatever else is queued, in queue order, up to
    /// `batch_bytes_max`; each request gets its id and is recorded in `in_flight`. Requests
    /// whose waiter gave up are dropped unsent.
    fn batch(&mut self, first: Queued, in_flight: &InFlight) -> pb::ForwardBatch {
        let mut requests = Vec::new();
        let mut bytes = 0;
        let mut next = Some(first);
        let mut map = in_flight.lock();
        while let Some(mut q) = next.take().or_else(|| self.queue.try_recv().ok()) {
            if q.reply.is_closed() {
                continue;
            }
            q.request.id = self.next_id;
            let len = q.request.encoded_len() + REPEATED_ITEM_OVERHEAD_BYTES;
            if len > self.batch_bytes_max {
                let why = format!("request of {len} bytes exceeds the transport message limit");
                let _ = q.reply.send(LinkReply::Refused(why));
                continue;
            }
            if bytes + len > self.batch_bytes_max {
                self.held = Some(q);
                break;
            }
            bytes += len;
            self.next_id += 1;
            map.insert(
                q.request.id,
                Waiter {
                    reply: q.reply,
                    _permit: q.permit,
                },
            );
            requests.push(q.request);
        }
        pb::ForwardBatch {
            from_node: self.me.0,
            requests,
        }
    }
}

/// Hands each reply on a stream to its waiter until the stream ends; then reports why.
async fn read_replies(
    mut replies: tonic::Streaming<pb::ForwardReplyBatch>,
    in_flight: InFlight,
    replied: Arc<AtomicBool>,
    broken: oneshot::Sender<String>,
) {
    let why = loop {
        match replies.message().await {
            Ok(Some(batch)) => {
                replied.store(true, Ordering::Relaxed);
                let waiters: Vec<(Waiter, pb::ForwardReply)> = {
                    let mut map = in_flight.lock();
                    batch
                        .replies
                        .into_iter()
                        .filter_map(|r| Some((map.remove(&r.id)?, r)))
                        .collect()
                };
                for (w, reply) in waiters {
                    let _ = w.reply.send(LinkReply::Reply(reply));
                }
            }
            Ok(None) => break "stream closed by the peer".to_string(),
            Err(status) => break status.to_string(),
        }
    };
    let _ = broken.send(why);
}

/// The receiving side of `ForwardStream` and `Hello`.
pub struct ForwardServer {
    /// This node's store.
    pub store: Store,
    /// This node's name.
    pub name: String,
    /// Where this node's Redis clients connect.
    pub redis_addr: String,
}

/// The reply to request `id` that ended in `result`.
fn reply_of(id: u64, result: Result<Vec<ExecResult>, ClusterError>) -> pb::ForwardReply {
    let mut reply = pb::ForwardReply {
        id,
        ..Default::default()
    };
    match result {
        Ok(results) => reply.results = encode_results(&results),
        Err(ClusterError::NotLeader { leader, .. }) => {
            reply.outcome = pb::ForwardOutcome::NotLeader as i32;
            reply.leader_hint = leader.map_or(0, |l| l.0);
        }
        Err(ClusterError::DeadlineExceeded) => {
            reply.outcome = pb::ForwardOutcome::TimedOut as i32;
        }
        Err(ClusterError::OutOfOrder) => {
            reply.outcome = pb::ForwardOutcome::OutOfOrder as i32;
        }
        Err(ClusterError::Stopped) => {
            reply.outcome = pb::ForwardOutcome::Stopping as i32;
        }
        Err(e) => {
            reply.outcome = pb::ForwardOutcome::Rejected as i32;
            reply.detail = e.to_string();
        }
    }
    reply
}

impl NodeService for ForwardServer {
    fn start_forward(&self, request: pb::ForwardRequest) -> ForwardReplyFuture {
        let id = request.id;
        let shard = ShardId(request.shard_id);
        let chain = crate::dispatch::chain_of(&request);
        let done = |result: Result<Vec<ExecResult>, ClusterError>| -> ForwardReplyFuture {
            Box::pin(std::future::ready(reply_of(id, result)))
        };
        match request.op {
            Some(pb::forward_request::Op::WriteEntry(data)) => {
                // Every replica applies what the log holds and stops on an entry it cannot
                // decode, so an undecodable entry must never reach the log.
                let known = match WriteEntry::decode(&data) {
                    Ok(entry) => entry.results_without_state(),
                    Err(e) => {
                        return done(Err(ClusterError::Storage(format!(
                            "undecodable write entry: {e}"
                        ))))
                    }
                };
                match self.store.submit_proposal(shard, data, known, chain) {
                    Ok(pending) => Box::pin(async move { reply_of(id, pending.wait().await) }),
                    Err(e) => done(Err(e)),
                }
            }
            Some(pb::forward_request::Op::ReadOp(bytes)) => {
                let op: ReadOp = match postcard::from_bytes(&bytes) {
                    Ok(op) => op,
                    Err(e) => {
                        return done(Err(ClusterError::Storage(format!(
                            "undecodable read op: {e}"
                        ))))
                    }
                };
                let consistency = match pb::ReadMode::try_from(request.read_mode) {
                    Ok(pb::ReadMode::ReadStale) => ReadConsistency::Stale,
                    _ => ReadConsistency::Linearizable,
                };
                let store = self.store.clone();
                let now_ms = request.now_ms;
                Box::pin(async move {
                    let result = store.read(shard, &op, now_ms, consistency).await;
                    reply_of(id, result.map(|r| vec![r]))
                })
            }
            None => done(Err(ClusterError::Storage(
                "forward request without an op".into(),
            ))),
        }
    }

    fn hello(&self) -> pb::HelloReply {
        pb::HelloReply {
            node: self.store.node_id().0,
            name: self.name.clone(),
            redis_addr: self.redis_addr.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip_through_the_wire_format() {
        let results: Vec<ExecResult> = vec![
            Ok(Output::Status("zset")),
            Ok(Output::Pairs(vec![(
                Output::bulk("a"),
                Output::Double(1.5),
            )])),
            Ok(Output::Map(vec![(Output::Int(1), Output::Nil)])),
            Ok(Output::Set(vec![Output::NilArray, Output::Ok])),
            Err(ExecError::WrongType),
        ];
        let back = decode_results(&encode_results(&results)).unwrap();
        assert_eq!(back.len(), 5);
        for (a, b) in results.iter().zip(&back).take(4) {
            assert_eq!(a.as_ref().unwrap(), b.as_ref().unwrap());
        }
        assert_eq!(
            errors::exec_error_text(back[4].as_ref().unwrap_err()),
            errors::WRONG_TYPE
        );
    }

    /// A store that leads its one shard (1) alone, and a forwarding server in front of it.
    async fn lone_leader_server(dir: &std::path::Path) -> (Store, ForwardServer) {
        use crate::cluster::{ShardReplicas, SimNetwork, StoreConfig};
        let db = storage::Db::open(dir, &storage::StorageConfig::default()).unwrap();
        let me = NodeId(1);
        let shards = [ShardReplicas {
            shard: ShardId(1),
            nodes: vec![me],
        }];
        let mut cfg = StoreConfig::new(me);
        cfg.tick_interval_ms = 5;
        let net = SimNetwork::new(1);
        let store = Store::start(cfg, db, &shards, net.transport(me)).unwrap();
        net.register(me, store.inbound());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !store.is_leader(ShardId(1)) {
            assert!(Instant::now() < deadline, "no leader");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let server = ForwardServer {
            store: store.clone(),
            name: "node1".into(),
            redis_addr: String::new(),
        };
        (store, server)
    }

    fn write_request(id: u64, data: Vec<u8>) -> pb::ForwardRequest {
        pb::ForwardRequest {
            id,
            shard_id: 1,
            op: Some(pb::forward_request::Op::WriteEntry(data)),
            ..Default::default()
        }
    }

    fn empty_entry() -> WriteEntry {
        WriteEntry {
            now_ms: 1,
            ops: Vec::new(),
        }
    }

    /// Every replica stops on a log entry it cannot decode, so the receiving side refuses an
    /// undecodable forwarded write before it is proposed; a valid one goes through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_undecodable_forwarded_write_is_refused_before_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let (store, server) = lone_leader_server(dir.path()).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let valid = empty_entry();
        // The applied index once it stops moving (the leader's no-op may still be applying).
        let settled = || async {
            loop {
                let seen = store.applied_index(ShardId(1));
                tokio::time::sleep(Duration::from_millis(50)).await;
                if store.applied_index(ShardId(1)) == seen {
                    return seen.unwrap_or(0);
                }
                assert!(Instant::now() < deadline, "applied index never settled");
            }
        };
        let reply = server.start_forward(write_request(6, valid.encode())).await;
        assert_eq!(reply.outcome, pb::ForwardOutcome::Done as i32);
        let before = settled().await;
        let reply = server
            .start_forward(write_request(7, vec![0xFF, 0, 1]))
            .await;
        assert_eq!(reply.id, 7);
        assert_eq!(reply.outcome, pb::ForwardOutcome::Rejected as i32);
        assert!(reply.detail.contains("undecodable"), "{}", reply.detail);
        let reply = server.start_forward(write_request(8, valid.encode())).await;
        assert_eq!(reply.outcome, pb::ForwardOutcome::Done as i32);
        // Only the valid entry reached the log.
        assert_eq!(settled().await, before + 1);
        store.stop();
    }

    /// A session's forwarded write is taken only right behind the one it follows: one that
    /// follows a write the leader never got (the sender's stream broke before sending it)
    /// answers `OUT_OF_ORDER`; the same write sent again, following nothing, is done.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_forwarded_write_behind_one_that_never_arrived_is_out_of_order() {
        let dir = tempfile::tempdir().unwrap();
        let (store, server) = lone_leader_server(dir.path()).await;
        let chained = |id, seq, follows| pb::ForwardRequest {
            from_node: 2,
            session: 5,
            seq,
            follows,
            ..write_request(id, empty_entry().encode())
        };
        let reply = server.start_forward(chained(1, 1, 0)).await;
        assert_eq!(reply.outcome, pb::ForwardOutcome::Done as i32);
        let reply = server.start_forward(chained(2, 2, 1)).await;
        assert_eq!(reply.outcome, pb::ForwardOutcome::Done as i32);
        // Write 3 never came.
        let reply = server.start_forward(chained(3, 4, 3)).await;
        assert_eq!(reply.outcome, pb::ForwardOutcome::OutOfOrder as i32);
        // The session sends 3 and then 4 again once they are its oldest writes.
        for (id, seq) in [(4, 3), (5, 4)] {
            let reply = server.start_forward(chained(id, seq, 0)).await;
            assert_eq!(reply.outcome, pb::ForwardOutcome::Done as i32);
        }
        store.stop();
    }
}
