//! The stale sub-key compaction filter, and slot-range export/import/delete.

#![allow(clippy::unwrap_used)] // Tests may unwrap (team rule); helpers outside #[test] too.

mod common;

use common::{Fixture, T0_MS};
use storage::export::{export_chunk, export_range, SlotRange};
use storage::keys;
use storage::types::hash::{HashPart, HashRead, HashWrite};
use storage::types::keyspace::{ExpireCond, KeyspaceRead, KeyspaceWrite, TtlKind};
use storage::types::string::StringRead;
use storage::{Output, ReadOp, ShardStore, WriteOp};

fn hset_many(f: &Fixture, key: &[u8], n: usize) {
    let pairs = (0..n)
        .map(|i| (format!("field-{i}").into_bytes(), vec![b'x'; 64]))
        .collect();
    f.write(WriteOp::Hash(HashWrite::Set {
        key: key.to_vec(),
        pairs,
        reply_ok: false,
    }))
    .unwrap();
}

/// Sub-keys stored for `user_key`, any version.
fn sub_keys_of(f: &Fixture, shard: &ShardStore, user_key: &[u8]) -> usize {
    f.raw_records(shard)
        .iter()
        .filter(|(k, _)| keys::parse_sub_key(k).is_some_and(|s| s.user_key == user_key))
        .count()
}

fn compact(f: &Fixture, shard: &ShardStore) {
    let cf = f.db.cf(shard.cf_name()).unwrap();
    f.db.rocks()
        .compact_range_cf(&cf, None::<&[u8]>, None::<&[u8]>);
}

#[test]
fn compaction_drops_stale_sub_keys_only() {
    let f = Fixture::new();
    hset_many(&f, b"deleted", 1000);
    hset_many(&f, b"overwritten", 100);
    hset_many(&f, b"expired", 100);
    hset_many(&f, b"live", 100);
    f.k(KeyspaceWrite::Del {
        keys: vec![b"deleted".to_vec()],
    })
    .unwrap();
    f.set(b"overwritten", b"now a string");
    f.k(KeyspaceWrite::Expire {
        key: b"expired".to_vec(),
        at_ms: T0_MS as i64 + 5,
        cond: ExpireCond::Always,
    })
    .unwrap();
    f.advance_ms(10);
    f.k(KeyspaceWrite::DeleteExpired {
        keys: vec![b"expired".to_vec()],
    })
    .unwrap();
    assert_eq!(sub_keys_of(&f, &f.shard, b"deleted"), 1000);
    compact(&f, &f.shard);
    assert_eq!(sub_keys_of(&f, &f.shard, b"deleted"), 0);
    assert_eq!(sub_keys_of(&f, &f.shard, b"overwritten"), 0);
    assert_eq!(sub_keys_of(&f, &f.shard, b"expired"), 0);
    assert_eq!(sub_keys_of(&f, &f.shard, b"live"), 100);
    let len = f
        .read(ReadOp::Hash(HashRead::Len {
            key: b"live".to_vec(),
        }))
        .unwrap();
    assert_eq!(len, Output::Int(100));
}

#[test]
fn compaction_spares_what_an_open_snapshot_can_see() {
    let f = Fixture::new();
    hset_many(&f, b"h", 50);
    f.shard.with_snapshot(f.now_ms.get(), |view| {
        f.k(KeyspaceWrite::Del {
            keys: vec![b"h".to_vec()],
        })
        .unwrap();
        compact(&f, &f.shard);
        // The snapshot still reads the whole hash.
        let all = ReadOp::Hash(HashRead::GetAll {
            key: b"h".to_vec(),
            part: HashPart::Keys,
        })
        .execute(view)
        .unwrap();
        let Output::Array(fields) = all else {
            panic!("{all:?}")
        };
        assert_eq!(fields.len(), 50);
    });
    assert_eq!(f.db.snapshots().open_count(), 0);
    compact(&f, &f.shard);
    assert_eq!(sub_keys_of(&f, &f.shard, b"h"), 0);
}

/// Type, value and TTL of `key` as `shard` sees it.
fn describe(shard: &ShardStore, now_ms: u64, key: &[u8]) -> (Output, Output, Output) {
    let read = |op: ReadOp| shard.read(now_ms, &op);
    let ty = read(ReadOp::Keyspace(KeyspaceRead::Type { key: key.to_vec() })).unwrap();
    let value = match ty {
        Output::Status("hash") => read(ReadOp::Hash(HashRead::GetAll {
            key: key.to_vec(),
            part: HashPart::All,
        }))
        .unwrap(),
        _ => read(ReadOp::String(StringRead::Get { key: key.to_vec() })).unwrap_or(Output::Nil),
    };
    let ttl = read(ReadOp::Keyspace(KeyspaceRead::Ttl {
        key: key.to_vec(),
        kind: TtlKind::Millis,
    }))
    .unwrap();
    (ty, value, ttl)
}

