use super::*;
use crate::types::collection::testkit::TestShard;

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn bulk(s: &str) -> Output {
    Output::Bulk(b(s))
}

fn hset(shard: &mut TestShard, key: &str, pairs: &[(&str, &str)]) -> ExecResult {
    let pairs = pairs.iter().map(|(f, v)| (b(f), b(v))).collect();
    shard.write(HashWrite::Set {
        key: b(key),
        pairs,
        reply_ok: false,
    })
}

fn hget(shard: &TestShard, key: &str, field: &str) -> Output {
    shard
        .read(HashRead::Get {
            key: b(key),
            field: b(field),
        })
        .unwrap()
}

#[test]
fn set_get_len_del() {
    let mut s = TestShard::new();
    assert_eq!(
        hset(&mut s, "h", &[("a", "1"), ("b", "2"), ("a", "3")]).unwrap(),
        Output::Int(2)
    );
    assert_eq!(hget(&s, "h", "a"), bulk("3"));
    assert_eq!(hget(&s, "h", "zz"), Output::Nil);
    assert_eq!(hget(&s, "nokey", "a"), Output::Nil);
    assert_eq!(
        s.read(HashRead::Len { key: b("h") }).unwrap(),
        Output::Int(2)
    );
    assert_eq!(
        hset(&mut s, "h", &[("a", "4"), ("c", "5")]).unwrap(),
        Output::Int(1)
    );
    let r = s.write(HashWrite::Set {
        key: b("h"),
        pairs: vec![(b("d"), b("6"))],
        reply_ok: true,
    });
    assert_eq!(r.unwrap(), Output::Ok);
    let r = s
        .read(HashRead::MGet {
            key: b("h"),
            fields: vec![b("a"), b("x"), b("d")],
        })
        .unwrap();
    assert_eq!(r, Output::Array(vec![bulk("4"), Output::Nil, bulk("6")]));
    let del = HashWrite::Del {
        key: b("h"),
        fields: vec![b("a"), b("a"), b("x")],
    };
    assert_eq!(s.write(del).unwrap(), Output::Int(1));
    assert_eq!(
        s.read(HashRead::Len { key: b("h") }).unwrap(),
        Output::Int(3)
    );
    let del = HashWrite::Del {
        key: b("h"),
        fields: vec![b("b"), b("c"), b("d")],
    };
    assert_eq!(s.write(del).unwrap(), Output::Int(3));
    // The emptied hash is gone: no metadata left.
    assert!(s
        .store
        .with_snapshot(s.now_ms, |v| v.meta(b"h").unwrap())
        .is_none());
}

#[test]
fn exists_strlen_getall_keys_vals() {
    let mut s = TestShard::new();
    hset(&mut s, "h", &[("b", "22"), ("a", "1")]).unwrap();
    assert_eq!(
        s.read(HashRead::Exists {
            key: b("h"),
            field: b("a")
        })
        .unwrap(),
        Output::Int(1)
    );
    assert_eq!(
        s.read(HashRead::Exists {
            key: b("h"),
            field: b("q")
        })
        .unwrap(),
        Output::Int(0)
    );
    assert_eq!(
        s.read(HashRead::StrLen {
            key: b("h"),
            field: b("b")
        })
        .unwrap(),
        Output::Int(2)
    );
    assert_eq!(
        s.read(HashRead::StrLen {
            key: b("h"),
            field: b("q")
        })
        .unwrap(),
        Output::Int(0)
    );
    let all = s
        .read(HashRead::GetAll {
            key: b("h"),
            part: HashPart::All,
        })
        .unwrap();
    assert_eq!(
        all,
        Output::Map(vec![(bulk("a"), bulk("1")), (bulk("b"), bulk("22"))])
    );
    let keys = s
        .read(HashRead::GetAll {
            key: b("h"),
            part: HashPart::Keys,
        })
        .unwrap();
    assert_eq!(keys, Output::Array(vec![bulk("a"), bulk("b")]));
    let vals = s
        .read(HashRead::GetAll {
            key: b("h"),
            part: HashPart::Values,
        })
        .unwrap();
    assert_eq!(vals, Output::Array(vec![bulk("1"), bulk("22")]));
    let none = s
        .read(HashRead::GetAll {
            key: b("x"),
            part: HashPart::All,
        })
        .unwrap();
    assert_eq!(none, Output::Map(vec![]));
}

#[test]
fn setnx() {
    let mut s = TestShard::new();
    let op = |v: &str| HashWrite::SetNx {
        key: b("h"),
        field: b("f"),
        value: b(v),
    };
    assert_eq!(s.write(op("1")).unwrap(), Output::Int(1));
    assert_eq!(s.write(op("2")).unwrap(), Output::Int(0));
    assert_eq!(hget(&s, "h", "f"), bulk("1"));
}

