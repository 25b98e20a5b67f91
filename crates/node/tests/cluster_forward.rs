//! Forwarding through one node of a 3-node forward-mode cluster of real `redraft` processes:
//! pipelined writes to shards the node does not lead are forwarded over one ordered stream
//! per destination and keep their order (500 pipelined INCRs of one key answer 1..=500); a
//! pipeline of writes to many shards followed by reads of the same keys reads its own writes;
//! several clients pipelining at once through that node get every write acknowledged, and
//! every acknowledged write is readable through every node; a client pipelining RPUSHes
//! while the list's leader is killed and comes back finds every acknowledged push in the
//! list once, in the order sent, and loses no more than the pipeline in flight at the kill.
//!
//! Every wait has a deadline (see `cluster_proc`).
// Tests may unwrap (team rule); clippy only exempts #[test] functions themselves.
#![allow(clippy::unwrap_used)]

mod cluster_proc;
mod seed;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster_proc::{key_led_by, shard_of, topology, wait_until, ProcCluster, READY_WAIT, SHARDS};
use redis::Value;
use router::ShardId;

/// Short Raft timing (one election: 0.5-1 s).
const FAST: &[&str] = &["--raft-tick-ms", "50", "--raft-election-ticks", "10"];
/// The node every client of these tests talks to.
const ENTRY: usize = 1;

/// The Redis port of the leader of `key`'s slot, as `CLUSTER SLOTS` through `con` says.
fn leader_port(con: &mut redis::Connection, key: &str) -> Option<u16> {
    let slot: i64 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(con)
        .ok()?;
    let Value::Array(ranges) = redis::cmd("CLUSTER").arg("SLOTS").query(con).ok()? else {
        return None;
    };
    ranges.iter().find_map(|range| match range {
        Value::Array(r) => match (&r[0], &r[1], r.get(2)) {
            (Value::Int(start), Value::Int(end), Some(Value::Array(master)))
                if (*start..=*end).contains(&slot) =>
            {
                match master.get(1) {
                    Some(Value::Int(port)) => u16::try_from(*port).ok(),
                    _ => None,
                }
            }
            _ => None,
        },
        _ => None,
    })
}

/// Waits until `key`'s shard is led by node `leader` (placement hands leadership to the
/// preferred leader), so requests for it through [`ENTRY`] are forwarded.
fn wait_led_by(c: &ProcCluster, key: &str, leader: usize) {
    let mut con = c.conn(ENTRY);
    let want = c.redis_port(leader);
    let mut last = None;
    let ok = wait_until(READY_WAIT, || {
        last = leader_port(&mut con, key);
        last == Some(want)
    });
    assert!(
        ok,
        "{key}'s shard not led by {} within {READY_WAIT:?} (leader port {last:?})",
        c.name(leader)
    );
}

/// Starts the cluster and waits until every shard has a leader.
fn start() -> ProcCluster {
    let c = ProcCluster::start(3, FAST);
    c.wait_cluster_ok();
    c
}

