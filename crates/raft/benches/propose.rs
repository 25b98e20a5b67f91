//! Proposals per second through propose -> ready -> persist -> send -> advance for a
//! three-node group in memory, with 16-byte and 1-KiB payloads.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

mod cluster;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use raft::{Config, NodeId};

use cluster::Group;

/// Proposals per measured iteration (each one a separate `propose` call).
const PROPOSALS_PER_ITER: u64 = 256;

fn bench_propose(c: &mut Criterion) {
    let mut g = c.benchmark_group("propose_3_nodes");
    g.throughput(Throughput::Elements(PROPOSALS_PER_ITER));
    for payload_bytes in [16usize, 1024] {
        let mut base = Config::new(NodeId(1));
        base.max_uncommitted_bytes = u64::MAX / 2;
        let mut group = Group::new(3, &base);
        group.elect_first();
        let payload = vec![7u8; payload_bytes];
        g.bench_with_input(
            BenchmarkId::from_parameter(payload_bytes),
            &payload,
            |b, p| {
                b.iter(|| {
                    for _ in 0..PROPOSALS_PER_ITER {
                        group.nodes[0].propose(p.clone()).expect("propose");
                    }
                    group.stabilize();
                    group.compact();
                });
            },
        );
    }
    g.finish();
}

/// One proposal per round: propose, then run the whole group until it is applied
/// everywhere — the cost of a proposal when nothing batches it.
fn bench_propose_unbatched(c: &mut Criterion) {
    let mut g = c.benchmark_group("propose_3_nodes_one_per_round");
    g.throughput(Throughput::Elements(1));
    let mut group = Group::new(3, &Config::new(NodeId(1)));
    group.elect_first();
    let payload = vec![7u8; 16];
    let mut rounds = 0u64;
    g.bench_function("16", |b| {
        b.iter(|| {
            group.nodes[0].propose(payload.clone()).expect("propose");
            group.stabilize();
            rounds += 1;
            if rounds.is_multiple_of(1024) {
                group.compact();
            }
        });
    });
    g.finish();
}

criterion_group!(benches, bench_propose, bench_propose_unbatched);
criterion_main!(benches);
