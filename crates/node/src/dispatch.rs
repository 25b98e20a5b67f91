//! Executing plans across the cluster: routing a command to the shard that owns its keys,
//! running writes and reads on that shard's leader (here, or forwarded to the node that leads
//! it), fanning keyless and multi-shard commands out, and merging their results.
//!
//! Every request has a deadline (`--request-deadline-ms`). Until it passes, a request follows
//! leader hints: the local store's, then the last hint a forward reply gave, then the shard's
//! preferred leader; a shard that has no reachable leader by then answers
//! `-CLUSTERDOWN The cluster is down`.
//!
//! Writes to a shard this node leads are handed to the store at once ([`Node::start_write`]),
//! so a client's pipelined writes share Raft rounds and keep their order. Writes forwarded to
//! another node start only when the session awaits them, one after another, which keeps a
//! client's writes in order too.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use raft::NodeId;
use redraft_proto as pb;
use router::{ShardId, Slot};
use storage::{ExecError, ExecResult, Output, ReadOp};

use crate::cluster::{ClusterError, ReadConsistency};
use crate::cmd::{CommandSpec, Merge};
use crate::config::{ClusterMode, ReadMode};
use crate::errors;
use crate::forward::Forwarded;
use crate::state::Node;

/// The outcome of a write: one result per op of its entry, or the reply for the whole.
pub type WriteResult = Result<Vec<ExecResult>, ExecError>;

/// A write on its way; resolves once applied (or failed).
pub type WriteFuture = Pin<Box<dyn Future<Output = WriteResult> + Send>>;

/// Longest pause between attempts while a shard has no known leader.
const RETRY_PAUSE_MAX: Duration = Duration::from_millis(100);

/// What a routed request runs when this node leads the shard.
#[derive(Clone, Copy)]
enum Local<'a> {
    /// Propose the request's entry.
    Write,
    /// Execute the read op.
    Read(&'a ReadOp),
}

/// Where a keyed command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The shard owning the keys.
    pub shard: ShardId,
    /// The slot of the first key (`None` for a command without keys).
    pub slot: Option<Slot>,
}

/// The shard a command goes to: the owner of its keys' slots; keyless commands go to the
/// first shard. Keys in different slots are `CROSSSLOT` in redirect mode (as in Redis
/// Cluster) and when they are in different shards in forward mode.
pub fn route(node: &Node, spec: &CommandSpec, args: &[Bytes]) -> Result<Route, ExecError> {
    let table = node.routing.read().clone();
    let mut first: Option<(Slot, ShardId)> = None;
    for i in spec.keys.positions(args) {
        let Some(key) = args.get(i) else { continue };
        let slot = Slot::for_key(key);
        let shard = table.shard_for_slot(slot).ok_or_else(cluster_down)?;
        match first {
            None => first = Some((slot, shard)),
            Some((s, _)) if s == slot => {}
            Some((_, owner))
                if owner == shard && node.config.cluster_mode == ClusterMode::Forward => {}
            Some(_) => return Err(ExecError::Reply(errors::CROSSSLOT.into())),
        }
    }
    match first {
        Some((slot, shard)) => Ok(Route {
            shard,
            slot: Some(slot),
        }),
        None => table
            .shards()
            .first()
            .map(|&shard| Route { shard, slot: None })
            .ok_or_else(cluster_down),
    }
}

/// `-MOVED <slot> <host>:<port>` when, in redirect mode, this node does not lead `route`'s
/// shard (or, for reads of a READONLY client, hosts no replica of it).
pub fn redirect(node: &Node, route: Route, read_on_replica: bool) -> Result<(), ExecError> {
    if node.config.cluster_mode != ClusterMode::Redirect {
        return Ok(());
    }
    let Some(slot) = route.slot else {
        return Ok(());
    };
    if node.leads(route.shard) || (read_on_replica && node.topology.hosts(route.shard)) {
        return Ok(());
    }
    let leader = node.leader_guess(route.shard).ok_or_else(cluster_down)?;
    let addr = node.redis_addr(leader).ok_or_else(cluster_down)?;
    Err(ExecError::Reply(format!("MOVED {} {addr}", slot.get())))
}

fn cluster_down() -> ExecError {
    ExecError::Reply(errors::CLUSTER_DOWN.into())
}

/// The reply for a request that ended in `e`.
fn failure(e: &ClusterError) -> ExecError {
    match e {
        ClusterError::Stopped => ExecError::Reply(errors::SHUTTING_DOWN.into()),
        ClusterError::Storage(text) => {
            tracing::error!(error = %text, "request failed in the store");
            ExecError::Reply(errors::INTERNAL.into())
        }
        ClusterError::Busy(limit) => ExecError::Reply(errors::busy(limit)),
        _ => cluster_down(),
    }
}

