//! Black-box test harness: starts the real `redraft` binary on a free loopback port with a
//! temporary data directory, and kills exactly that process when dropped.
//!
//! ```ignore
//! mod common;
//! let srv = common::Server::start();
//! let mut con = srv.conn();
//! ```
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const READY_WAIT_MS: u64 = 30_000;
/// How many times a start is retried when the chosen port was taken meanwhile.
const START_ATTEMPTS_MAX: usize = 5;

/// A running `redraft` process owned by one test.
pub struct Server {
    /// The Redis port clients connect to.
    pub redis_port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

impl Server {
    /// Starts a server with default flags.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server with extra command-line flags (for example `["--maxclients", "2"]`).
    pub fn start_with(extra: &[&str]) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("redraft-test-")
            .tempdir()
            .expect("temp dir");
        let mut srv = Server {
            redis_port: 0,
            child: None,
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        srv.spawn(None);
        srv
    }

    /// The data directory (kept across restarts).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("redraft.log")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn spawn(&mut self, port: Option<u16>) {
        let mut port = port;
        for attempt in 1..=START_ATTEMPTS_MAX {
            let p = port.take().unwrap_or_else(free_port);
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.log_path())
                .expect("log file");
            let child = Command::new(env!("CARGO_BIN_EXE_redraft"))
                .args([
                    "--redis-port",
                    &p.to_string(),
                    "--port",
                    &free_port().to_string(),
                ])
                .arg("--data-dir")
                .arg(self.data_dir())
                .args(["--log", "info"])
                .args(&self.extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .expect("spawn redraft");
            self.child = Some(child);
            self.redis_port = p;
            if self.wait_ready() {
                return;
            }
            eprintln!(
                "redraft start attempt {attempt} on port {p} failed; log:\n{}",
                self.log()
            );
            self.kill9();
        }
        panic!("redraft did not start after {START_ATTEMPTS_MAX} attempts");
    }

    /// Polls PING until the server answers, the process exits, or the deadline passes.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_millis(READY_WAIT_MS);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    return false;
                }
            }
            if ping(self.redis_port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// A new synchronous client connection (10 s read timeout).
    pub fn conn(&self) -> redis::Connection {
        let client =
            redis::Client::open(format!("redis://127.0.0.1:{}/", self.redis_port)).expect("client");
        let con = client.get_connection().expect("connect to redraft");
        con.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        con
    }

    /// A raw TCP connection (5 s read timeout).
    pub fn tcp(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.redis_port)).expect("tcp connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        s
    }

    /// Kills the process with SIGKILL and waits for it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits (up to 30 s) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "redraft did not exit within 30 s of SIGTERM; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts the server again on the same data directory (killing it first if running),
    /// on the same port when it is still free.
    pub fn restart(&mut self) {
        self.kill9();
        let port = self.redis_port;
        self.spawn(Some(port));
    }

    /// Runs `redis-cli -p <port> <args>` and returns its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.redis_port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Whether the server on `port` answers an inline PING (any reply counts: with a password set
/// it answers NOAUTH).
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

/// Whether `program` can be run (for tests that need redis-cli, redis-benchmark, python3).
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Sends raw bytes and reads until `expected_len` bytes arrived or the connection closed.
pub fn raw_exchange(s: &mut TcpStream, request: &[u8], expected_len: usize) -> Vec<u8> {
    s.write_all(request).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while out.len() < expected_len {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// Runs `tests/<script>` with python3 against the server on `port` (at most 60 s) and checks
/// it exits 0 having printed `marker`. Skips, saying so, when python3 cannot import `module`
/// (the README's test command installs the redis package, so it does not skip there).
pub fn run_python_check(script: &str, port: u16, module: &str, marker: &str) {
    if !python_has(module) {
        println!("skipped {script}: python3 cannot import {module}");
        return;
    }
    let out = Command::new("timeout")
        .arg("60")
        .arg("python3")
        .arg(tests_path(script))
        .arg(port.to_string())
        .output()
        .expect("run python3");
    let text = output_text(&out);
    assert!(out.status.success() && text.contains(marker), "{text}");
}

/// Whether `python3` can import `module`.
pub fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A finished process's standard output followed by its standard error.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The path of a file in the crate's tests directory.
pub fn tests_path(rel: &str) -> PathBuf {
    // The crate's directory at run time, not build time: a test binary reused from a clone
    // elsewhere (a shared target directory) would otherwise look in that clone.
    let crate_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into());
    Path::new(&crate_dir).join("tests").join(rel)
}

/// Sends one command given as raw byte arguments (binary-safe keys and values).
pub fn cmd(con: &mut redis::Connection, args: &[&[u8]]) -> redis::RedisResult<redis::Value> {
    let mut c = redis::cmd(std::str::from_utf8(args[0]).expect("command names are UTF-8"));
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

/// Sends a command that must succeed; panics with the command on an error reply.
pub fn ok(con: &mut redis::Connection, args: &[&[u8]]) -> redis::Value {
    cmd(con, args).unwrap_or_else(|e| {
        panic!(
            "{:?}: {e}",
            args.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        )
    })
}

/// Sends a command that must fail; returns the error reply as `CODE detail`.
pub fn err(con: &mut redis::Connection, args: &[&[u8]]) -> String {
    let e = cmd(con, args).expect_err("expected an error reply");
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
        .trim()
        .to_string()
}
