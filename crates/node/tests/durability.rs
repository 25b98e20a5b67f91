//! Durability: every acknowledged write survives `kill -9` and a graceful SIGTERM shutdown.
//!
//! Seeded: the seed is printed; replay with `DURABILITY_SEED=<seed>`.
// Tests may unwrap (team rule); clippy only exempts #[test] functions themselves.
#![allow(clippy::unwrap_used)]

mod common;
mod seed;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage::engine::OpRng;

/// Concurrent writer clients.
const CLIENTS: usize = 8;
/// Acknowledged writes to wait for before the crash.
const ACKED_BEFORE_CRASH: u64 = 2_000;
/// Most writes one client attempts.
const WRITES_PER_CLIENT_MAX: usize = 5_000;

/// What one client saw acknowledged.
#[derive(Default)]
struct Acked {
    sets: Vec<(String, String)>,
    incrs: u64,
    pushes: Vec<String>,
    hsets: Vec<(String, String)>,
}

/// Writes until `stop` or an error (the server died), recording every acknowledged write.
fn writer(
    port: u16,
    client: usize,
    seed: u64,
    stop: Arc<AtomicBool>,
    total: Arc<AtomicU64>,
) -> Acked {
    let mut rng = OpRng::new(seed ^ (client as u64).wrapping_mul(0x1234_5678_9ABC_DEF1));
    let mut acked = Acked::default();
    let Ok(mut con) =
        redis::Client::open(format!("redis://127.0.0.1:{port}/")).and_then(|c| c.get_connection())
    else {
        return acked;
    };
    let _ = con.set_read_timeout(Some(Duration::from_secs(10)));
    for i in 0..WRITES_PER_CLIENT_MAX {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let r = rng.next_u64();
        let ok = match r % 4 {
            0 => {
                let (k, v) = (format!("c{client}:s:{i}"), format!("v{r}"));
                let res: redis::RedisResult<()> = redis::cmd("SET").arg(&k).arg(&v).query(&mut con);
                res.map(|()| acked.sets.push((k, v))).is_ok()
            }
            1 => {
                let res: redis::RedisResult<i64> = redis::cmd("INCR")
                    .arg(format!("c{client}:n"))
                    .query(&mut con);
                res.map(|_| acked.incrs += 1).is_ok()
            }
            2 => {
                let v = format!("e{i}");
                let res: redis::RedisResult<i64> = redis::cmd("LPUSH")
                    .arg(format!("c{client}:l"))
                    .arg(&v)
                    .query(&mut con);
                res.map(|_| acked.pushes.push(v)).is_ok()
            }
            _ => {
                let (f, v) = (format!("f{i}"), format!("{r}"));
                let res: redis::RedisResult<i64> = redis::cmd("HSET")
                    .arg(format!("c{client}:h"))
                    .arg(&f)
                    .arg(&v)
                    .query(&mut con);
                res.map(|_| acked.hsets.push((f, v))).is_ok()
            }
        };
        if !ok {
            break;
        }
        total.fetch_add(1, Ordering::Relaxed);
    }
    acked
}

fn verify(srv: &common::Server, client: usize, acked: &Acked) {
    let mut con = srv.conn();
    for (k, v) in &acked.sets {
        let got: Option<String> = redis::cmd("GET").arg(k).query(&mut con).unwrap();
        assert_eq!(
            got.as_deref(),
            Some(v.as_str()),
            "acknowledged SET {k} lost"
        );
    }
    let n: Option<i64> = redis::cmd("GET")
        .arg(format!("c{client}:n"))
        .query(&mut con)
        .unwrap();
    let n = n.map_or(0, |n| n as u64);
    // One more INCR than acknowledged may have applied before the crash.
    assert!(
        n >= acked.incrs && n <= acked.incrs + 1,
        "client {client}: counter {n}, acknowledged {}",
        acked.incrs
    );
    let list: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("c{client}:l"))
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    for v in &acked.pushes {
        assert!(list.contains(v), "acknowledged LPUSH {v} lost");
    }
    for (f, v) in &acked.hsets {
        let got: Option<String> = redis::cmd("HGET")
            .arg(format!("c{client}:h"))
            .arg(f)
            .query(&mut con)
            .unwrap();
        assert_eq!(
            got.as_deref(),
            Some(v.as_str()),
            "acknowledged HSET {f} lost"
        );
    }
}

