//! Redis Cluster protocol against three real `redraft` processes on loopback: CLUSTER SLOTS,
//! SHARDS, NODES and INFO agree with each other on every node, keys get `-MOVED` to the node
//! that accepts them, and real cluster clients work (`redis-cli -c`, redis-py's
//! `RedisCluster`, `redis-benchmark --cluster`; each skipped with a note when not installed).
//! redis-py keeps writing while a node is killed, and a node left without quorum answers
//! `-CLUSTERDOWN` once a request's deadline passes. A forward-mode cluster answers the same
//! commands.
//!
//! Every wait polls a condition with a deadline.

// Tests may unwrap (team rule); clippy only exempts #[test] functions themselves.
#![allow(clippy::unwrap_used)]

mod cluster_proc;
mod common;
mod seed;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cluster_proc::{key_led_by, topology, ProcCluster as Cluster};
use common::have;
use redis::Value;

/// Longest the cluster may take to agree on one view after it reports `cluster_state:ok`.
const SETTLE_WAIT: Duration = Duration::from_secs(20);

/// Sends `args` and returns the reply, or the error reply as `CODE detail`.
fn call(con: &mut redis::Connection, args: &[&str]) -> Result<Value, String> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con).map_err(|e| {
        format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
            .trim()
            .to_string()
    })
}

/// Sends `args`, which must succeed.
fn ok(con: &mut redis::Connection, args: &[&str]) -> Value {
    call(con, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        other => panic!("not a string: {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        other => panic!("not an array: {other:?}"),
    }
}

/// A flat RESP2 map (`[k1, v1, k2, v2...]`) by key.
fn fields(v: &Value) -> BTreeMap<String, Value> {
    items(v)
        .chunks(2)
        .map(|kv| (text(&kv[0]), kv[1].clone()))
        .collect()
}

/// One node of a `CLUSTER SLOTS` range.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SlotsNode {
    ip: String,
    port: u16,
    id: String,
}

/// One `CLUSTER SLOTS` range: its slots and nodes, master first.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SlotsRange {
    start: u16,
    end: u16,
    nodes: Vec<SlotsNode>,
}

fn parse_slots(v: &Value) -> Vec<SlotsRange> {
    items(v)
        .iter()
        .map(|range| {
            let r = items(range);
            assert!(r.len() >= 3, "a range without a master: {r:?}");
            let nodes = r[2..]
                .iter()
                .map(|n| {
                    let n = items(n);
                    assert_eq!(n.len(), 4, "node entry shape: {n:?}");
                    assert!(items(&n[3]).is_empty(), "no extra networking metadata");
                    SlotsNode {
                        ip: text(&n[0]),
                        port: u16::try_from(int(&n[1])).unwrap(),
                        id: text(&n[2]),
                    }
                })
                .collect();
            SlotsRange {
                start: u16::try_from(int(&r[0])).unwrap(),
                end: u16::try_from(int(&r[1])).unwrap(),
                nodes,
            }
        })
        .collect()
}

/// `CLUSTER SHARDS` with replication offsets cleared (they differ from node to node).
fn shards_normalized(con: &mut redis::Connection) -> Value {
    let shards = ok(con, &["CLUSTER", "SHARDS"]);
    let mut out = Vec::new();
    for shard in items(&shards) {
        let mut f = fields(shard);
        let nodes: Vec<Value> = items(&f["nodes"])
            .iter()
            .map(|n| {
                let mut n = fields(n);
                n.insert("replication-offset".into(), Value::Int(0));
                Value::Array(
                    n.into_iter()
                        .flat_map(|(k, v)| [Value::BulkString(k.into_bytes()), v])
                        .collect(),
                )
            })
            .collect();
        f.insert("nodes".into(), Value::Array(nodes));
        out.push(f);
    }
    Value::Array(
        out.into_iter()
            .map(|f| {
                Value::Array(
                    f.into_iter()
                        .flat_map(|(k, v)| [Value::BulkString(k.into_bytes()), v])
                        .collect(),
                )
            })
            .collect(),
    )
}

