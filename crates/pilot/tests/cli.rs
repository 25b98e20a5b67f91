//! Runs the `pilot` binary against a real `redis-server` on an ephemeral loopback port.
//! Skipped (with a message) when `redis-server` is not on PATH.
#![allow(clippy::unwrap_used)] // helpers of tests, where unwrap is the team rule

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PILOT: &str = env!("CARGO_BIN_EXE_pilot");

/// A `redis-server` this test started; killed (by its own pid) when dropped.
struct Server {
    child: Child,
    addr: String,
    dir: std::path::PathBuf,
}

impl Server {
    fn start(extra: &[&str]) -> Option<Server> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            println!("redis-server not on PATH: skipping pilot integration test");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("pilot-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let server = Server { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(&server.addr).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    fn pilot(&self, args: &[&str]) -> Output {
        run(
            Command::new(PILOT).arg("-a").arg(&self.addr).args(args),
            None,
        )
    }

    fn out(&self, args: &[&str]) -> String {
        let out = self.pilot(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a command with an optional stdin, killing it if it takes over 20 s.
fn run(cmd: &mut Command, stdin: Option<&str>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pilot did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn one_shot_commands_print_like_redis_cli() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    assert_eq!(server.out(&["SET", "foo", "bar"]), "OK\n");
    assert_eq!(server.out(&["GET", "foo"]), "\"bar\"\n");
    assert_eq!(server.out(&["GET", "nope"]), "(nil)\n");
    assert_eq!(server.out(&["INCR", "n"]), "(integer) 1\n");
    assert_eq!(
        server.out(&["RPUSH", "l", "a", "b", "c d"]),
        "(integer) 3\n"
    );
    assert_eq!(
        server.out(&["LRANGE", "l", "0", "-1"]),
        "1) \"a\"\n2) \"b\"\n3) \"c d\"\n"
    );
    assert_eq!(
        server.out(&["LRANGE", "nope", "0", "-1"]),
        "(empty array)\n"
    );
    assert_eq!(server.out(&["ECHO", "a\"b\n\u{1}"]), "\"a\\\"b\\n\\x01\"\n");
    assert_eq!(server.out(&["SET", "-dash", "--x"]), "OK\n");
    assert_eq!(server.out(&["GET", "-dash"]), "\"--x\"\n");
    let err = server.out(&["NOSUCHCMD"]);
    assert!(
        err.starts_with("(error) ERR unknown command 'NOSUCHCMD'"),
        "{err}"
    );
    assert_eq!(
        server.out(&["EVAL", "return {1,{2,{3,'x'}},'y',{}}", "0"]),
        "1) (integer) 1\n2) 1) (integer) 2\n   2) 1) (integer) 3\n      2) \"x\"\n3) \"y\"\n4) (empty array)\n"
    );
    server.out(&["HSET", "h", "f1", "v1"]);
    assert_eq!(server.out(&["-3", "HGETALL", "h"]), "1# \"f1\" => \"v1\"\n");
    server.out(&["ZADD", "z", "1.5", "a"]);
    assert_eq!(server.out(&["-3", "ZSCORE", "z", "a"]), "(double) 1.5\n");
    assert_eq!(server.out(&["-3", "SMEMBERS", "nope"]), "(empty set)\n");
}

#[test]
fn password_and_console() {
    let Some(server) = Server::start(&["--requirepass", "s3cret"]) else {
        return;
    };
    let denied = server.out(&["GET", "k"]);
    assert!(denied.starts_with("(error) NOAUTH"), "{denied}");
    assert_eq!(server.out(&["--pass", "s3cret", "SET", "k", "v w"]), "OK\n");
    let hist = server.dir.join("history");
    let out = run(
        Command::new(PILOT)
            .args(["-a", &server.addr, "--pass", "s3cret"])
            .env("PILOT_HISTFILE", &hist),
        Some("GET k\nSET 'q' \"x\\ty\"\n\nGET q\n\"unbalanced\nhelp\nquit\nGET never\n"),
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("\"v w\"\n"), "{stdout}");
    assert!(stdout.contains("\"x\\ty\"\n"), "{stdout}");
    assert!(stdout.contains("Invalid argument(s)"), "{stdout}");
    assert!(stdout.contains("Common commands"), "{stdout}");
    assert!(!stdout.contains("never"), "{stdout}");
    let history = std::fs::read_to_string(&hist).unwrap();
    assert!(history.contains("GET q"), "{history}");
}

#[test]
fn connection_failure_exits_non_zero() {
    // Port 1 (tcpmux) has no listener on a test machine; a port freed by a bind here could
    // be reused at once by a server another test starts.
    let port = 1;
    let out = run(
        Command::new(PILOT).args(["-a", &format!("127.0.0.1:{port}"), "PING"]),
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("Could not connect"), "{stderr}");
}
