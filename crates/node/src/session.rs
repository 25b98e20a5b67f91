//! One client's session: its state (protocol, authentication, name) and the execution of its
//! commands in order.
//!
//! Replies are appended to an output buffer the connection writes in one go. Writes are
//! started (proposed here, or queued for the leader's node) without waiting for their
//! results, so a pipeline of writes shares group commits and forwarding round trips; any
//! other command first waits for the writes before it ("drains"), so replies stay in order
//! and a read sees the connection's earlier writes.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use resp::{Encoder, ProtocolVersion};
use router::ShardId;
use storage::engine::OpRng;
use storage::{ExecError, ExecResult, ReadOp, WriteEntry, WriteOp};

use crate::clients::ClientInfo;
use crate::cluster::chain::{ChainLink, SessionKey};
use crate::cluster::ReadConsistency;
use crate::cmd::table::{table, Entry};
use crate::cmd::{Flags, Merge, Plan, PlanCtx};
use crate::config::{ClusterMode, ReadMode};
use crate::dispatch::{self, PendingWrite, WriteOrder};
use crate::errors;
use crate::fanout;
use crate::reply;
use crate::state::{unix_ms, Node};

/// A client's session.
pub struct Session {
    /// The node.
    pub node: Arc<Node>,
    /// This client's entry in the registry.
    pub info: Arc<ClientInfo>,
    /// Whether the client has authenticated (always true when no password is set at connect).
    pub authenticated: bool,
    /// Set by `QUIT`: close after writing the replies so far.
    pub quit: bool,
    /// Set by `READONLY`: in redirect mode, reads of shards with a replica here are served
    /// here (possibly stale) instead of redirected.
    pub readonly: bool,
    encoder: Encoder,
    rng: OpRng,
    out: BytesMut,
    /// Proposed writes whose replies come next, in order.
    pending: VecDeque<PendingWrite>,
    /// Which new writes may start before the pending ones are done.
    order: WriteOrder,
}

impl Session {
    /// A session for a newly connected client.
    pub fn new(node: Arc<Node>, info: Arc<ClientInfo>) -> Session {
        let authenticated = node.live.requirepass.read().is_none();
        let seed = crate::state::unix_us() ^ info.id.rotate_left(32);
        let mut rng = OpRng::new(seed);
        // Client ids start at 1 again when the node restarts, so a new session may reuse the
        // key of one that other replicas still remember; numbering its writes from a random
        // point keeps them from matching that session's last write.
        let order = WriteOrder::numbered_after(rng.next_u64() >> 2);
        Session {
            node,
            info,
            authenticated,
            quit: false,
            readonly: false,
            encoder: Encoder::new(ProtocolVersion::Resp2),
            rng,
            out: BytesMut::with_capacity(16 * 1024),
            pending: VecDeque::new(),
            order,
        }
    }

    /// The protocol version replies are written in.
    pub fn protocol(&self) -> ProtocolVersion {
        self.encoder.version()
    }

    /// Switches the protocol version (HELLO); the reply of the switching command already uses it.
    pub fn set_protocol(&mut self, version: ProtocolVersion) {
        self.encoder = Encoder::new(version);
        self.info
            .resp
            .store(version.number() as u8, Ordering::Relaxed);
    }

    /// The replies written so far.
    pub fn out(&mut self) -> &mut BytesMut {
        &mut self.out
    }

    /// Whether writes are waiting for their replies.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Appends an error reply (after the replies of pending writes).
    pub async fn reply_error(&mut self, text: &str) {
        self.drain().await;
        reply::error(&self.encoder, &mut self.out, text);
    }

    /// Runs one command: appends its reply, or proposes it and queues its reply.
    pub async fn handle(&mut self, args: Vec<Bytes>) {
        let Some(name) = args.first() else {
            return;
        };
        Node::bump(&self.node.stats.commands_processed);
        let Some(entry) = table().lookup(name) else {
            let text = errors::unknown_command(name, &args[1..]);
            return self.reply_error(&text).await;
        };
        if !entry.spec.arity_ok(args.len()) {
            return self
                .reply_error(&errors::wrong_arity(entry.spec.name))
                .await;
        }
        if !self.authenticated
            && !entry.spec.flags.contains(Flags::NO_AUTH)
            && self.node.requirepass().is_some()
        {
            return self.reply_error(errors::NOAUTH).await;
        }
        self.note_command(entry);
        self.run(entry, &args).await;
    }

    /// What the client registry shows of a command about to run.
    fn note_command(&self, entry: Entry) {
        self.info.touch();
        *self.info.last_cmd.lock() = entry.spec.name;
    }

    /// Whether `args` may run together with the commands around it in
    /// [`Session::handle_reads`]: a GET.
    pub fn joins_read_batch(&self, args: &[Bytes]) -> bool {
        args.len() == 2 && args[0].eq_ignore_ascii_case(b"get")
    }

