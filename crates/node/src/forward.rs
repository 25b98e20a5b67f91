//! Forwarding between nodes: a node that does not lead a shard sends the *planned* request
//! (an encoded `WriteEntry`, or a `ReadOp` with its time and read mode) to the node that
//! does, over the transport's `Forward` RPC, and gets back each op's result.
//!
//! - [`Peers`]: the gRPC clients to the other members (connected lazily), what each told us
//!   in `Hello` (its Redis address), and the last leader hint of every shard.
//! - [`ForwardServer`]: the receiving side ([`NodeService`]): runs a request on this node's
//!   replica, never forwarding it again; a node that does not lead the shard answers
//!   `NOT_LEADER` with its hint and the sender retries there.
//!
//! Results cross the wire as [`WireResult`]s (postcard): an [`Output`] mirror, or the error's
//! reply text, so the forwarding node merges and encodes them for its own client exactly as
//! it would local results.

use std::collections::HashMap;
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::RwLock;
use raft::NodeId;
use redraft_proto as pb;
use router::ShardId;
use serde::{Deserialize, Serialize};
use storage::{ExecError, ExecResult, Output, ReadOp};
use tonic::transport::{Channel, Endpoint};

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
    /// Proposed there but no outcome within the deadline.
    TimedOut,
    /// Not done, safe to retry (dropped, busy, or the node is unreachable).
    Rejected(String),
}

/// The other members, as this node reaches them.
pub struct Peers {
    me: NodeId,
    clients: HashMap<NodeId, pb::transport_client::TransportClient<Channel>>,
    /// Redis addresses learned through `Hello`.
    redis_addrs: RwLock<HashMap<NodeId, String>>,
    /// The last leader each shard was seen with (by this node or a forward reply).
    leaders: DashMap<ShardId, NodeId>,
}

impl Peers {
    /// Clients to every member of `topology` but this node (nothing connects yet).
    pub fn new(topology: &Topology, message_bytes_max: usize, timeout: Duration) -> Peers {
        let mut clients = HashMap::new();
        for m in &topology.members {
            if m.id == topology.me {
                continue;
            }
            let Ok(endpoint) = Endpoint::from_shared(format!("http://{}", m.addr)) else {
                tracing::error!(node = %m.name, addr = %m.addr, "unusable member address");
                continue;
            };
            let channel = endpoint
                .connect_timeout(Duration::from_secs(1))
                .timeout(timeout)
                .tcp_nodelay(true)
                .connect_lazy();
            let client = pb::transport_client::TransportClient::new(channel)
                .max_decoding_message_size(message_bytes_max)
                .max_encoding_message_size(message_bytes_max);
            clients.insert(m.id, client);
        }
        Peers {
            me: topology.me,
            clients,
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

    /// Sends `request` to `node`.
    pub async fn forward(&self, node: NodeId, request: pb::ForwardRequest) -> Forwarded {
        let Some(client) = self.clients.get(&node) else {
            return Forwarded::Rejected(format!("node {node} is not a member"));
        };
        let reply = match client.clone().forward(request).await {
            Ok(r) => r.into_inner(),
            Err(status) => return Forwarded::Rejected(format!("node {node}: {status}")),
        };
        match pb::ForwardOutcome::try_from(reply.outcome) {
            Ok(pb::ForwardOutcome::Done) => match decode_results(&reply.results) {
                Ok(results) => Forwarded::Done(results),
                Err(e) => Forwarded::Rejected(format!("undecodable reply from node {node}: {e}")),
            },
            Ok(pb::ForwardOutcome::NotLeader) => {
                Forwarded::NotLeader((reply.leader_hint != 0).then_some(NodeId(reply.leader_hint)))
            }
            Ok(pb::ForwardOutcome::TimedOut) => Forwarded::TimedOut,
            Ok(pb::ForwardOutcome::Rejected) | Err(_) => Forwarded::Rejected(reply.detail),
        }
    }
}

/// The receiving side of `Forward` and `Hello`.
pub struct ForwardServer {
    /// This node's store.
    pub store: Store,
    /// This node's name.
    pub name: String,
    /// Where this node's Redis clients connect.
    pub redis_addr: String,
}

impl ForwardServer {
    async fn run(&self, request: pb::ForwardRequest) -> Result<Vec<ExecResult>, ClusterError> {
        let shard = ShardId(request.shard_id);
        match request.op {
            Some(pb::forward_request::Op::WriteEntry(data)) => {
                self.store.submit_proposal(shard, data)?.wait().await
            }
            Some(pb::forward_request::Op::ReadOp(bytes)) => {
                let op: ReadOp = postcard::from_bytes(&bytes)
                    .map_err(|e| ClusterError::Storage(format!("undecodable read op: {e}")))?;
                let consistency = match pb::ReadMode::try_from(request.read_mode) {
                    Ok(pb::ReadMode::ReadStale) => ReadConsistency::Stale,
                    _ => ReadConsistency::Linearizable,
                };
                let result = self
                    .store
                    .read(shard, &op, request.now_ms, consistency)
                    .await?;
                Ok(vec![result])
            }
            None => Err(ClusterError::Storage(
                "forward request without an op".into(),
            )),
        }
    }
}

#[tonic::async_trait]
impl NodeService for ForwardServer {
    async fn forward(&self, request: pb::ForwardRequest) -> pb::ForwardReply {
        let mut reply = pb::ForwardReply::default();
        match self.run(request).await {
            Ok(results) => reply.results = encode_results(&results),
            Err(ClusterError::NotLeader { leader, .. }) => {
                reply.outcome = pb::ForwardOutcome::NotLeader as i32;
                reply.leader_hint = leader.map_or(0, |l| l.0);
            }
            Err(ClusterError::DeadlineExceeded) => {
                reply.outcome = pb::ForwardOutcome::TimedOut as i32;
            }
            Err(e) => {
                reply.outcome = pb::ForwardOutcome::Rejected as i32;
                reply.detail = e.to_string();
            }
        }
        reply
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
}
