//! A three-process cluster for the cluster-protocol tests: three real `redraft` processes on
//! loopback (free ports, a temporary directory for data and logs), all given the same
//! `--cluster` list. Dropping the cluster kills exactly the processes it started, and prints
//! the tail of every log first when the test is failing. Every wait has a deadline.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Members of the cluster.
const NODES: usize = 3;
/// Longest every node may take to answer PING, and then to report `cluster_state:ok`.
const READY_WAIT: Duration = Duration::from_secs(30);
/// How many times a start is retried when a chosen port was taken meanwhile.
const START_ATTEMPTS_MAX: usize = 3;
/// Log lines printed per node when a test fails.
const LOG_TAIL_LINES: usize = 40;
/// Read timeout of client connections.
const CLIENT_READ_TIMEOUT: Duration = Duration::from_secs(10);

struct Proc {
    name: String,
    grpc_port: u16,
    redis_port: u16,
    child: Option<Child>,
}

/// Three running `redraft` processes owned by one test.
pub struct Cluster {
    dir: tempfile::TempDir,
    procs: Vec<Proc>,
}

impl Cluster {
    /// Starts the three nodes with `extra` flags and waits until each answers PING.
    pub fn start(extra: &[&str]) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("redraft-cluster-redirect-")
            .tempdir()
            .expect("temp dir");
        let mut cluster = Cluster {
            dir,
            procs: Vec::new(),
        };
        for attempt in 1..=START_ATTEMPTS_MAX {
            cluster.spawn_all(extra);
            match cluster.wait_pings() {
                Ok(()) => return cluster,
                Err(why) => {
                    eprintln!("cluster start attempt {attempt} failed: {why}");
                    cluster.print_logs();
                    cluster.kill_all();
                }
            }
        }
        panic!("the cluster did not start after {START_ATTEMPTS_MAX} attempts");
    }

    fn spawn_all(&mut self, extra: &[&str]) {
        let ports: Vec<u16> = (0..2 * NODES).map(|_| free_port()).collect();
        self.procs = (0..NODES)
            .map(|i| Proc {
                name: format!("node{}", i + 1),
                grpc_port: ports[2 * i],
                redis_port: ports[2 * i + 1],
                child: None,
            })
            .collect();
        let spec = self
            .procs
            .iter()
            .map(|p| format!("{}=127.0.0.1:{}", p.name, p.grpc_port))
            .collect::<Vec<_>>()
            .join(",");
        for i in 0..NODES {
            let data = self.dir.path().join(&self.procs[i].name);
            let _ = std::fs::remove_dir_all(&data);
            let log = std::fs::File::create(self.log_path(i + 1)).expect("log file");
            let p = &self.procs[i];
            let child = Command::new(env!("CARGO_BIN_EXE_redraft"))
                .args(["--node-id", &p.name])
                .arg("--data-dir")
                .arg(&data)
                .args(["--port", &p.grpc_port.to_string()])
                .args(["--redis-port", &p.redis_port.to_string()])
                .args(["--cluster", &spec, "--log", "info"])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .expect("spawn redraft");
            self.procs[i].child = Some(child);
        }
    }

    fn wait_pings(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_WAIT;
        for p in &mut self.procs {
            loop {
                if let Some(child) = p.child.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(format!("{} exited: {status}", p.name));
                    }
                }
                if ping(p.redis_port) {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!("{} did not answer PING", p.name));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Waits until every node's `CLUSTER INFO` says `cluster_state:ok`.
    pub fn wait_cluster_ok(&self) {
        let deadline = Instant::now() + READY_WAIT;
        for i in 1..=NODES {
            let mut last: String;
            loop {
                let info: redis::RedisResult<String> = self
                    .try_conn_port(self.redis_port(i))
                    .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query(&mut c));
                match info {
                    Ok(text) if text.contains("cluster_state:ok\r\n") => break,
                    Ok(text) => last = text,
                    Err(e) => last = e.to_string(),
                }
                if Instant::now() > deadline {
                    self.print_logs();
                    panic!("node{i} is not ok within {READY_WAIT:?}: {last}");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    /// Node `i`'s Redis port (nodes are numbered from 1).
    pub fn redis_port(&self, i: usize) -> u16 {
        self.procs[i - 1].redis_port
    }

    /// Whether `port` is one of the nodes' Redis ports.
    pub fn has_port(&self, port: u16) -> bool {
        self.procs.iter().any(|p| p.redis_port == port)
    }

    /// A new connection to node `i`.
    pub fn conn(&self, i: usize) -> redis::Connection {
        self.conn_port(self.redis_port(i))
    }

    /// A new connection to the node with Redis port `port`.
    pub fn conn_port(&self, port: u16) -> redis::Connection {
        self.try_conn_port(port)
            .unwrap_or_else(|e| panic!("connecting to port {port}: {e}"))
    }

    fn try_conn_port(&self, port: u16) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
        let con = client.get_connection()?;
        con.set_read_timeout(Some(CLIENT_READ_TIMEOUT))?;
        Ok(con)
    }

    /// Node `i`'s log file.
    pub fn log_path(&self, i: usize) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.log", self.procs[i - 1].name))
    }

    /// Prints the tail of every node's log.
    pub fn print_logs(&self) {
        for i in 1..=self.procs.len() {
            let log = std::fs::read_to_string(self.log_path(i)).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            eprintln!("--- node{i} log (last {} lines) ---", tail.len());
            for line in tail {
                eprintln!("{line}");
            }
        }
    }

    /// Kills node `i` with SIGKILL and reaps it.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut child) = self.procs[i - 1].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn kill_all(&mut self) {
        for p in &mut self.procs {
            if let Some(mut child) = p.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_logs();
        }
        self.kill_all();
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Whether the server on `port` answers an inline PING.
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if n > 0 && (buf[0] == b'+' || buf[0] == b'-'))
}

/// Whether `program` can be run.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The path of a file in the crate's tests directory.
pub fn tests_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}