/// Whether a request that failed with `e` was not done and may be sent again.
fn retryable(e: &ClusterError) -> bool {
    matches!(
        e,
        ClusterError::NotLeader { .. } | ClusterError::ProposalDropped
    )
}

impl Node {
    /// Whether this node leads `shard` (as its store believes).
    pub fn leads(&self, shard: ShardId) -> bool {
        self.topology.hosts(shard) && self.store.is_leader(shard)
    }

    /// The node most likely to lead `shard`: the local store's hint, the last hint another
    /// node gave, or the shard's preferred leader.
    pub fn leader_guess(&self, shard: ShardId) -> Option<NodeId> {
        if self.topology.hosts(shard) {
            if let Some(l) = self.store.leader_of(shard) {
                return Some(l);
            }
        }
        self.peers
            .leader_hint(shard)
            .or_else(|| self.topology.replicas(shard).first().copied())
    }

    /// The Redis address of `node` (this node's own, or what it announced).
    pub fn redis_addr(&self, node: NodeId) -> Option<String> {
        if node == self.topology.me {
            return Some(self.redis_addr.get()?.clone());
        }
        self.peers.redis_addr(node)
    }

    /// Starts `entry`'s write on `shard`. When this node leads the shard, the entry is in the
    /// store's queue before this returns.
    pub fn start_write(
        self: &Arc<Self>,
        shard: ShardId,
        entry: &storage::WriteEntry,
    ) -> WriteFuture {
        let data = entry.encode();
        let node = Arc::clone(self);
        if self.leads(shard) {
            match self.store.submit_proposal(shard, data.clone()) {
                Ok(pending) => {
                    return Box::pin(async move {
                        match pending.wait().await {
                            Ok(results) => Ok(results),
                            Err(e) if retryable(&e) => node.write_routed(shard, data).await,
                            Err(e) => Err(failure(&e)),
                        }
                    });
                }
                Err(e) if !retryable(&e) => return Box::pin(async move { Err(failure(&e)) }),
                Err(_) => {}
            }
        }
        Box::pin(async move { node.write_routed(shard, data).await })
    }

    /// Proposes the encoded entry `data` on `shard`'s leader, following hints until the
    /// deadline.
    async fn write_routed(&self, shard: ShardId, data: Vec<u8>) -> WriteResult {
        let request = pb::ForwardRequest {
            from_node: self.topology.me.0,
            shard_id: shard.0,
            op: Some(pb::forward_request::Op::WriteEntry(data)),
            ..Default::default()
        };
        self.routed(shard, request, Local::Write).await
    }

    /// Runs `op` on `shard` at `now_ms` with the node's read consistency.
    pub async fn read(&self, shard: ShardId, op: &ReadOp, now_ms: u64) -> ExecResult {
        self.read_with(shard, op, now_ms, self.config.read_consistency)
            .await
    }

    /// Runs `op` on `shard` at `now_ms`: on this replica for stale reads of a hosted shard,
    /// else on the leader (here or forwarded).
    pub async fn read_with(
        &self,
        shard: ShardId,
        op: &ReadOp,
        now_ms: u64,
        mode: ReadMode,
    ) -> ExecResult {
        if mode == ReadMode::Stale && self.topology.hosts(shard) {
            return match self
                .store
                .read(shard, op, now_ms, ReadConsistency::Stale)
                .await
            {
                Ok(result) => result,
                Err(e) => Err(failure(&e)),
            };
        }
        let bytes = postcard::to_stdvec(op).expect("encoding a read op into memory cannot fail");
        let request = pb::ForwardRequest {
            from_node: self.topology.me.0,
            shard_id: shard.0,
            op: Some(pb::forward_request::Op::ReadOp(bytes)),
            now_ms,
            read_mode: if mode == ReadMode::Stale {
                pb::ReadMode::ReadStale as i32
            } else {
                pb::ReadMode::ReadLinearizable as i32
            },
        };
        let results = self.routed(shard, request, Local::Read(op)).await?;
        results.into_iter().next().unwrap_or(Ok(Output::Nil))
    }

    /// Runs `local` on this node's replica of `shard` (which believes it leads).
    async fn run_local(
        &self,
        shard: ShardId,
        request: &pb::ForwardRequest,
        local: Local<'_>,
    ) -> Result<Vec<ExecResult>, ClusterError> {
        match (local, &request.op) {
            (Local::Write, Some(pb::forward_request::Op::WriteEntry(data))) => {
                self.store
                    .submit_proposal(shard, data.clone())?
                    .wait()
                    .await
            }
            (Local::Read(op), _) => {
                let consistency = ReadConsistency::Linearizable;
                let result = self
                    .store
                    .read(shard, op, request.now_ms, consistency)
                    .await?;
                Ok(vec![result])
            }
            (Local::Write, _) => unreachable!("a write request carries its entry"),
        }
    }

