//! The text of `INFO [section ...]`: server, clients, memory, persistence, stats, cluster,
//! keyspace.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::cmd::connection::REDIS_VERSION;
use crate::config::ClusterMode;
use crate::state::Node;

const SECTIONS: [&str; 7] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "cluster",
    "keyspace",
];

/// Renders the requested sections (all of them for none, `all`, `default` or `everything`).
pub fn render(node: &Node, args: &[Bytes]) -> String {
    let wanted: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let all = wanted.is_empty()
        || wanted
            .iter()
            .any(|w| w == "all" || w == "default" || w == "everything");
    let mut out = String::new();
    for section in SECTIONS {
        if !all && !wanted.iter().any(|w| w == section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let lines = match section {
            "server" => server(node),
            "clients" => clients(node),
            "memory" => memory(node),
            "persistence" => persistence(node),
            "stats" => stats(node),
            "cluster" => cluster(node),
            _ => keyspace(node),
        };
        let _ = write!(out, "# {}\r\n", capitalize(section));
        for (key, value) in lines {
            let _ = write!(out, "{key}:{value}\r\n");
        }
    }
    out
}

/// `cluster_enabled` is 1 in redirect mode, where the node speaks the Redis Cluster protocol
/// to clients; in forward mode it presents itself as a standalone server.
fn cluster(node: &Node) -> Lines {
    let local = node.local_shards();
    let led = local.iter().filter(|s| node.leads(**s)).count();
    let redirect = node.config.cluster_mode == ClusterMode::Redirect;
    let stats = node.store.stats();
    vec![
        ("cluster_enabled", u8::from(redirect).to_string()),
        ("redraft_members", node.topology.members.len().to_string()),
        ("redraft_shards", node.topology.shards().len().to_string()),
        ("redraft_shards_hosted", local.len().to_string()),
        ("redraft_shards_led", led.to_string()),
        ("redraft_store_rounds", stats.rounds.to_string()),
        (
            "redraft_store_rounds_synced",
            stats.rounds_synced.to_string(),
        ),
        ("redraft_store_log_writes", stats.log_writes.to_string()),
        ("redraft_store_batches_sent", stats.batches_sent.to_string()),
        ("redraft_snapshots_sent", stats.snapshots_sent.to_string()),
        (
            "redraft_snapshots_installed",
            stats.snapshots_installed.to_string(),
        ),
        ("redraft_log_compactions", stats.log_compactions.to_string()),
    ]
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

type Lines = Vec<(&'static str, String)>;

fn server(node: &Node) -> Lines {
    let uptime = node.uptime_secs();
    vec![
        ("redis_version", REDIS_VERSION.into()),
        ("redraft_version", env!("CARGO_PKG_VERSION").into()),
        ("redis_mode", "standalone".into()),
        ("os", std::env::consts::OS.into()),
        ("arch_bits", (usize::BITS).to_string()),
        ("process_id", std::process::id().to_string()),
        ("run_id", node.config.node_id.clone()),
        ("tcp_port", node.config.redis_port.to_string()),
        ("uptime_in_seconds", uptime.to_string()),
        ("uptime_in_days", (uptime / 86_400).to_string()),
        ("hz", "10".into()),
        (
            "executable",
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
    ]
}

fn clients(node: &Node) -> Lines {
    vec![
        ("connected_clients", node.clients.connected().to_string()),
        (
            "maxclients",
            node.live.maxclients.load(Ordering::Relaxed).to_string(),
        ),
        ("blocked_clients", "0".into()),
    ]
}

/// Resident set size in bytes, from `/proc/self/statm` (0 where unavailable).
fn rss_bytes() -> u64 {
    const PAGE_BYTES: u64 = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * PAGE_BYTES)
}

/// A RocksDB integer property summed over the data column families.
fn rocks_property(node: &Node, name: &str) -> u64 {
    node.local_shards()
        .into_iter()
        .filter_map(|shard| {
            let cf = node.db.cf(&storage::db::shard_cf_name(shard.0)).ok()?;
            node.db
                .rocks()
                .property_int_value_cf(&cf, name)
                .ok()
                .flatten()
        })
        .sum()
}

fn memory(node: &Node) -> Lines {
    let rss = rss_bytes();
    vec![
        ("used_memory", rss.to_string()),
        ("used_memory_human", human_bytes(rss)),
        ("used_memory_rss", rss.to_string()),
        ("maxmemory", "0".into()),
        ("maxmemory_policy", "noeviction".into()),
        (
            "rocksdb_block_cache_bytes",
            node.config.block_cache_bytes.to_string(),
        ),
        (
            "rocksdb_memtable_bytes",
            rocks_property(node, "rocksdb.cur-size-all-mem-tables").to_string(),
        ),
        (
            "rocksdb_live_sst_bytes",
            rocks_property(node, "rocksdb.live-sst-files-size").to_string(),
        ),
        (
            "rocksdb_estimate_live_data_bytes",
            rocks_property(node, "rocksdb.estimate-live-data-size").to_string(),
        ),
    ]
}

fn human_bytes(n: u64) -> String {
    let units = ["B", "K", "M", "G", "T"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2}{}", units[unit])
}

fn persistence(node: &Node) -> Lines {
    let applied: u64 = node
        .local_shards()
        .into_iter()
        .filter_map(|s| node.store.applied_index(s))
        .sum();
    vec![
        ("loading", "0".into()),
        ("aof_enabled", "1".into()),
        ("aof_fsync", "always".into()),
        ("rdb_changes_since_last_save", "0".into()),
        ("rocksdb_applied_entries", applied.to_string()),
    ]
}

fn stats(node: &Node) -> Lines {
    let s = &node.stats;
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed).to_string();
    vec![
        ("total_connections_received", get(&s.connections_received)),
        ("total_commands_processed", get(&s.commands_processed)),
        ("instantaneous_ops_per_sec", get(&s.ops_per_sec)),
        ("rejected_connections", get(&s.rejected_connections)),
        ("expired_keys", get(&s.expired_keys)),
        ("evicted_keys", "0".into()),
    ]
}

fn keyspace(node: &Node) -> Lines {
    let (keys, expires) = crate::keycount::count(node);
    if keys == 0 {
        return Vec::new();
    }
    vec![("db0", format!("keys={keys},expires={expires},avg_ttl=0"))]
}
