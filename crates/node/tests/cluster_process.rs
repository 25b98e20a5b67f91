//! A 3-node RedRaft cluster of real `redraft` processes on loopback, in forward mode (the
//! default), driven by real Redis clients: any node serves any command; acknowledged writes
//! survive `kill -9` of a node that leads shards and are readable through every node once it
//! is back; a node cut off from the others answers `-CLUSTERDOWN` instead of hanging; a full
//! SIGTERM restart loses nothing.
//!
//! Randomized parts print `CLUSTER_SEED=<seed>`; replay with `CLUSTER_SEED=<seed> cargo test
//! -p node --test cluster_process`. Every wait has a deadline.
// Tests may unwrap (team rule); clippy only exempts #[test] functions themselves.
#![allow(clippy::unwrap_used)]

mod cluster_proc;
mod seed;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cluster_proc::{
    error_text, key_led_by, preferred_leader, seed, shard_of, topology, wait_until, ProcCluster,
};
use node::topology::Topology;
use router::ShardId;
use storage::engine::OpRng;

/// Short Raft timing for the tests that are not about timing (one election: 0.5-1 s).
const FAST: &[&str] = &["--raft-tick-ms", "50", "--raft-election-ticks", "10"];
/// The reply of a node that cannot reach a shard's quorum.
const CLUSTER_DOWN: &str = "CLUSTERDOWN The cluster is down";
/// The reply of a multi-key command whose keys live in different shards.
const CROSSSLOT: &str = "CROSSSLOT Keys in the request don't hash to the same slot";

/// The first key `prefix<n>` in a different shard than `other`.
fn key_in_other_shard(t: &Topology, prefix: &str, other: &str) -> String {
    (0..10_000)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| shard_of(t, k) != shard_of(t, other))
        .unwrap()
}

fn get(con: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(con).unwrap()
}

fn set(con: &mut redis::Connection, key: &str, value: &str) {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query::<()>(con)
        .unwrap_or_else(|e| panic!("SET {key}: {e}"));
}

fn dbsize(con: &mut redis::Connection) -> u64 {
    redis::cmd("DBSIZE").query(con).unwrap()
}

/// `MGET` of `keys` in batches (each batch fans out over the shards).
fn mget_all(con: &mut redis::Connection, keys: &[&str]) -> Vec<Option<String>> {
    let mut out = Vec::with_capacity(keys.len());
    for batch in keys.chunks(250) {
        let part: Vec<Option<String>> = redis::cmd("MGET").arg(batch).query(con).unwrap();
        out.extend(part);
    }
    out
}

/// The error reply of a command that must fail.
fn expect_err(result: redis::RedisResult<redis::Value>, what: &str) -> String {
    match result {
        Ok(v) => panic!("{what}: expected an error reply, got {v:?}"),
        Err(e) => error_text(&e),
    }
}

// ---------------------------------------------------------------------------------------
// 1. Any node serves any command.
// ---------------------------------------------------------------------------------------

#[test]
fn any_node_serves_any_command() {
    let started = Instant::now();
    let c = ProcCluster::start(3, FAST);
    let t = topology(&c);
    println!("cluster up in {:?}", started.elapsed());
    let mut cons: Vec<redis::Connection> = (1..=3).map(|i| c.conn(i)).collect();
    let mut live: BTreeSet<String> = BTreeSet::new();

    set(&mut cons[0], "greeting", "hello");
    live.insert("greeting".into());
    for con in &mut cons[1..] {
        assert_eq!(get(con, "greeting").as_deref(), Some("hello"));
    }

    incr_from_every_node(&c, 100);
    live.insert("counter".into());

    fan_out_commands(&t, &mut cons, &mut live);
    scan_and_dbsize(&mut cons, &mut live, 500);

    let flushed: String = redis::cmd("FLUSHALL").query(&mut cons[0]).unwrap();
    assert_eq!(flushed, "OK");
    for (i, con) in cons.iter_mut().enumerate() {
        assert_eq!(
            dbsize(con),
            0,
            "DBSIZE through node{} after FLUSHALL",
            i + 1
        );
        assert_eq!(get(con, "greeting"), None);
    }
    println!("any_node_serves_any_command took {:?}", started.elapsed());
}