    /// Runs a request on `shard`'s leader until the deadline: `local` when this node leads,
    /// else `request` forwarded.
    async fn routed(
        &self,
        shard: ShardId,
        request: pb::ForwardRequest,
        local: Local<'_>,
    ) -> WriteResult {
        let deadline = Instant::now() + Duration::from_millis(self.config.request_deadline_ms);
        let mut pause = Duration::from_millis(5);
        let mut target = self.leader_guess(shard);
        let mut attempt = 0usize;
        loop {
            let outcome = match target {
                Some(t) if t == self.topology.me => {
                    match self.run_local(shard, &request, local).await {
                        Ok(results) => return Ok(results),
                        Err(ClusterError::NotLeader { leader, .. }) => Forwarded::NotLeader(leader),
                        Err(ClusterError::ProposalDropped) => Forwarded::Rejected("dropped".into()),
                        Err(e) => return Err(failure(&e)),
                    }
                }
                Some(t) => self.peers.forward(t, request.clone()).await,
                None => Forwarded::NotLeader(None),
            };
            match outcome {
                Forwarded::Done(results) => {
                    if let Some(t) = target {
                        self.peers.set_leader_hint(shard, t);
                    }
                    return Ok(results);
                }
                Forwarded::TimedOut => return Err(cluster_down()),
                Forwarded::NotLeader(Some(leader)) if Some(leader) != target => {
                    target = Some(leader);
                    continue;
                }
                // An election is running: ask again shortly.
                Forwarded::NotLeader(_) => {}
                Forwarded::Rejected(why) => {
                    tracing::debug!(%shard, ?target, why, "request not done; retrying");
                }
            }
            if Instant::now() + pause >= deadline {
                return Err(cluster_down());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RETRY_PAUSE_MAX);
            attempt += 1;
            target = self
                .leader_guess(shard)
                .filter(|_| attempt % 4 != 3)
                .or_else(|| {
                    // Every fourth try, walk the replicas in case the hints are stale.
                    let replicas = self.topology.replicas(shard);
                    replicas.get(attempt / 4 % replicas.len().max(1)).copied()
                });
        }
    }

    /// Runs `op` on every shard of the cluster and merges the results.
    pub async fn read_all(&self, now_ms: u64, op: &ReadOp, merge: Merge) -> ExecResult {
        let mut results = Vec::new();
        for shard in self.topology.shards() {
            results.push(self.read(shard, op, now_ms).await);
            if merge == Merge::AnyNonNil
                && matches!(results.last(), Some(Ok(o)) if *o != Output::Nil)
            {
                break;
            }
        }
        merge_results(merge, results)
    }
}

/// Combines per-shard results; the first error wins.
pub fn merge_results(merge: Merge, results: Vec<ExecResult>) -> ExecResult {
    let mut outputs = Vec::with_capacity(results.len());
    for result in results {
        outputs.push(result?);
    }
    if outputs.len() == 1 {
        return Ok(outputs.pop().unwrap_or(Output::Nil));
    }
    match merge {
        Merge::Sum => Ok(Output::Int(
            outputs
                .iter()
                .map(|o| if let Output::Int(n) = o { *n } else { 0 })
                .sum(),
        )),
        Merge::Concat => Ok(concat(outputs)),
        Merge::AnyNonNil => Ok(outputs
            .into_iter()
            .find(|o| *o != Output::Nil)
            .unwrap_or(Output::Nil)),
        Merge::Scan => unreachable!("SCAN walks shards one page at a time (fanout::scan)"),
        Merge::AllOk => Ok(Output::Ok),
    }
}

fn concat(outputs: Vec<Output>) -> Output {
    let mut items = Vec::new();
    let mut is_set = false;
    for output in outputs {
        match output {
            Output::Array(part) => items.extend(part),
            Output::Set(part) => {
                is_set = true;
                items.extend(part);
            }
            other => items.push(other),
        }
    }
    if is_set {
        Output::Set(items)
    } else {
        Output::Array(items)
    }
}

/// A write whose reply is still to come: one future per shard written.
pub struct PendingWrite {
    /// One write per shard.
    pub writes: Vec<WriteFuture>,
    /// How to combine per-shard results (`WriteAll`); `None` for a single-shard write.
    pub merge: Option<Merge>,
}

impl PendingWrite {
    /// Waits for every write and returns the command's result.
    pub async fn finish(self) -> ExecResult {
        let mut results = Vec::with_capacity(self.writes.len());
        for write in self.writes {
            results.push(first_result(write.await));
        }
        match self.merge {
            Some(merge) => merge_results(merge, results),
            None => results.pop().unwrap_or(Ok(Output::Nil)),
        }
    }
}

/// The result of the single op of a command's entry.
pub fn first_result(result: WriteResult) -> ExecResult {
    match result {
        Ok(mut results) if !results.is_empty() => results.swap_remove(0),
        Ok(_) => panic!("a write entry with one op produced no result"),
        Err(e) => Err(e),
    }
}
