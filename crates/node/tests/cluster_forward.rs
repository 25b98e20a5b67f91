//! Forwarding through one node of a 3-node forward-mode cluster of real `redraft` processes:
//! pipelined writes to shards the node does not lead are forwarded over one ordered stream
//! per destination and keep their order (500 pipelined INCRs of one key answer 1..=500); a
//! pipeline of writes to many shards followed by reads of the same keys reads its own writes;
//! several clients pipelining at once through that node get every write acknowledged, and
//! every acknowledged write is readable through every node.
//!
//! Every wait has a deadline (see `cluster_proc`).
// Tests may unwrap (team rule); clippy only exempts #[test] functions themselves.
#![allow(clippy::unwrap_used)]

mod cluster_proc;
mod seed;

use std::collections::BTreeSet;
use std::time::Instant;

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
