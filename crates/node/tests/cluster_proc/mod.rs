//! Process-level cluster harness: starts N real `redraft` processes on loopback, each with its
//! own internal (gRPC) port, Redis port, data directory and log file, all given the same
//! `--cluster` list; kills them with SIGKILL or stops them with SIGTERM and starts them again
//! with the same flags and data directories.
//!
//! Nodes are numbered from 1, as their names are (`node1`, `node2`, ...). Every wait has a
//! deadline. When a test panics, dropping the cluster prints the tail of every node's log (so
//! a CI failure can be read from the test output) and kills every process it started.
//!
//! ```ignore
//! mod cluster_proc;
//! let mut c = cluster_proc::ProcCluster::start(3, &["--raft-tick-ms", "50"]);
//! let mut con = c.conn(2);
//! c.kill9(1);
//! c.restart(1);
//! ```
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use node::topology::{node_id_of, parse_members, Topology};
use router::ShardId;

/// Longest a node (or the whole cluster) may take to answer PING and accept a write.
pub const READY_WAIT: Duration = Duration::from_secs(30);
/// Longest a SIGTERM'd node may take to exit.
pub const EXIT_WAIT: Duration = Duration::from_secs(30);
/// Read timeout of client connections: a reply slower than this counts as a hang.
pub const CLIENT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a cluster start is retried when a chosen port was taken meanwhile.
const START_ATTEMPTS_MAX: usize = 3;
/// Log lines printed per node when a test fails.
const LOG_TAIL_LINES: usize = 60;

/// One `redraft` process of the cluster.
struct ProcNode {
    /// `node1`, `node2`, ...
    name: String,
    /// Internal (gRPC) port, as listed in `--cluster`.
    grpc_port: u16,
    /// Port Redis clients connect to.
    redis_port: u16,
    /// The running process, if any.
    child: Option<Child>,
}

/// A cluster of real `redraft` processes owned by one test.
pub struct ProcCluster {
    dir: tempfile::TempDir,
    nodes: Vec<ProcNode>,
    extra: Vec<String>,
}

