//! Black-box tests of the connection and server commands against a real `redraft` process.
// Tests may unwrap (team rule); clippy only exempts #[test] functions themselves.
#![allow(clippy::unwrap_used)]

mod common;

use redis::{RedisResult, Value};

fn cmd(con: &mut redis::Connection, args: &[&str]) -> RedisResult<Value> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

fn err_text(r: RedisResult<Value>) -> String {
    let e = r.expect_err("expected an error reply");
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
        .trim()
        .to_string()
}

#[test]
fn help_and_version_exit_zero_and_a_bad_flag_exits_two() {
    let run = |arg: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_redraft"))
            .arg(arg)
            .output()
            .unwrap()
    };
    let help = run("--help");
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--redis-port"));
    let version = run("--version");
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("redraft "));
    let bad = run("--no-such-flag");
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
}

#[test]
fn ping_echo_time() {
    let srv = common::Server::start();
    let mut con = srv.conn();
    assert_eq!(
        cmd(&mut con, &["PING"]).unwrap(),
        Value::SimpleString("PONG".into())
    );
    assert_eq!(
        cmd(&mut con, &["PING", "hi"]).unwrap(),
        Value::BulkString(b"hi".to_vec())
    );
    assert_eq!(
        cmd(&mut con, &["ECHO", "x y"]).unwrap(),
        Value::BulkString(b"x y".to_vec())
    );
    assert_eq!(
        err_text(cmd(&mut con, &["PING", "a", "b"])),
        "ERR wrong number of arguments for 'ping' command"
    );
    let Value::Array(t) = cmd(&mut con, &["TIME"]).unwrap() else {
        panic!("TIME is an array")
    };
    assert_eq!(t.len(), 2);
}

#[test]
fn unknown_command_and_wrong_arity_keep_the_connection() {
    let srv = common::Server::start();
    let mut con = srv.conn();
    assert_eq!(
        err_text(cmd(&mut con, &["FOOBAR", "a", "b"])),
        "ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b'"
    );
    assert_eq!(
        err_text(cmd(&mut con, &["ECHO"])),
        "ERR wrong number of arguments for 'echo' command"
    );
    assert_eq!(
        cmd(&mut con, &["PING"]).unwrap(),
        Value::SimpleString("PONG".into())
    );
}

#[test]
fn command_count_info_docs() {
    let srv = common::Server::start();
    let mut con = srv.conn();
    let Value::Int(n) = cmd(&mut con, &["COMMAND", "COUNT"]).unwrap() else {
        panic!("COUNT is an integer")
    };
    assert!(n >= 11, "{n}");
    let Value::Array(all) = cmd(&mut con, &["COMMAND"]).unwrap() else {
        panic!("COMMAND is an array")
    };
    assert_eq!(all.len() as i64, n);
    let Value::Array(info) = cmd(&mut con, &["COMMAND", "INFO", "ping", "nosuch"]).unwrap() else {
        panic!()
    };
    assert_eq!(info[1], Value::Nil);
    let Value::Array(ping) = &info[0] else {
        panic!("{info:?}")
    };
    assert_eq!(ping.len(), 10);
    assert_eq!(ping[0], Value::BulkString(b"ping".to_vec()));
    assert_eq!(ping[1], Value::Int(-1));
    let docs = cmd(&mut con, &["COMMAND", "DOCS", "ping"]).unwrap();
    let text = format!("{docs:?}");
    assert!(
        text.contains("summary") && text.contains("connection"),
        "{text}"
    );
    assert!(matches!(
        cmd(&mut con, &["COMMAND", "DOCS"]).unwrap(),
        Value::Array(_) | Value::Map(_)
    ));
}

#[test]
fn info_sections() {
    let srv = common::Server::start();
    let mut con = srv.conn();
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    for section in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
    ] {
        assert!(info.contains(section), "missing {section}: {info}");
    }
    for field in [
        "uptime_in_seconds:",
        "connected_clients:1",
        "used_memory:",
        "total_commands_processed:",
    ] {
        assert!(info.contains(field), "missing {field}: {info}");
    }
    let clients: String = redis::cmd("INFO").arg("clients").query(&mut con).unwrap();
    assert!(
        clients.starts_with("# Clients\r\n") && !clients.contains("# Server"),
        "{clients}"
    );
}

