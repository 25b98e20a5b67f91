//! The node's configuration: command-line flags, `REDRAFT_*` environment variables and an
//! optional TOML file.
//!
//! Precedence, highest first: flags, environment variables, the TOML file given by `--config`
//! (or `REDRAFT_CONFIG`), built-in defaults. The file uses the long flag names as keys
//! (`redis-port = 7000`, `requirepass = "secret"`); an unknown key is an error.
//!
//! Every limit is a field named `*_max` or `*_bytes`, documented here and in the README.
//! Cluster flags (`--cluster`, `--shards`, `--replicas`, `--read-consistency`,
//! `--cluster-mode`, Raft timing) have their own help heading.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{CommandFactory, FromArgMatches, Parser};

/// One GiB, Redis's default `client-query-buffer-limit`.
const GIB: u64 = 1 << 30;

/// How reads are served (`--read-consistency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadMode {
    /// On the leader after a ReadIndex round with a quorum, for every read: never stale, and
    /// independent of clocks.
    Linearizable,
    /// On the leader at once while its lease holds, else after a ReadIndex round (the
    /// default). Linearizable as long as the nodes' clocks advance at rates within the lease
    /// margin of each other (2 of 10 election ticks, 20%); a cut-off leader stops serving when
    /// its lease runs out, before any other node can be elected.
    Lease,
    /// From any replica's applied state; may be stale, except that a client reads its own
    /// writes on the node that acknowledged them.
    Stale,
}

/// What a node answers for keys whose shard it does not lead (`--cluster-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClusterMode {
    /// Forward the command to the shard's leader and relay the reply.
    Forward,
    /// Answer `-MOVED <slot> <host>:<port>`, as Redis Cluster does.
    Redirect,
}

/// Everything a `redraft` process is configured with.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "redraft",
    version,
    about = "RedRaft: a Redis-compatible, strongly consistent key-value store"
)]
pub struct Config {
    /// A TOML file with defaults for any flag below (keys are the long flag names).
    #[arg(long, env = "REDRAFT_CONFIG")]
    pub config: Option<PathBuf>,

