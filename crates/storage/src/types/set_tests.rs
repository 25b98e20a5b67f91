use super::*;
use crate::types::collection::testkit::TestShard;

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn bulks(items: &[&str]) -> Vec<Output> {
    items.iter().map(|s| Output::Bulk(b(s))).collect()
}

fn sadd(s: &mut TestShard, key: &str, members: &[&str]) -> ExecResult {
    s.write(SetWrite::Add {
        key: b(key),
        members: members.iter().map(|m| b(m)).collect(),
    })
}

fn smembers(s: &TestShard, key: &str) -> Output {
    s.read(SetRead::Members { key: b(key) }).unwrap()
}

fn card(s: &TestShard, key: &str) -> Output {
    s.read(SetRead::Card { key: b(key) }).unwrap()
}

#[test]
fn add_rem_card_members() {
    let mut s = TestShard::new();
    assert_eq!(sadd(&mut s, "s", &["b", "a", "b"]).unwrap(), Output::Int(2));
    assert_eq!(sadd(&mut s, "s", &["a", "c"]).unwrap(), Output::Int(1));
    assert_eq!(card(&s, "s"), Output::Int(3));
    assert_eq!(smembers(&s, "s"), Output::Set(bulks(&["a", "b", "c"])));
    assert_eq!(smembers(&s, "none"), Output::Set(vec![]));
    let is = |m: &str| SetRead::IsMember {
        key: b("s"),
        member: b(m),
    };
    assert_eq!(s.read(is("a")).unwrap(), Output::Int(1));
    assert_eq!(s.read(is("z")).unwrap(), Output::Int(0));
    let mis = SetRead::MIsMember {
        key: b("s"),
        members: vec![b("a"), b("z")],
    };
    assert_eq!(
        s.read(mis).unwrap(),
        Output::Array(vec![Output::Int(1), Output::Int(0)])
    );
    let rem = SetWrite::Rem {
        key: b("s"),
        members: vec![b("a"), b("z"), b("a")],
    };
    assert_eq!(s.write(rem).unwrap(), Output::Int(1));
    let rem = SetWrite::Rem {
        key: b("s"),
        members: vec![b("b"), b("c")],
    };
    assert_eq!(s.write(rem).unwrap(), Output::Int(2));
    assert!(s
        .store
        .with_snapshot(s.now_ms, |v| v.meta(b"s").unwrap())
        .is_none());
    assert_eq!(card(&s, "s"), Output::Int(0));
}

fn spop(s: &mut TestShard, count: Option<u64>, seed: u64) -> Output {
    s.write(SetWrite::Pop {
        key: b("s"),
        count,
        seed,
    })
    .unwrap()
}

fn srand(s: &TestShard, count: Option<i64>) -> Output {
    s.read(SetRead::RandMember {
        key: b("s"),
        count,
        seed: 5,
    })
    .unwrap()
}

fn len_of(out: Output) -> usize {
    match out {
        Output::Array(items) | Output::Set(items) => items.len(),
        other => panic!("not a collection: {other:?}"),
    }
}

