//! String executors against a real RocksDB.

#![allow(clippy::unwrap_used)] // Tests may unwrap (team rule); helpers outside #[test] too.

mod common;

use common::{bulk, Fixture, T0_MS};
use storage::types::keyspace::{KeyspaceRead, TtlKind};
use storage::types::string::{ExpiryChange, SetCond, StringRead, StringWrite};
use storage::{ExecError, Output};

fn set_op(key: &[u8], value: &[u8], cond: SetCond, expiry: ExpiryChange, get: bool) -> StringWrite {
    StringWrite::Set {
        key: key.to_vec(),
        value: value.to_vec(),
        cond,
        expiry,
        get,
    }
}

fn pttl(f: &Fixture, key: &[u8]) -> i64 {
    match f
        .kr(KeyspaceRead::Ttl {
            key: key.to_vec(),
            kind: TtlKind::Millis,
        })
        .unwrap()
    {
        Output::Int(n) => n,
        other => panic!("{other:?}"),
    }
}

fn make_hash(f: &Fixture, key: &[u8]) {
    use storage::types::hash::HashWrite;
    let op = HashWrite::Set {
        key: key.to_vec(),
        pairs: vec![(b"f".to_vec(), b"v".to_vec())],
        reply_ok: false,
    };
    f.write(storage::WriteOp::Hash(op)).unwrap();
}

#[test]
fn set_get_and_conditions() {
    let f = Fixture::new();
    assert_eq!(f.get(b"k"), Output::Nil);
    f.set(b"k", b"v1");
    assert_eq!(f.get(b"k"), bulk(b"v1"));
    assert_eq!(
        f.s(set_op(
            b"k",
            b"v2",
            SetCond::IfMissing,
            ExpiryChange::Clear,
            false
        ))
        .unwrap(),
        Output::Nil
    );
    assert_eq!(
        f.s(set_op(
            b"x",
            b"v2",
            SetCond::IfExists,
            ExpiryChange::Clear,
            false
        ))
        .unwrap(),
        Output::Nil
    );
    assert_eq!(f.get(b"x"), Output::Nil);
    assert_eq!(
        f.s(set_op(
            b"k",
            b"v3",
            SetCond::IfExists,
            ExpiryChange::Clear,
            true
        ))
        .unwrap(),
        bulk(b"v1")
    );
    assert_eq!(f.get(b"k"), bulk(b"v3"));
    // NX with GET replies the old value and does not write.
    assert_eq!(
        f.s(set_op(
            b"k",
            b"v4",
            SetCond::IfMissing,
            ExpiryChange::Clear,
            true
        ))
        .unwrap(),
        bulk(b"v3")
    );
    assert_eq!(f.get(b"k"), bulk(b"v3"));
}

#[test]
fn set_over_other_types() {
    let f = Fixture::new();
    make_hash(&f, b"h");
    let err = f
        .s(set_op(
            b"h",
            b"v",
            SetCond::Always,
            ExpiryChange::Clear,
            true,
        ))
        .unwrap_err();
    assert!(matches!(err, ExecError::WrongType));
    assert!(matches!(
        f.sr(StringRead::Get { key: b"h".to_vec() }),
        Err(ExecError::WrongType)
    ));
    f.set(b"h", b"v");
    assert_eq!(f.get(b"h"), bulk(b"v"));
    // MGET replies nil for keys of other types.
    make_hash(&f, b"h2");
    let out = f
        .sr(StringRead::MGet {
            keys: vec![b"h".to_vec(), b"h2".to_vec(), b"nope".to_vec()],
        })
        .unwrap();
    assert_eq!(
        out,
        Output::Array(vec![bulk(b"v"), Output::Nil, Output::Nil])
    );
}

#[test]
fn expiry_options() {
    let f = Fixture::new();
    f.s(set_op(
        b"k",
        b"v",
        SetCond::Always,
        ExpiryChange::At(T0_MS + 10_000),
        false,
    ))
    .unwrap();
    assert_eq!(pttl(&f, b"k"), 10_000);
    f.s(set_op(
        b"k",
        b"v2",
        SetCond::Always,
        ExpiryChange::Keep,
        false,
    ))
    .unwrap();
    assert_eq!(pttl(&f, b"k"), 10_000);
    f.set(b"k", b"v3");
    assert_eq!(pttl(&f, b"k"), -1);
    // An absolute time in the past deletes the key.
    f.s(set_op(
        b"k",
        b"v",
        SetCond::Always,
        ExpiryChange::At(T0_MS - 1),
        false,
    ))
    .unwrap();
    assert_eq!(f.get(b"k"), Output::Nil);
    // Expired keys vanish once time passes.
    f.s(set_op(
        b"t",
        b"v",
        SetCond::Always,
        ExpiryChange::At(T0_MS + 100),
        false,
    ))
    .unwrap();
    f.advance_ms(99);
    assert_eq!(f.get(b"t"), bulk(b"v"));
    f.advance_ms(1);
    assert_eq!(f.get(b"t"), Output::Nil);
    // NX on an expired key succeeds.
    assert_eq!(
        f.s(set_op(
            b"t",
            b"w",
            SetCond::IfMissing,
            ExpiryChange::Clear,
            false
        ))
        .unwrap(),
        Output::Ok
    );
}

