//! Benchmarks of routing hot paths: key-to-slot hashing and slot-to-shard lookup.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use router::{RoutingTable, Slot};

fn slot_lookup(c: &mut Criterion) {
    let keys: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("user:{i}:profile").into_bytes())
        .collect();
    let tagged: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("{{user{i}}}.followers").into_bytes())
        .collect();
    let table = RoutingTable::even_split(16).unwrap_or_else(|_| RoutingTable::empty(0));
    let mut group = c.benchmark_group("slot");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("for_key_1000", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| Slot::for_key(k).get() as u64)
                .sum::<u64>()
        })
    });
    group.bench_function("for_key_tagged_1000", |b| {
        b.iter(|| {
            tagged
                .iter()
                .map(|k| Slot::for_key(k).get() as u64)
                .sum::<u64>()
        })
    });
    group.bench_function("shard_for_key_1000", |b| {
        b.iter(|| {
            keys.iter()
                .filter_map(|k| table.shard_for_key(k))
                .map(|s| s.0)
                .sum::<u64>()
        })
    });
    group.bench_function("shard_for_slot_all", |b| {
        b.iter(|| {
            Slot::all()
                .filter_map(|s| table.shard_for_slot(black_box(s)))
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, slot_lookup);
criterion_main!(benches);
