//! Executing plans across the cluster: routing a command to the shard that owns its keys,
//! running writes and reads on that shard's leader (here, or forwarded to the node that leads
//! it), fanning keyless and multi-shard commands out, and merging their results.
//!
//! Every request has a deadline (`--request-deadline-ms`). Until it passes, a request follows
//! leader hints: the local store's, then the last hint a forward reply gave, then the shard's
//! preferred leader; a shard that has no reachable leader by then answers
//! `-CLUSTERDOWN The cluster is down`.
//!
//! A write starts when its command runs ([`Node::start_write`]): the entry goes into the
//! store's queue when this node leads the shard, else into the forwarding queue of the node
//! believed to lead it (`crate::forward::Peers`: one ordered stream per destination, whose
//! receiver submits requests to its store in arrival order). The session awaits the replies
//! afterwards, in command order. So a client's pipelined writes share Raft rounds and
//! round trips instead of waiting for one another.
//!
//! What order is guaranteed:
//! - While a shard's leader stays put, one client's writes to that shard enter its Raft log in
//!   command order, whether they run here or are forwarded.
//! - Replies come back in command order, and a read (or any non-write command) first waits
//!   for the client's earlier writes, so a client reads its own acknowledged writes.
//! - Through a leader change too, a client's writes to one shard keep their order. A session
//!   starts a write at once only if every earlier write of its own to that shard still in
//!   flight went to the same target ([`WriteOrder`]); otherwise the write starts when the
//!   session polls it, after the earlier ones are done. A write the old leader refused
//!   (`NOT_LEADER`) or dropped is retried when polled, and the session polls its writes in
//!   command order, so a retry never lands after a later write of the same client. A
//!   leader that did not take one write may take the next (it lost and won back its
//!   leadership, a transfer it was making gave up, a queue had room again, or the first was
//!   never sent): so each write carries its number and the number of the session's write it
//!   follows, and a leader takes it only right behind that one, accepted in its current term
//!   (`crate::cluster::chain`); otherwise it is retried in its turn too.
//! - A write whose outcome is unknown (no reply by the deadline, or its stream broke after it
//!   was sent) answers `-CLUSTERDOWN The cluster is down` and is not retried: it may still
//!   apply, even after the client's later writes. A read in that case is retried. A full
//!   forwarding queue answers `-TRYAGAIN`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use raft::NodeId;
use redraft_proto as pb;
use router::{ShardId, Slot};
use storage::{ExecError, ExecResult, Output, ReadOp};

use crate::cluster::chain::{ChainLink, SessionKey};
use crate::cluster::{ClusterError, ReadConsistency};
use crate::cmd::{CommandSpec, Merge};
use crate::config::{ClusterMode, ReadMode};
use crate::errors;
use crate::forward::{Forwarded, PendingForward};
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

/// Where a write is sent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteTarget {
    /// This node's store: it leads the shard.
    Here,
    /// The forwarding stream to the node believed to lead the shard.
    Node(NodeId),
    /// No leader is known: the write waits for one when it is first polled.
    Unknown,
}

/// Which of a session's writes may start at once without overtaking an earlier one of the
/// same shard, and each write's place in its session's chain (`crate::cluster::chain`): per
/// shard, the number of the session's last write to it, and the target of that write while
/// it and every earlier one of that shard started at once at the same target (`None` once a
/// write had to wait). Cleared when the session has no write in flight; the numbers keep
/// increasing.
#[derive(Debug, Default)]
pub struct WriteOrder {
    last: HashMap<ShardId, (Option<WriteTarget>, u64)>,
    /// The number of the session's last write (0 before the first: numbers start at 1).
    seq: u64,
}

/// How one of a session's writes starts ([`WriteOrder::place`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Whether it starts now (else when the session polls it).
    pub now: bool,
    /// Its number among the session's writes.
    pub seq: u64,
    /// The number of the write to the same shard it follows, when it starts now behind one
    /// that may still be in flight.
    pub follows: Option<u64>,
}