/// `CLUSTER NODES` lines without the `myself` flag, sorted.
fn nodes_normalized(con: &mut redis::Connection) -> Vec<String> {
    let nodes = text(&ok(con, &["CLUSTER", "NODES"]));
    let mut lines: Vec<String> = nodes.lines().map(|l| l.replace("myself,", "")).collect();
    lines.sort();
    lines
}

/// What one node says about the cluster, normalized for comparison between nodes.
#[derive(Debug, PartialEq)]
struct Snapshot {
    slots: Vec<SlotsRange>,
    shards: Value,
    nodes: Vec<String>,
}

fn snapshot(con: &mut redis::Connection) -> Snapshot {
    Snapshot {
        slots: parse_slots(&ok(con, &["CLUSTER", "SLOTS"])),
        shards: shards_normalized(con),
        nodes: nodes_normalized(con),
    }
}

/// Waits until every node gives the same snapshot with every slot covered, and returns it.
fn settled(cluster: &Cluster) -> Snapshot {
    let deadline = Instant::now() + SETTLE_WAIT;
    loop {
        let mut views: Vec<Snapshot> = (1..=cluster.len())
            .map(|i| snapshot(&mut cluster.conn(i)))
            .collect();
        let covered: usize = views[0]
            .slots
            .iter()
            .map(|r| usize::from(r.end - r.start) + 1)
            .sum();
        if covered == 16384 && views.windows(2).all(|w| w[0] == w[1]) {
            return views.swap_remove(0);
        }
        if Instant::now() > deadline {
            cluster.print_logs();
            panic!("nodes did not agree on the cluster within {SETTLE_WAIT:?}: {views:#?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `CLUSTER MYID` of every node, by Redis port.
fn ids_by_port(cluster: &Cluster) -> BTreeMap<u16, String> {
    (1..=cluster.len())
        .map(|i| {
            let id = text(&ok(&mut cluster.conn(i), &["CLUSTER", "MYID"]));
            assert_eq!(id.len(), 40, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            (cluster.redis_port(i), id)
        })
        .collect()
}

fn check_slots(snap: &Snapshot, ids: &BTreeMap<u16, String>) {
    let mut next = 0u32;
    for range in &snap.slots {
        assert_eq!(u32::from(range.start), next, "ranges in order, no gap");
        assert!(range.end >= range.start);
        next = u32::from(range.end) + 1;
        assert_eq!(range.nodes.len(), 3, "a master and two replicas: {range:?}");
        let distinct: BTreeSet<&SlotsNode> = range.nodes.iter().collect();
        assert_eq!(distinct.len(), 3, "{range:?}");
        for n in &range.nodes {
            assert_eq!(n.ip, "127.0.0.1");
            assert_eq!(ids.get(&n.port), Some(&n.id), "id of port {}", n.port);
        }
    }
    assert_eq!(next, 16384);
    assert_eq!(snap.slots.len(), 16, "one range per shard (16 shards)");
}

fn check_shards(snap: &Snapshot, ids: &BTreeMap<u16, String>) {
    let shards = items(&snap.shards);
    assert_eq!(shards.len(), 16);
    for shard in shards {
        let f = fields(shard);
        let slots: Vec<i64> = items(&f["slots"]).iter().map(int).collect();
        assert_eq!(slots.len(), 2, "one range per shard: {slots:?}");
        let range = snap
            .slots
            .iter()
            .find(|r| i64::from(r.start) == slots[0])
            .unwrap_or_else(|| panic!("no CLUSTER SLOTS range starts at {}", slots[0]));
        assert_eq!(i64::from(range.end), slots[1]);
        let nodes: Vec<BTreeMap<String, Value>> = items(&f["nodes"]).iter().map(fields).collect();
        assert_eq!(nodes.len(), 3);
        for (i, n) in nodes.iter().enumerate() {
            let port = u16::try_from(int(&n["port"])).unwrap();
            assert_eq!(text(&n["id"]), ids[&port]);
            assert_eq!(
                text(&n["id"]),
                range.nodes[i].id,
                "same order as CLUSTER SLOTS"
            );
            assert_eq!(text(&n["ip"]), "127.0.0.1");
            assert_eq!(text(&n["endpoint"]), "127.0.0.1");
            assert_eq!(text(&n["health"]), "online");
            let role = if i == 0 { "master" } else { "replica" };
            assert_eq!(text(&n["role"]), role);
        }
    }
}

fn check_nodes(snap: &Snapshot, cluster: &Cluster, ids: &BTreeMap<u16, String>) {
    assert_eq!(snap.nodes.len(), 3);
    let mut led: BTreeMap<String, Vec<(u16, u16)>> = BTreeMap::new();
    for range in &snap.slots {
        let ranges = led.entry(range.nodes[0].id.clone()).or_default();
        match ranges.last_mut() {
            Some(last) if last.1 + 1 == range.start => last.1 = range.end,
            _ => ranges.push((range.start, range.end)),
        }
    }
    for line in &snap.nodes {
        let parts: Vec<&str> = line.split(' ').collect();
        assert!(parts.len() >= 8, "{line}");
        let port: u16 = parts[1]
            .strip_prefix("127.0.0.1:")
            .and_then(|a| a.split('@').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("address of {line}"));
        assert_eq!(parts[0], ids[&port], "{line}");
        assert_eq!(parts[2], "master", "{line}");
        assert_eq!(parts[3], "-", "{line}");
        assert_eq!(parts[7], "connected", "{line}");
        let want: Vec<String> = led
            .get(parts[0])
            .map(|r| r.iter().map(|(a, b)| format!("{a}-{b}")).collect())
            .unwrap_or_default();
        assert_eq!(parts[8..], want[..], "slots of {line}");
    }
    for i in 1..=cluster.len() {
        let mine = text(&ok(&mut cluster.conn(i), &["CLUSTER", "NODES"]));
        let myself: Vec<&str> = mine.lines().filter(|l| l.contains("myself")).collect();
        assert_eq!(myself.len(), 1, "{mine}");
        assert!(
            myself[0].starts_with(&ids[&cluster.redis_port(i)]),
            "{mine}"
        );
    }
}

fn check_info(cluster: &Cluster) {
    for i in 1..=cluster.len() {
        let info = text(&ok(&mut cluster.conn(i), &["CLUSTER", "INFO"]));
        let f: BTreeMap<&str, &str> = info
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .collect();
        assert_eq!(f["cluster_state"], "ok", "{info}");
        assert_eq!(f["cluster_slots_assigned"], "16384", "{info}");
        assert_eq!(f["cluster_slots_ok"], "16384", "{info}");
        assert_eq!(f["cluster_slots_fail"], "0", "{info}");
        assert_eq!(f["cluster_known_nodes"], "3", "{info}");
        assert_eq!(f["cluster_size"], "3", "{info}");
        assert!(f["cluster_current_epoch"].parse::<u64>().unwrap() >= 1);
    }
}

fn check_keyslot_and_errors(con: &mut redis::Connection) {
    for (key, slot) in [
        ("foo", 12182),
        ("hello", 866),
        ("123456789", 12739),
        ("{user1000}.following", 3443),
        ("{user1000}.followers", 3443),
        ("", 0),
    ] {
        assert_eq!(int(&ok(con, &["CLUSTER", "KEYSLOT", key])), slot, "{key}");
    }
    let cases: [(&[&str], &str); 6] = [
        (
            &["CLUSTER", "NOSUCH"],
            "ERR unknown subcommand 'NOSUCH'. Try CLUSTER HELP.",
        ),
        (&["CLUSTER", "COUNTKEYSINSLOT", "16384"], "ERR Invalid slot"),
        (
            &["CLUSTER", "COUNTKEYSINSLOT", "x"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["CLUSTER", "GETKEYSINSLOT", "0", "-1"],
            "ERR Invalid slot or number of keys",
        ),
        (
            &["CLUSTER", "KEYSLOT"],
            "ERR wrong number of arguments for 'cluster|keyslot' command",
        ),
        (
            &["CLUSTER"],
            "ERR wrong number of arguments for 'cluster' command",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(call(con, args).unwrap_err(), want, "{args:?}");
    }
    let help = ok(con, &["CLUSTER", "HELP"]);
    assert!(items(&help).len() > 5);
    assert_eq!(ok(con, &["READONLY"]), Value::Okay);
    assert_eq!(ok(con, &["READWRITE"]), Value::Okay);
}

/// Sends `args` (a keyed command) to node `start`, following at most 3 `-MOVED` replies;
/// returns the reply and the ports the command was sent to.
fn follow_moved(cluster: &Cluster, start: usize, slot: u16, args: &[&str]) -> (Value, Vec<u16>) {
    let mut port = cluster.redis_port(start);
    let mut visited = vec![port];
    for _ in 0..4 {
        match call(&mut cluster.conn_port(port), args) {
            Ok(v) => return (v, visited),
            Err(e) if e.starts_with("MOVED ") => {
                let want = format!("MOVED {slot} 127.0.0.1:");
                assert!(e.starts_with(&want), "{e}");
                port = e[want.len()..].parse().unwrap();
                assert!(cluster.has_port(port), "{e} points outside the cluster");
                visited.push(port);
            }
            Err(e) => panic!("{args:?} on port {port}: {e}"),
        }
    }
    panic!("{args:?}: too many redirects: {visited:?}");
}

fn check_moved(cluster: &Cluster, snap: &Snapshot) {
    let slot = 12182; // "foo"
    let range = snap
        .slots
        .iter()
        .find(|r| (r.start..=r.end).contains(&slot))
        .unwrap();
    let master = range.nodes[0].port;
    let other = (1..=cluster.len())
        .find(|&i| cluster.redis_port(i) != master)
        .unwrap();
    let (reply, visited) = follow_moved(cluster, other, slot, &["SET", "foo", "bar"]);
    assert_eq!(reply, Value::Okay);
    assert!(
        visited.len() >= 2,
        "a non-leader accepted the key: {visited:?}"
    );
    let leader = *visited.last().unwrap();
    let got = ok(&mut cluster.conn_port(leader), &["GET", "foo"]);
    assert_eq!(text(&got), "bar");
    // A READONLY client reads the key on a replica instead of being redirected (stale reads
    // may lag: poll).
    let mut con = cluster.conn_port(cluster.redis_port(other));
    ok(&mut con, &["READONLY"]);
    wait_for(|| call(&mut con, &["GET", "foo"]) == Ok(Value::BulkString(b"bar".to_vec())));
    ok(&mut con, &["READWRITE"]);
    assert!(call(&mut con, &["GET", "foo"])
        .unwrap_err()
        .starts_with("MOVED 12182 "));

    let mut con = cluster.conn(1);
    assert_eq!(
        call(&mut con, &["MSET", "foo", "1", "hello", "2"]).unwrap_err(),
        "CROSSSLOT Keys in the request don't hash to the same slot"
    );
}

/// Polls `cond` for up to 10 s.
fn wait_for(mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "condition not met within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check_hash_tags_and_slot_keys(cluster: &Cluster) {
    let mut con = cluster.conn(1);
    let slot = u16::try_from(int(&ok(&mut con, &["CLUSTER", "KEYSLOT", "{crt}"]))).unwrap();
    let s = slot.to_string();
    let mset = ["MSET", "{crt}a", "1", "{crt}b", "2", "{crt}c", "3"];
    let (reply, visited) = follow_moved(cluster, 1, slot, &mset);
    assert_eq!(reply, Value::Okay);
    let owner = *visited.last().unwrap();
    let mut con = cluster.conn_port(owner);
    let got = ok(&mut con, &["MGET", "{crt}a", "{crt}b", "{crt}c"]);
    assert_eq!(
        items(&got).iter().map(text).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    assert_eq!(int(&ok(&mut con, &["CLUSTER", "COUNTKEYSINSLOT", &s])), 3);
    let keys = ok(&mut con, &["CLUSTER", "GETKEYSINSLOT", &s, "2"]);
    let keys: Vec<String> = items(&keys).iter().map(text).collect();
    assert_eq!(keys, ["{crt}a", "{crt}b"]);
    let (count, _) = follow_moved(cluster, 1, slot, &["CLUSTER", "COUNTKEYSINSLOT", &s]);
    assert_eq!(int(&count), 3);
    for i in 1..=cluster.len() {
        if cluster.redis_port(i) != owner {
            let e = call(&mut cluster.conn(i), &["CLUSTER", "COUNTKEYSINSLOT", &s]).unwrap_err();
            assert_eq!(e, format!("MOVED {slot} 127.0.0.1:{owner}"));
        }
    }
}

fn check_redis_cli(cluster: &Cluster) {
    if !have("redis-cli") {
        println!("skipped redis-cli -c: redis-cli is not installed");
        return;
    }
    for i in 1..=cluster.len() {
        let port = cluster.redis_port(i).to_string();
        let key = format!("cli:{i}");
        let run = |args: &[&str]| {
            let out = Command::new("redis-cli")
                .args(["-c", "-p", &port])
                .args(args)
                .stdin(Stdio::null())
                .output()
                .expect("run redis-cli");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        assert_eq!(run(&["set", &key, "v"]), "OK", "redis-cli -c -p {port} set");
        assert_eq!(run(&["get", &key]), "v", "redis-cli -c -p {port} get");
    }
}

fn check_redis_py(cluster: &Cluster) {
    common::run_python_check(
        "py/cluster.py",
        cluster.redis_port(2),
        "redis.cluster",
        "python cluster ok",
    );
}

fn check_redis_benchmark(cluster: &Cluster) {
    if !have("redis-benchmark") {
        println!("skipped redis-benchmark --cluster: redis-benchmark is not installed");
        return;
    }
    let port = cluster.redis_port(3).to_string();
    let out = Command::new("timeout")
        .args(["60", "redis-benchmark", "--cluster", "-p", &port])
        .args(["-t", "set,get", "-n", "2000", "-q"])
        .stdin(Stdio::null())
        .output()
        .expect("run redis-benchmark");
    let text = common::output_text(&out);
    assert!(out.status.success(), "redis-benchmark failed: {text}");
    assert!(text.contains("Cluster has 3 master nodes"), "{text}");
    for test in ["SET: ", "GET: "] {
        assert!(text.contains(test), "no {test}result: {text}");
    }
    assert!(!text.to_lowercase().contains("error"), "{text}");
}

#[test]
fn redirect_mode_speaks_the_cluster_protocol() {
    let mut cluster = Cluster::start(3, &["--cluster-mode", "redirect"]);
    cluster.wait_cluster_ok();
    let snap = settled(&cluster);
    let ids = ids_by_port(&cluster);
    assert_eq!(ids.values().collect::<BTreeSet<_>>().len(), 3, "{ids:?}");
    check_slots(&snap, &ids);
    check_shards(&snap, &ids);
    check_nodes(&snap, &cluster, &ids);
    check_info(&cluster);
    check_keyslot_and_errors(&mut cluster.conn(2));
    check_moved(&cluster, &snap);
    check_hash_tags_and_slot_keys(&cluster);
    check_redis_cli(&cluster);
    check_redis_py(&cluster);
    check_redis_benchmark(&cluster);
    check_redis_py_through_a_kill(&mut cluster);
    check_state_fails_without_quorum(cluster);
}

/// redis-py's `RedisCluster` keeps writing while node 2, the preferred leader of a third of
/// the shards, is killed with -9: the script counts the errors of the failover, needs writes
/// acknowledged again later on, and reads every acknowledged write back (`py/cluster_failover.py`).
fn check_redis_py_through_a_kill(cluster: &mut Cluster) {
    let script = "py/cluster_failover.py";
    if !common::python_has("redis.cluster") {
        println!("skipped {script}: python3 cannot import redis.cluster");
        return;
    }
    let mut child = Command::new("timeout")
        .args(["90", "python3"])
        .arg(common::tests_path(script))
        .arg(cluster.redis_port(1).to_string())
        .arg(FAILOVER_RUN_SECS.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut first = String::new();
    // Bounded: the script writes for FAILOVER_RUN_SECS and `timeout` ends it at 90 s.
    stdout
        .read_line(&mut first)
        .expect("read the script's output");
    if first.trim() == "writing" {
        cluster.kill9(2);
    }
    let mut rest = String::new();
    stdout
        .read_to_string(&mut rest)
        .expect("read the script's output");
    let out = child.wait_with_output().expect("wait for python3");
    let text = format!("{first}{rest}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(first.trim(), "writing", "{text}");
    assert!(
        out.status.success() && rest.contains("python failover ok"),
        "{text}"
    );
    println!("{}", rest.trim());
}

/// How long the failover script writes; node 2 dies early in it.
const FAILOVER_RUN_SECS: u64 = 8;

/// With two of three nodes gone no shard can keep or elect a leader: the survivor's
/// `CLUSTER INFO` turns to `cluster_state:fail`, and a keyed command waits for an election
/// until its deadline and answers `-CLUSTERDOWN`, rather than `-MOVED` to a guess (the dead
/// preferred leader, or the survivor itself, which a cluster client would follow in a loop).
fn check_state_fails_without_quorum(mut cluster: Cluster) {
    cluster.kill9(2);
    cluster.kill9(3);
    let mut con = cluster.conn(1);
    let deadline = Instant::now() + SETTLE_WAIT;
    loop {
        let info = text(&ok(&mut con, &["CLUSTER", "INFO"]));
        if info.contains("cluster_state:fail\r\n") {
            assert!(!info.contains("cluster_slots_ok:16384\r\n"), "{info}");
            break;
        }
        assert!(Instant::now() < deadline, "still ok without quorum: {info}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let request_deadline = Duration::from_millis(300);
    let ms = request_deadline.as_millis().to_string();
    cluster.restart_with(1, &["--request-deadline-ms", &ms]);
    let t = topology(&cluster);
    let mut con = cluster.conn(1);
    for leader in ["node1", "node2", "node3"] {
        let key = key_led_by(&t, "k", leader);
        for args in [vec!["SET", &key, "v"], vec!["GET", &key]] {
            let started = Instant::now();
            let reply = call(&mut con, &args);
            let why = format!("{args:?} (preferred leader {leader})");
            assert_eq!(reply, Err(CLUSTER_DOWN.to_string()), "{why}");
            assert!(
                started.elapsed() >= request_deadline,
                "{why}: answered at once"
            );
        }
    }
}

/// Redis's reply when a slot cannot be served.
const CLUSTER_DOWN: &str = "CLUSTERDOWN The cluster is down";

#[test]
fn forward_mode_answers_the_cluster_commands() {
    let cluster = Cluster::start(3, &["--cluster-mode", "forward"]);
    cluster.wait_cluster_ok();
    let ids = ids_by_port(&cluster);
    assert_eq!(ids.values().collect::<BTreeSet<_>>().len(), 3, "{ids:?}");
    check_info(&cluster);
    let mut con = cluster.conn(1);
    assert_eq!(int(&ok(&mut con, &["CLUSTER", "KEYSLOT", "foo"])), 12182);
    // Any node accepts any key; every node hosts a replica of every shard and counts the
    // slot's keys once its replica has applied the write.
    assert_eq!(ok(&mut con, &["SET", "foo", "bar"]), Value::Okay);
    for i in 1..=cluster.len() {
        let mut con = cluster.conn(i);
        assert_eq!(text(&ok(&mut con, &["GET", "foo"])), "bar");
        wait_for(|| call(&mut con, &["CLUSTER", "COUNTKEYSINSLOT", "12182"]) == Ok(Value::Int(1)));
        let keys = ok(&mut con, &["CLUSTER", "GETKEYSINSLOT", "12182", "10"]);
        assert_eq!(items(&keys).iter().map(text).collect::<Vec<_>>(), ["foo"]);
    }
}
