//! The node's cluster housekeeping, every [`PLACEMENT_PERIOD_MS`]:
//!
//! - **Members**: asks every other member `Hello` until it answers, then every
//!   [`HELLO_REFRESH_PERIODS`] periods, to learn its Redis address (for `-MOVED` and the
//!   `CLUSTER` replies). A member that answered once is up unless the store's failure
//!   detector finds it silent ([`crate::cluster::Store::seems_down`]): that watches every
//!   node the store shares a shard with, through Raft traffic and probes, so it sees a member
//!   die within `node_down_after_ticks` and come back with its first message.
//! - **Leaders**: a shard with no known leader whose preferred leader is this node campaigns
//!   at once (no waiting out an election timeout at startup; then at most once per two election
//!   timeouts, so many slow elections are not restarted over and over); a shard this node leads whose
//!   preferred leader is up gets its leadership transferred there. So leaders spread evenly
//!   over the nodes, and return to a restarted node.
//! - **Routing table**: the metadata group's leader writes the bootstrap table under
//!   [`ROUTING_KEY`] if it is absent (`SET NX` through the metadata log); every node reads the
//!   table from its own replica and routes by it from then on. A table that differs from this
//!   node's flags is logged: the replicated one wins.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use raft::NodeId;
use router::ShardId;
use storage::types::string::{ExpiryChange, SetCond, StringRead, StringWrite};
use storage::{Output, ReadOp, WriteEntry, WriteOp};
use tokio::sync::watch;

use crate::config::ReadMode;
use crate::state::{unix_ms, Node};
use crate::topology::{decode_table, encode_table, META_SHARD};

/// How often the housekeeping runs, in milliseconds.
pub const PLACEMENT_PERIOD_MS: u64 = 500;
/// Periods between `Hello`s to a member that answered before.
pub const HELLO_REFRESH_PERIODS: u64 = 10;
/// A preferred leader campaigns for a leaderless shard at most once per this many election
/// timeouts.
pub const CAMPAIGN_EVERY_ELECTIONS: u64 = 2;
/// The metadata group's key holding the routing table.
pub const ROUTING_KEY: &[u8] = b"routing";

/// Runs until `stop` turns true.
pub async fn run(node: Arc<Node>, mut stop: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(Duration::from_millis(PLACEMENT_PERIOD_MS));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut campaigned: HashMap<ShardId, Instant> = HashMap::new();
    let mut period: u64 = 0;
    let mut table_written = false;
    let mut mismatch_logged = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        greet(&node, period).await;
        balance_leaders(&node, &mut campaigned);
        if !table_written && node.leads(META_SHARD) {
            table_written = write_table(&node).await;
        }
        read_table(&node, &mut mismatch_logged).await;
        period += 1;
    }
}

/// Sends `Hello` to members not yet heard from (or due a refresh).
async fn greet(node: &Node, period: u64) {
    for member in &node.topology.members {
        if member.id == node.topology.me {
            continue;
        }
        let known = node.peers.redis_addr(member.id).is_some();
        if known && !period.is_multiple_of(HELLO_REFRESH_PERIODS) {
            continue;
        }
        match tokio::time::timeout(Duration::from_secs(1), node.peers.hello(member.id)).await {
            Ok(Some(reply)) if reply.node == member.id.0 => {
                if !known {
                    tracing::info!(node = %member.name, redis_addr = %reply.redis_addr, "member up");
                }
                node.peers.learn_redis_addr(member.id, reply.redis_addr);
            }
            Ok(Some(reply)) => tracing::error!(
                node = %member.name,
                answered_as = %reply.name,
                "a different node answers at this member's address"
            ),
            _ => {}
        }
    }
}

/// Campaigns for leaderless shards preferring this node (at most once per
/// [`CAMPAIGN_EVERY_ELECTIONS`] election timeouts, so a slow election is not restarted
/// over and over); hands shards to their preferred leader when it is up.
fn balance_leaders(node: &Node, campaigned: &mut HashMap<ShardId, Instant>) {
    let election = Duration::from_millis(
        node.config.raft_tick_ms * node.config.raft_election_ticks * CAMPAIGN_EVERY_ELECTIONS,
    );
    let me = node.topology.me;
    // Not the time of the last `Hello`: those come every few seconds, so a member would
    // seem down between them (leadership was handed back to a restarted node only in those
    // windows) and up for seconds after it died (a transfer to a dead node holds the shard's
    // writes for an election timeout).
    // A member that answered `Hello` once (its Redis address is known) and is not silent.
    let up = |id: NodeId| {
        id == me || (node.peers.redis_addr(id).is_some() && !node.store.seems_down(id))
    };
    let mut shards = node.local_shards();
    shards.push(META_SHARD);
    for shard in shards {
        let preferred = if shard == META_SHARD {
            node.topology.members.first().map(|m| m.id)
        } else {
            node.topology.replicas(shard).first().copied()
        };
        let Some(preferred) = preferred else { continue };
        match node.store.leader_of(shard) {
            None if preferred == me => {
                let due = campaigned
                    .get(&shard)
                    .is_none_or(|t| t.elapsed() >= election);
                if due {
                    campaigned.insert(shard, Instant::now());
                    if let Err(e) = node.store.campaign(shard) {
                        tracing::debug!(%shard, error = %e, "campaign not started");
                    }
                }
            }
            Some(leader) if leader == me && preferred != me && up(preferred) => {
                tracing::debug!(%shard, to = %preferred, "moving leadership to the preferred replica");
                if let Err(e) = node.store.transfer_leader(shard, preferred) {
                    tracing::debug!(%shard, error = %e, "leader transfer not started");
                }
            }
            _ => {}
        }
    }
}

/// Writes the bootstrap routing table into the metadata group unless one is there already.
async fn write_table(node: &Arc<Node>) -> bool {
    let op = StringWrite::Set {
        key: ROUTING_KEY.to_vec(),
        value: encode_table(&node.topology.table).into_bytes(),
        cond: SetCond::IfMissing,
        expiry: ExpiryChange::Clear,
        get: false,
    };
    let entry = WriteEntry {
        now_ms: unix_ms(),
        ops: vec![WriteOp::String(op)],
    };
    match node.start_write(META_SHARD, &entry).await {
        Ok(_) => true,
        Err(e) => {
            tracing::debug!(error = %e, "writing the routing table failed; will retry");
            false
        }
    }
}

/// Adopts the metadata group's routing table (as applied on this node's replica).
async fn read_table(node: &Node, mismatch_logged: &mut bool) {
    let op = ReadOp::String(StringRead::Get {
        key: ROUTING_KEY.to_vec(),
    });
    let Ok(Output::Bulk(text)) = node
        .read_with(META_SHARD, &op, unix_ms(), ReadMode::Stale)
        .await
    else {
        return;
    };
    let table = match std::str::from_utf8(&text)
        .map_err(anyhow::Error::from)
        .and_then(decode_table)
    {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "the metadata group's routing table is unreadable");
            return;
        }
    };
    if table != node.topology.table && !*mismatch_logged {
        *mismatch_logged = true;
        tracing::error!(
            "the cluster's routing table differs from this node's --shards; routing by the \
             cluster's table (restart this node with the same flags as the others)"
        );
    }
    let current = node.routing.read().clone();
    if *current != table {
        tracing::info!(
            epoch = table.epoch(),
            "routing table updated from the metadata group"
        );
        *node.routing.write() = Arc::new(table);
    }
}