#[test]
fn info_keyspace_counts_keys() {
    let srv = common::Server::start();
    let mut con = srv.conn();
    let empty: String = redis::cmd("INFO").arg("keyspace").query(&mut con).unwrap();
    assert!(!empty.contains("db0:"), "{empty}");
    let _: () = redis::cmd("SET")
        .arg("b")
        .arg("1")
        .arg("EX")
        .arg("100")
        .query(&mut con)
        .unwrap();
    // A write is answered once committed, possibly before it is applied; INFO must count it
    // all the same, every time (many rounds, as the window is short).
    for n in 1..=500 {
        let _: () = redis::cmd("SET").arg(n).arg("1").query(&mut con).unwrap();
        let ks: String = redis::cmd("INFO").arg("keyspace").query(&mut con).unwrap();
        let want = format!("db0:keys={},expires=1,avg_ttl=0", n + 1);
        assert!(ks.contains(&want), "after {n} SETs: {ks}");
    }
}

#[test]
fn config_get_and_set() {
    let srv = common::Server::start_with(&["--maxclients", "77"]);
    let mut con = srv.conn();
    let Value::Array(v) = cmd(&mut con, &["CONFIG", "GET", "maxclients"]).unwrap() else {
        panic!()
    };
    assert_eq!(
        v,
        vec![
            Value::BulkString(b"maxclients".to_vec()),
            Value::BulkString(b"77".to_vec())
        ]
    );
    let Value::Array(v) = cmd(&mut con, &["CONFIG", "GET", "max*"]).unwrap() else {
        panic!()
    };
    assert!(v.len() >= 6 && v.len() % 2 == 0, "{v:?}");
    let Value::Array(v) = cmd(&mut con, &["CONFIG", "GET", "appendfsync", "databases"]).unwrap()
    else {
        panic!()
    };
    assert_eq!(v.len(), 4, "{v:?}");
    assert_eq!(
        cmd(&mut con, &["CONFIG", "SET", "maxclients", "100"]).unwrap(),
        Value::Okay
    );
    let Value::Array(v) = cmd(&mut con, &["CONFIG", "GET", "maxclients"]).unwrap() else {
        panic!()
    };
    assert_eq!(v[1], Value::BulkString(b"100".to_vec()));
    assert_eq!(
        cmd(
            &mut con,
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]
        )
        .unwrap(),
        Value::Okay
    );
    assert_eq!(
        err_text(cmd(&mut con, &["CONFIG", "SET", "nosuch", "1"])),
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    assert_eq!(
        err_text(cmd(&mut con, &["CONFIG", "SET", "maxclients", "abc"])),
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"
    );
    assert_eq!(
        cmd(&mut con, &["CONFIG", "RESETSTAT"]).unwrap(),
        Value::Okay
    );
}

/// The allocator's build configuration (`.cargo/config.toml`) must reach the binary: its
/// memory, memtables included, sits on transparent huge pages wherever the kernel offers them.
#[test]
fn memory_is_on_transparent_huge_pages() {
    let thp =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if !thp.contains("[always]") && !thp.contains("[madvise]") {
        eprintln!("skipped: transparent huge pages are off on this machine ({thp:?})");
        return;
    }
    let srv = common::Server::start();
    let mut con = srv.conn();
    let value = "v".repeat(1000);
    let mut pipe = redis::pipe();
    for i in 0..8_000 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(&value).ignore();
    }
    let () = pipe.query(&mut con).unwrap();
    let pid = srv.pid().unwrap();
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let huge_kb: u64 = rollup
        .lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    assert!(huge_kb > 0, "no anonymous huge pages:\n{rollup}");
}

#[test]
fn set_get_survive_restart() {
    let mut srv = common::Server::start();
    let mut con = srv.conn();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    drop(con);
    srv.restart();
    let mut con = srv.conn();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "v");
}

#[test]
fn pipelined_writes_then_read_see_each_other() {
    let srv = common::Server::start();
    let mut con = srv.conn();
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("INCR").arg("counter");
        if i % 100 == 99 {
            pipe.cmd("GET").arg("counter");
        }
    }
    let replies: Vec<Value> = pipe.query(&mut con).unwrap();
    assert_eq!(replies.len(), 505);
    let gets: Vec<&Value> = replies
        .iter()
        .filter(|v| matches!(v, Value::BulkString(_)))
        .collect();
    let want: Vec<Value> = (1..=5)
        .map(|i| Value::BulkString((i * 100).to_string().into_bytes()))
        .collect();
    assert_eq!(gets, want.iter().collect::<Vec<_>>());
}