#[test]
fn getex_getdel() {
    let f = Fixture::new();
    f.set(b"k", b"v");
    let op = StringWrite::GetEx {
        key: b"k".to_vec(),
        expiry: ExpiryChange::At(T0_MS + 5_000),
    };
    assert_eq!(f.s(op).unwrap(), bulk(b"v"));
    assert_eq!(pttl(&f, b"k"), 5_000);
    assert_eq!(
        f.s(StringWrite::GetEx {
            key: b"k".to_vec(),
            expiry: ExpiryChange::Clear
        })
        .unwrap(),
        bulk(b"v")
    );
    assert_eq!(pttl(&f, b"k"), -1);
    assert_eq!(
        f.s(StringWrite::GetEx {
            key: b"no".to_vec(),
            expiry: ExpiryChange::Clear
        })
        .unwrap(),
        Output::Nil
    );
    assert_eq!(
        f.s(StringWrite::GetDel { key: b"k".to_vec() }).unwrap(),
        bulk(b"v")
    );
    assert_eq!(f.get(b"k"), Output::Nil);
    assert_eq!(
        f.s(StringWrite::GetDel { key: b"k".to_vec() }).unwrap(),
        Output::Nil
    );
    make_hash(&f, b"h");
    assert!(matches!(
        f.s(StringWrite::GetDel { key: b"h".to_vec() }),
        Err(ExecError::WrongType)
    ));
}

