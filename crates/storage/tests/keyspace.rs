//! Keyspace executors against a real RocksDB.

#![allow(clippy::unwrap_used)] // Tests may unwrap (team rule); helpers outside #[test] too.

mod common;

use std::collections::BTreeSet;

use common::{bulk, Fixture, T0_MS};
use storage::types::hash::{HashPart, HashRead, HashWrite};
use storage::types::keyspace::{
    scan_cursor_slot, ExpireCond, KeyspaceRead, KeyspaceWrite, TtlKind,
};
use storage::types::string::{ExpiryChange, SetCond, StringWrite};
use storage::{ExecError, Output, ReadOp, WriteOp};

fn keys(ks: &[&[u8]]) -> Vec<Vec<u8>> {
    ks.iter().map(|k| k.to_vec()).collect()
}

fn int(out: Output) -> i64 {
    match out {
        Output::Int(n) => n,
        other => panic!("not an int: {other:?}"),
    }
}

fn ttl(f: &Fixture, key: &[u8], kind: TtlKind) -> i64 {
    int(f
        .kr(KeyspaceRead::Ttl {
            key: key.to_vec(),
            kind,
        })
        .unwrap())
}

fn expire(f: &Fixture, key: &[u8], at_ms: i64, cond: ExpireCond) -> i64 {
    int(f
        .k(KeyspaceWrite::Expire {
            key: key.to_vec(),
            at_ms,
            cond,
        })
        .unwrap())
}

fn hset(f: &Fixture, key: &[u8], pairs: &[(&[u8], &[u8])]) {
    let pairs = pairs
        .iter()
        .map(|(a, b)| (a.to_vec(), b.to_vec()))
        .collect();
    f.write(WriteOp::Hash(HashWrite::Set {
        key: key.to_vec(),
        pairs,
        reply_ok: false,
    }))
    .unwrap();
}

fn hgetall(f: &Fixture, key: &[u8]) -> Output {
    f.read(ReadOp::Hash(HashRead::GetAll {
        key: key.to_vec(),
        part: HashPart::All,
    }))
    .unwrap()
}

fn sorted_keys(out: Output) -> Vec<Vec<u8>> {
    let Output::Array(items) = out else {
        panic!("{out:?}")
    };
    let mut v: Vec<Vec<u8>> = items
        .into_iter()
        .map(|o| match o {
            Output::Bulk(b) => b,
            other => panic!("{other:?}"),
        })
        .collect();
    v.sort();
    v
}

#[test]
fn del_exists_type() {
    let f = Fixture::new();
    f.set(b"a", b"1");
    hset(&f, b"h", &[(b"f", b"v")]);
    assert_eq!(
        int(f
            .kr(KeyspaceRead::Exists {
                keys: keys(&[b"a", b"a", b"h", b"x"])
            })
            .unwrap()),
        3
    );
    assert_eq!(
        f.kr(KeyspaceRead::Type { key: b"h".to_vec() }).unwrap(),
        Output::Status("hash")
    );
    assert_eq!(
        f.kr(KeyspaceRead::Type { key: b"a".to_vec() }).unwrap(),
        Output::Status("string")
    );
    assert_eq!(
        f.kr(KeyspaceRead::Type { key: b"x".to_vec() }).unwrap(),
        Output::Status("none")
    );
    assert_eq!(
        int(f
            .k(KeyspaceWrite::Del {
                keys: keys(&[b"a", b"a", b"h", b"x"])
            })
            .unwrap()),
        2
    );
    assert_eq!(int(f.kr(KeyspaceRead::DbSize).unwrap()), 0);
    // A recreated hash does not see its predecessor's fields.
    hset(&f, b"h", &[(b"g", b"w")]);
    assert_eq!(
        hgetall(&f, b"h"),
        Output::Map(vec![(bulk(b"g"), bulk(b"w"))])
    );
}

#[test]
fn expire_conditions_and_ttls() {
    let f = Fixture::new();
    let now = T0_MS as i64;
    assert_eq!(expire(&f, b"k", now + 1000, ExpireCond::Always), 0);
    f.set(b"k", b"v");
    assert_eq!(ttl(&f, b"k", TtlKind::Seconds), -1);
    assert_eq!(ttl(&f, b"none", TtlKind::Seconds), -2);
    assert_eq!(expire(&f, b"k", now + 1000, ExpireCond::HasExpiry), 0);
    assert_eq!(expire(&f, b"k", now + 1000, ExpireCond::Later), 0);
    assert_eq!(expire(&f, b"k", now + 5000, ExpireCond::Earlier), 1);
    assert_eq!(expire(&f, b"k", now + 9000, ExpireCond::NoExpiry), 0);
    assert_eq!(expire(&f, b"k", now + 9000, ExpireCond::Earlier), 0);
    assert_eq!(expire(&f, b"k", now + 9000, ExpireCond::Later), 1);
    assert_eq!(
        expire(&f, b"k", now + 2000, ExpireCond::EarlierWithExpiry),
        1
    );
    assert_eq!(ttl(&f, b"k", TtlKind::Millis), 2000);
    assert_eq!(ttl(&f, b"k", TtlKind::Seconds), 2);
    assert_eq!(ttl(&f, b"k", TtlKind::AtMillis), now + 2000);
    assert_eq!(ttl(&f, b"k", TtlKind::AtSeconds), (now + 2000 + 500) / 1000);
    f.advance_ms(1499);
    assert_eq!(ttl(&f, b"k", TtlKind::Seconds), 1);
    assert_eq!(
        int(f.k(KeyspaceWrite::Persist { key: b"k".to_vec() }).unwrap()),
        1
    );
    assert_eq!(
        int(f.k(KeyspaceWrite::Persist { key: b"k".to_vec() }).unwrap()),
        0
    );
    assert_eq!(ttl(&f, b"k", TtlKind::Millis), -1);
    // A time in the past deletes the key and replies 1.
    assert_eq!(expire(&f, b"k", -5, ExpireCond::Always), 1);
    assert_eq!(
        int(f
            .kr(KeyspaceRead::Exists {
                keys: keys(&[b"k"])
            })
            .unwrap()),
        0
    );
}

