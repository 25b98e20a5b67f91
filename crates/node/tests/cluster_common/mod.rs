//! Shared harness of the cluster tests: N in-process stores, each with its own RocksDB in a
//! temp dir, over the simulated network or real gRPC on loopback. Every wait polls a
//! condition with a deadline; nothing sleeps a fixed time where a condition can be polled.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use node::cluster::{
    ClusterError, GrpcTransport, GrpcTransportConfig, ReadConsistency, ShardReplicas, SimNetwork,
    Store, StoreConfig, Transport, TransportService,
};
use raft::NodeId;
use router::ShardId;
use storage::types::hash::HashWrite;
use storage::types::string::{ExpiryChange, SetCond, StringRead, StringWrite};
use storage::{Db, ExecResult, Output, ReadOp, Reader, StorageConfig, WriteEntry, WriteOp};

/// Longest any single condition is waited for.
pub const WAIT: Duration = Duration::from_secs(20);

/// The seed of a randomized test: `SIM_SEED` if set, else the clock; printed for replay.
pub fn sim_seed() -> u64 {
    crate::seed::from_env("SIM_SEED")
}

/// A distinct entry: `tag` travels as the entry time, so every entry's bytes differ.
pub fn entry(tag: u64) -> WriteEntry {
    WriteEntry {
        now_ms: 1_700_000_000_000 + tag,
        ops: Vec::new(),
    }
}

/// `SET key value`.
pub fn set(key: &str, value: &str) -> WriteEntry {
    let op = StringWrite::Set {
        key: key.into(),
        value: value.into(),
        cond: SetCond::Always,
        expiry: ExpiryChange::Clear,
        get: false,
    };
    WriteEntry {
        now_ms: 1_700_000_000_000,
        ops: vec![WriteOp::String(op)],
    }
}

/// `INCRBY key delta`.
pub fn incr(key: &str, delta: i64) -> WriteEntry {
    let op = StringWrite::IncrBy {
        key: key.into(),
        delta,
    };
    WriteEntry {
        now_ms: 1_700_000_000_000,
        ops: vec![WriteOp::String(op)],
    }
}

/// `HSET key field value`.
pub fn hset(key: &str, field: &str, value: &str) -> WriteEntry {
    let op = HashWrite::Set {
        key: key.into(),
        pairs: vec![(field.into(), value.into())],
        reply_ok: false,
    };
    WriteEntry {
        now_ms: 1_700_000_000_000,
        ops: vec![WriteOp::Hash(op)],
    }
}

/// `GET key`.
pub fn get(key: &str) -> ReadOp {
    ReadOp::String(StringRead::Get { key: key.into() })
}

/// The single result of a one-op entry, as an output.
pub fn only_output(results: Vec<ExecResult>) -> Output {
    assert_eq!(results.len(), 1, "one op, one result");
    results
        .into_iter()
        .next()
        .expect("one result")
        .expect("op succeeded")
}

/// Store settings for tests: 10 ms ticks, elections after 100-200 ms.
pub fn test_store_config(id: NodeId) -> StoreConfig {
    let mut cfg = StoreConfig::new(id);
    cfg.tick_interval_ms = 10;
    cfg.election_ticks = 10;
    cfg.heartbeat_ticks = 2;
    cfg.quiesce_after_ticks = 20;
    cfg.request_deadline_ms = 1_500;
    cfg.probe_interval_ticks = 3;
    cfg.node_down_after_ticks = 10;
    cfg
}

enum Net {
    Sim(Arc<SimNetwork>),
    Grpc {
        servers: HashMap<NodeId, tokio::task::JoinHandle<()>>,
        addrs: HashMap<NodeId, std::net::SocketAddr>,
    },
}

/// One node: its data dir, its database and its running store (if up).
struct Member {
    dir: tempfile::TempDir,
    db: Option<Arc<Db>>,
    store: Option<Store>,
}

/// An in-process cluster.
pub struct Cluster {
    /// The simulated network (a dummy one for gRPC clusters).
    pub net: Arc<SimNetwork>,
    /// Deadline of every request, as configured.
    pub request_deadline_ms: u64,
    transport: Net,
    shards: Vec<ShardReplicas>,
    members: BTreeMap<NodeId, Member>,
    seed: u64,
    /// Applied to every node's store settings (thresholds for a test).
    tweak: fn(&mut StoreConfig),
}