#[test]
fn incr_by_and_float() {
    let mut s = TestShard::new();
    let incr = |by| HashWrite::IncrBy {
        key: b("h"),
        field: b("n"),
        by,
    };
    assert_eq!(s.write(incr(5)).unwrap(), Output::Int(5));
    assert_eq!(s.write(incr(-7)).unwrap(), Output::Int(-2));
    hset(
        &mut s,
        "h",
        &[("big", "9223372036854775807"), ("s", "abc"), ("f", "1.5")],
    )
    .unwrap();
    let over = s.write(HashWrite::IncrBy {
        key: b("h"),
        field: b("big"),
        by: 1,
    });
    assert!(matches!(over, Err(ExecError::Overflow)));
    let bad = s.write(HashWrite::IncrBy {
        key: b("h"),
        field: b("s"),
        by: 1,
    });
    assert!(matches!(bad, Err(ExecError::HashNotInteger)));
    let bad = s.write(HashWrite::IncrBy {
        key: b("h"),
        field: b("f"),
        by: 1,
    });
    assert!(matches!(bad, Err(ExecError::HashNotInteger)));
    let fl = |field: &str, by| HashWrite::IncrByFloat {
        key: b("h"),
        field: b(field),
        by,
    };
    assert_eq!(s.write(fl("f", 1.5)).unwrap(), bulk("3"));
    assert_eq!(s.write(fl("new", 0.1)).unwrap(), bulk("0.1"));
    assert_eq!(s.write(fl("n", 3e3)).unwrap(), bulk("2998"));
    assert!(matches!(
        s.write(fl("s", 1.0)),
        Err(ExecError::HashNotFloat)
    ));
    assert!(s.write(fl("f", f64::MAX)).is_ok());
    assert!(matches!(
        s.write(fl("f", f64::MAX)),
        Err(ExecError::NanOrInfinity)
    ));
    assert_eq!(
        s.read(HashRead::Len { key: b("h") }).unwrap(),
        Output::Int(5)
    );
}

#[test]
fn wrong_type_writes_nothing() {
    let mut s = TestShard::new();
    s.write(crate::types::set::SetWrite::Add {
        key: b("k"),
        members: vec![b("m")],
    })
    .unwrap();
    let before = s.raw();
    assert!(matches!(
        hset(&mut s, "k", &[("a", "1")]),
        Err(ExecError::WrongType)
    ));
    assert!(matches!(
        s.read(HashRead::Get {
            key: b("k"),
            field: b("a")
        }),
        Err(ExecError::WrongType)
    ));
    let after = s.raw();
    // Only the shard state (applied index) changed.
    assert_eq!(before.len(), after.len());
    assert_eq!(before[..before.len() - 1], after[..after.len() - 1]);
}

#[test]
fn stale_fields_invisible_after_recreate() {
    let mut s = TestShard::new();
    hset(&mut s, "h", &[("a", "1"), ("b", "2")]).unwrap();
    s.delete_key(b"h");
    assert_eq!(hget(&s, "h", "a"), Output::Nil);
    hset(&mut s, "h", &[("c", "3")]).unwrap();
    assert_eq!(hget(&s, "h", "a"), Output::Nil);
    let all = s
        .read(HashRead::GetAll {
            key: b("h"),
            part: HashPart::Keys,
        })
        .unwrap();
    assert_eq!(all, Output::Array(vec![bulk("c")]));
    assert_eq!(
        s.read(HashRead::Len { key: b("h") }).unwrap(),
        Output::Int(1)
    );
}