#[test]
fn pipelined_forwarded_writes_keep_their_order() {
    let started = Instant::now();
    let c = start();
    let t = topology(&c);
    let key = key_led_by(&t, "counter:", "node2");
    wait_led_by(&c, &key, 2);

    let mut con = c.conn(ENTRY);
    let mut pipe = redis::pipe();
    for _ in 0..500 {
        pipe.cmd("INCR").arg(&key);
    }
    let replies: Vec<i64> = pipe.query(&mut con).unwrap();
    let expected: Vec<i64> = (1..=500).collect();
    assert_eq!(
        replies, expected,
        "each INCR answers the previous value + 1"
    );
    for i in 1..=c.len() {
        let mut con = c.conn(i);
        let value: i64 = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
        assert_eq!(value, 500, "through {}", c.name(i));
    }
    println!(
        "pipelined_forwarded_writes_keep_their_order took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_pipeline_reads_its_own_writes_across_shards() {
    let started = Instant::now();
    let c = start();
    let t = topology(&c);
    // Keys over every shard, most led by the other two nodes.
    let keys: Vec<String> = (0..160).map(|n| format!("ryw:{n}")).collect();
    let shards: BTreeSet<ShardId> = keys.iter().map(|k| shard_of(&t, k)).collect();
    assert_eq!(shards.len() as u64, SHARDS, "the keys cover every shard");
    let other = key_led_by(&t, "ryw:", "node3");
    wait_led_by(&c, &other, 3);

    let mut con = c.conn(ENTRY);
    let mut pipe = redis::pipe();
    for (n, key) in keys.iter().enumerate() {
        pipe.cmd("SET").arg(key).arg(format!("a{n}")).ignore();
        pipe.cmd("APPEND").arg(key).arg("b").ignore();
    }
    for key in &keys {
        pipe.cmd("GET").arg(key);
    }
    // A write right after a read of the same key, then a read again, within one pipeline.
    for key in keys.iter().take(20) {
        pipe.cmd("SET").arg(key).arg("c").ignore();
        pipe.cmd("GET").arg(key);
    }
    let replies: Vec<String> = pipe.query(&mut con).unwrap();
    let mut expected: Vec<String> = (0..keys.len()).map(|n| format!("a{n}b")).collect();
    expected.extend(vec!["c".to_string(); 20]);
    assert_eq!(replies, expected);
    println!(
        "a_pipeline_reads_its_own_writes_across_shards took {:?}",
        started.elapsed()
    );
}

/// What one client of [`concurrent_pipelines_through_one_node`] wrote.
struct Written {
    /// Keys set to their own name, all acknowledged.
    keys: Vec<String>,
    /// The client's counter and its final value.
    counter: (String, i64),
}

/// The counter one client of [`concurrent_pipelines_through_one_node`] increments.
fn counter_key(client: usize) -> String {
    format!("client:{client}:counter")
}

/// `rounds` pipelines of `per_round` SETs of unique keys and as many INCRs of the client's
/// own counter; the INCRs must answer consecutive values.
fn pipelining_client(port: u16, client: usize, rounds: usize, per_round: usize) -> Written {
    let mut con = cluster_proc::connect(port).unwrap();
    let counter = counter_key(client);
    let mut keys = Vec::new();
    let mut count = 0i64;
    for round in 0..rounds {
        let mut pipe = redis::pipe();
        let mut batch = Vec::with_capacity(per_round);
        for n in 0..per_round {
            let key = format!("client:{client}:{round}:{n}");
            pipe.cmd("SET").arg(&key).arg(&key).ignore();
            pipe.cmd("INCR").arg(&counter);
            batch.push(key);
        }
        let replies: Vec<i64> = pipe
            .query(&mut con)
            .unwrap_or_else(|e| panic!("client {client} round {round}: {e}"));
        let expected: Vec<i64> = (count + 1..=count + per_round as i64).collect();
        assert_eq!(replies, expected, "client {client} round {round}");
        count += per_round as i64;
        keys.extend(batch);
    }
    Written {
        keys,
        counter: (counter, count),
    }
}

#[test]
fn concurrent_pipelines_through_one_node() {
    const CLIENTS: usize = 6;
    const ROUNDS: usize = 10;
    const PER_ROUND: usize = 60;
    let started = Instant::now();
    let c = start();
    let t = topology(&c);
    wait_led_by(&c, &key_led_by(&t, "x", "node2"), 2);
    wait_led_by(&c, &key_led_by(&t, "x", "node3"), 3);
    // Placement may still be moving other shards' leaders to their preferred replicas while
    // the clients run: each client's INCRs must keep their order through such a move too.

    let port = c.redis_port(ENTRY);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            std::thread::spawn(move || pipelining_client(port, client, ROUNDS, PER_ROUND))
        })
        .collect();
    let written: Vec<Written> = clients.into_iter().map(|h| h.join().unwrap()).collect();
    let total: usize = written.iter().map(|w| w.keys.len()).sum();
    assert_eq!(total, CLIENTS * ROUNDS * PER_ROUND);
    println!(
        "{total} pipelined writes acknowledged in {:?}",
        started.elapsed()
    );

    // Every node answers for every acknowledged write (reads go to the shard's leader).
    for i in 1..=c.len() {
        let mut con = c.conn(i);
        for w in &written {
            for chunk in w.keys.chunks(200) {
                let values: Vec<Option<String>> =
                    redis::cmd("MGET").arg(chunk).query(&mut con).unwrap();
                for (key, value) in chunk.iter().zip(values) {
                    assert_eq!(
                        value.as_deref(),
                        Some(key.as_str()),
                        "through {}",
                        c.name(i)
                    );
                }
            }
            let (counter, count) = &w.counter;
            let value: i64 = redis::cmd("GET").arg(counter).query(&mut con).unwrap();
            assert_eq!(value, *count, "{counter} through {}", c.name(i));
        }
    }
    // Nothing else was written: the counters and the acknowledged keys are all there is.
    let mut con = c.conn(ENTRY);
    let keys: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(keys, (total + CLIENTS) as u64);
    println!(
        "concurrent_pipelines_through_one_node took {:?}",
        started.elapsed()
    );
}