impl ProcCluster {
    /// Starts `n` nodes with `extra` flags on top of the harness's, and waits until every node
    /// answers PING and a write through every node succeeds.
    pub fn start(n: usize, extra: &[&str]) -> ProcCluster {
        assert!(n >= 1, "a cluster needs a node");
        let dir = tempfile::Builder::new()
            .prefix("redraft-cluster-")
            .tempdir()
            .expect("temp dir");
        let mut cluster = ProcCluster {
            dir,
            nodes: Vec::new(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        for attempt in 1..=START_ATTEMPTS_MAX {
            cluster.nodes = free_ports(2 * n)
                .chunks(2)
                .enumerate()
                .map(|(i, p)| ProcNode {
                    name: format!("node{}", i + 1),
                    grpc_port: p[0],
                    redis_port: p[1],
                    child: None,
                })
                .collect();
            for i in 1..=n {
                let _ = std::fs::remove_dir_all(cluster.data_dir(i));
                cluster.spawn(i, &[]);
            }
            match cluster.wait_all_ready() {
                Ok(()) => return cluster,
                Err(why) if why.contains("exited") && attempt < START_ATTEMPTS_MAX => {
                    eprintln!("cluster start attempt {attempt} failed ({why}); retrying");
                    cluster.print_logs();
                    cluster.kill_all();
                }
                Err(why) => {
                    cluster.print_logs();
                    cluster.kill_all();
                    panic!("cluster did not start: {why}");
                }
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// How many nodes the cluster has.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The `--cluster` list every node gets.
    pub fn spec(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("{}=127.0.0.1:{}", n.name, n.grpc_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Node `i`'s name (`node<i>`).
    pub fn name(&self, i: usize) -> &str {
        &self.node(i).name
    }

    /// Node `i`'s Redis port.
    pub fn redis_port(&self, i: usize) -> u16 {
        self.node(i).redis_port
    }

    /// Node `i`'s data directory (kept across restarts).
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(&self.node(i).name)
    }

    /// Node `i`'s log file (appended to across restarts).
    pub fn log_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.node(i).name))
    }

    /// Node `i`'s log so far.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.log_path(i)).unwrap_or_default()
    }

    /// Whether node `i`'s process is running (started and not yet exited).
    pub fn is_running(&mut self, i: usize) -> bool {
        let node = self.node_mut(i);
        match node.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// A new client connection to node `i`, with [`CLIENT_READ_TIMEOUT`].
    pub fn conn(&self, i: usize) -> redis::Connection {
        self.try_conn(i)
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.name(i)))
    }

    /// A new client connection to node `i`, or why there is none.
    pub fn try_conn(&self, i: usize) -> redis::RedisResult<redis::Connection> {
        connect(self.redis_port(i))
    }

    /// Kills node `i` with SIGKILL (the child this harness spawned) and reaps it.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut child) = self.node_mut(i).child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM to node `i` and waits (bounded) for its exit status.
    pub fn terminate(&mut self, i: usize) -> ExitStatus {
        let name = self.name(i).to_string();
        let mut child = self
            .node_mut(i)
            .child
            .take()
            .unwrap_or_else(|| panic!("{name} is not running"));
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM {name} failed");
        let deadline = Instant::now() + EXIT_WAIT;
        loop {
            if let Some(status) = child.try_wait().expect("wait for redraft") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} did not exit within {EXIT_WAIT:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts node `i` again with the same flags and data directory (killing it first if it
    /// runs) and waits until it answers PING and a write through it succeeds.
    pub fn restart(&mut self, i: usize) {
        self.kill9(i);
        self.spawn(i, &[]);
        if let Err(why) = self.wait_ready(i, Instant::now() + READY_WAIT, true) {
            panic!("{} did not come back: {why}", self.name(i));
        }
    }

    /// Starts node `i` again with `more` flags after the usual ones (later flags win), and
    /// waits only until it answers PING: the node may be alone, unable to write.
    pub fn restart_with(&mut self, i: usize, more: &[&str]) {
        self.kill9(i);
        self.spawn(i, more);
        if let Err(why) = self.wait_ready(i, Instant::now() + READY_WAIT, false) {
            panic!("{} did not come back: {why}", self.name(i));
        }
    }

    /// Stops every node with SIGTERM, one after another; returns their exit statuses.
    pub fn stop_all(&mut self) -> Vec<ExitStatus> {
        (1..=self.len()).map(|i| self.terminate(i)).collect()
    }

    /// Starts every node that is not running with the same flags and data directories, and
    /// waits until every node answers PING and a write through every node succeeds.
    pub fn start_all(&mut self) {
        for i in 1..=self.len() {
            if !self.is_running(i) {
                self.kill9(i);
                self.spawn(i, &[]);
            }
        }
        if let Err(why) = self.wait_all_ready() {
            panic!("cluster did not come back: {why}");
        }
    }

    /// Whether `port` is one of the nodes' Redis ports.
    pub fn has_port(&self, port: u16) -> bool {
        self.nodes.iter().any(|n| n.redis_port == port)
    }

    /// A new connection to the node with Redis port `port`.
    pub fn conn_port(&self, port: u16) -> redis::Connection {
        connect(port).unwrap_or_else(|e| panic!("connecting to port {port}: {e}"))
    }

    /// Waits until every node's `CLUSTER INFO` says `cluster_state:ok` (every slot's shard has
    /// a leader whose address is known).
    pub fn wait_cluster_ok(&self) {
        for i in 1..=self.len() {
            let mut last = String::new();
            let ok = wait_until(READY_WAIT, || {
                let info: redis::RedisResult<String> = connect(self.redis_port(i))
                    .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query(&mut c));
                match info {
                    Ok(text) if text.contains("cluster_state:ok\r\n") => true,
                    Ok(text) => {
                        last = text;
                        false
                    }
                    Err(e) => {
                        last = e.to_string();
                        false
                    }
                }
            });
            assert!(
                ok,
                "{} is not ok within {READY_WAIT:?}: {last}",
                self.name(i)
            );
        }
    }

    /// Prints the tail of every node's log to stderr.
    pub fn print_logs(&self) {
        for i in 1..=self.len() {
            let log = self.log(i);
            let lines: Vec<&str> = log.lines().collect();
            let from = lines.len().saturating_sub(LOG_TAIL_LINES);
            eprintln!(
                "----- {} log ({}), last {} lines -----\n{}",
                self.name(i),
                self.log_path(i).display(),
                lines.len() - from,
                lines[from..].join("\n")
            );
        }
    }

    fn node(&self, i: usize) -> &ProcNode {
        assert!(
            (1..=self.nodes.len()).contains(&i),
            "no node {i} in a cluster of {}",
            self.nodes.len()
        );
        &self.nodes[i - 1]
    }

    fn node_mut(&mut self, i: usize) -> &mut ProcNode {
        assert!(
            (1..=self.nodes.len()).contains(&i),
            "no node {i} in a cluster of {}",
            self.nodes.len()
        );
        &mut self.nodes[i - 1]
    }

    fn kill_all(&mut self) {
        for i in 1..=self.len() {
            self.kill9(i);
        }
    }

    /// Spawns node `i` with the cluster's flags, then `more`; its stderr goes to its log file.
    fn spawn(&mut self, i: usize, more: &[&str]) {
        let spec = self.spec();
        let data_dir = self.data_dir(i);
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(i))
            .expect("log file");
        let node = self.node(i);
        let mut command = Command::new(env!("CARGO_BIN_EXE_redraft"));
        command
            .args(["--node-id", &node.name])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--port", &node.grpc_port.to_string()])
            .args(["--redis-port", &node.redis_port.to_string()])
            .args(["--cluster", &spec])
            .args(["--log", "info"])
            .args(&self.extra)
            .args(more);
        let _ = writeln!(log, "===== harness: starting {command:?}");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn redraft");
        self.node_mut(i).child = Some(child);
    }

    /// Waits (all within one deadline) until every node is ready.
    fn wait_all_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_WAIT;
        for i in 1..=self.len() {
            self.wait_ready(i, deadline, true)?;
        }
        Ok(())
    }

    /// Polls node `i` until it answers PING and, if `write`, a write through it succeeds.
    fn wait_ready(&mut self, i: usize, deadline: Instant, write: bool) -> Result<(), String> {
        let port = self.redis_port(i);
        let name = self.name(i).to_string();
        let mut last = String::from("no answer to PING");
        while Instant::now() < deadline {
            if !self.is_running(i) {
                return Err(format!("{name} exited"));
            }
            if ping(port) {
                if !write {
                    return Ok(());
                }
                match write_probe(port, &name) {
                    // In redirect mode a node that does not lead the probe's shard says where.
                    Ok(()) => return Ok(()),
                    Err(e) if e.code() == Some("MOVED") => return Ok(()),
                    Err(e) => last = format!("write through {name}: {e}"),
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("{name} not ready within {READY_WAIT:?}: {last}"))
    }
}

impl Drop for ProcCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_logs();
        }
        self.kill_all();
    }
}