/// `per_node` INCRs of one key through each node at once: every reply is distinct and the
/// count is exact through every node.
fn incr_from_every_node(c: &ProcCluster, per_node: i64) {
    let handles: Vec<_> = (1..=3)
        .map(|i| {
            let mut con = c.conn(i);
            std::thread::spawn(move || {
                (0..per_node)
                    .map(|_| {
                        redis::cmd("INCR")
                            .arg("counter")
                            .query::<i64>(&mut con)
                            .unwrap_or_else(|e| panic!("INCR through node{i}: {e}"))
                    })
                    .collect::<Vec<i64>>()
            })
        })
        .collect();
    let mut replies: Vec<i64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    replies.sort_unstable();
    let total = 3 * per_node;
    assert_eq!(replies, (1..=total).collect::<Vec<i64>>(), "INCR replies");
    for i in 1..=3 {
        let got: i64 = redis::cmd("GET")
            .arg("counter")
            .query(&mut c.conn(i))
            .unwrap();
        assert_eq!(got, total, "counter through node{i}");
    }
}

/// MGET, EXISTS and DEL over keys in several shards; MSET across shards is refused, MSET
/// with a hash tag works.
fn fan_out_commands(t: &Topology, cons: &mut [redis::Connection], live: &mut BTreeSet<String>) {
    let keys: Vec<String> = (0..10).map(|n| format!("fan:{n}")).collect();
    let shards: BTreeSet<ShardId> = keys.iter().map(|k| shard_of(t, k)).collect();
    assert!(
        shards.len() >= 3,
        "test keys should span shards: {shards:?}"
    );
    for (n, key) in keys.iter().take(6).enumerate() {
        set(&mut cons[n % 3], key, &format!("v{n}"));
    }
    let got: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut cons[1]).unwrap();
    let want: Vec<Option<String>> = (0..10).map(|n| (n < 6).then(|| format!("v{n}"))).collect();
    assert_eq!(got, want, "MGET across shards through node2");
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&keys)
        .arg("fan:0")
        .query(&mut cons[2])
        .unwrap();
    assert_eq!(exists, 7, "EXISTS counts each key named, repeats included");
    let deleted: i64 = redis::cmd("DEL").arg(&keys).query(&mut cons[2]).unwrap();
    assert_eq!(deleted, 6, "DEL across shards through node3");
    let exists: i64 = redis::cmd("EXISTS").arg(&keys).query(&mut cons[0]).unwrap();
    assert_eq!(exists, 0);

    let a = "cross:a";
    let b = key_in_other_shard(t, "cross:b", a);
    let reply = expect_err(
        redis::cmd("MSET")
            .arg(a)
            .arg("1")
            .arg(&b)
            .arg("2")
            .query(&mut cons[0]),
        "MSET across shards",
    );
    assert_eq!(reply, CROSSSLOT);
    assert_eq!(get(&mut cons[1], a), None, "a refused MSET wrote nothing");

    let ok: String = redis::cmd("MSET")
        .arg("{user1}:name")
        .arg("ada")
        .arg("{user1}:lang")
        .arg("rust")
        .query(&mut cons[2])
        .unwrap();
    assert_eq!(ok, "OK");
    live.extend(["{user1}:name".to_string(), "{user1}:lang".to_string()]);
    let got: Vec<Option<String>> = redis::cmd("MGET")
        .arg("{user1}:name")
        .arg("{user1}:lang")
        .query(&mut cons[0])
        .unwrap();
    assert_eq!(got, vec![Some("ada".into()), Some("rust".into())]);
}

/// Writes `n` keys through all nodes; SCAN from 0 until 0 through node2 returns exactly the
/// keys that exist, and DBSIZE through every node counts them.
fn scan_and_dbsize(cons: &mut [redis::Connection], live: &mut BTreeSet<String>, n: usize) {
    let keys: Vec<String> = (0..n).map(|i| format!("scan:{i}")).collect();
    for (chunk_no, chunk) in keys.chunks(50).enumerate() {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("SET").arg(key).arg("x").ignore();
        }
        pipe.query::<()>(&mut cons[chunk_no % 3]).unwrap();
    }
    live.extend(keys);

    let mut seen: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    let mut pages = 0;
    loop {
        let (next, page): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).query(&mut cons[1]).unwrap();
        seen.extend(page);
        pages += 1;
        assert!(pages < 10_000, "SCAN did not finish after {pages} pages");
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let seen_set: BTreeSet<String> = seen.iter().cloned().collect();
    println!(
        "SCAN: {pages} pages, {} keys, {} repeated",
        seen.len(),
        seen.len() - seen_set.len()
    );
    let missing: Vec<&String> = live.difference(&seen_set).take(10).collect();
    let extra: Vec<&String> = seen_set.difference(live).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "SCAN through node2: missing {missing:?}, unexpected {extra:?}"
    );
    for (i, con) in cons.iter_mut().enumerate() {
        assert_eq!(
            dbsize(con),
            live.len() as u64,
            "DBSIZE through node{}",
            i + 1
        );
    }
}

