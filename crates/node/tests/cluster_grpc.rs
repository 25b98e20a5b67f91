//! The three-node Multi-Raft smoke test over the real gRPC transport on 127.0.0.1
//! ephemeral ports: elections, replicated writes on every shard, and a node stopped and
//! restarted from its RocksDB on the same port, which its peers reconnect to (backoff) and
//! which catches up.

mod cluster_common;

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