    /// This node's name, unique in a cluster.
    #[arg(
        long,
        env = "REDRAFT_NODE_ID",
        default_value = "node1",
        help_heading = "Node"
    )]
    pub node_id: String,
    /// Directory holding the node's RocksDB (created if missing).
    #[arg(
        long,
        env = "REDRAFT_DATA_DIR",
        default_value = "./data",
        help_heading = "Node"
    )]
    pub data_dir: PathBuf,
    /// Internal port: the node-to-node transport (gRPC). In a cluster it must match this
    /// node's address in `--cluster`.
    #[arg(
        long,
        env = "REDRAFT_PORT",
        default_value_t = 5001,
        help_heading = "Node"
    )]
    pub port: u16,

    /// Port Redis clients connect to (0 picks a free port and logs it).
    #[arg(
        long,
        env = "REDRAFT_REDIS_PORT",
        default_value_t = 6379,
        help_heading = "Redis"
    )]
    pub redis_port: u16,
    /// Address both ports bind to.
    #[arg(
        long,
        env = "REDRAFT_BIND",
        default_value = "127.0.0.1",
        help_heading = "Redis"
    )]
    pub bind: String,
    /// Address clients and other nodes are told to reach this node's Redis port at (in
    /// `-MOVED` and the CLUSTER replies; Redis's `cluster-announce-ip`). Defaults to the bound
    /// address, which is wrong for a wildcard `--bind` such as 0.0.0.0.
    #[arg(long, env = "REDRAFT_ANNOUNCE_IP", help_heading = "Redis")]
    pub announce_ip: Option<String>,
    /// Password of the `default` user; when set, clients must AUTH before other commands.
    #[arg(long, env = "REDRAFT_REQUIREPASS", help_heading = "Redis")]
    pub requirepass: Option<String>,

    /// Most clients connected at once (Redis `maxclients`); one more is told
    /// `ERR max number of clients reached` and closed.
    #[arg(
        long,
        env = "REDRAFT_MAXCLIENTS",
        default_value_t = 10_000,
        help_heading = "Limits"
    )]
    pub maxclients: usize,
    /// Most bytes buffered for one client's unprocessed commands (Redis
    /// `client-query-buffer-limit`); a client exceeding it is closed.
    #[arg(long, env = "REDRAFT_QUERY_BUFFER_MAX_BYTES", default_value_t = GIB, help_heading = "Limits")]
    pub query_buffer_max_bytes: u64,
    /// Longest bulk string a client may send, and longest string value (Redis
    /// `proto-max-bulk-len`).
    #[arg(long, env = "REDRAFT_PROTO_MAX_BULK_LEN", default_value_t = resp::Limits::BULK_LEN_MAX as u64, help_heading = "Limits")]
    pub proto_max_bulk_len: u64,
    /// Most elements HRANDFIELD, SRANDMEMBER and ZRANDMEMBER return for a negative count.
    /// A negative count may repeat elements, so only this bounds the reply; a larger one
    /// answers `-ERR value is out of range`.
    #[arg(
        long,
        env = "REDRAFT_RAND_COUNT_MAX",
        default_value_t = 1_000_000,
        help_heading = "Limits"
    )]
    pub rand_count_max: u64,
    /// Most arguments in one command (multibulk length).
    #[arg(long, env = "REDRAFT_MULTIBULK_LEN_MAX", default_value_t = resp::Limits::MULTIBULK_LEN_MAX, help_heading = "Limits")]
    pub multibulk_len_max: usize,
    /// Most requests (proposals, reads, inbound message batches) queued for the Multi-Raft
    /// store; beyond it a client request fails with `-TRYAGAIN`.
    #[arg(
        long,
        env = "REDRAFT_STORE_INBOX_MAX",
        default_value_t = 16_384,
        help_heading = "Limits"
    )]
    pub store_inbox_max: usize,
    /// Most queued requests the store takes into one round (one fsync covers the round).
    #[arg(
        long,
        env = "REDRAFT_STORE_INPUTS_PER_ROUND_MAX",
        default_value_t = 4_096,
        help_heading = "Limits"
    )]
    pub store_inputs_per_round_max: usize,
    /// Most proposals and reads waiting on one shard's replica; beyond it `-TRYAGAIN`.
    #[arg(
        long,
        env = "REDRAFT_PENDING_REQUESTS_PER_SHARD_MAX",
        default_value_t = 16_384,
        help_heading = "Limits"
    )]
    pub pending_requests_per_shard_max: usize,
    /// Most client requests this node forwards to one other node at once (queued for its
    /// stream or sent and awaiting the reply); beyond it a forwarded request gets `-TRYAGAIN`.
    #[arg(
        long,
        env = "REDRAFT_FORWARD_INFLIGHT_MAX",
        default_value_t = 16_384,
        help_heading = "Limits"
    )]
    pub forward_inflight_max: usize,
    /// Most batches of committed entries queued for the apply worker (back-pressure on Raft).
    #[arg(
        long,
        env = "REDRAFT_APPLY_QUEUE_MAX",
        default_value_t = 1_024,
        help_heading = "Limits"
    )]
    pub apply_queue_max: usize,
    /// Most bytes per second one snapshot stream sends to a follower.
    #[arg(long, env = "REDRAFT_SNAPSHOT_BYTES_PER_SEC_MAX", default_value_t = 64 << 20, help_heading = "Limits")]
    pub snapshot_bytes_per_sec_max: u64,
    /// A shard's log is compacted once its applied index is this many entries past the log's
    /// start (or its log grew by `--log-compact-bytes-min`).
    #[arg(
        long,
        env = "REDRAFT_LOG_COMPACT_ENTRIES_MIN",
        default_value_t = 1_024,
        help_heading = "Limits"
    )]
    pub log_compact_entries_min: u64,
    /// A shard's log is compacted once it grew by this many bytes.
    #[arg(long, env = "REDRAFT_LOG_COMPACT_BYTES_MIN", default_value_t = 64 << 20, help_heading = "Limits")]
    pub log_compact_bytes_min: u64,
    /// A leader keeps the log entries its slowest follower still needs, unless that follower
    /// is more than this many entries behind (then it catches up by snapshot).
    #[arg(
        long,
        env = "REDRAFT_LOG_LAG_ENTRIES_MAX",
        default_value_t = 100_000,
        help_heading = "Limits"
    )]
    pub log_lag_entries_max: u64,
    /// Most expired keys deleted per shard per active-expiry cycle (one cycle every 100 ms).
    #[arg(
        long,
        env = "REDRAFT_EXPIRE_KEYS_PER_CYCLE_MAX",
        default_value_t = 200,
        help_heading = "Limits"
    )]
    pub expire_keys_per_cycle_max: usize,
    /// Most keys active expiry looks at per cycle (shared by the shards it visits), looking for
    /// expired ones.
    #[arg(
        long,
        env = "REDRAFT_EXPIRE_SCAN_PER_CYCLE_MAX",
        default_value_t = 400,
        help_heading = "Limits"
    )]
    pub expire_scan_per_cycle_max: usize,
    /// Most shards active expiry visits per cycle (it rotates through the shards this node
    /// leads), so a node leading a thousand idle shards stays idle.
    #[arg(
        long,
        env = "REDRAFT_EXPIRE_SHARDS_PER_CYCLE_MAX",
        default_value_t = 16,
        help_heading = "Limits"
    )]
    pub expire_shards_per_cycle_max: usize,
    /// How long a graceful shutdown waits for connected clients to finish, in milliseconds.
    #[arg(
        long,
        env = "REDRAFT_SHUTDOWN_GRACE_MS",
        default_value_t = 5_000,
        help_heading = "Limits"
    )]
    pub shutdown_grace_ms: u64,

    /// RocksDB block cache shared by every shard, in bytes.
    #[arg(long, env = "REDRAFT_BLOCK_CACHE_BYTES", default_value_t = 256 << 20, help_heading = "Storage")]
    pub block_cache_bytes: usize,
    /// All RocksDB memtables together, in bytes; past it the column family with the oldest
    /// memtable is flushed (a soft cap: writes never wait for it).
    #[arg(long, env = "REDRAFT_MEMTABLE_BUDGET_BYTES", default_value_t = 256 << 20, help_heading = "Storage")]
    pub memtable_budget_bytes: usize,
    /// One column family's (shard's) memtable size before it is flushed, in bytes.
    #[arg(long, env = "REDRAFT_WRITE_BUFFER_BYTES", default_value_t = 8 << 20, help_heading = "Storage")]
    pub write_buffer_bytes: usize,
    /// Cap on RocksDB's write-ahead log, in bytes; past it the column families holding the
    /// oldest log file are flushed so it can be deleted.
    /// At least 1 (RocksDB reads 0 as "pick a size", which with hundreds of column families
    /// is no cap at all).
    #[arg(long, env = "REDRAFT_WAL_BYTES_MAX", default_value_t = 256 << 20,
          value_parser = clap::value_parser!(u64).range(1..), help_heading = "Storage")]
    pub wal_bytes_max: u64,
    /// How often, in milliseconds, column families that took no write since the last look
    /// are flushed, so they stop keeping old write-ahead log files alive and the files can be
    /// recycled (a flush costs one small table file; each column family is flushed at most
    /// once per period, and only after writes to it stop). 0 turns it off.
    #[arg(
        long,
        env = "REDRAFT_IDLE_FLUSH_MS",
        default_value_t = 5000,
        help_heading = "Storage"
    )]
    pub idle_flush_ms: u64,

    /// The cluster's members, `name=host:port,...` (each node's internal address). Every node
    /// gets the same list; this node's `--node-id` must be in it. Without it the node is a
    /// one-node cluster of itself.
    #[arg(long, env = "REDRAFT_CLUSTER", help_heading = "Cluster")]
    pub cluster: Option<String>,
    /// Shards, evenly over the 16384 slots (default: 16 with `--cluster`, 1 without, so a
    /// lone node runs every multi-key command atomically).
    #[arg(long, env = "REDRAFT_SHARDS", help_heading = "Cluster")]
    pub shards: Option<u64>,
    /// Replicas of each shard (at most the number of members).
    #[arg(
        long,
        env = "REDRAFT_REPLICAS",
        default_value_t = 3,
        help_heading = "Cluster"
    )]
    pub replicas: usize,
    /// How reads are served: `lease` (the leader's lease, else a ReadIndex round; relies on
    /// bounded clock-rate drift), `linearizable` (a ReadIndex round with a quorum for every
    /// read) or `stale` (any replica's applied state).
    #[arg(long, env = "REDRAFT_READ_CONSISTENCY", value_enum, default_value_t = ReadMode::Lease, help_heading = "Cluster")]
    pub read_consistency: ReadMode,
    /// How a node treats a key whose shard it does not lead: `forward` it to the leader, or
    /// answer `-MOVED` (Redis Cluster clients).
    #[arg(long, env = "REDRAFT_CLUSTER_MODE", value_enum, default_value_t = ClusterMode::Forward, help_heading = "Cluster")]
    pub cluster_mode: ClusterMode,
    /// Length of one Raft tick, in milliseconds.
    #[arg(
        long,
        env = "REDRAFT_RAFT_TICK_MS",
        default_value_t = 100,
        help_heading = "Cluster"
    )]
    pub raft_tick_ms: u64,
    /// Minimum election timeout, in ticks (elections start after 1-2x this).
    #[arg(
        long,
        env = "REDRAFT_RAFT_ELECTION_TICKS",
        default_value_t = 10,
        help_heading = "Cluster"
    )]
    pub raft_election_ticks: u64,
    /// How long a client request waits for its shard (a leader, a commit) before the client
    /// gets `-TRYAGAIN` or `-CLUSTERDOWN`, in milliseconds.
    #[arg(
        long,
        env = "REDRAFT_REQUEST_DEADLINE_MS",
        default_value_t = 5_000,
        help_heading = "Cluster"
    )]
    pub request_deadline_ms: u64,
    /// Largest message on the node-to-node transport, in bytes.
    #[arg(long, env = "REDRAFT_TRANSPORT_MESSAGE_BYTES_MAX", default_value_t = 64 << 20, help_heading = "Cluster")]
    pub transport_message_bytes_max: usize,

    /// Threads serving clients and the node-to-node transport (default: one less than the
    /// CPUs, at least one). The store loop, the apply worker and RocksDB's background jobs
    /// have threads of their own; on two CPUs a second I/O thread only adds context switches
    /// (measured: 10-25% fewer SET and GET per second with two than with one).
    #[arg(long, env = "REDRAFT_IO_THREADS", value_parser = at_least_one, help_heading = "Node")]
    pub io_threads: Option<usize>,

    /// Log filter (`tracing` env-filter syntax, e.g. `info` or `node=debug,warn`).
    #[arg(
        long,
        env = "REDRAFT_LOG",
        default_value = "info",
        help_heading = "Node"
    )]
    pub log: String,
}