impl WriteOrder {
    /// An order whose first write gets number `seq + 1`.
    pub fn numbered_after(seq: u64) -> WriteOrder {
        WriteOrder {
            last: HashMap::new(),
            seq,
        }
    }

    /// Places a write to `shard` at `target`: whether it may start now, and its number and
    /// predecessor; records it either way.
    pub fn place(&mut self, shard: ShardId, target: WriteTarget) -> Placement {
        self.seq += 1;
        let prev = self.last.get(&shard).copied();
        let now = prev.is_none_or(|(t, _)| t == Some(target));
        self.last.insert(shard, (now.then_some(target), self.seq));
        Placement {
            now,
            seq: self.seq,
            follows: prev.filter(|_| now).map(|(_, seq)| seq),
        }
    }

    /// Forgets every write: none is in flight any more.
    pub fn clear(&mut self) {
        self.last.clear();
    }
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
///
/// While this node's replica of the shard knows no leader (an election is under way: the
/// shard starts, or its leader died and the followers' election timeout ran out), it waits
/// for one, bounded by the request deadline, instead of redirecting to a guess: the guess
/// would be the shard's preferred replica, which may be the dead node or this very node (a
/// `-MOVED` to itself, which a Redis Cluster client follows in a loop). Once a leader is known
/// the command runs here or is redirected to it; past the deadline it answers `-CLUSTERDOWN`.
pub async fn redirect(node: &Node, route: Route, read_on_replica: bool) -> Result<(), ExecError> {
    if node.config.cluster_mode != ClusterMode::Redirect {
        return Ok(());
    }
    let Some(slot) = route.slot else {
        return Ok(());
    };
    if read_on_replica && node.topology.hosts(route.shard) {
        return Ok(());
    }
    let leader = if node.topology.hosts(route.shard) {
        node.await_local_leader(route.shard).await?
    } else {
        node.leader_guess(route.shard).ok_or_else(cluster_down)?
    };
    if leader == node.topology.me {
        return Ok(());
    }
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
        ClusterError::Installing => ExecError::Reply(errors::INSTALLING.into()),
        _ => cluster_down(),
    }
}

/// Whether a request that failed with `e` was not done and may be sent again.
fn retryable(e: &ClusterError) -> bool {
    matches!(
        e,
        ClusterError::NotLeader { .. } | ClusterError::ProposalDropped | ClusterError::OutOfOrder
    )
}

/// The session chain a forwarded write carries (`session` 0: the node's own write; `follows`
/// 0: it follows nothing, as write numbers start at 1).
pub fn chain_of(request: &pb::ForwardRequest) -> Option<ChainLink> {
    (request.session != 0).then_some(ChainLink {
        session: SessionKey {
            node: request.from_node,
            client: request.session,
        },
        seq: request.seq,
        follows: (request.follows != 0).then_some(request.follows),
    })
}

impl Node {
    /// Whether this node leads `shard` (as its store believes).
    pub fn leads(&self, shard: ShardId) -> bool {
        self.topology.hosts(shard) && self.store.is_leader(shard)
    }

