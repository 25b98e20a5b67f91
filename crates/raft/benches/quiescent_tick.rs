//! The cost of one tick round over 10,000 quiescent groups: the replicas a node hosts
//! (a mix of leaders and followers) are all ticked once.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

mod cluster;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use raft::{Config, MemStorage, NodeId, RawNode};

use cluster::Group;

/// Groups hosted by the node.
const GROUPS: usize = 10_000;

/// Builds `GROUPS` three-node groups, lets them quiesce and keeps one replica of each
/// (leaders and followers alternating).
fn quiescent_replicas() -> Vec<RawNode<MemStorage>> {
    let mut base = Config::new(NodeId(1));
    base.quiesce_after_ticks = 3;
    let mut replicas = Vec::with_capacity(GROUPS);
    for i in 0..GROUPS {
        let mut group = Group::new(3, &base);
        group.elect_first();
        for _ in 0..6 {
            group.tick();
        }
        assert!(
            group.nodes.iter().all(RawNode::is_quiescent),
            "group {i} did not quiesce"
        );
        replicas.push(group.nodes.swap_remove(i % 3));
    }
    replicas
}

fn bench_tick(c: &mut Criterion) {
    let mut replicas = quiescent_replicas();
    let mut g = c.benchmark_group("tick_quiescent");
    g.throughput(Throughput::Elements(GROUPS as u64));
    g.bench_function("10000_groups", |b| {
        b.iter(|| {
            let mut busy = 0;
            for r in &mut replicas {
                if r.tick() && r.has_ready() {
                    busy += 1;
                }
            }
            assert_eq!(busy, 0);
        });
    });
    g.finish();
}

criterion_group!(benches, bench_tick);
criterion_main!(benches);