impl Cluster {
    /// `nodes` stores over a [`SimNetwork`] seeded with `seed`, hosting `shards` shards
    /// replicated on every node.
    pub fn start_sim(nodes: u64, shards: u64, seed: u64) -> Cluster {
        Cluster::start_sim_with(nodes, shards, seed, |_| {})
    }

    /// Like [`Cluster::start_sim`], with `tweak` applied to every node's store settings.
    pub fn start_sim_with(
        nodes: u64,
        shards: u64,
        seed: u64,
        tweak: fn(&mut StoreConfig),
    ) -> Cluster {
        let net = SimNetwork::new(seed);
        let mut c = Cluster::empty(nodes, shards, seed, Net::Sim(Arc::clone(&net)), net);
        c.tweak = tweak;
        for id in c.ids() {
            c.restart(id);
        }
        c
    }

    /// `nodes` stores over real gRPC on 127.0.0.1 ephemeral ports.
    pub async fn start_grpc(nodes: u64, shards: u64, seed: u64) -> Cluster {
        Cluster::start_grpc_with(nodes, shards, seed, |_| {}).await
    }

    /// Like [`Cluster::start_grpc`], with `tweak` applied to every node's store settings.
    pub async fn start_grpc_with(
        nodes: u64,
        shards: u64,
        seed: u64,
        tweak: fn(&mut StoreConfig),
    ) -> Cluster {
        let mut addrs = HashMap::new();
        let mut listeners = Vec::new();
        for id in 1..=nodes {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            addrs.insert(NodeId(id), addr);
            listeners.push((NodeId(id), listener));
        }
        let net = Net::Grpc {
            servers: HashMap::new(),
            addrs,
        };
        let mut c = Cluster::empty(nodes, shards, seed, net, SimNetwork::new(seed));
        c.tweak = tweak;
        for (id, listener) in listeners {
            c.start_grpc_node(id, listener);
        }
        c
    }