#[test]
fn randfield_counts() {
    let mut s = TestShard::new();
    let pairs: Vec<(String, String)> = (0..10)
        .map(|i| (format!("f{i}"), format!("v{i}")))
        .collect();
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(f, v)| (f.as_str(), v.as_str()))
        .collect();
    hset(&mut s, "h", &refs).unwrap();
    let rand = |count, with_values, seed| HashRead::RandField {
        key: b("h"),
        count,
        with_values,
        seed,
    };
    assert!(matches!(
        s.read(rand(None, false, 1)).unwrap(),
        Output::Bulk(_)
    ));
    let Output::Array(items) = s.read(rand(Some(5), false, 2)).unwrap() else {
        panic!()
    };
    let mut distinct = items.clone();
    distinct.dedup();
    assert_eq!(items.len(), 5);
    let Output::Array(items) = s.read(rand(Some(50), false, 2)).unwrap() else {
        panic!()
    };
    assert_eq!(items.len(), 10);
    let Output::Pairs(items) = s.read(rand(Some(-30), true, 3)).unwrap() else {
        panic!()
    };
    assert_eq!(items.len(), 30);
    for (f, v) in items {
        let (Output::Bulk(f), Output::Bulk(v)) = (f, v) else {
            panic!()
        };
        assert_eq!(f[1..], v[1..]);
    }
    assert_eq!(
        s.read(rand(Some(0), false, 3)).unwrap(),
        Output::Array(vec![])
    );
    let missing = HashRead::RandField {
        key: b("x"),
        count: None,
        with_values: false,
        seed: 1,
    };
    assert_eq!(s.read(missing).unwrap(), Output::Nil);
    let missing = HashRead::RandField {
        key: b("x"),
        count: Some(3),
        with_values: true,
        seed: 1,
    };
    assert_eq!(s.read(missing).unwrap(), Output::Array(vec![]));
    // Same seed, same answer.
    assert_eq!(
        s.read(rand(Some(-5), false, 9)).unwrap(),
        s.read(rand(Some(-5), false, 9)).unwrap()
    );
}

fn scan_all(s: &TestShard, key: &str, count: u64, pattern: Option<&str>) -> (Vec<Vec<u8>>, usize) {
    let mut cursor = 0;
    let mut seen = Vec::new();
    let mut calls = 0;
    loop {
        let args = ScanArgs {
            cursor,
            pattern: pattern.map(b),
            count,
        };
        let Output::Array(reply) = s.read(HashRead::Scan { key: b(key), args }).unwrap() else {
            panic!()
        };
        let [Output::Bulk(c), Output::Array(items)] = &reply[..] else {
            panic!()
        };
        for pair in items.chunks(2) {
            let Output::Bulk(f) = &pair[0] else { panic!() };
            seen.push(f.clone());
        }
        cursor = std::str::from_utf8(c).unwrap().parse().unwrap();
        calls += 1;
        if cursor == 0 {
            return (seen, calls);
        }
        assert!(calls < 10_000, "scan does not terminate");
    }
}

#[test]
fn scan_is_complete_and_terminates() {
    let mut s = TestShard::new();
    // Fields sharing long prefixes and fields of all-zero bytes exercise the cursor's edges.
    let mut fields: Vec<String> = (0..300).map(|i| format!("field:{i:06}")).collect();
    fields.extend((0..50).map(|i| format!("{i}")));
    fields.push("\0\0\0\0\0\0\0\0\0x".into());
    fields.push(String::new());
    let refs: Vec<(&str, &str)> = fields.iter().map(|f| (f.as_str(), "v")).collect();
    hset(&mut s, "h", &refs).unwrap();
    let (mut seen, calls) = scan_all(&s, "h", 10, None);
    assert!(calls > 3);
    seen.sort();
    seen.dedup();
    let mut expected: Vec<Vec<u8>> = fields.iter().map(|f| b(f)).collect();
    expected.sort();
    assert_eq!(seen, expected);
    let (seen, _) = scan_all(&s, "h", 7, Some("1*"));
    assert!(seen.iter().all(|f| f.starts_with(b"1")));
    assert_eq!(scan_all(&s, "missing", 10, None), (vec![], 1));
}

#[test]
fn binary_safe_fields_and_values() {
    let mut s = TestShard::new();
    let field = vec![0u8, 255, b'\r', b'\n'];
    let value = vec![255u8, 0];
    let op = HashWrite::Set {
        key: vec![0, 1],
        pairs: vec![(field.clone(), value.clone())],
        reply_ok: false,
    };
    assert_eq!(s.write(op).unwrap(), Output::Int(1));
    let got = s
        .read(HashRead::Get {
            key: vec![0, 1],
            field,
        })
        .unwrap();
    assert_eq!(got, Output::Bulk(value));
}

#[test]
fn deterministic_across_replicas() {
    let ops = || {
        vec![
            HashWrite::Set {
                key: b("h"),
                pairs: vec![(b("a"), b("1")), (b("b"), b("2"))],
                reply_ok: false,
            },
            HashWrite::IncrBy {
                key: b("h"),
                field: b("a"),
                by: 3,
            },
            HashWrite::IncrByFloat {
                key: b("h"),
                field: b("c"),
                by: 0.5,
            },
            HashWrite::Del {
                key: b("h"),
                fields: vec![b("b")],
            },
        ]
    };
    let mut one = TestShard::new();
    let mut two = TestShard::new();
    for op in ops() {
        one.write(op).unwrap();
    }
    for op in ops() {
        two.write(op).unwrap();
    }
    assert_eq!(one.raw(), two.raw());
}