impl Config {
    /// Parses the process's arguments, environment and config file.
    pub fn load() -> anyhow::Result<Config> {
        Config::load_from(std::env::args_os())
    }

    /// Parses `args` (the first is the program name), the environment and the config file.
    pub fn load_from<I, T>(args: I) -> anyhow::Result<Config>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
        let first = Config::try_parse_from(&args)?;
        let Some(path) = first.config.clone() else {
            return Ok(first);
        };
        // The file's values become the flags' defaults, so environment variables and flags
        // still override them.
        let mut command = Config::command();
        for (key, value) in read_file(&path)? {
            if key == "config" || !command.get_arguments().any(|a| a.get_id() == key.as_str()) {
                bail!("{}: unknown setting '{key}'", path.display());
            }
            let value: &'static str = Box::leak(value.into_boxed_str());
            command = command.mut_arg(key.as_str(), |a| a.default_value(value));
        }
        let matches = command.try_get_matches_from(&args)?;
        Ok(Config::from_arg_matches(&matches)?)
    }

    /// The number of I/O threads: `--io-threads`, else one less than the CPUs (at least 1).
    pub fn io_threads(&self) -> usize {
        self.io_threads.unwrap_or_else(|| {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            cpus.saturating_sub(1).max(1)
        })
    }

    /// The storage engine's settings.
    pub fn storage(&self) -> storage::StorageConfig {
        storage::StorageConfig {
            block_cache_bytes: self.block_cache_bytes,
            memtable_budget_bytes: self.memtable_budget_bytes,
            write_buffer_bytes: self.write_buffer_bytes,
            wal_bytes_max: self.wal_bytes_max,
            ..storage::StorageConfig::default()
        }
    }
}

