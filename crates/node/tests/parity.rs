//! Reply parity with Redis: every command of `tests/parity/*.txt` goes to a real `redraft`
//! and to Debian's `redis-server` (both on free loopback ports, started by this test) and the
//! two replies must be equal, error texts included, in RESP2 and again in RESP3.
//!
//! The case files hold deterministic commands only: no random replies (SRANDMEMBER, SPOP with a
//! count...), no replies whose order Redis leaves open (KEYS, SMEMBERS of several members), and
//! none of the deviations DESIGN.md lists ("Known deviations from Redis 7"). A line is
//! one command, split at spaces; `"..."` quotes an argument with spaces or an empty one.
// Tests may unwrap (team rule); clippy only exempts #[test] functions themselves.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long redis-server may take to accept connections.
const REDIS_READY_WAIT: Duration = Duration::from_secs(10);

/// A `redis-server` started by this test (no persistence), killed by its own pid on drop.
struct RedisServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    fn start() -> RedisServer {
        assert!(
            common::have("redis-server"),
            "redis-server is not installed: run scripts/deps.sh test (the README's test command does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + REDIS_READY_WAIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer {
            child,
            port,
            _dir: dir,
        }
    }
}

/// A connection to `port` speaking `protocol` (`resp2` or `resp3`).
fn connect(port: u16, protocol: &str) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/?protocol={protocol}"))
        .unwrap()
        .get_connection()
        .unwrap()
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Splits a case line at spaces; `"..."` is one argument (possibly empty).
fn split_line(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        let mut arg = String::new();
        if c == '"' {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                arg.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                arg.push(c);
                chars.next();
            }
        }
        args.push(arg);
    }
    args
}

/// A reply in a form two servers' replies compare by: the value, or the error's full text.
/// Anything but a reply (the connection failed) fails the test: two broken connections
/// would compare equal and prove nothing.
fn outcome(con: &mut redis::Connection, args: &[String], server: &str) -> String {
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a.as_str());
    }
    match cmd.query::<redis::Value>(con) {
        Ok(v) => format!("{v:?}"),
        Err(e) if e.code().is_some() => {
            format!("error {} {}", e.code().unwrap(), e.detail().unwrap_or(""))
        }
        Err(e) => panic!("{server} gave no reply to {args:?}: {e}"),
    }
}

#[test]
fn replies_match_redis_server() {
    let redis = RedisServer::start();
    let redraft = common::Server::start();
    let dir = common::tests_path("parity");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());
    let (mut checked, mut differ) = (0, Vec::new());
    for (protocol, file) in ["resp2", "resp3"]
        .into_iter()
        .flat_map(|p| files.iter().map(move |f| (p, f)))
    {
        let (mut theirs, mut ours) = (
            connect(redis.port, protocol),
            connect(redraft.redis_port, protocol),
        );
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (n, line) in std::fs::read_to_string(file).unwrap().lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let args = split_line(line);
            let want = outcome(&mut theirs, &args, "redis-server");
            let got = outcome(&mut ours, &args, "redraft");
            checked += 1;
            if want != got {
                differ.push(format!(
                    "{name}:{} ({protocol}): {line}\n  redis:   {want}\n  redraft: {got}",
                    n + 1
                ));
            }
        }
    }
    println!("{checked} replies compared with redis-server's");
    assert!(
        differ.is_empty(),
        "{} of {checked} replies differ from redis-server:\n{}",
        differ.len(),
        differ.join("\n")
    );
}