#[test]
fn pop_and_randmember() {
    let mut s = TestShard::new();
    let members: Vec<String> = (0..20).map(|i| format!("m{i:02}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    sadd(&mut s, "s", &refs).unwrap();
    let Output::Bulk(one) = spop(&mut s, None, 1) else {
        panic!()
    };
    let is = SetRead::IsMember {
        key: b("s"),
        member: one,
    };
    assert_eq!(s.read(is).unwrap(), Output::Int(0));
    assert_eq!(len_of(spop(&mut s, Some(5), 2)), 5);
    assert_eq!(card(&s, "s"), Output::Int(14));
    assert_eq!(spop(&mut s, Some(0), 2), Output::Set(vec![]));
    assert_eq!(len_of(srand(&s, Some(-40))), 40);
    assert_eq!(len_of(srand(&s, Some(100))), 14);
    assert!(matches!(srand(&s, None), Output::Bulk(_)));
    assert_eq!(len_of(spop(&mut s, Some(100), 3)), 14);
    assert!(s
        .store
        .with_snapshot(s.now_ms, |v| v.meta(b"s").unwrap())
        .is_none());
    assert_eq!(spop(&mut s, None, 3), Output::Nil);
    assert_eq!(spop(&mut s, Some(2), 3), Output::Set(vec![]));
    assert_eq!(srand(&s, None), Output::Nil);
    assert_eq!(srand(&s, Some(3)), Output::Array(vec![]));
}

#[test]
fn smove_cases() {
    let mut s = TestShard::new();
    sadd(&mut s, "a", &["x", "y"]).unwrap();
    let mv = |src: &str, dst: &str, m: &str| SetWrite::Move {
        source: b(src),
        destination: b(dst),
        member: b(m),
    };
    assert_eq!(s.write(mv("a", "b", "x")).unwrap(), Output::Int(1));
    assert_eq!(s.write(mv("a", "b", "x")).unwrap(), Output::Int(0));
    assert_eq!(s.write(mv("a", "a", "y")).unwrap(), Output::Int(1));
    assert_eq!(s.write(mv("a", "a", "q")).unwrap(), Output::Int(0));
    assert_eq!(s.write(mv("a", "b", "y")).unwrap(), Output::Int(1));
    assert_eq!(card(&s, "a"), Output::Int(0));
    assert_eq!(smembers(&s, "b"), Output::Set(bulks(&["x", "y"])));
    s.write(crate::types::hash::HashWrite::Set {
        key: b("h"),
        pairs: vec![(b("f"), b("v"))],
        reply_ok: false,
    })
    .unwrap();
    assert!(matches!(
        s.write(mv("b", "h", "x")),
        Err(ExecError::WrongType)
    ));
    assert!(matches!(
        s.write(mv("h", "b", "x")),
        Err(ExecError::WrongType)
    ));
    assert_eq!(card(&s, "b"), Output::Int(2));
}

#[test]
fn algebra_and_store() {
    let mut s = TestShard::new();
    sadd(&mut s, "a", &["1", "2", "3", "4"]).unwrap();
    sadd(&mut s, "b", &["3", "4", "5"]).unwrap();
    let comb = |keys: &[&str], algebra| SetRead::Combine {
        keys: keys.iter().map(|k| b(k)).collect(),
        algebra,
    };
    assert_eq!(
        s.read(comb(&["a", "b"], SetAlgebra::Inter)).unwrap(),
        Output::Set(bulks(&["3", "4"]))
    );
    assert_eq!(
        s.read(comb(&["a", "b", "none"], SetAlgebra::Inter))
            .unwrap(),
        Output::Set(vec![])
    );
    assert_eq!(
        s.read(comb(&["a", "none", "b"], SetAlgebra::Union))
            .unwrap(),
        Output::Set(bulks(&["1", "2", "3", "4", "5"]))
    );
    assert_eq!(
        s.read(comb(&["a", "b"], SetAlgebra::Diff)).unwrap(),
        Output::Set(bulks(&["1", "2"]))
    );
    assert_eq!(
        s.read(comb(&["none", "b"], SetAlgebra::Diff)).unwrap(),
        Output::Set(vec![])
    );
    let card = |keys: &[&str], limit| SetRead::InterCard {
        keys: keys.iter().map(|k| b(k)).collect(),
        limit,
    };
    assert_eq!(s.read(card(&["a", "b"], 0)).unwrap(), Output::Int(2));
    assert_eq!(s.read(card(&["a", "b"], 1)).unwrap(), Output::Int(1));
    // The destination may be a source, and is overwritten whatever its type.
    let store = |dst: &str, keys: &[&str], algebra| SetWrite::Store {
        destination: b(dst),
        keys: keys.iter().map(|k| b(k)).collect(),
        algebra,
    };
    assert_eq!(
        s.write(store("a", &["a", "b"], SetAlgebra::Diff)).unwrap(),
        Output::Int(2)
    );
    assert_eq!(smembers(&s, "a"), Output::Set(bulks(&["1", "2"])));
    s.write(crate::types::hash::HashWrite::Set {
        key: b("h"),
        pairs: vec![(b("f"), b("v"))],
        reply_ok: false,
    })
    .unwrap();
    assert!(matches!(
        s.read(comb(&["a", "h"], SetAlgebra::Union)),
        Err(ExecError::WrongType)
    ));
    assert!(matches!(
        s.read(comb(&["none", "h"], SetAlgebra::Inter)),
        Err(ExecError::WrongType)
    ));
    assert_eq!(
        s.write(store("h", &["a", "b"], SetAlgebra::Union)).unwrap(),
        Output::Int(5)
    );
    assert_eq!(
        smembers(&s, "h"),
        Output::Set(bulks(&["1", "2", "3", "4", "5"]))
    );
    assert_eq!(
        s.write(store("h", &["a", "b"], SetAlgebra::Inter)).unwrap(),
        Output::Int(0)
    );
    assert!(s
        .store
        .with_snapshot(s.now_ms, |v| v.meta(b"h").unwrap())
        .is_none());
}

#[test]
fn stale_members_invisible_after_recreate() {
    let mut s = TestShard::new();
    sadd(&mut s, "s", &["a", "b"]).unwrap();
    s.delete_key(b"s");
    assert_eq!(sadd(&mut s, "s", &["a"]).unwrap(), Output::Int(1));
    assert_eq!(smembers(&s, "s"), Output::Set(bulks(&["a"])));
    assert_eq!(card(&s, "s"), Output::Int(1));
}

#[test]
fn scan_and_binary_members() {
    let mut s = TestShard::new();
    let members: Vec<Vec<u8>> = (0..100u8).map(|i| vec![0, i, 255]).collect();
    s.write(SetWrite::Add {
        key: b("s"),
        members: members.clone(),
    })
    .unwrap();
    let mut cursor = 0;
    let mut seen = Vec::new();
    loop {
        let args = ScanArgs {
            cursor,
            pattern: None,
            count: 10,
        };
        let Output::Array(r) = s.read(SetRead::Scan { key: b("s"), args }).unwrap() else {
            panic!()
        };
        let [Output::Bulk(c), Output::Array(items)] = &r[..] else {
            panic!()
        };
        seen.extend(items.iter().map(|i| match i {
            Output::Bulk(m) => m.clone(),
            _ => panic!(),
        }));
        cursor = std::str::from_utf8(c).unwrap().parse().unwrap();
        if cursor == 0 {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen, members);
}

#[test]
fn deterministic_pop_across_replicas() {
    let ops = || {
        vec![
            SetWrite::Add {
                key: b("s"),
                members: (0..50).map(|i| format!("{i}").into_bytes()).collect(),
            },
            SetWrite::Pop {
                key: b("s"),
                count: Some(7),
                seed: 42,
            },
            SetWrite::Pop {
                key: b("s"),
                count: None,
                seed: 43,
            },
            SetWrite::Store {
                destination: b("d"),
                keys: vec![b("s")],
                algebra: SetAlgebra::Union,
            },
        ]
    };
    let (mut one, mut two) = (TestShard::new(), TestShard::new());
    let r1: Vec<_> = ops().into_iter().map(|op| one.write(op).unwrap()).collect();
    let r2: Vec<_> = ops().into_iter().map(|op| two.write(op).unwrap()).collect();
    assert_eq!(r1, r2);
    assert_eq!(one.raw(), two.raw());
}

/// SPOP's choice depends only on the set and the seed: two fresh shards given the same seeds
/// pop the same members, and popping to empty one at a time returns every member once.
#[test]
fn spop_same_seed_same_members_on_fresh_shards() {
    let members: Vec<String> = (0..500).map(|i| format!("element:{i}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let run = |seed_base: u64| {
        let mut s = TestShard::new();
        sadd(&mut s, "s", &refs).unwrap();
        let mut popped = vec![spop(&mut s, Some(20), seed_base)];
        for i in 0..480 {
            popped.push(spop(&mut s, None, seed_base + 1 + i));
        }
        assert_eq!(card(&s, "s"), Output::Int(0));
        popped
    };
    let (one, two) = (run(1000), run(1000));
    assert_eq!(one, two);
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for reply in &one {
        match reply {
            Output::Set(items) => seen.extend(items.iter().map(|o| match o {
                Output::Bulk(m) => m.clone(),
                other => panic!("unexpected {other:?}"),
            })),
            Output::Bulk(m) => seen.push(m.clone()),
            other => panic!("unexpected {other:?}"),
        }
    }
    seen.sort();
    let mut want: Vec<Vec<u8>> = members.iter().map(|m| m.clone().into_bytes()).collect();
    want.sort();
    assert_eq!(seen, want);
    // A different seed picks differently (the first pop of 20 out of 500 differs).
    assert_ne!(run(7)[0], one[0]);
}