/// RPUSHes per pipeline of [`pipelined_writes_keep_their_order_through_a_leader_change`]:
/// deep enough that retrying the writes a dead leader never got one after another, each
/// after a pause, ran past the request deadline.
const ORDER_BATCH: u64 = 400;
/// How long its client pipelines before the leader is killed, while the leader is down, and
/// after leadership came back.
const ORDER_PHASE: Duration = Duration::from_millis(1_500);

/// What the pipelining client of [`pipelined_writes_keep_their_order_through_a_leader_change`]
/// saw: each RPUSH of `n` (sent in the order 1, 2, 3...) and its reply.
#[derive(Default)]
struct Pushes {
    /// `(n, list length after it)` of every acknowledged RPUSH, in sending order.
    acked: Vec<(u64, i64)>,
    /// Error replies by text (their writes may or may not have applied).
    errors: BTreeMap<String, u64>,
    /// The last `n` sent.
    sent: u64,
    /// The longest a pipeline waited for all its replies.
    slowest: Duration,
}

/// Where the test is (0 before the kill, 1 while the leader is down, 2 once it leads
/// again), and the RPUSHes acknowledged in each phase (counted by the phase a pipeline
/// started in).
#[derive(Default)]
struct Phase {
    now: AtomicUsize,
    acked: [AtomicU64; 3],
}

impl Phase {
    /// Enters phase `next` and stays until RPUSHes started in it were acknowledged and
    /// [`ORDER_PHASE`] passed.
    fn enter(&self, next: usize) {
        self.now.store(next, Ordering::Relaxed);
        let began = Instant::now();
        let acked = wait_until(READY_WAIT, || {
            began.elapsed() >= ORDER_PHASE && self.acked[next].load(Ordering::Relaxed) > 0
        });
        assert!(
            acked,
            "no RPUSH acknowledged in phase {next} within {READY_WAIT:?}"
        );
    }
}

/// RPUSHes `1, 2, 3...` to `key` through `port` in pipelines of [`ORDER_BATCH`], over a
/// plain socket so that every reply is seen on its own, until `stop`.
fn push_in_order(port: u16, key: &str, phase: &Phase, stop: &AtomicBool) -> Pushes {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(cluster_proc::CLIENT_READ_TIMEOUT))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut out = Pushes::default();
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        let first = out.sent + 1;
        let mut batch = Vec::new();
        for n in first..first + ORDER_BATCH {
            let n = n.to_string();
            batch.extend_from_slice(
                format!(
                    "*3\r\n$5\r\nRPUSH\r\n${}\r\n{key}\r\n${}\r\n{n}\r\n",
                    key.len(),
                    n.len()
                )
                .as_bytes(),
            );
        }
        writer.write_all(&batch).unwrap();
        out.sent += ORDER_BATCH;
        let now = phase.now.load(Ordering::Relaxed);
        let sent_at = Instant::now();
        for n in first..first + ORDER_BATCH {
            line.clear();
            reader
                .read_line(&mut line)
                .unwrap_or_else(|e| panic!("reply to RPUSH {n}: {e}"));
            let reply = line.trim_end();
            if let Some(len) = reply.strip_prefix(':') {
                out.acked.push((n, len.parse().unwrap()));
                phase.acked[now].fetch_add(1, Ordering::Relaxed);
            } else if let Some(text) = reply.strip_prefix('-') {
                *out.errors.entry(text.to_string()).or_default() += 1;
            } else {
                panic!("RPUSH {n}: unexpected reply {reply:?}");
            }
        }
        out.slowest = out.slowest.max(sent_at.elapsed());
    }
    out
}