// ---------------------------------------------------------------------------------------
// 2. Acknowledged writes survive kill -9 of a node that leads shards.
// ---------------------------------------------------------------------------------------

/// Concurrent writer clients.
const WRITERS: usize = 6;
/// Load before the kill, and again after writes to the killed node's shards resumed.
const LOAD_PHASE: Duration = Duration::from_secs(2);
/// Longest writes to the killed node's shards may stay unavailable. Two default election
/// timeouts are 2-4 s; the rest is slack for a loaded 2-core machine.
const RESUME_BOUND: Duration = Duration::from_secs(10);

/// One acknowledged `SET`.
struct Ack {
    key: String,
    value: String,
    /// Whether it was sent after node1 was killed.
    after_kill: bool,
}

/// What the writers share with the test.
struct Shared {
    seed: u64,
    ports: Vec<u16>,
    topology: Topology,
    stop: AtomicBool,
    acked: AtomicU64,
    /// When node1 was killed.
    killed_at: OnceLock<Instant>,
    /// Per shard preferred by node1: the first write sent after the kill and acknowledged,
    /// as time from the kill to the acknowledgement.
    resumed: Mutex<BTreeMap<ShardId, Duration>>,
    /// Error replies and connection errors seen (not acknowledged, allowed).
    errors: AtomicU64,
}

impl Shared {
    fn led_by_victim(&self, shard: ShardId) -> bool {
        preferred_leader(&self.topology, shard) == "node1"
    }

    fn victim_shards(&self) -> usize {
        self.topology
            .shards()
            .into_iter()
            .filter(|&s| self.led_by_victim(s))
            .count()
    }
}

/// Tells the writers to stop when dropped.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

/// Writes unique keys until told to stop, moving to the next node when its node is gone;
/// returns every acknowledged write.
fn writer(shared: &Shared, w: usize) -> Vec<Ack> {
    let mut rng = OpRng::new(shared.seed ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // Writers start spread over the nodes, so some are on node1 when it dies.
    let mut at = w % shared.ports.len();
    let mut con: Option<redis::Connection> = None;
    let mut acks = Vec::new();
    let mut seq = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let Some(c) = con.as_mut() else {
            match cluster_proc::connect(shared.ports[at]) {
                Ok(c) => con = Some(c),
                Err(_) => {
                    at = (at + 1) % shared.ports.len();
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            continue;
        };
        seq += 1;
        let key = format!("w{w}:{seq}");
        let value = format!("{}:{w}:{seq}:{}", shared.seed, rng.next_u64());
        let sent = Instant::now();
        match redis::cmd("SET").arg(&key).arg(&value).query::<()>(c) {
            Ok(()) => {
                shared.acked.fetch_add(1, Ordering::Relaxed);
                let after_kill = note_resume(shared, &key, sent);
                acks.push(Ack {
                    key,
                    value,
                    after_kill,
                });
            }
            Err(e) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                    con = None;
                    at = (at + 1) % shared.ports.len();
                }
            }
        }
    }
    acks
}

/// Records the first post-kill acknowledgement of a write to a shard node1 led; returns
/// whether the write was sent after the kill.
fn note_resume(shared: &Shared, key: &str, sent: Instant) -> bool {
    let Some(&killed_at) = shared.killed_at.get() else {
        return false;
    };
    let shard = shard_of(&shared.topology, key);
    if sent >= killed_at && shared.led_by_victim(shard) {
        let gap = killed_at.elapsed();
        shared.resumed.lock().unwrap().entry(shard).or_insert(gap);
    }
    sent >= killed_at
}