    /// Runs consecutive commands of a pipeline that [`Session::joins_read_batch`] took, in
    /// order, answering as [`Session::handle`] would. Runs of one-record reads of one shard
    /// this node leads are read together (`ShardStore::read_points`: one lease check and one
    /// RocksDB `MultiGet`), which took a third less CPU per pipelined GET.
    pub async fn handle_reads(&mut self, batch: Vec<Vec<Bytes>>) {
        if batch.len() > 1 {
            if let Some((entry, results)) = self.read_together(&batch).await {
                for result in results {
                    Node::bump(&self.node.stats.commands_processed);
                    self.note_command(entry);
                    reply::result(&self.encoder, &mut self.out, &result);
                }
                return;
            }
        }
        for args in batch {
            self.handle(args).await;
        }
    }

    /// The results of `batch`, or `None` (before anything ran) when they must run one by one
    /// through [`Session::handle`]: the client must authenticate first, or reads are served
    /// stale. Consecutive one-record reads of one shard this node leads are read together,
    /// at one instant; such runs and every other read go in pipeline order, so no read sees
    /// an older state than a read before it (a run spanning shards, read shard by shard,
    /// could). A read whose routing fails gets that error in its place, as alone.
    async fn read_together(&mut self, batch: &[Vec<Bytes>]) -> Option<(Entry, Vec<ExecResult>)> {
        if (!self.authenticated && self.node.requirepass().is_some())
            || self.read_mode() == ReadMode::Stale
        {
            return None;
        }
        let entry = table().lookup(batch.first()?.first()?)?;
        let parse = entry.spec.parse?;
        let ctx = PlanCtx {
            now_ms: unix_ms(),
            seed: self.rng.next_u64(),
            bulk_len_max: self.node.live.proto_max_bulk_len.load(Ordering::Relaxed),
            rand_count_max: self.node.config.rand_count_max,
        };
        let ops = batch
            .iter()
            .map(|args| match parse(&ctx, args) {
                Ok(Plan::Read(op)) => Some(op),
                _ => None,
            })
            .collect::<Option<Vec<ReadOp>>>()?;
        self.drain().await;
        let node = Arc::clone(&self.node);
        let mode = self.read_mode();
        let mut results = Vec::with_capacity(batch.len());
        let mut run: Option<(ShardId, Vec<ReadOp>)> = None;
        for (args, op) in batch.iter().zip(ops) {
            let shard = route(&node, entry, args, self.readonly).await;
            let joins = match &shard {
                Ok(s) => op.reads_one_record() && node.leader_guess(*s) == Some(node.topology.me),
                Err(_) => false,
            };
            let same = matches!((&run, &shard), (Some((r, _)), Ok(s)) if r == s);
            if !(joins && same) {
                if let Some((s, ops)) = run.take() {
                    results.extend(read_run(&node, s, ops, ctx.now_ms, mode).await);
                }
            }
            match shard {
                Ok(s) if joins => run.get_or_insert_with(|| (s, Vec::new())).1.push(op),
                Ok(s) => results.push(node.read_with(s, &op, ctx.now_ms, mode).await),
                Err(e) => results.push(Err(e)),
            }
        }
        if let Some((s, ops)) = run {
            results.extend(read_run(&node, s, ops, ctx.now_ms, mode).await);
        }
        Some((entry, results))
    }

    async fn run(&mut self, entry: Entry, args: &[Bytes]) {
        let Some(parse) = entry.spec.parse else {
            let local = entry
                .local
                .expect("the command table gives every command a parser or a local function");
            self.drain().await;
            if entry.spec.flags.contains(Flags::READS_DATA) {
                // Local functions are synchronous, so the wait that reads get from
                // `read_with` (for writes answered at commit) comes first here.
                self.node.await_answered_applied().await;
            }
            let result = local(self, args);
            return reply::result(&self.encoder, &mut self.out, &result);
        };
        let ctx = PlanCtx {
            now_ms: unix_ms(),
            seed: self.rng.next_u64(),
            bulk_len_max: self.node.live.proto_max_bulk_len.load(Ordering::Relaxed),
            rand_count_max: self.node.config.rand_count_max,
        };
        if let Some(merge) = fanout::merge_of(entry.spec) {
            if let Some(groups) = fanout::split(&self.node, entry.spec, args) {
                self.drain().await;
                let result = fanout::run(&self.node, &ctx, args, parse, merge, groups).await;
                return reply::result(&self.encoder, &mut self.out, &result);
            }
        }
        let result = match parse(&ctx, args) {
            Ok(Plan::Write(op)) => match route(&self.node, entry, args, false).await {
                Ok(shard) => return self.propose(vec![shard], ctx.now_ms, op, None).await,
                Err(e) => Err(e),
            },
            Ok(Plan::WriteAll(op, merge)) => {
                let shards = self.node.topology.shards();
                return self.propose(shards, ctx.now_ms, op, Some(merge)).await;
            }
            Ok(Plan::Read(op)) => {
                let shard = route(&self.node, entry, args, self.readonly).await;
                self.read(shard, &op, ctx.now_ms).await
            }
            Ok(Plan::ReadAt(slot, op)) => {
                let shard = route_slot(&self.node, slot, self.readonly).await;
                self.read(shard, &op, ctx.now_ms).await
            }
            Ok(Plan::ReadAll(op, Merge::Scan)) => {
                self.drain().await;
                fanout::scan(&self.node, op, ctx.now_ms).await
            }
            Ok(Plan::ReadAll(op, merge)) => {
                self.drain().await;
                self.node.read_all(ctx.now_ms, &op, merge).await
            }
            Ok(Plan::Reply(output)) => Ok(output),
            Ok(Plan::Local) => {
                self.drain().await;
                match entry.local {
                    Some(local) => local(self, args),
                    None => panic!("{} planned Local without a local function", entry.spec.name),
                }
            }
            Err(e) => Err(e),
        };
        self.drain().await;
        reply::result(&self.encoder, &mut self.out, &result);
    }

