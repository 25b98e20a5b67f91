//! The node's periodic work, every [`CRON_PERIOD_MS`]: active expiry of keys, the
//! operations-per-second sample `INFO` reports, and, every `--idle-flush-ms`, flushing the
//! column families that went idle and giving busy shards memtable bloom filters
//! (`storage::Db::tend_memtables`).
//!
//! Active expiry: reads never return expired keys, but nobody may read them again, so each
//! cycle visits up to `expire_shards_per_cycle_max` of the shards this node leads (rotating),
//! and `expire_scan_per_cycle_max` keys in all, shared among them, each shard's walk resuming
//! at its own rotating cursor,
//! takes up to `expire_keys_per_cycle_max` expired ones and deletes them
//! through the shard's Raft log (a replicated write, so every replica deletes the same keys).
//! A shard whose visits find nothing is visited less and less often (`Backoff`).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use router::ShardId;
use storage::types::keyspace::{KeyspaceRead, KeyspaceWrite};
use storage::{MemtableUpkeep, Output, ReadOp, WriteEntry, WriteOp};
use tokio::sync::watch;

use crate::config::ReadMode;
use crate::state::{unix_ms, Node};

/// How often the cron runs, in milliseconds (Redis's default `hz 10`).
pub const CRON_PERIOD_MS: u64 = 100;

/// Runs until `stop` turns true.
pub async fn run(node: Arc<Node>, mut stop: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(Duration::from_millis(CRON_PERIOD_MS));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick: u64 = 0;
    let mut next_shard: usize = 0;
    let mut led: Vec<ShardId> = Vec::new();
    let mut cursors: HashMap<ShardId, u64> = HashMap::new();
    let mut idle_shards: HashMap<ShardId, Backoff> = HashMap::new();
    let mut last_commands = node.stats.commands_processed.load(Ordering::Relaxed);
    let idle_flush_ticks = match node.config.idle_flush_ms {
        0 => 0,
        ms => (ms / CRON_PERIOD_MS).max(1),
    };
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        tick += 1;
        if tick.is_multiple_of(1000 / CRON_PERIOD_MS) {
            let now = node.stats.commands_processed.load(Ordering::Relaxed);
            node.stats
                .ops_per_sec
                .store(now.saturating_sub(last_commands), Ordering::Relaxed);
            last_commands = now;
        }
        if idle_flush_ticks > 0 && tick.is_multiple_of(idle_flush_ticks) {
            tend_memtables(&node).await;
        }
        // The leader removes expired keys through the log; replicas converge by applying.
        // Leadership moves rarely: the list is refreshed once a second.
        if tick % (1000 / CRON_PERIOD_MS) == 1 {
            led = node
                .local_shards()
                .into_iter()
                .filter(|s| node.leads(*s))
                .collect();
        }
        let take = node
            .config
            .expire_shards_per_cycle_max
            .clamp(1, led.len().max(1));
        // The scan budget is per cycle, shared by the shards visited in it.
        let visit_max = (node.config.expire_scan_per_cycle_max / take).max(1);
        for i in 0..take.min(led.len()) {
            let shard = led[(next_shard + i) % led.len()];
            let idle = idle_shards.entry(shard).or_default();
            if idle.skip_until > tick {
                continue;
            }
            let cursor = cursors.entry(shard).or_insert(0);
            let deleted = expire_shard(&node, shard, cursor, visit_max).await;
            idle.after_visit(tick, deleted);
            if deleted > 0 {
                node.stats
                    .expired_keys
                    .fetch_add(deleted as u64, Ordering::Relaxed);
                tracing::trace!(shard = shard.0, deleted, "active expiry");
            }
        }
        next_shard = next_shard.wrapping_add(take);
    }
}

/// Flushes the column families that took no write since the last call and gives busy shards
/// memtable bloom filters (`storage::Db::tend_memtables`; off the runtime's threads: it reads
/// a property of every column family).
async fn tend_memtables(node: &Arc<Node>) {
    let db = Arc::clone(&node.db);
    match tokio::task::spawn_blocking(move || db.tend_memtables()).await {
        Ok(Ok(done)) if done == MemtableUpkeep::default() => {}
        Ok(Ok(done)) => tracing::debug!(
            flushed = done.flushed,
            bloomed = done.bloomed,
            "flushed idle column families, gave busy shards memtable bloom filters"
        ),
        Ok(Err(e)) => tracing::warn!(error = %e, "memtable upkeep failed"),
        Err(e) => tracing::warn!(error = %e, "memtable upkeep panicked"),
    }
}

/// Most cycles a shard in which active expiry found nothing is skipped (10 s at `hz 10`).
pub const EXPIRE_BACKOFF_CYCLES_MAX: u64 = 100;

/// How long active expiry leaves a shard alone: every visit that deletes nothing doubles the
/// pause (up to [`EXPIRE_BACKOFF_CYCLES_MAX`] cycles); a visit that deletes keys resets it.
/// Walking keys costs the same whether or not any expire, so a shard without volatile keys
/// is visited rarely (reads hide expired keys in any case).
#[derive(Debug, Default)]
struct Backoff {
    skip_until: u64,
    pause: u64,
}

impl Backoff {
    fn after_visit(&mut self, tick: u64, deleted: usize) {
        self.pause = if deleted > 0 {
            0
        } else {
            (self.pause * 2).clamp(1, EXPIRE_BACKOFF_CYCLES_MAX)
        };
        self.skip_until = tick + self.pause;
    }
}

/// Deletes up to `expire_keys_per_cycle_max` expired keys of `shard`, found among at most
/// `visit_max` keys from the shard's rotating cursor; returns how many.
async fn expire_shard(
    node: &Arc<Node>,
    shard: ShardId,
    cursor: &mut u64,
    visit_max: usize,
) -> usize {
    let sample = ReadOp::Keyspace(KeyspaceRead::SampleExpired {
        cursor: *cursor,
        visit_max: visit_max as u64,
        count_max: node.config.expire_keys_per_cycle_max as u64,
    });
    let now_ms = unix_ms();
    let local = node
        .read_with(shard, &sample, now_ms, ReadMode::Stale)
        .await;
    let (next, keys) = match local {
        Ok(Output::Array(mut parts)) if parts.len() == 2 => {
            let keys = parts.pop();
            let next = parts.pop();
            (next, keys)
        }
        Ok(other) => panic!("SampleExpired replied {other:?}, not [cursor, keys]"),
        Err(e) => {
            tracing::warn!(shard = shard.0, error = %e, "sampling expired keys failed");
            return 0;
        }
    };
    if let Some(Output::Bulk(next)) = next {
        *cursor = std::str::from_utf8(&next)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
    }
    let keys: Vec<Vec<u8>> = match keys {
        Some(Output::Array(keys)) => keys
            .into_iter()
            .filter_map(|k| {
                if let Output::Bulk(k) = k {
                    Some(k)
                } else {
                    None
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    if keys.is_empty() {
        return 0;
    }
    let entry = WriteEntry {
        now_ms,
        ops: vec![WriteOp::Keyspace(KeyspaceWrite::DeleteExpired { keys })],
    };
    let deleted = node.start_write(shard, &entry).await;
    match deleted.map(|mut r| r.pop()) {
        Ok(Some(Ok(Output::Int(n)))) => usize::try_from(n).unwrap_or(0),
        other => {
            tracing::warn!(shard = shard.0, result = ?other, "deleting expired keys failed");
            0
        }
    }
}
