//! Apply throughput: entries of one `SET` (16-byte value) applied one by one, the
//! group-commit pattern (N applies, then one WAL fsync for all of them), and the writer's
//! pattern (N entries in one `apply_batch`, then one WAL fsync).

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use storage::types::string::{ExpiryChange, SetCond, StringWrite};
use storage::{Db, StorageConfig, WriteEntry, WriteOp};

const NOW_MS: u64 = 1_700_000_000_000;
/// Entries per `apply_batch` in the batched case (a full group at -c 50 -P 16 is ~800).
const BATCH_ENTRIES: u64 = 128;

fn set_entry(i: u64) -> WriteEntry {
    let op = StringWrite::Set {
        key: format!("key:{i}").into_bytes(),
        value: vec![b'v'; 16],
        cond: SetCond::Always,
        expiry: ExpiryChange::Clear,
        get: false,
    };
    WriteEntry {
        now_ms: NOW_MS,
        ops: vec![WriteOp::String(op)],
    }
}

fn bench_apply(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), &StorageConfig::default()).expect("open");
    db.create_shard(1).expect("shard");
    let shard = db.shard(1).expect("shard");
    let mut index = 0u64;

    let mut group = c.benchmark_group("apply");
    group.throughput(Throughput::Elements(1));
    group.bench_function("set_16b_entry", |b| {
        b.iter_batched(
            || {
                index += 1;
                (index, set_entry(index % 100_000))
            },
            |(i, entry)| shard.apply(i, &entry).expect("apply"),
            BatchSize::SmallInput,
        )
    });
    for n in [1u64, 16, 128] {
        group.throughput(Throughput::Elements(n));
        group.bench_function(format!("group_commit_{n}_then_sync_wal"), |b| {
            b.iter(|| {
                for _ in 0..n {
                    index += 1;
                    shard
                        .apply(index, &set_entry(index % 100_000))
                        .expect("apply");
                }
                db.sync_wal().expect("sync");
            })
        });
    }
    group.throughput(Throughput::Elements(BATCH_ENTRIES));
    group.bench_function(format!("apply_batch_{BATCH_ENTRIES}_then_sync_wal"), |b| {
        b.iter_batched(
            || {
                let first = index + 1;
                index += BATCH_ENTRIES;
                (first..=index)
                    .map(|i| (i, set_entry(i % 100_000)))
                    .collect::<Vec<_>>()
            },
            |batch| {
                let indexed: Vec<_> = batch.iter().map(|(i, e)| (*i, e)).collect();
                shard.apply_batch(&indexed).expect("apply batch");
                db.sync_wal().expect("sync");
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_apply);
criterion_main!(benches);