    /// Restarts a stopped node of a gRPC cluster on its old port, from its data dir.
    pub async fn restart_grpc(&mut self, id: NodeId) {
        let Net::Grpc { addrs, .. } = &self.transport else {
            panic!("not a gRPC cluster")
        };
        let addr = addrs[&id];
        let deadline = Instant::now() + WAIT;
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(e) => assert!(Instant::now() < deadline, "rebind {addr}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        self.start_grpc_node(id, listener);
    }

    fn start_grpc_node(&mut self, id: NodeId, listener: tokio::net::TcpListener) {
        let Net::Grpc { addrs, .. } = &self.transport else {
            panic!("not a gRPC cluster")
        };
        let others = addrs
            .iter()
            .filter(|(n, _)| **n != id)
            .map(|(n, a)| (*n, format!("http://{a}")))
            .collect();
        let runtime = tokio::runtime::Handle::current();
        let grpc = GrpcTransport::new(GrpcTransportConfig::new(id), others, runtime);
        let store = self.open_store(id, Arc::clone(&grpc) as Arc<dyn Transport>);
        grpc.set_inbound(store.inbound());
        let svc = TransportService::new(id, store.inbound()).into_server(64 << 20);
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let server = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(incoming)
                .await;
        });
        if let Net::Grpc { servers, .. } = &mut self.transport {
            servers.insert(id, server);
        }
    }

    fn empty(nodes: u64, shards: u64, seed: u64, transport: Net, net: Arc<SimNetwork>) -> Cluster {
        let ids: Vec<NodeId> = (1..=nodes).map(NodeId).collect();
        let shards = (0..shards)
            .map(|s| ShardReplicas {
                shard: ShardId(s),
                nodes: ids.clone(),
            })
            .collect();
        let members = ids
            .iter()
            .map(|id| {
                (
                    *id,
                    Member {
                        dir: tempfile::tempdir().expect("tempdir"),
                        db: None,
                        store: None,
                    },
                )
            })
            .collect();
        Cluster {
            net,
            request_deadline_ms: test_store_config(NodeId(1)).request_deadline_ms,
            transport,
            shards,
            members,
            seed,
            tweak: |_| {},
        }
    }

    /// Node ids, ascending.
    pub fn ids(&self) -> Vec<NodeId> {
        self.members.keys().copied().collect()
    }

    /// The running store of `id`.
    pub fn store(&self, id: NodeId) -> Store {
        self.members[&id].store.clone().expect("store is running")
    }

    fn config(&self, id: NodeId) -> StoreConfig {
        let mut cfg = test_store_config(id);
        cfg.seed = self.seed ^ id.0;
        (self.tweak)(&mut cfg);
        cfg
    }

    /// Stops `id`'s store and closes its database (as a crash would, minus the page cache).
    pub fn stop(&mut self, id: NodeId) {
        self.net.unregister(id);
        if let Net::Grpc { servers, .. } = &mut self.transport {
            if let Some(server) = servers.remove(&id) {
                // Closes the listener; open streams end when they next deliver to the stopped
                // store, and their senders reconnect.
                server.abort();
            }
        }
        let m = self.members.get_mut(&id).expect("member");
        if let Some(store) = m.store.take() {
            store.stop();
        }
        m.db = None;
    }

    /// (Re)starts `id`'s store from its data dir over the simulated network.
    pub fn restart(&mut self, id: NodeId) {
        let transport: Arc<dyn Transport> = self.net.transport(id);
        let store = self.open_store(id, transport);
        self.net.register(id, store.inbound());
    }

    fn open_store(&mut self, id: NodeId, transport: Arc<dyn Transport>) -> Store {
        let cfg = self.config(id);
        let shards = self.shards.clone();
        let m = self.members.get_mut(&id).expect("member");
        let db = Db::open(m.dir.path(), &StorageConfig::default()).expect("open db");
        let store = Store::start(cfg, Arc::clone(&db), &shards, transport).expect("start store");
        m.db = Some(db);
        m.store = Some(store.clone());
        store
    }

    /// Polls `cond` until it holds, panicking after [`WAIT`].
    pub async fn wait_until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + WAIT;
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for: {what} (seed {})",
                self.seed
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A node other than `leader`.
    pub fn a_follower(&self, leader: NodeId) -> NodeId {
        self.ids()
            .into_iter()
            .find(|id| *id != leader)
            .expect("a follower")
    }

    /// The leader of `shard` that every running node outside `excluded` agrees on.
    pub async fn wait_leader(&self, shard: ShardId, excluded: &[NodeId]) -> NodeId {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(l) = self.agreed_leader(shard, excluded) {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no leader for shard {shard} (seed {})",
                self.seed
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn agreed_leader(&self, shard: ShardId, excluded: &[NodeId]) -> Option<NodeId> {
        let mut leader = None;
        for (id, m) in &self.members {
            let Some(store) = &m.store else { continue };
            if excluded.contains(id) {
                continue;
            }
            let l = store.leader_of(shard)?;
            if excluded.contains(&l) || leader.is_some_and(|x| x != l) {
                return None;
            }
            leader = Some(l);
        }
        leader.filter(|l| self.store(*l).is_leader(shard))
    }

    /// Proposes `entry` through the leader until it is applied, retrying retryable failures.
    pub async fn write(&self, shard: ShardId, entry: &WriteEntry) -> Vec<ExecResult> {
        self.write_avoiding(shard, entry, &[]).await
    }

    /// Like [`Cluster::write`], with the nodes in `excluded` cut off (not used as leader).
    pub async fn write_avoiding(
        &self,
        shard: ShardId,
        entry: &WriteEntry,
        excluded: &[NodeId],
    ) -> Vec<ExecResult> {
        let deadline = Instant::now() + WAIT;
        loop {
            let leader = self.wait_leader(shard, excluded).await;
            match self.store(leader).propose(shard, entry).await {
                Ok(results) => return results,
                Err(
                    ClusterError::NotLeader { .. }
                    | ClusterError::DeadlineExceeded
                    | ClusterError::ProposalDropped
                    | ClusterError::Busy(_),
                ) => {}
                Err(e) => panic!("write to shard {shard} failed: {e} (seed {})", self.seed),
            }
            assert!(
                Instant::now() < deadline,
                "write to shard {shard} never succeeded (seed {})",
                self.seed
            );
        }
    }

    /// Waits until every running replica of every shard has applied the same index as the
    /// leader's commit (and that index stops moving).
    pub async fn wait_converged(&self) {
        for spec in &self.shards {
            let shard = spec.shard;
            let leader = self.wait_leader(shard, &[]).await;
            // A linearizable read on the leader waits until its applied index covers every
            // write acknowledged so far.
            self.linearizable_barrier(leader, shard).await;
            let target = self.store(leader).applied_index(shard).unwrap_or(0);
            self.wait_until(&format!("shard {shard} replicas reach {target}"), || {
                self.members
                    .values()
                    .filter_map(|m| m.store.as_ref())
                    .all(|s| s.applied_index(shard).unwrap_or(0) >= target)
            })
            .await;
        }
    }

    async fn linearizable_barrier(&self, leader: NodeId, shard: ShardId) {
        let deadline = Instant::now() + WAIT;
        loop {
            let store = self.store(leader);
            if store
                .read_with(shard, ReadConsistency::Linearizable, |_| ())
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no linearizable read on shard {shard} (seed {})",
                self.seed
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Asserts that every running replica of every shard holds the same raw data at the same
    /// applied index and the same committed log where their logs overlap (compaction and
    /// snapshots move each replica's log start independently).
    pub fn assert_replicas_identical(&self) {
        for spec in &self.shards {
            let shard = spec.shard;
            let mut first: Option<ReplicaView> = None;
            for (id, m) in &self.members {
                let (Some(store), Some(db)) = (&m.store, &m.db) else {
                    continue;
                };
                let data = store.shard_data(shard).expect("shard");
                let applied = data.state().applied_index;
                let view = ReplicaView {
                    node: *id,
                    applied,
                    records: data.with_snapshot(0, |v| dump(v)),
                    log: committed_log(db, shard, applied),
                };
                let Some(f) = &first else {
                    first = Some(view);
                    continue;
                };
                let (a, b) = (f.node, view.node);
                assert_eq!(
                    view.applied, f.applied,
                    "shard {shard}: applied index of {b} vs {a}"
                );
                assert_eq!(view.records, f.records, "shard {shard}: data of {b} vs {a}");
                let from = f.log_first().max(view.log_first());
                let overlap = |log: &[raft::Entry]| -> Vec<raft::Entry> {
                    log.iter().filter(|e| e.index >= from).cloned().collect()
                };
                assert_eq!(
                    overlap(&view.log),
                    overlap(&f.log),
                    "shard {shard}: log of {b} vs {a} from {from}"
                );
            }
        }
    }
}

/// What one replica of a shard holds.
struct ReplicaView {
    node: NodeId,
    applied: u64,
    records: Vec<(Vec<u8>, Vec<u8>)>,
    log: Vec<raft::Entry>,
}

impl ReplicaView {
    /// Index of the first committed entry still in the log (past the applied index if none).
    fn log_first(&self) -> u64 {
        self.log.first().map_or(self.applied + 1, |e| e.index)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in self.members.values_mut() {
            if let Some(store) = m.store.take() {
                store.stop();
            }
        }
        if let Net::Grpc { servers, .. } = &self.transport {
            for s in servers.values() {
                s.abort();
            }
        }
    }
}

/// Every record of a shard's column family.
fn dump(view: &dyn Reader) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    view.scan_raw(&[], &[0xFF; 16], false, &mut |k, v| {
        out.push((k.to_vec(), v.to_vec()));
        true
    })
    .expect("scan");
    out
}

/// The log entries up to `applied` of a shard as stored on a node, read from one RocksDB
/// snapshot (the node may compact its log meanwhile).
fn committed_log(db: &Arc<Db>, shard: ShardId, applied: u64) -> Vec<raft::Entry> {
    let cf = db.cf(storage::db::RAFT_CF).expect("raft cf");
    let snap = db.rocks().snapshot();
    let mut opts = rocksdb::ReadOptions::default();
    opts.set_iterate_upper_bound(storage::keys::raft_log_key(shard.0, applied + 1).to_vec());
    let mut iter = snap.raw_iterator_cf_opt(&cf, opts);
    iter.seek(storage::keys::raft_log_key(shard.0, 0));
    let mut out = Vec::new();
    while let Some(v) = iter.value() {
        out.push(node::cluster::codec::decode_entry(v).expect("entry"));
        iter.next();
    }
    iter.status().expect("iterate the log");
    out
}