/// A client connection to the Redis port `port`, with [`CLIENT_READ_TIMEOUT`].
pub fn connect(port: u16) -> redis::RedisResult<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let con = client.get_connection_with_timeout(Duration::from_secs(2))?;
    con.set_read_timeout(Some(CLIENT_READ_TIMEOUT))?;
    con.set_write_timeout(Some(CLIENT_READ_TIMEOUT))?;
    Ok(con)
}

/// `n` distinct ports that were free a moment ago (all bound at once, so no two are equal).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// Whether a server on `port` answers an inline PING.
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if n > 0 && buf[0] == b'+')
}

/// One write through the node on `port` (a SET, then a DEL so no key is left behind).
fn write_probe(port: u16, name: &str) -> redis::RedisResult<()> {
    let mut con = connect(port)?;
    let key = format!("harness:ready:{name}");
    redis::cmd("SET").arg(&key).arg("1").query::<()>(&mut con)?;
    redis::cmd("DEL").arg(&key).query::<i64>(&mut con)?;
    Ok(())
}

/// The seed of a randomized test: `CLUSTER_SEED` if set, else the clock; printed for replay.
pub fn seed() -> u64 {
    crate::seed::from_env("CLUSTER_SEED")
}

/// An error reply as `CODE detail` (for example `CLUSTERDOWN The cluster is down`).
pub fn error_text(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}

/// Polls `cond` every 50 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Shards of a `--cluster` node by default.
pub const SHARDS: u64 = 16;

/// The placement every node of `c` computes from the flags (default shards, 3 replicas).
pub fn topology(c: &ProcCluster) -> Topology {
    let members = parse_members(&c.spec()).unwrap();
    Topology::new(node_id_of("node1"), members, SHARDS, 3).unwrap()
}

/// The shard owning `key`.
pub fn shard_of(t: &Topology, key: &str) -> ShardId {
    t.table.shard_for_key(key.as_bytes()).unwrap()
}

/// The name of the preferred leader of `shard`.
pub fn preferred_leader(t: &Topology, shard: ShardId) -> String {
    let id = t.replicas(shard)[0];
    t.member(id).unwrap().name.clone()
}

/// The first key `prefix<n>` whose shard's preferred leader is `leader`.
pub fn key_led_by(t: &Topology, prefix: &str, leader: &str) -> String {
    (0..10_000)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| preferred_leader(t, shard_of(t, k)) == leader)
        .unwrap()
}