/// With stale reads a client still reads its own writes on the node that answered them, as
/// on a Redis master: a write is answered once committed, so the read must wait for it to be
/// applied (many rounds, as the window is short).
#[test]
fn stale_reads_see_the_clients_own_writes() {
    let srv = common::Server::start_with(&["--read-consistency", "stale"]);
    let mut con = srv.conn();
    for n in 0..500 {
        let value = format!("v{n}");
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg(&value)
            .query(&mut con)
            .unwrap();
        let got: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
        assert_eq!(got, value, "GET after SET number {n}");
        let len: i64 = redis::cmd("RPUSH").arg("l").arg(n).query(&mut con).unwrap();
        let seen: i64 = redis::cmd("LLEN").arg("l").query(&mut con).unwrap();
        assert_eq!(seen, len, "LLEN after RPUSH number {n}");
    }
}

#[test]
fn active_expiry_removes_keys_nobody_reads() {
    let srv = common::Server::start();
    let mut con = srv.conn();
    for i in 0..50 {
        let _: () = redis::cmd("SET")
            .arg(format!("e{i}"))
            .arg("x")
            .arg("PX")
            .arg(50)
            .query(&mut con)
            .unwrap();
    }
    let _: () = redis::cmd("SET")
        .arg("keep")
        .arg("x")
        .query(&mut con)
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let info: String = redis::cmd("INFO").arg("stats").query(&mut con).unwrap();
        if info.contains("expired_keys:50\r\n") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "keys not expired actively: {info}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ks: String = redis::cmd("INFO").arg("keyspace").query(&mut con).unwrap();
    assert!(ks.contains("db0:keys=1,expires=0"), "{ks}");
}

#[test]
fn redis_cli_drives_the_server() {
    if !common::have("redis-cli") {
        println!("skipped: redis-cli is not installed");
        return;
    }
    let srv = common::Server::start();
    assert_eq!(srv.cli(&["PING"]).trim(), "PONG");
    assert_eq!(srv.cli(&["SET", "cli:k", "hello world"]).trim(), "OK");
    assert_eq!(srv.cli(&["GET", "cli:k"]).trim(), "hello world");
    assert_eq!(srv.cli(&["RPUSH", "cli:l", "a", "b"]).trim(), "2");
    assert_eq!(srv.cli(&["LRANGE", "cli:l", "0", "-1"]).trim(), "a\nb");
    assert!(srv.cli(&["INFO", "server"]).contains("redis_version:"));
}

#[test]
fn redis_benchmark_smoke() {
    if !common::have("redis-benchmark") {
        println!("skipped: redis-benchmark is not installed");
        return;
    }
    let srv = common::Server::start();
    let out = std::process::Command::new("redis-benchmark")
        .args([
            "-p",
            &srv.redis_port.to_string(),
            "-q",
            "-n",
            "2000",
            "-c",
            "10",
            "-t",
        ])
        .arg("set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run redis-benchmark");
    let text = common::output_text(&out);
    println!("{text}");
    assert!(out.status.success(), "{text}");
    let lower = text.to_lowercase();
    assert!(
        !lower.contains("error") && !lower.contains("err "),
        "{text}"
    );
    for test in [
        "SET", "GET", "INCR", "LPUSH", "SADD", "HSET", "ZADD", "ZPOPMIN", "MSET",
    ] {
        assert!(
            text.contains(&format!("{test}: ")) || text.contains(&format!("{test} (")),
            "no result for {test}: {text}"
        );
    }
}

#[test]
fn python_client_smoke() {
    let srv = common::Server::start();
    common::run_python_check("py/smoke.py", srv.redis_port, "redis", "python smoke ok");
}

/// `--announce-ip` is the address the CLUSTER replies (and `-MOVED`) give for this node, so a
/// node bound to a wildcard address can still be reached by cluster clients.
#[test]
fn announce_ip_is_the_address_cluster_replies_give() {
    let srv =
        common::Server::start_with(&["--cluster-mode", "redirect", "--announce-ip", "127.0.0.9"]);
    let mut con = srv.conn();
    let Value::Array(ranges) = cmd(&mut con, &["CLUSTER", "SLOTS"]).unwrap() else {
        panic!("CLUSTER SLOTS is an array");
    };
    let Value::Array(range) = &ranges[0] else {
        panic!("a range is an array");
    };
    let Value::Array(master) = &range[2] else {
        panic!("a node is an array");
    };
    assert_eq!(master[0], Value::BulkString(b"127.0.0.9".to_vec()));
    let Value::BulkString(nodes) = cmd(&mut con, &["CLUSTER", "NODES"]).unwrap() else {
        panic!("CLUSTER NODES is a bulk string");
    };
    let nodes = String::from_utf8(nodes).unwrap();
    assert!(nodes.contains(" 127.0.0.9:"), "{nodes}");
}