    /// The leader this node's replica of `shard` knows: at once when it knows one, else once
    /// it learns one, for at most the request deadline (then `-CLUSTERDOWN`).
    async fn await_local_leader(&self, shard: ShardId) -> Result<NodeId, ExecError> {
        self.store
            .await_leader(shard, self.deadline())
            .await
            .ok_or_else(cluster_down)
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

    /// When a request started now must be done by.
    fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.config.request_deadline_ms)
    }

    /// Where a write to `shard` started now would go first.
    pub fn write_target(&self, shard: ShardId) -> WriteTarget {
        if self.leads(shard) {
            return WriteTarget::Here;
        }
        match self.leader_guess(shard).filter(|&t| t != self.topology.me) {
            Some(node) => WriteTarget::Node(node),
            None => WriteTarget::Unknown,
        }
    }

    /// Starts `entry`'s write on `shard` at the node [`Node::write_target`] names now, for
    /// the node itself (no session orders it).
    pub fn start_write(
        self: &Arc<Self>,
        shard: ShardId,
        entry: &storage::WriteEntry,
    ) -> WriteFuture {
        self.start_write_at(shard, entry, self.write_target(shard), None)
    }

    /// Starts `entry`'s write on `shard` at `target`. Before this returns, the entry is in
    /// this node's store queue (`Here`) or in `target`'s forwarding queue, so writes started
    /// one after another at one target reach the shard's log in that order while its leader
    /// stays put (see the module docs for what a leader change allows). With no known leader
    /// nothing is sent until the future is first polled. `chain` is the write's place among
    /// its session's writes (`None` for the node's own writes).
    pub fn start_write_at(
        self: &Arc<Self>,
        shard: ShardId,
        entry: &storage::WriteEntry,
        target: WriteTarget,
        chain: Option<ChainLink>,
    ) -> WriteFuture {
        let data = entry.encode();
        let node = Arc::clone(self);
        let deadline = self.deadline();
        // A retry runs when the session polls the write, after every earlier one is done:
        // it follows nothing in flight.
        let retry_chain = chain.map(ChainLink::retried);
        let started = match target {
            WriteTarget::Here => {
                let known = entry.results_without_state();
                match self
                    .store
                    .submit_proposal(shard, data.clone(), known, chain)
                {
                    Ok(pending) => {
                        return Box::pin(async move {
                            match pending.wait().await {
                                Ok(results) => Ok(results),
                                Err(e) if retryable(&e) => {
                                    let request = node.write_request(shard, data, retry_chain);
                                    node.routed(shard, request, Local::Write, deadline, None)
                                        .await
                                }
                                Err(e) => Err(failure(&e)),
                            }
                        });
                    }
                    Err(e) if !retryable(&e) => return Box::pin(async move { Err(failure(&e)) }),
                    Err(_) => None,
                }
            }
            WriteTarget::Node(t) => Some(t),
            WriteTarget::Unknown => None,
        };
        let request = self.write_request(shard, data, retry_chain);
        let started = started.map(|t| {
            let first = pb::ForwardRequest {
                follows: chain.and_then(|link| link.follows).unwrap_or(0),
                ..request.clone()
            };
            (t, self.peers.submit(t, first, deadline))
        });
        Box::pin(async move {
            node.routed(shard, request, Local::Write, deadline, started)
                .await
        })
    }

    /// Starts `entry`'s write on `shard` only when the future is first polled: after the
    /// writes a session queued before it are done (the session polls them in order), so it
    /// follows none of them.
    pub fn start_write_later(
        self: &Arc<Self>,
        shard: ShardId,
        entry: storage::WriteEntry,
        chain: ChainLink,
    ) -> WriteFuture {
        let node = Arc::clone(self);
        let chain = chain.retried();
        Box::pin(async move {
            node.start_write_at(shard, &entry, node.write_target(shard), Some(chain))
                .await
        })
    }

    /// The forwarded form of the encoded entry `data` for `shard`, in `chain`.
    fn write_request(
        &self,
        shard: ShardId,
        data: Vec<u8>,
        chain: Option<ChainLink>,
    ) -> pb::ForwardRequest {
        debug_assert!(chain.is_none_or(|link| link.session.node == self.topology.me.0));
        pb::ForwardRequest {
            from_node: self.topology.me.0,
            shard_id: shard.0,
            op: Some(pb::forward_request::Op::WriteEntry(data)),
            session: chain.map_or(0, |link| link.session.client),
            seq: chain.map_or(0, |link| link.seq),
            follows: chain.and_then(|link| link.follows).unwrap_or(0),
            ..Default::default()
        }
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
        // Where this node's store leads the shard (every read of a lone node), read here
        // first without building the request a forward needs: its encoding, the deadline and
        // the retry bookkeeping cost a tenth of a GET's user CPU. A store that turns out not
        // to lead (or drops the read) leaves the read to the retrying path below, within the
        // same deadline.
        let deadline = self.deadline();
        if self.leader_guess(shard) == Some(self.topology.me) {
            match self
                .store
                .read(shard, op, now_ms, ReadConsistency::Linearizable)
                .await
            {
                Ok(result) => return result,
                Err(ClusterError::NotLeader { .. } | ClusterError::ProposalDropped) => {}
                Err(e) => return Err(failure(&e)),
            }
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
            ..Default::default()
        };
        let results = self
            .routed(shard, request, Local::Read(op), deadline, None)
            .await?;
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
                // Answered once applied: this path has only the encoded entry.
                self.store
                    .submit_proposal(shard, data.clone(), None, chain_of(request))?
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

    /// One attempt at `request` on `target`: here when it is this node, else forwarded.
    async fn attempt(
        &self,
        shard: ShardId,
        target: Option<NodeId>,
        request: &pb::ForwardRequest,
        local: Local<'_>,
        deadline: Instant,
    ) -> Result<Forwarded, ExecError> {
        Ok(match target {
            Some(t) if t == self.topology.me => match self.run_local(shard, request, local).await {
                Ok(results) => Forwarded::Done(results),
                Err(ClusterError::NotLeader { leader, .. }) => Forwarded::NotLeader(leader),
                Err(ClusterError::ProposalDropped) => Forwarded::Rejected("dropped".into()),
                Err(ClusterError::OutOfOrder) => Forwarded::OutOfOrder,
                Err(e) => return Err(failure(&e)),
            },
            Some(t) => self.peers.submit(t, request.clone(), deadline).wait().await,
            None => Forwarded::NotLeader(None),
        })
    }

    /// Runs a request on `shard`'s leader until `deadline`: `local` when this node leads,
    /// else `request` forwarded. `started` is a first attempt already on its way to a node.
    async fn routed(
        &self,
        shard: ShardId,
        request: pb::ForwardRequest,
        local: Local<'_>,
        deadline: Instant,
        started: Option<(NodeId, PendingForward)>,
    ) -> WriteResult {
        let mut pause = Duration::from_millis(5);
        let mut attempt = 0usize;
        let mut resent_in_order = false;
        // When the last attempt went out. A retry waits its pause from then, not from when
        // its outcome was looked at: a session polls its pipeline's writes in order, so a
        // write refused together with earlier ones comes to its retry only after theirs, by
        // when its pause has long passed and (after a leader change) this node knows the new
        // leader. It goes out at once.
        let mut tried_at = started
            .as_ref()
            .map_or_else(Instant::now, |(_, pending)| pending.sent_at());
        let (mut target, mut started) = match started {
            Some((t, pending)) => (Some(t), Some(pending)),
            None => (self.leader_guess(shard), None),
        };
        loop {
            let outcome = match started.take() {
                Some(pending) => pending.wait().await,
                None => {
                    tried_at = Instant::now();
                    self.attempt(shard, target, &request, local, deadline)
                        .await?
                }
            };
            match outcome {
                Forwarded::Done(results) => {
                    // Only a leader elsewhere needs remembering (this node's store knows when
                    // it leads), and only when it changed: a map write per request showed in
                    // profiles of pipelined GETs.
                    if let Some(t) = target.filter(|&t| t != self.topology.me) {
                        if self.peers.leader_hint(shard) != Some(t) {
                            self.peers.set_leader_hint(shard, t);
                        }
                    }
                    return Ok(results);
                }
                Forwarded::TimedOut => return Err(cluster_down()),
                Forwarded::Busy => {
                    return Err(ExecError::Reply(errors::busy("forward_inflight_max")))
                }
                // Sent, but the stream broke: a write's outcome is unknown, as after a
                // timeout; a read may run again.
                Forwarded::Lost(_) if matches!(local, Local::Write) => return Err(cluster_down()),
                Forwarded::NotLeader(Some(leader)) if Some(leader) != target => {
                    target = Some(leader);
                    continue;
                }
                // The first attempt followed a write of the session that the leader did not
                // take. That write is done now (the session polls in order), and a retry
                // follows nothing: send it again at once.
                Forwarded::OutOfOrder if !resent_in_order => {
                    resent_in_order = true;
                    continue;
                }
                // An election is running (or a resent write was refused as out of order,
                // which one that follows nothing never is): ask again shortly.
                Forwarded::NotLeader(_) | Forwarded::OutOfOrder => {}
                Forwarded::Rejected(why) | Forwarded::Lost(why) => {
                    tracing::debug!(%shard, ?target, why, "request not done; retrying");
                }
            }
            let retry_at = tried_at + pause;
            if retry_at >= deadline {
                return Err(cluster_down());
            }
            tokio::time::sleep_until(retry_at.into()).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    const A: ShardId = ShardId(1);
    const B: ShardId = ShardId(2);

    #[test]
    fn a_write_follows_the_previous_write_to_its_shard_until_cleared() {
        let mut order = WriteOrder::default();
        let first = order.place(A, WriteTarget::Here);
        assert_eq!((first.seq, first.follows), (1, None));
        let other = order.place(B, WriteTarget::Here);
        assert_eq!(
            (other.seq, other.follows),
            (2, None),
            "each shard has its own chain"
        );
        let next = order.place(A, WriteTarget::Here);
        assert_eq!((next.seq, next.follows), (3, Some(1)));
        // A write that waits for its turn follows nothing, nor do those after it.
        assert!(!order.place(A, WriteTarget::Node(NodeId(2))).now);
        let waits = order.place(A, WriteTarget::Node(NodeId(2)));
        assert_eq!((waits.now, waits.follows), (false, None));
        order.clear();
        let fresh = order.place(A, WriteTarget::Here);
        assert_eq!(
            (fresh.seq, fresh.follows),
            (6, None),
            "numbers keep increasing"
        );
        let mut restarted = WriteOrder::numbered_after(41);
        assert_eq!(restarted.place(A, WriteTarget::Here).seq, 42);
    }

    #[test]
    fn writes_to_one_target_start_at_once() {
        let mut order = WriteOrder::default();
        for _ in 0..3 {
            assert!(order.place(A, WriteTarget::Here).now);
        }
        assert!(order.place(B, WriteTarget::Node(NodeId(2))).now);
        assert!(order.place(B, WriteTarget::Node(NodeId(2))).now);
    }

    #[test]
    fn after_a_write_to_another_target_the_shard_waits_until_cleared() {
        let mut order = WriteOrder::default();
        assert!(order.place(A, WriteTarget::Here).now);
        // The leader moved: this write and every later one of the shard wait for their turn,
        // even one back at the first target (it could overtake the waiting one).
        assert!(!order.place(A, WriteTarget::Node(NodeId(2))).now);
        assert!(!order.place(A, WriteTarget::Node(NodeId(2))).now);
        assert!(!order.place(A, WriteTarget::Here).now);
        // Other shards are not held back.
        assert!(order.place(B, WriteTarget::Here).now);
        order.clear();
        assert!(order.place(A, WriteTarget::Node(NodeId(2))).now);
    }

    #[test]
    fn with_no_known_leader_later_writes_wait_for_one() {
        let mut order = WriteOrder::default();
        assert!(order.place(A, WriteTarget::Unknown).now);
        assert!(order.place(A, WriteTarget::Unknown).now);
        assert!(!order.place(A, WriteTarget::Node(NodeId(3))).now);
    }
}