    /// After the pending writes, runs `op` on the routed shard (or replies the routing error).
    async fn read(
        &mut self,
        shard: Result<ShardId, ExecError>,
        op: &ReadOp,
        now_ms: u64,
    ) -> ExecResult {
        self.drain().await;
        let mode = self.read_mode();
        let node = Arc::clone(&self.node);
        node.read_with(shard?, op, now_ms, mode).await
    }

    /// This session in the cluster: its node and client id.
    fn session_key(&self) -> SessionKey {
        SessionKey {
            node: self.node.topology.me.0,
            client: self.info.id,
        }
    }

    /// How this client's reads are served: stale on this replica for a READONLY client in
    /// redirect mode, else as the node is configured.
    fn read_mode(&self) -> ReadMode {
        if self.readonly && self.node.config.cluster_mode == ClusterMode::Redirect {
            ReadMode::Stale
        } else {
            self.node.config.read_consistency
        }
    }

    /// Proposes `op` to each of `shards` and queues the reply. A write that could overtake
    /// an earlier one of this session to the same shard (it would go to another target, as
    /// after a leader change) starts only when its turn comes (see `dispatch::WriteOrder`).
    async fn propose(
        &mut self,
        shards: Vec<ShardId>,
        now_ms: u64,
        op: WriteOp,
        merge: Option<Merge>,
    ) {
        let mut writes = Vec::with_capacity(shards.len());
        let mut op = Some(op);
        let last = shards.len().saturating_sub(1);
        for (i, shard) in shards.into_iter().enumerate() {
            // The last shard takes the op itself: a single-shard write copies nothing.
            let this = if i == last { op.take() } else { op.clone() };
            let Some(this) = this else { break };
            let entry = WriteEntry {
                now_ms,
                ops: vec![this],
            };
            let target = self.node.write_target(shard);
            let placed = self.order.place(shard, target);
            let chain = ChainLink {
                session: self.session_key(),
                seq: placed.seq,
                follows: placed.follows,
            };
            writes.push(if placed.now {
                self.node.start_write_at(shard, &entry, target, Some(chain))
            } else {
                self.node.start_write_later(shard, entry, chain)
            });
        }
        self.pending.push_back(PendingWrite { writes, merge });
    }

    /// Waits for every pending write and appends their replies in order.
    pub async fn drain(&mut self) {
        while let Some(write) = self.pending.pop_front() {
            let result: ExecResult = write.finish().await;
            reply::result(&self.encoder, &mut self.out, &result);
        }
        self.order.clear();
    }
}

/// Reads `ops` (one-record reads of `shard`, which this node leads) at one instant: one
/// lease check and one `MultiGet`. If the store refuses (it no longer leads), each runs alone
/// as [`Session::read`] would run it.
async fn read_run(
    node: &Node,
    shard: ShardId,
    ops: Vec<ReadOp>,
    now_ms: u64,
    mode: ReadMode,
) -> Vec<ExecResult> {
    let read = node
        .store
        .read_with(shard, ReadConsistency::Linearizable, |data| {
            data.read_points(now_ms, &ops)
        })
        .await;
    if let Ok(results) = read {
        return results;
    }
    let mut results = Vec::with_capacity(ops.len());
    for op in &ops {
        results.push(node.read_with(shard, op, now_ms, mode).await);
    }
    results
}

/// The shard of a keyed command, or the `CROSSSLOT`/`MOVED` reply (which may wait for the
/// shard to elect a leader: `dispatch::redirect`).
async fn route(
    node: &Node,
    entry: Entry,
    args: &[Bytes],
    read_on_replica: bool,
) -> Result<ShardId, ExecError> {
    let route = dispatch::route(node, entry.spec, args)?;
    dispatch::redirect(node, route, read_on_replica).await?;
    Ok(route.shard)
}

/// The shard owning `slot`, or the `MOVED` reply (as [`route`]).
async fn route_slot(
    node: &Node,
    slot: router::Slot,
    read_on_replica: bool,
) -> Result<ShardId, ExecError> {
    let shard = node
        .routing
        .read()
        .shard_for_slot(slot)
        .ok_or_else(|| ExecError::Reply(errors::CLUSTER_DOWN.into()))?;
    let route = dispatch::Route {
        shard,
        slot: Some(slot),
    };
    dispatch::redirect(node, route, read_on_replica).await?;
    Ok(shard)
}

/// An error result with Redis text `text`.
pub fn err(text: &str) -> ExecResult {
    Err(ExecError::Reply(text.into()))
}