/// Runs the writers; `crash` is called once `ACKED_BEFORE_CRASH` writes were acknowledged.
fn run_writers(
    srv: &mut common::Server,
    seed: u64,
    crash: impl FnOnce(&mut common::Server),
) -> Vec<Acked> {
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let port = srv.redis_port;
    let handles: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (stop, total) = (Arc::clone(&stop), Arc::clone(&total));
            std::thread::spawn(move || writer(port, c, seed, stop, total))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while total.load(Ordering::Relaxed) < ACKED_BEFORE_CRASH && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    crash(srv);
    stop.store(true, Ordering::Relaxed);
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let seed = seed::from_env("DURABILITY_SEED");
    let mut srv = common::Server::start();
    let acked = run_writers(&mut srv, seed, common::Server::kill9);
    let n: usize = acked
        .iter()
        .map(|a| a.sets.len() + a.incrs as usize + a.pushes.len() + a.hsets.len())
        .sum();
    println!("acknowledged writes before kill -9: {n}");
    assert!(n as u64 >= ACKED_BEFORE_CRASH);
    srv.restart();
    for (client, a) in acked.iter().enumerate() {
        verify(&srv, client, a);
    }
}

/// How many times RocksDB reused (recycled) a write-ahead log file, from its own log.
fn log_files_reused(srv: &common::Server) -> usize {
    let rocks_log = std::fs::read_to_string(srv.data_dir().join("LOG")).unwrap_or_default();
    rocks_log.matches("reusing log").count()
}

#[test]
fn acknowledged_writes_survive_kill_9_with_recycled_log_files() {
    let seed = seed::from_env("DURABILITY_SEED");
    // Tiny memtables and log cap: the write-ahead log's files fill, go obsolete and are
    // overwritten in place (recycled) many times before the crash, so recovery reads files
    // that end in records of their previous use.
    let mut srv =
        common::Server::start_with(&["--write-buffer-bytes", "65536", "--wal-bytes-max", "131072"]);
    let acked = run_writers(&mut srv, seed, common::Server::kill9);
    let reused = log_files_reused(&srv);
    println!("log files reused before kill -9: {reused}");
    assert!(reused > 0, "no log file was recycled");
    srv.restart();
    for (client, a) in acked.iter().enumerate() {
        verify(&srv, client, a);
    }
}

#[test]
fn idle_column_families_are_flushed_so_log_files_are_recycled() {
    // The routing table's metadata shard is written at start and then left alone; unless
    // something flushes it, it keeps every log file alive up to the 256 MiB cap, and no file
    // ever goes obsolete to be reused. Tiny memtables make the busy shard switch log files
    // often.
    let flags = ["--write-buffer-bytes", "65536", "--idle-flush-ms", "100"];
    let srv = common::Server::start_with(&flags);
    let mut con = srv.conn();
    let value = "x".repeat(200);
    let mut reused = 0;
    for round in 0..60 {
        let mut pipe = redis::pipe();
        for i in 0..500 {
            pipe.cmd("SET")
                .arg(format!("k{round}:{i}"))
                .arg(&value)
                .ignore();
        }
        let () = pipe.query(&mut con).unwrap();
        reused = log_files_reused(&srv);
        if reused > 0 {
            println!("a log file was reused after {} writes", (round + 1) * 500);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(reused > 0, "no log file was recycled");
}

#[test]
fn sigterm_exits_0_and_loses_nothing() {
    let seed = seed::from_env("DURABILITY_SEED");
    let mut srv = common::Server::start();
    let stopped = std::cell::Cell::new(None);
    let acked = run_writers(&mut srv, seed, |srv| stopped.set(Some(srv.terminate())));
    let status = stopped.take().expect("terminated");
    assert!(
        status.success(),
        "redraft exited with {status:?}; log:\n{}",
        srv.log()
    );
    assert!(srv.log().contains("shutdown complete"), "{}", srv.log());
    srv.restart();
    for (client, a) in acked.iter().enumerate() {
        verify(&srv, client, a);
    }
}
