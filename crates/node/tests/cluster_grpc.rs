//! The three-node Multi-Raft smoke test over the real gRPC transport on 127.0.0.1
//! ephemeral ports: elections, replicated writes on every shard, and a node stopped and
//! restarted from its RocksDB on the same port, which its peers reconnect to (backoff) and
//! which catches up.

mod cluster_common;
mod seed;

use cluster_common::{entry, incr, only_output, set, sim_seed, Cluster};
use raft::NodeId;
use router::ShardId;
use storage::Output;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_over_grpc_and_a_restarted_node_catches_up() {
    let mut c = Cluster::start_grpc(3, 4, sim_seed()).await;
    for i in 0..24u64 {
        let out = c.write(ShardId(i % 4), &set(&format!("k{i}"), "v")).await;
        assert_eq!(only_output(out), Output::Ok);
    }
    c.wait_converged().await;
    c.assert_replicas_identical();
    for shard in 0..4 {
        let leader = c.wait_leader(ShardId(shard), &[]).await;
        println!("shard {shard} led by {leader}");
    }

    let victim = NodeId(2);
    c.stop(victim);
    for i in 24..40u64 {
        let out = c
            .write_avoiding(ShardId(i % 4), &incr("n", 1), &[victim])
            .await;
        assert_eq!(only_output(out), Output::Int((i as i64 - 24) / 4 + 1));
    }
    c.restart_grpc(victim).await;
    c.wait_converged().await;
    c.assert_replicas_identical();
    // The restarted node is a full member again: with node 3 down it is needed for every
    // quorum, and writes still commit.
    c.stop(NodeId(3));
    c.write_avoiding(ShardId(0), &entry(99), &[NodeId(3)]).await;
}

/// Small compaction thresholds and chunks, so a short test compacts and streams many chunks.
fn compacting(cfg: &mut node::cluster::StoreConfig) {
    cfg.log_compact_entries_min = 16;
    cfg.log_compact_keep_entries = 4;
    cfg.log_lag_entries_max = 32;
    cfg.snapshot_chunk_bytes_max = 256;
    cfg.snapshot_bytes_per_sec_max = 4 << 20;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_behind_a_compacted_log_catches_up_by_snapshot_over_grpc() {
    let mut c = Cluster::start_grpc_with(3, 2, sim_seed(), compacting).await;
    for i in 0..6u64 {
        c.write(ShardId(i % 2), &set(&format!("early{i}"), "x"))
            .await;
    }
    c.wait_converged().await;
    let victim = NodeId(3);
    let behind_at: Vec<u64> = (0..2)
        .map(|s| c.store(victim).applied_index(ShardId(s)).unwrap_or(0))
        .collect();
    c.stop(victim);
    for i in 0..60u64 {
        let shard = ShardId(i % 2);
        c.write_avoiding(
            shard,
            &set(&format!("k{}", i % 20), &format!("v{i}")),
            &[victim],
        )
        .await;
        c.write_avoiding(shard, &incr("n", 1), &[victim]).await;
    }
    let others = [NodeId(1), NodeId(2)];
    // Compaction keeps what the victim needs until it is `log_lag_entries_max` behind, so
    // wait for the logs to start past it, not just for some compaction.
    c.wait_until("the others compacted past the victim", || {
        others.iter().all(|id| {
            (0..2u64).all(|s| {
                c.store(*id)
                    .log_start(ShardId(s))
                    .is_some_and(|start| start > behind_at[s as usize] + 1)
            })
        })
    })
    .await;
    c.restart_grpc(victim).await;
    c.wait_converged().await;
    let installed = c.store(victim).stats().snapshots_installed;
    let sent: u64 = others
        .iter()
        .map(|id| c.store(*id).stats().snapshots_sent)
        .sum();
    println!("snapshots installed {installed}, sent {sent}");
    assert!(
        installed >= 1,
        "the restarted node must catch up by snapshot"
    );
    // The sender counts a stream once the receiver's answer is back, which may come just
    // after the install.
    c.wait_until("a leader counted a snapshot sent", || {
        others
            .iter()
            .map(|id| c.store(*id).stats().snapshots_sent)
            .sum::<u64>()
            >= 1
    })
    .await;
    c.assert_replicas_identical();
    // The caught-up node is needed for every quorum with node 1 down, and writes commit.
    c.stop(NodeId(1));
    let out = c
        .write_avoiding(ShardId(0), &incr("n", 1), &[NodeId(1)])
        .await;
    assert_eq!(only_output(out), Output::Int(31));
}