#[test]
fn acknowledged_writes_survive_kill_9_of_a_leader() {
    let started = Instant::now();
    let seed = seed();
    // Default Raft timing: the resume bound is about real election timeouts.
    let mut c = ProcCluster::start(3, &[]);
    println!("cluster up in {:?}", started.elapsed());
    let shared = Arc::new(Shared {
        seed,
        ports: (1..=3).map(|i| c.redis_port(i)).collect(),
        topology: topology(&c),
        stop: AtomicBool::new(false),
        acked: AtomicU64::new(0),
        killed_at: OnceLock::new(),
        resumed: Mutex::new(BTreeMap::new()),
        errors: AtomicU64::new(0),
    });
    // Stops the writers even when the test fails, so none outlives it (their ports may be
    // reused by another test's cluster).
    let _stop = StopOnDrop(Arc::clone(&shared));
    let (tx, rx) = mpsc::channel();
    for w in 0..WRITERS {
        let (shared, tx) = (Arc::clone(&shared), tx.clone());
        std::thread::spawn(move || {
            let _ = tx.send((w, writer(&shared, w)));
        });
    }
    let load_start = Instant::now();
    assert!(
        wait_until(Duration::from_secs(30), || {
            load_start.elapsed() >= LOAD_PHASE && shared.acked.load(Ordering::Relaxed) >= 100
        }),
        "writers got too few writes acknowledged before the kill (seed {seed})"
    );
    let before = shared.acked.load(Ordering::Relaxed);
    c.kill9(1);
    let _ = shared.killed_at.set(Instant::now());
    println!("killed node1 after {before} acknowledged writes");

    check_resume(&shared);
    std::thread::sleep(LOAD_PHASE);
    let restart_at = Instant::now();
    c.restart(1);
    println!("node1 back (PING + write) in {:?}", restart_at.elapsed());
    std::thread::sleep(Duration::from_millis(500));
    shared.stop.store(true, Ordering::Relaxed);
    let acks = collect_writers(&rx, seed);
    println!(
        "{} writes acknowledged, {} errors (allowed: not acknowledged)",
        acks.len(),
        shared.errors.load(Ordering::Relaxed)
    );

    wait_caught_up(&c, seed);
    for i in 1..=3 {
        let t = Instant::now();
        verify_acked(&mut c.conn(i), &acks, &format!("through node{i}"), seed);
        println!(
            "all acknowledged writes read back through node{i} in {:?}",
            t.elapsed()
        );
    }
    own_replica_has_all(&mut c, &acks, seed);
    println!(
        "acknowledged_writes_survive_kill_9_of_a_leader took {:?}",
        started.elapsed()
    );
}

/// Waits until a write to every shard node1 preferred was acknowledged after the kill, and
/// checks each resumed within [`RESUME_BOUND`].
fn check_resume(shared: &Shared) {
    let want = shared.victim_shards();
    let all = wait_until(RESUME_BOUND + Duration::from_secs(20), || {
        shared.resumed.lock().unwrap().len() == want
    });
    let resumed = shared.resumed.lock().unwrap().clone();
    let gaps: Vec<String> = resumed
        .iter()
        .map(|(s, d)| format!("shard {}: {} ms", s.0, d.as_millis()))
        .collect();
    println!("writes to node1's shards resumed after the kill: {gaps:?}");
    assert!(
        all,
        "writes to only {} of node1's {want} shards resumed (seed {})",
        resumed.len(),
        shared.seed
    );
    let worst = resumed.values().max().copied().unwrap_or_default();
    println!(
        "kill -> first acknowledged write, worst shard: {} ms",
        worst.as_millis()
    );
    assert!(
        worst < RESUME_BOUND,
        "writes resumed only after {worst:?} (bound {RESUME_BOUND:?}, seed {})",
        shared.seed
    );
}

/// Every writer's acknowledged writes; a writer that does not finish in time is a hang. The
/// writers that started on node1 must have kept going through another node after the kill.
fn collect_writers(rx: &mpsc::Receiver<(usize, Vec<Ack>)>, seed: u64) -> Vec<Ack> {
    let deadline = Instant::now() + cluster_proc::CLIENT_READ_TIMEOUT + Duration::from_secs(10);
    let mut acks = Vec::new();
    for _ in 0..WRITERS {
        let left = deadline.saturating_duration_since(Instant::now());
        let (w, part) = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("a writer did not stop: a request hangs (seed {seed})"));
        let after_kill = part.iter().filter(|a| a.after_kill).count();
        println!(
            "writer {w} (started on node{}): {} acknowledged, {after_kill} after the kill",
            w % 3 + 1,
            part.len()
        );
        if w % 3 == 0 {
            assert!(
                after_kill > 0,
                "writer {w} lost node1 and never got a write through another node (seed {seed})"
            );
        }
        acks.extend(part);
    }
    acks
}