/// Parses a count that must be at least 1.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err("must be at least 1".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Reads a TOML config file into (argument id, value) pairs; ids use `_` like clap's.
fn read_file(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("parsing {}", path.display()))?;
    let mut out = Vec::with_capacity(table.len());
    for (key, value) in table {
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => bail!(
                "{}: setting '{key}' has unsupported value {other}",
                path.display()
            ),
        };
        out.push((key.replace('-', "_"), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_redis_like() {
        let c = Config::load_from(["redraft"]).unwrap();
        assert_eq!(c.redis_port, 6379);
        assert_eq!(c.port, 5001);
        assert_eq!(c.maxclients, 10_000);
        assert_eq!(c.query_buffer_max_bytes, 1 << 30);
        assert_eq!(c.proto_max_bulk_len, 512 << 20);
        assert_eq!(c.node_id, "node1");
    }

    #[test]
    fn file_values_yield_to_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("redraft.toml");
        std::fs::write(
            &path,
            "redis-port = 7000\nmaxclients = 5\nrequirepass = \"pw\"\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let c = Config::load_from(["redraft", "--config", p, "--maxclients", "9"]).unwrap();
        assert_eq!(c.redis_port, 7000);
        assert_eq!(c.maxclients, 9);
        assert_eq!(c.requirepass.as_deref(), Some("pw"));
    }

    #[test]
    fn zero_io_threads_or_wal_cap_is_refused() {
        assert!(Config::load_from(["redraft", "--io-threads", "0"]).is_err());
        assert!(Config::load_from(["redraft", "--wal-bytes-max", "0"]).is_err());
        let c = Config::load_from(["redraft", "--io-threads", "3"]).unwrap();
        assert_eq!(c.io_threads(), 3);
        assert!(Config::load_from(["redraft"]).unwrap().io_threads() >= 1);
    }

    #[test]
    fn unknown_file_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("redraft.toml");
        std::fs::write(&path, "no-such-flag = 1\n").unwrap();
        assert!(Config::load_from(["redraft", "--config", path.to_str().unwrap()]).is_err());
    }
}