#[test]
fn export_import_and_delete_a_slot_range() {
    let f = Fixture::new();
    let mut keys_all = Vec::new();
    for i in 0..300 {
        let key = format!("key:{i}").into_bytes();
        if i % 3 == 0 {
            hset_many(&f, &key, 1 + i % 7);
        } else {
            f.set(&key, format!("value-{i}").as_bytes());
        }
        if i % 10 == 0 {
            f.k(KeyspaceWrite::Expire {
                key: key.clone(),
                at_ms: T0_MS as i64 + 3_600_000,
                cond: ExpireCond::Always,
            })
            .unwrap();
        }
        keys_all.push(key);
    }
    let range = SlotRange {
        first: 0,
        last: 8191,
    };
    let in_range = |k: &[u8]| storage::engine::slot_of(k) <= 8191;
    let dest = f.other_shard(2);
    let mut chunks = 0;
    f.shard.with_snapshot(f.now_ms.get(), |view| {
        // Small chunks so the range spans many.
        export_range(view, range, 512, &mut |chunk| {
            assert!(chunk.bytes() <= 512 || chunk.records.len() == 1);
            dest.import_chunk(&chunk)?;
            chunks += 1;
            Ok(true)
        })
        .unwrap();
        // Resuming from a position gives the same records as the stream.
        let first = export_chunk(view, range, None, 512).unwrap();
        let second = export_chunk(view, range, first.next.as_deref(), 512).unwrap();
        assert!(second.records[0].0 > first.records.last().unwrap().0);
    });
    assert!(chunks > 10, "chunks: {chunks}");
    // Imported hashes raised the destination's version floor.
    assert!(dest.state().last_version > 0);
    let read_all = |shard: &ShardStore, key: &[u8]| describe(shard, f.now_ms.get(), key);
    for key in &keys_all {
        let src = read_all(&f.shard, key);
        let dst = read_all(&dest, key);
        if in_range(key) {
            assert_eq!(src, dst, "{}", String::from_utf8_lossy(key));
        } else {
            assert_eq!(dst.0, Output::Status("none"));
        }
    }
    f.shard.delete_slot_range(range).unwrap();
    for key in &keys_all {
        let exists = read_all(&f.shard, key).0 != Output::Status("none");
        assert_eq!(exists, !in_range(key), "{}", String::from_utf8_lossy(key));
    }
}

#[test]
fn close_releases_the_directory_for_a_reopen() {
    let f = Fixture::new();
    hset_many(&f, b"h", 200);
    f.k(KeyspaceWrite::Del {
        keys: vec![b"h".to_vec()],
    })
    .unwrap();
    f.set(b"kept", b"v");
    compact(&f, &f.shard);
    let Fixture { dir, db, shard, .. } = f;
    drop(shard);
    assert!(storage::Db::close(db, std::time::Duration::from_secs(10)).is_ok());
    let db = storage::Db::open(dir.path(), &storage::StorageConfig::default()).unwrap();
    let shard = db.shard(1).unwrap();
    let get = ReadOp::String(StringRead::Get {
        key: b"kept".to_vec(),
    });
    assert_eq!(
        shard.read(T0_MS, &get).unwrap(),
        Output::Bulk(b"v".to_vec())
    );
    assert_eq!(shard.state().applied_index, 3);
}

/// Readers on snapshots always see whole collections while a writer deletes and recreates them
/// and compactions run concurrently. Bounded by `STRESS_MS`.
#[test]
fn concurrent_compaction_never_tears_a_snapshot_read() {
    const STRESS_MS: u64 = 1500;
    let f = Fixture::new();
    let (db, shard) = (&f.db, &f.shard);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(STRESS_MS);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut index = 1_000u64;
            while std::time::Instant::now() < deadline {
                for key in [&b"h1"[..], b"h2", b"h3"] {
                    let pairs = (0..50)
                        .map(|i| (format!("f{i}").into_bytes(), vec![b'v'; 32]))
                        .collect();
                    let set = WriteOp::Hash(HashWrite::Set {
                        key: key.to_vec(),
                        pairs,
                        reply_ok: false,
                    });
                    let del = WriteOp::Keyspace(KeyspaceWrite::Del {
                        keys: vec![key.to_vec()],
                    });
                    for op in [del, set] {
                        index += 1;
                        let entry = storage::WriteEntry {
                            now_ms: T0_MS + index,
                            ops: vec![op],
                        };
                        shard.apply(index, &entry).unwrap();
                    }
                }
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let cf = db.cf(shard.cf_name()).unwrap();
                db.rocks()
                    .compact_range_cf(&cf, None::<&[u8]>, None::<&[u8]>);
            }
        });
        for _ in 0..2 {
            s.spawn(|| {
                let mut reads = 0u64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    shard.with_snapshot(T0_MS + 1_000_000, |view| {
                        for key in [&b"h1"[..], b"h2", b"h3"] {
                            let len = ReadOp::Hash(HashRead::Len { key: key.to_vec() })
                                .execute(view)
                                .unwrap();
                            let all = ReadOp::Hash(HashRead::GetAll {
                                key: key.to_vec(),
                                part: HashPart::Keys,
                            });
                            let Output::Array(fields) = all.execute(view).unwrap() else {
                                panic!()
                            };
                            assert_eq!(
                                len,
                                Output::Int(fields.len() as i64),
                                "torn read of {key:?}"
                            );
                        }
                    });
                    reads += 1;
                }
                assert!(reads > 0);
            });
        }
    });
}