#[test]
fn mset_and_msetnx() {
    let f = Fixture::new();
    let pairs = |p: &[(&[u8], &[u8])]| {
        p.iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect::<Vec<_>>()
    };
    let op = StringWrite::MSet {
        pairs: pairs(&[(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]),
        nx: false,
    };
    assert_eq!(f.s(op).unwrap(), Output::Ok);
    assert_eq!(f.get(b"a"), bulk(b"3"));
    let op = StringWrite::MSet {
        pairs: pairs(&[(b"c", b"1"), (b"b", b"9")]),
        nx: true,
    };
    assert_eq!(f.s(op).unwrap(), Output::Int(0));
    assert_eq!(f.get(b"c"), Output::Nil);
    let op = StringWrite::MSet {
        pairs: pairs(&[(b"c", b"1"), (b"d", b"2")]),
        nx: true,
    };
    assert_eq!(f.s(op).unwrap(), Output::Int(1));
    assert_eq!(f.get(b"d"), bulk(b"2"));
}

#[test]
fn append_strlen_and_limits() {
    let f = Fixture::new();
    let append = |v: &[u8], max: u64| StringWrite::Append {
        key: b"k".to_vec(),
        value: v.to_vec(),
        bulk_len_max: max,
    };
    assert_eq!(f.s(append(b"ab", 10)).unwrap(), Output::Int(2));
    assert_eq!(f.s(append(b"cd", 10)).unwrap(), Output::Int(4));
    assert!(matches!(
        f.s(append(b"0123456", 10)),
        Err(ExecError::StringTooLong)
    ));
    assert_eq!(f.get(b"k"), bulk(b"abcd"));
    assert_eq!(
        f.sr(StringRead::StrLen { key: b"k".to_vec() }).unwrap(),
        Output::Int(4)
    );
    assert_eq!(
        f.sr(StringRead::StrLen {
            key: b"no".to_vec()
        })
        .unwrap(),
        Output::Int(0)
    );
}

#[test]
fn incr_family() {
    let f = Fixture::new();
    let incr = |d: i64| StringWrite::IncrBy {
        key: b"n".to_vec(),
        delta: d,
    };
    assert_eq!(f.s(incr(1)).unwrap(), Output::Int(1));
    assert_eq!(f.s(incr(-11)).unwrap(), Output::Int(-10));
    f.set(b"n", &i64::MAX.to_string().into_bytes());
    assert!(matches!(f.s(incr(1)), Err(ExecError::Overflow)));
    f.set(b"n", b" 1");
    assert!(matches!(f.s(incr(1)), Err(ExecError::NotInteger)));
    // INCR keeps the TTL.
    f.s(set_op(
        b"n",
        b"5",
        SetCond::Always,
        ExpiryChange::At(T0_MS + 1000),
        false,
    ))
    .unwrap();
    assert_eq!(f.s(incr(1)).unwrap(), Output::Int(6));
    assert_eq!(pttl(&f, b"n"), 1000);
    let fl = |d: f64| StringWrite::IncrByFloat {
        key: b"f".to_vec(),
        delta: d,
    };
    assert_eq!(f.s(fl(10.5)).unwrap(), bulk(b"10.5"));
    assert_eq!(f.s(fl(0.1)).unwrap(), bulk(b"10.6"));
    f.set(b"f", b"5.0e3");
    assert_eq!(f.s(fl(200.0)).unwrap(), bulk(b"5200"));
    assert!(matches!(
        f.s(fl(f64::INFINITY)),
        Err(ExecError::NanOrInfinity)
    ));
    f.set(b"f", b"abc");
    assert!(matches!(f.s(fl(1.0)), Err(ExecError::NotFloat)));
}

#[test]
fn ranges() {
    let f = Fixture::new();
    let setrange = |o: u64, v: &[u8], max: u64| StringWrite::SetRange {
        key: b"k".to_vec(),
        offset: o,
        value: v.to_vec(),
        bulk_len_max: max,
    };
    assert_eq!(f.s(setrange(0, b"", 100)).unwrap(), Output::Int(0));
    assert_eq!(f.get(b"k"), Output::Nil);
    assert_eq!(f.s(setrange(3, b"ab", 100)).unwrap(), Output::Int(5));
    assert_eq!(f.get(b"k"), bulk(b"\0\0\0ab"));
    assert_eq!(f.s(setrange(0, b"xyz", 100)).unwrap(), Output::Int(5));
    assert_eq!(f.get(b"k"), bulk(b"xyzab"));
    assert_eq!(f.s(setrange(0, b"", 100)).unwrap(), Output::Int(5));
    assert!(matches!(
        f.s(setrange(99, b"ab", 100)),
        Err(ExecError::StringTooLong)
    ));
    let getrange = |s: i64, e: i64| {
        f.sr(StringRead::GetRange {
            key: b"k".to_vec(),
            start: s,
            end: e,
        })
        .unwrap()
    };
    assert_eq!(getrange(1, 2), bulk(b"yz"));
    assert_eq!(getrange(-2, -1), bulk(b"ab"));
    assert_eq!(getrange(4, 1), bulk(b""));
    let missing = f
        .sr(StringRead::GetRange {
            key: b"none".to_vec(),
            start: 0,
            end: -1,
        })
        .unwrap();
    assert_eq!(missing, bulk(b""));
}

#[test]
fn binary_safe_keys_and_values() {
    let f = Fixture::new();
    let all: Vec<u8> = (0..=255u8).collect();
    f.set(b"", &all);
    f.set(&all, b"");
    assert_eq!(f.get(b""), Output::Bulk(all.clone()));
    assert_eq!(f.get(&all), bulk(b""));
}

/// A result known before apply (answered at commit) must be the result apply gives, whatever
/// the key held; ops whose reply reads the data have none.
#[test]
fn results_known_before_apply_match_what_apply_returns() {
    use storage::WriteOp;
    let f = Fixture::new();
    let past = ExpiryChange::At(T0_MS - 1);
    let future = ExpiryChange::At(T0_MS + 60_000);
    let blind = [
        set_op(b"k", b"v", SetCond::Always, ExpiryChange::Clear, false),
        set_op(b"k", b"v", SetCond::Always, future, false),
        set_op(b"k", b"v", SetCond::Always, past, false),
        StringWrite::MSet {
            pairs: vec![
                (b"k".to_vec(), b"1".to_vec()),
                (b"j".to_vec(), b"2".to_vec()),
            ],
            nx: false,
        },
    ];
    let reading = [
        set_op(b"k", b"v", SetCond::IfMissing, ExpiryChange::Clear, false),
        set_op(b"k", b"v", SetCond::IfExists, ExpiryChange::Clear, false),
        set_op(b"k", b"v", SetCond::Always, ExpiryChange::Keep, false),
        set_op(b"k", b"v", SetCond::Always, ExpiryChange::Clear, true),
        StringWrite::MSet {
            pairs: vec![(b"k".to_vec(), b"1".to_vec())],
            nx: true,
        },
        StringWrite::IncrBy {
            key: b"k".to_vec(),
            delta: 1,
        },
    ];
    for op in reading {
        let known = WriteOp::String(op.clone()).result_without_state();
        assert!(known.is_none(), "{op:?}");
    }
    // Each blind op over each prior state of `k`: absent, a string, an expiring string, a hash.
    for op in blind {
        let known = WriteOp::String(op.clone()).result_without_state();
        let Some(Ok(known)) = known else {
            panic!("{op:?}: {known:?}")
        };
        for prior in 0..4 {
            let del = storage::types::keyspace::KeyspaceWrite::Del {
                keys: vec![b"k".to_vec()],
            };
            f.k(del).unwrap();
            match prior {
                0 => {}
                1 => f.set(b"k", b"old"),
                2 => {
                    let op = set_op(b"k", b"old", SetCond::Always, future, false);
                    f.s(op).unwrap();
                }
                _ => make_hash(&f, b"k"),
            }
            let applied = f.s(op.clone()).unwrap();
            assert_eq!(applied, known, "{op:?} over prior state {prior}");
        }
    }
}