/// Checks the final `list` against what the client saw: no element twice, every
/// acknowledged one there, the acknowledged ones in sending order, and their replies (the
/// length after each) increasing.
fn check_order(list: &[u64], pushes: &Pushes, through: &str) {
    let mut seen = BTreeSet::new();
    for n in list {
        assert!(seen.insert(*n), "{n} is in the list twice ({through})");
        assert!(*n <= pushes.sent, "{n} was never sent ({through})");
    }
    let acked: BTreeSet<u64> = pushes.acked.iter().map(|(n, _)| *n).collect();
    let missing: Vec<u64> = acked.difference(&seen).copied().collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged RPUSHes missing ({through}), first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let in_list: Vec<u64> = list.iter().copied().filter(|n| acked.contains(n)).collect();
    let misplaced = in_list.windows(2).find(|w| w[0] > w[1]);
    assert!(
        misplaced.is_none(),
        "acknowledged RPUSHes out of order ({through}): {misplaced:?}"
    );
    let shrank = pushes.acked.windows(2).find(|w| w[0].1 >= w[1].1);
    assert!(
        shrank.is_none(),
        "an acknowledged RPUSH answered a length not above the one before: {shrank:?}"
    );
}

/// A client pipelines RPUSHes to a list through a node that does not lead it, while the
/// shard's leader is killed (another replica takes over) and restarted (placement hands the
/// leadership back): every acknowledged push is in the list once, in the order sent.
#[test]
fn pipelined_writes_keep_their_order_through_a_leader_change() {
    let started = Instant::now();
    let mut c = ProcCluster::start(3, &["--raft-tick-ms", "50", "--raft-election-ticks", "10"]);
    c.wait_cluster_ok();
    let t = topology(&c);
    let key = key_led_by(&t, "order:", "node2");
    wait_led_by(&c, &key, 2);

    let phase: Arc<Phase> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (port, key) = (c.redis_port(ENTRY), key.clone());
        let (phase, stop) = (Arc::clone(&phase), Arc::clone(&stop));
        std::thread::spawn(move || push_in_order(port, &key, &phase, &stop))
    };
    // Stops the client even if an assertion below fails, so it does not outlive the test.
    let _stop = StopOnDrop(Arc::clone(&stop));
    phase.enter(0);
    c.kill9(2);
    phase.enter(1);
    c.restart(2);
    wait_led_by(&c, &key, 2);
    phase.enter(2);
    stop.store(true, Ordering::Relaxed);
    let pushes = client.join().unwrap();
    println!(
        "{} RPUSHes sent, {} acknowledged (before the kill, while node2 was down, after it \
         led again: {:?}), errors {:?}, slowest pipeline {:?}",
        pushes.sent,
        pushes.acked.len(),
        phase.acked,
        pushes.errors,
        pushes.slowest
    );
    // Only the pipeline on its way to node2 when it died may fail (its writes' outcome is
    // unknown); the next one, which node2 never got, is retried at the new leader.
    let failed: u64 = pushes.errors.values().sum();
    assert!(
        failed <= ORDER_BATCH,
        "{failed} RPUSHes failed, more than the one pipeline in flight at the kill"
    );
    for text in pushes.errors.keys() {
        assert!(
            text.starts_with("CLUSTERDOWN") || text.starts_with("TRYAGAIN"),
            "unexpected error reply {text:?}"
        );
    }
    for i in 1..=c.len() {
        let mut con = c.conn(i);
        let list: Vec<u64> = redis::cmd("LRANGE")
            .arg(&key)
            .arg(0)
            .arg(-1)
            .query(&mut con)
            .unwrap();
        check_order(&list, &pushes, &format!("through {}", c.name(i)));
    }
    println!(
        "pipelined_writes_keep_their_order_through_a_leader_change took {:?}",
        started.elapsed()
    );
}

/// Tells the client to stop when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