/// The sum of applied indexes INFO reports for node `i`'s shard replicas.
fn applied_entries(c: &ProcCluster, i: usize) -> Option<u64> {
    let mut con = c.try_conn(i).ok()?;
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut con).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("rocksdb_applied_entries:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Waits until, with the writers stopped, every node has applied as much as the others (the
/// restarted node caught up), twice in a row.
fn wait_caught_up(c: &ProcCluster, seed: u64) {
    let start = Instant::now();
    let mut last: Vec<Option<u64>> = Vec::new();
    let mut stable = 0;
    let caught_up = wait_until(Duration::from_secs(30), || {
        let now: Vec<Option<u64>> = (1..=3).map(|i| applied_entries(c, i)).collect();
        let equal = now[0].is_some() && now.iter().all(|a| *a == now[0]);
        stable = if equal && now == last { stable + 1 } else { 0 };
        last = now;
        stable >= 1
    });
    println!(
        "applied entries per node {last:?}; caught up: {caught_up} after {:?}",
        start.elapsed()
    );
    assert!(
        caught_up,
        "node1 did not catch up within 30 s: applied {last:?} (seed {seed})"
    );
}

/// Checks every acknowledged key holds its value when read through `con`.
fn verify_acked(con: &mut redis::Connection, acks: &[Ack], through: &str, seed: u64) {
    let keys: Vec<&str> = acks.iter().map(|a| a.key.as_str()).collect();
    let got = mget_all(con, &keys);
    let wrong: Vec<String> = acks
        .iter()
        .zip(&got)
        .filter(|(a, g)| g.as_deref() != Some(a.value.as_str()))
        .map(|(a, g)| format!("{} = {g:?}, acknowledged {:?}", a.key, a.value))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} acknowledged writes lost or wrong {through} (seed {seed}); first: {:?}",
        wrong.len(),
        acks.len(),
        &wrong[..wrong.len().min(10)]
    );
}

/// The restarted node's own replica holds every acknowledged write: stop it gracefully, kill
/// the other two, start it alone with stale reads (served from its own data only) and read.
fn own_replica_has_all(c: &mut ProcCluster, acks: &[Ack], seed: u64) {
    assert!(c.terminate(1).success(), "node1 exits 0 on SIGTERM");
    c.kill9(2);
    c.kill9(3);
    c.restart_with(1, &["--read-consistency", "stale"]);
    verify_acked(&mut c.conn(1), acks, "in node1's own replica", seed);
    println!(
        "node1's own replica holds all {} acknowledged writes",
        acks.len()
    );
}

// ---------------------------------------------------------------------------------------
// 3. A node cut off from the others serves neither writes nor linearizable reads.
// ---------------------------------------------------------------------------------------

/// `--request-deadline-ms` of the partition test.
const DEADLINE_MS: u64 = 1_500;
/// The longest a leader lease lasts with `FAST` (8 ticks of 50 ms), plus a margin.
const LEASE_MAX: Duration = Duration::from_millis(8 * 50 + 200);
/// How much later than the deadline the error reply may come on a loaded machine.
const DEADLINE_SLACK: Duration = Duration::from_millis(2_500);

