//! What every connection of a node shares: storage, the Multi-Raft store, routing, live settings,
//! clients and counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use router::{RoutingTable, ShardId};
use storage::{Db, ShardStore};

use crate::clients::Clients;
use crate::cluster::Store;
use crate::config::Config;
use crate::forward::Peers;
use crate::topology::Topology;

/// Settings `CONFIG SET` may change while the node runs.
#[derive(Debug)]
pub struct LiveConfig {
    /// Most connected clients (`maxclients`).
    pub maxclients: AtomicUsize,
    /// Password of the `default` user (`requirepass`); `None` means no AUTH needed.
    pub requirepass: RwLock<Option<String>>,
    /// Longest bulk string and string value (`proto-max-bulk-len`); applies to connections
    /// accepted after a change and to every value size check at once.
    pub proto_max_bulk_len: AtomicU64,
    /// Settings accepted by `CONFIG SET` without effect, remembered for `CONFIG GET`.
    pub inert: RwLock<HashMap<String, String>>,
}

/// Counters `INFO` reports.
#[derive(Debug, Default)]
pub struct Stats {
    /// Commands executed since start (or `CONFIG RESETSTAT`).
    pub commands_processed: AtomicU64,
    /// Connections accepted since start (or `CONFIG RESETSTAT`).
    pub connections_received: AtomicU64,
    /// Connections refused because of `maxclients`.
    pub rejected_connections: AtomicU64,
    /// Keys deleted by active expiry.
    pub expired_keys: AtomicU64,
    /// Commands per second over the last sampling second.
    pub ops_per_sec: AtomicU64,
}

/// The node: one per process, shared by every task.
pub struct Node {
    /// The static configuration the process started with.
    pub config: Config,
    /// Settings that `CONFIG SET` changes.
    pub live: LiveConfig,
    /// The node's RocksDB.
    pub db: Arc<Db>,
    /// The members and the placement of every shard.
    pub topology: Topology,
    /// The Multi-Raft store: this node's replicas of its shards.
    pub store: Store,
    /// Which shard owns each slot (the metadata group's table once read).
    pub routing: RwLock<Arc<RoutingTable>>,
    /// The other members: forwarding clients, their Redis addresses, leader hints.
    pub peers: Peers,
    /// Where this node's Redis clients connect (set once the listener is bound).
    pub redis_addr: OnceLock<String>,
    /// Connected clients.
    pub clients: Clients,
    /// Counters.
    pub stats: Stats,
    /// When the node started.
    pub started: Instant,
}

impl Node {
    /// The data shards hosted here, ascending.
    pub fn local_shards(&self) -> Vec<ShardId> {
        self.topology
            .shards()
            .into_iter()
            .filter(|s| self.topology.hosts(*s))
            .collect()
    }

    /// Waits (within one request deadline) until every replica here has applied the writes
    /// it answered at commit, so what reads the data directly (`INFO keyspace`) sees them.
    /// Shards that cannot settle in time are counted as they are.
    pub async fn await_answered_applied(&self) {
        let shards = self.local_shards();
        if let Err(e) = self.store.await_answered_applied(&shards).await {
            tracing::debug!(error = %e, "reading the data before every answered write is applied");
        }
    }

    /// This node's replica of `shard`'s data, if hosted here.
    pub fn shard_data(&self, shard: ShardId) -> Option<Arc<ShardStore>> {
        self.store.shard_data(shard)
    }

    /// Seconds since the node started.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The configured password, if any.
    pub fn requirepass(&self) -> Option<String> {
        self.live.requirepass.read().clone()
    }

    /// Increments a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Now, in Unix milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Now, in Unix microseconds.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