#[test]
fn expired_keys_are_invisible_everywhere() {
    let f = Fixture::new();
    f.set(b"live", b"1");
    let op = StringWrite::Set {
        key: b"dying".to_vec(),
        value: b"1".to_vec(),
        cond: SetCond::Always,
        expiry: ExpiryChange::At(T0_MS + 10),
        get: false,
    };
    f.s(op).unwrap();
    hset(&f, b"h", &[(b"f", b"v")]);
    expire(&f, b"h", T0_MS as i64 + 10, ExpireCond::Always);
    assert_eq!(int(f.kr(KeyspaceRead::DbSize).unwrap()), 3);
    f.advance_ms(10);
    assert_eq!(int(f.kr(KeyspaceRead::DbSize).unwrap()), 1);
    assert_eq!(
        sorted_keys(
            f.kr(KeyspaceRead::Keys {
                pattern: b"*".to_vec()
            })
            .unwrap()
        ),
        keys(&[b"live"])
    );
    assert_eq!(
        int(f
            .kr(KeyspaceRead::Exists {
                keys: keys(&[b"dying", b"h"])
            })
            .unwrap()),
        0
    );
    assert_eq!(
        f.kr(KeyspaceRead::Type { key: b"h".to_vec() }).unwrap(),
        Output::Status("none")
    );
    assert_eq!(
        f.kr(KeyspaceRead::RandomKey { seed: 7 }).unwrap(),
        bulk(b"live")
    );
    let scan = f
        .kr(KeyspaceRead::Scan {
            cursor: 0,
            pattern: None,
            count: 100,
            type_name: None,
        })
        .unwrap();
    assert_eq!(
        scan,
        Output::Array(vec![bulk(b"0"), Output::Array(vec![bulk(b"live")])])
    );
    // Active expiry: sample, then delete what is still expired.
    let sample = f
        .kr(KeyspaceRead::SampleExpired {
            cursor: 0,
            visit_max: 100,
            count_max: 10,
        })
        .unwrap();
    let Output::Array(parts) = sample else {
        panic!()
    };
    assert_eq!(parts[0], bulk(b"0"));
    let found = sorted_keys(parts[1].clone());
    assert_eq!(found, keys(&[b"dying", b"h"]));
    // Recreate "h" before the delete is applied: it must survive.
    hset(&f, b"h", &[(b"x", b"y")]);
    assert_eq!(
        int(f.k(KeyspaceWrite::DeleteExpired { keys: found }).unwrap()),
        1
    );
    assert_eq!(
        hgetall(&f, b"h"),
        Output::Map(vec![(bulk(b"x"), bulk(b"y"))])
    );
}

#[test]
fn rename_and_copy() {
    let f = Fixture::new();
    assert!(matches!(
        f.k(KeyspaceWrite::Rename {
            src: b"no".to_vec(),
            dst: b"x".to_vec(),
            nx: false
        }),
        Err(ExecError::NoSuchKey)
    ));
    hset(&f, b"h", &[(b"a", b"1"), (b"b", b"2")]);
    expire(&f, b"h", T0_MS as i64 + 60_000, ExpireCond::Always);
    f.set(b"s", b"v");
    let rename = |s: &[u8], d: &[u8], nx| {
        f.k(KeyspaceWrite::Rename {
            src: s.to_vec(),
            dst: d.to_vec(),
            nx,
        })
        .unwrap()
    };
    assert_eq!(rename(b"h", b"h", false), Output::Ok);
    assert_eq!(rename(b"h", b"h", true), Output::Int(0));
    assert_eq!(rename(b"h", b"s", true), Output::Int(0));
    assert_eq!(rename(b"h", b"s", false), Output::Ok);
    assert_eq!(
        hgetall(&f, b"s").clone(),
        Output::Map(vec![(bulk(b"a"), bulk(b"1")), (bulk(b"b"), bulk(b"2"))])
    );
    assert_eq!(ttl(&f, b"s", TtlKind::Millis), 60_000);
    assert_eq!(
        int(f
            .kr(KeyspaceRead::Exists {
                keys: keys(&[b"h"])
            })
            .unwrap()),
        0
    );
    // COPY of a collection is independent of its source.
    let copy = |s: &[u8], d: &[u8], replace| {
        f.k(KeyspaceWrite::Copy {
            src: s.to_vec(),
            dst: d.to_vec(),
            replace,
        })
        .unwrap()
    };
    assert_eq!(copy(b"s", b"c", false), Output::Int(1));
    hset(&f, b"s", &[(b"a", b"changed")]);
    assert_eq!(
        hgetall(&f, b"c"),
        Output::Map(vec![(bulk(b"a"), bulk(b"1")), (bulk(b"b"), bulk(b"2"))])
    );
    f.set(b"str", b"x");
    assert_eq!(copy(b"str", b"c", false), Output::Int(0));
    assert_eq!(copy(b"str", b"c", true), Output::Int(1));
    assert_eq!(f.get(b"c"), bulk(b"x"));
    assert_eq!(copy(b"missing", b"c", true), Output::Int(0));
}