#[test]
fn a_node_alone_answers_clusterdown_and_does_not_hang() {
    let started = Instant::now();
    let deadline = DEADLINE_MS.to_string();
    let mut flags = FAST.to_vec();
    flags.extend(["--request-deadline-ms", deadline.as_str()]);
    let mut c = ProcCluster::start(3, &flags);
    let t = topology(&c);
    let mut con = c.conn(3);
    let keys: Vec<String> = (0..60).map(|n| format!("before:{n}")).collect();
    for key in &keys {
        set(&mut con, key, &format!("{key}!"));
    }

    c.kill9(1);
    c.kill9(2);
    // Reads are served under the leader lease (the default) until it runs out: at most
    // `election ticks - 2` ticks after the last heartbeat the others acknowledged.
    std::thread::sleep(LEASE_MAX);
    // One key whose shard the survivor leads (it still believes so at first) and one whose
    // leader was killed.
    let own = key_led_by(&t, "own:", "node3");
    let lost = key_led_by(&t, "lost:", "node1");
    for key in [&own, &lost, &keys[0]] {
        expect_clusterdown(&mut con, "GET", &[key]);
        expect_clusterdown(&mut con, "SET", &[key, "after"]);
    }
    let ping: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(
        ping, "PONG",
        "the survivor still answers commands that need no shard"
    );

    c.restart(1);
    c.restart(2);
    for i in 1..=3 {
        let got = mget_all(
            &mut c.conn(i),
            &keys.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let want: Vec<Option<String>> = keys.iter().map(|k| Some(format!("{k}!"))).collect();
        assert_eq!(
            got, want,
            "data written before the partition, through node{i}"
        );
    }
    set(&mut c.conn(3), &lost, "after-restart");
    assert_eq!(get(&mut c.conn(1), &lost).as_deref(), Some("after-restart"));
    println!(
        "a_node_alone_answers_clusterdown_and_does_not_hang took {:?}",
        started.elapsed()
    );
}

/// Sends `name args` and checks it fails with CLUSTERDOWN within the deadline plus slack.
fn expect_clusterdown(con: &mut redis::Connection, name: &str, args: &[&str]) {
    let t = Instant::now();
    let result = redis::cmd(name).arg(args).query::<redis::Value>(con);
    let took = t.elapsed();
    let what = format!("{name} {args:?} on a node alone");
    let reply = expect_err(result, &what);
    println!("{what}: {reply:?} after {} ms", took.as_millis());
    assert_eq!(reply, CLUSTER_DOWN, "{what}");
    let bound = Duration::from_millis(DEADLINE_MS) + DEADLINE_SLACK;
    assert!(took < bound, "{what} took {took:?} (bound {bound:?})");
}

// ---------------------------------------------------------------------------------------
// 4. A full restart (SIGTERM all, start all) loses nothing.
// ---------------------------------------------------------------------------------------

#[test]
fn full_restart_keeps_all_data() {
    let started = Instant::now();
    let seed = seed();
    let mut rng = OpRng::new(seed);
    let mut c = ProcCluster::start(3, FAST);
    let mut strings: BTreeMap<String, String> = BTreeMap::new();
    {
        let mut cons: Vec<redis::Connection> = (1..=3).map(|i| c.conn(i)).collect();
        for n in 0..300 {
            let (key, value) = (format!("r:{n}"), format!("{}", rng.next_u64()));
            set(&mut cons[rng.below(3) as usize], &key, &value);
            strings.insert(key, value);
        }
        for n in 0..30 {
            let con = &mut cons[n % 3];
            redis::cmd("HSET")
                .arg("r:hash")
                .arg(format!("f{n}"))
                .arg(n)
                .query::<i64>(con)
                .unwrap();
            redis::cmd("RPUSH")
                .arg("r:list")
                .arg(n)
                .query::<i64>(con)
                .unwrap();
        }
    }
    for (i, status) in c.stop_all().into_iter().enumerate() {
        assert!(
            status.success(),
            "node{} exits 0 on SIGTERM: {status}",
            i + 1
        );
    }
    let restart_at = Instant::now();
    c.start_all();
    println!("cluster back in {:?}", restart_at.elapsed());

    let keys: Vec<&str> = strings.keys().map(String::as_str).collect();
    let want: Vec<Option<String>> = strings.values().cloned().map(Some).collect();
    for i in 1..=3 {
        let mut con = c.conn(i);
        assert_eq!(mget_all(&mut con, &keys), want, "strings through node{i}");
        let hlen: i64 = redis::cmd("HLEN").arg("r:hash").query(&mut con).unwrap();
        assert_eq!(hlen, 30, "hash through node{i}");
        let list: Vec<i64> = redis::cmd("LRANGE")
            .arg("r:list")
            .arg(0)
            .arg(-1)
            .query(&mut con)
            .unwrap();
        assert_eq!(list, (0..30).collect::<Vec<i64>>(), "list through node{i}");
        assert_eq!(dbsize(&mut con), strings.len() as u64 + 2);
    }
    println!("full_restart_keeps_all_data took {:?}", started.elapsed());
}