#[test]
fn flush_removes_everything() {
    let f = Fixture::new();
    for i in 0..50 {
        f.set(format!("k{i}").as_bytes(), b"v");
    }
    hset(&f, b"h", &[(b"f", b"v")]);
    assert_eq!(f.k(KeyspaceWrite::FlushAll).unwrap(), Output::Ok);
    assert_eq!(int(f.kr(KeyspaceRead::DbSize).unwrap()), 0);
    assert!(f
        .raw_records(&f.shard)
        .iter()
        .all(|(k, _)| storage::keys::is_shard_local(k)));
    assert_eq!(
        f.kr(KeyspaceRead::RandomKey { seed: 1 }).unwrap(),
        Output::Nil
    );
}

#[test]
fn keys_glob() {
    let f = Fixture::new();
    for k in [&b"user:1"[..], b"user:2", b"admin", b"u"] {
        f.set(k, b"v");
    }
    let got = sorted_keys(
        f.kr(KeyspaceRead::Keys {
            pattern: b"user:*".to_vec(),
        })
        .unwrap(),
    );
    assert_eq!(got, keys(&[b"user:1", b"user:2"]));
    let got = sorted_keys(
        f.kr(KeyspaceRead::Keys {
            pattern: b"u*".to_vec(),
        })
        .unwrap(),
    );
    assert_eq!(got, keys(&[b"u", b"user:1", b"user:2"]));
}

/// Runs a full SCAN iteration and returns every key seen (with repeats) and the number of pages.
fn scan_all(
    f: &Fixture,
    count: u64,
    type_name: Option<&[u8]>,
    between: &mut dyn FnMut(usize),
) -> (Vec<Vec<u8>>, usize) {
    let mut cursor = 0u64;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let op = KeyspaceRead::Scan {
            cursor,
            pattern: None,
            count,
            type_name: type_name.map(<[u8]>::to_vec),
        };
        let Output::Array(parts) = f.kr(op).unwrap() else {
            panic!()
        };
        let Output::Bulk(c) = &parts[0] else { panic!() };
        let next: u64 = std::str::from_utf8(c).unwrap().parse().unwrap();
        assert!(
            next == 0 || next > cursor,
            "cursors increase: {cursor} -> {next}"
        );
        assert!(scan_cursor_slot(next) < 0x4000);
        seen.extend(sorted_keys(parts[1].clone()));
        pages += 1;
        between(pages);
        assert!(pages < 100_000, "scan does not terminate");
        if next == 0 {
            return (seen, pages);
        }
        cursor = next;
    }
}

#[test]
fn scan_returns_every_stable_key_despite_churn() {
    let f = Fixture::new();
    let stable: BTreeSet<Vec<u8>> = (0..2000)
        .map(|i| format!("user:{i:05}").into_bytes())
        .collect();
    for k in &stable {
        f.set(k, b"v");
    }
    // Keys with shared long prefixes and the same hash tag land in one slot.
    for i in 0..300 {
        f.set(format!("{{tag}}:session:{i}").as_bytes(), b"v");
    }
    let mut churn = 0;
    let (seen, pages) = scan_all(&f, 10, None, &mut |page| {
        // Add and delete other keys while iterating.
        churn += 1;
        f.set(format!("tmp:{page}").as_bytes(), b"v");
        if page > 2 {
            f.k(KeyspaceWrite::Del {
                keys: vec![format!("tmp:{}", page - 2).into_bytes()],
            })
            .unwrap();
        }
    });
    let seen: BTreeSet<Vec<u8>> = seen.into_iter().collect();
    assert!(stable.is_subset(&seen));
    assert!(pages > 10, "pages: {pages}");
    // TYPE filter.
    hset(&f, b"h1", &[(b"f", b"v")]);
    let (hashes, _) = scan_all(&f, 50, Some(b"hash"), &mut |_| {});
    assert_eq!(hashes, keys(&[b"h1"]));
}
