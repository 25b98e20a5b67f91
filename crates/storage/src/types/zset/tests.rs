use super::algebra::{Aggregate, ZAlgebra};
use super::range::{LexBound, LexRange, ScoreRange};
use super::*;
use crate::types::collection::testkit::TestShard;

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn bulks(items: &[&str]) -> Output {
    Output::Array(items.iter().map(|s| Output::Bulk(b(s))).collect())
}

fn pairs(items: &[(&str, f64)]) -> Output {
    Output::Pairs(
        items
            .iter()
            .map(|(m, s)| (Output::Bulk(b(m)), Output::Double(*s)))
            .collect(),
    )
}

fn zadd_flags(s: &mut TestShard, key: &str, flags: ZAddFlags, items: &[(f64, &str)]) -> ExecResult {
    let items = items.iter().map(|(sc, m)| (*sc, b(m))).collect();
    s.write(ZSetWrite::Add {
        key: b(key),
        flags,
        items,
    })
}

fn zadd(s: &mut TestShard, key: &str, items: &[(f64, &str)]) -> ExecResult {
    zadd_flags(s, key, ZAddFlags::default(), items)
}

fn all(s: &TestShard, key: &str) -> Output {
    let spec = RangeSpec {
        by: RangeBy::Rank { start: 0, stop: -1 },
        rev: false,
        limit: None,
    };
    s.read(ZSetRead::Range {
        key: b(key),
        spec,
        with_scores: true,
    })
    .unwrap()
}

fn score(min: f64, min_exclusive: bool, max: f64, max_exclusive: bool) -> RangeBy {
    RangeBy::Score(ScoreRange {
        min,
        min_exclusive,
        max,
        max_exclusive,
    })
}

fn gone(s: &TestShard, key: &str) -> bool {
    s.store
        .with_snapshot(s.now_ms, |v| v.meta(key.as_bytes()).unwrap())
        .is_none()
}

#[test]
fn zadd_options() {
    let mut s = TestShard::new();
    assert_eq!(
        zadd(&mut s, "z", &[(1.0, "a"), (2.0, "b"), (3.0, "a")]).unwrap(),
        Output::Int(2)
    );
    assert_eq!(all(&s, "z"), pairs(&[("b", 2.0), ("a", 3.0)]));
    let f = |nx, xx, gt, lt, ch, incr| ZAddFlags {
        nx,
        xx,
        gt,
        lt,
        ch,
        incr,
    };
    assert_eq!(
        zadd_flags(
            &mut s,
            "z",
            f(true, false, false, false, true, false),
            &[(9.0, "a"), (1.0, "c")]
        )
        .unwrap(),
        Output::Int(1)
    );
    assert_eq!(
        zadd_flags(
            &mut s,
            "z",
            f(false, true, false, false, true, false),
            &[(9.0, "a"), (1.0, "d")]
        )
        .unwrap(),
        Output::Int(1)
    );
    assert_eq!(
        zadd_flags(
            &mut s,
            "z",
            f(false, false, true, false, true, false),
            &[(1.0, "a"), (5.0, "b"), (0.0, "e")]
        )
        .unwrap(),
        Output::Int(2)
    );
    assert_eq!(
        zadd_flags(
            &mut s,
            "z",
            f(false, false, false, true, false, false),
            &[(10.0, "a"), (4.0, "b")]
        )
        .unwrap(),
        Output::Int(0)
    );
    assert_eq!(
        all(&s, "z"),
        pairs(&[("e", 0.0), ("c", 1.0), ("b", 4.0), ("a", 9.0)])
    );
    let incr = f(false, false, false, false, false, true);
    assert_eq!(
        zadd_flags(&mut s, "z", incr, &[(1.5, "a")]).unwrap(),
        Output::Double(10.5)
    );
    assert_eq!(
        zadd_flags(
            &mut s,
            "z",
            f(false, false, false, true, false, true),
            &[(1.0, "a")]
        )
        .unwrap(),
        Output::Nil
    );
    assert_eq!(
        zadd_flags(
            &mut s,
            "z",
            f(false, true, false, false, false, true),
            &[(1.0, "new")]
        )
        .unwrap(),
        Output::Nil
    );
    assert_eq!(
        zadd_flags(
            &mut s,
            "y",
            f(false, true, false, false, false, false),
            &[(1.0, "a")]
        )
        .unwrap(),
        Output::Int(0)
    );
    assert!(gone(&s, "y"));
    zadd(&mut s, "z", &[(f64::INFINITY, "inf")]).unwrap();
    let nan = zadd_flags(&mut s, "z", incr, &[(f64::NEG_INFINITY, "inf")]);
    assert!(matches!(nan, Err(ExecError::ScoreNan)));
    assert_eq!(
        s.read(ZSetRead::Card { key: b("z") }).unwrap(),
        Output::Int(5)
    );
}

#[test]
fn score_rank_count() {
    let mut s = TestShard::new();
    zadd(
        &mut s,
        "z",
        &[(1.0, "a"), (2.0, "b"), (2.0, "c"), (-1.5, "d")],
    )
    .unwrap();
    assert_eq!(
        s.read(ZSetRead::Score {
            key: b("z"),
            member: b("b")
        })
        .unwrap(),
        Output::Double(2.0)
    );
    assert_eq!(
        s.read(ZSetRead::Score {
            key: b("z"),
            member: b("x")
        })
        .unwrap(),
        Output::Nil
    );
    let ms = s
        .read(ZSetRead::MScore {
            key: b("z"),
            members: vec![b("d"), b("x")],
        })
        .unwrap();
    assert_eq!(ms, Output::Array(vec![Output::Double(-1.5), Output::Nil]));
    let rank = |m: &str, rev, with_score| ZSetRead::Rank {
        key: b("z"),
        member: b(m),
        rev,
        with_score,
    };
    assert_eq!(s.read(rank("d", false, false)).unwrap(), Output::Int(0));
    assert_eq!(s.read(rank("c", false, false)).unwrap(), Output::Int(3));
    assert_eq!(s.read(rank("c", true, false)).unwrap(), Output::Int(0));
    assert_eq!(
        s.read(rank("a", true, true)).unwrap(),
        Output::Array(vec![Output::Int(2), Output::Double(1.0)])
    );
    assert_eq!(s.read(rank("x", false, false)).unwrap(), Output::Nil);
    assert_eq!(s.read(rank("x", false, true)).unwrap(), Output::NilArray);
    let count = |by| s.read(ZSetRead::Count { key: b("z"), by }).unwrap();
    assert_eq!(
        count(score(f64::NEG_INFINITY, false, f64::INFINITY, false)),
        Output::Int(4)
    );
    assert_eq!(count(score(1.0, true, 2.0, false)), Output::Int(2));
    assert_eq!(count(score(1.0, false, 2.0, true)), Output::Int(1));
    assert_eq!(count(score(3.0, false, 1.0, false)), Output::Int(0));
    let lex = |min, max| RangeBy::Lex(LexRange { min, max });
    assert_eq!(
        count(lex(LexBound::NegInf, LexBound::PosInf)),
        Output::Int(4)
    );
    assert_eq!(
        count(lex(
            LexBound::Exclusive(b("a")),
            LexBound::Inclusive(b("c"))
        )),
        Output::Int(2)
    );
    assert_eq!(
        count(lex(LexBound::PosInf, LexBound::NegInf)),
        Output::Int(0)
    );
}

#[test]
fn ranges_all_forms() {
    let mut s = TestShard::new();
    zadd(
        &mut s,
        "z",
        &[(1.0, "a"), (2.0, "b"), (3.0, "c"), (4.0, "d"), (5.0, "e")],
    )
    .unwrap();
    let range = |by, rev, limit, with_scores| {
        s.read(ZSetRead::Range {
            key: b("z"),
            spec: RangeSpec { by, rev, limit },
            with_scores,
        })
        .unwrap()
    };
    assert_eq!(
        range(RangeBy::Rank { start: 1, stop: 2 }, false, None, false),
        bulks(&["b", "c"])
    );
    assert_eq!(
        range(RangeBy::Rank { start: 0, stop: 1 }, true, None, true),
        pairs(&[("e", 5.0), ("d", 4.0)])
    );
    assert_eq!(
        range(
            RangeBy::Rank {
                start: -2,
                stop: -1
            },
            false,
            None,
            false
        ),
        bulks(&["d", "e"])
    );
    assert_eq!(
        range(RangeBy::Rank { start: 5, stop: 10 }, false, None, false),
        bulks(&[])
    );
    assert_eq!(
        range(score(2.0, true, 4.0, false), false, None, false),
        bulks(&["c", "d"])
    );
    assert_eq!(
        range(score(2.0, false, 5.0, false), true, Some((1, 2)), false),
        bulks(&["d", "c"])
    );
    assert_eq!(
        range(
            score(f64::NEG_INFINITY, false, f64::INFINITY, false),
            false,
            Some((1, -1)),
            false
        ),
        bulks(&["b", "c", "d", "e"])
    );
    assert_eq!(
        range(
            score(f64::NEG_INFINITY, false, f64::INFINITY, false),
            false,
            Some((-1, 1)),
            false
        ),
        bulks(&[])
    );
    let lex = |min, max| RangeBy::Lex(LexRange { min, max });
    assert_eq!(
        range(
            lex(LexBound::Inclusive(b("b")), LexBound::Exclusive(b("d"))),
            false,
            None,
            false
        ),
        bulks(&["b", "c"])
    );
    assert_eq!(
        range(
            lex(LexBound::NegInf, LexBound::PosInf),
            true,
            Some((0, 2)),
            false
        ),
        bulks(&["e", "d"])
    );
}

#[test]
fn pops_and_remrange() {
    let mut s = TestShard::new();
    zadd(
        &mut s,
        "z",
        &[(1.0, "a"), (2.0, "b"), (3.0, "c"), (4.0, "d"), (5.0, "e")],
    )
    .unwrap();
    let pop = |max, count| ZSetWrite::Pop {
        key: b("z"),
        max,
        count,
    };
    assert_eq!(
        s.write(pop(false, None)).unwrap(),
        Output::Array(vec![Output::Bulk(b("a")), Output::Double(1.0)])
    );
    assert_eq!(
        s.write(pop(true, Some(2))).unwrap(),
        pairs(&[("e", 5.0), ("d", 4.0)])
    );
    assert_eq!(s.write(pop(true, Some(0))).unwrap(), pairs(&[]));
    let mpop = ZSetWrite::MPop {
        keys: vec![b("none"), b("z")],
        max: false,
        count: 10,
    };
    let pair = |m: &str, sc| Output::Array(vec![Output::Bulk(b(m)), Output::Double(sc)]);
    let expected = Output::Array(vec![
        Output::Bulk(b("z")),
        Output::Array(vec![pair("b", 2.0), pair("c", 3.0)]),
    ]);
    assert_eq!(s.write(mpop).unwrap(), expected);
    assert!(gone(&s, "z"));
    assert_eq!(s.write(pop(false, None)).unwrap(), Output::Array(vec![]));
    let mpop = ZSetWrite::MPop {
        keys: vec![b("none")],
        max: false,
        count: 1,
    };
    assert_eq!(s.write(mpop).unwrap(), Output::NilArray);
    zadd(
        &mut s,
        "z",
        &[(1.0, "a"), (2.0, "b"), (3.0, "c"), (4.0, "d"), (5.0, "e")],
    )
    .unwrap();
    let rem = |by| ZSetWrite::RemRange { key: b("z"), by };
    assert_eq!(
        s.write(rem(RangeBy::Rank { start: 0, stop: 0 })).unwrap(),
        Output::Int(1)
    );
    assert_eq!(
        s.write(rem(score(4.0, true, f64::INFINITY, false)))
            .unwrap(),
        Output::Int(1)
    );
    let lex = RangeBy::Lex(LexRange {
        min: LexBound::Inclusive(b("c")),
        max: LexBound::PosInf,
    });
    assert_eq!(s.write(rem(lex)).unwrap(), Output::Int(2));
    assert_eq!(all(&s, "z"), pairs(&[("b", 2.0)]));
    let zrem = ZSetWrite::Rem {
        key: b("z"),
        members: vec![b("b"), b("x")],
    };
    assert_eq!(s.write(zrem).unwrap(), Output::Int(1));
    assert!(gone(&s, "z"));
}

#[test]
fn algebra_and_stores() {
    let mut s = TestShard::new();
    zadd(&mut s, "a", &[(1.0, "x"), (2.0, "y"), (3.0, "z")]).unwrap();
    zadd(
        &mut s,
        "b",
        &[(10.0, "y"), (20.0, "z"), (f64::INFINITY, "w")],
    )
    .unwrap();
    s.write(crate::types::set::SetWrite::Add {
        key: b("s"),
        members: vec![b("z"), b("q")],
    })
    .unwrap();
    let combine = |keys: &[&str], weights: Vec<f64>, aggregate, algebra| Combine {
        keys: keys.iter().map(|k| b(k)).collect(),
        weights,
        aggregate,
        algebra,
    };
    let read = |s: &TestShard, c| {
        s.read(ZSetRead::Combine {
            combine: c,
            with_scores: true,
        })
        .unwrap()
    };
    let union = combine(&["a", "b"], vec![], Aggregate::Sum, ZAlgebra::Union);
    assert_eq!(
        read(&s, union),
        pairs(&[("x", 1.0), ("y", 12.0), ("z", 23.0), ("w", f64::INFINITY)])
    );
    let inter = combine(
        &["a", "b", "s"],
        vec![2.0, 1.0, 5.0],
        Aggregate::Max,
        ZAlgebra::Inter,
    );
    assert_eq!(read(&s, inter), pairs(&[("z", 20.0)]));
    let inter = combine(&["a", "none"], vec![], Aggregate::Sum, ZAlgebra::Inter);
    assert_eq!(read(&s, inter), pairs(&[]));
    let diff = combine(&["a", "s"], vec![], Aggregate::Sum, ZAlgebra::Diff);
    assert_eq!(read(&s, diff), pairs(&[("x", 1.0), ("y", 2.0)]));
    let nan = combine(&["b"], vec![0.0], Aggregate::Sum, ZAlgebra::Union);
    assert_eq!(read(&s, nan), pairs(&[("w", 0.0), ("y", 0.0), ("z", 0.0)]));
    let card = ZSetRead::InterCard {
        keys: vec![b("a"), b("b")],
        limit: 1,
    };
    assert_eq!(s.read(card).unwrap(), Output::Int(1));
    // Stores overwrite any type and may read their destination.
    s.write(crate::types::hash::HashWrite::Set {
        key: b("h"),
        pairs: vec![(b("f"), b("v"))],
        reply_ok: false,
    })
    .unwrap();
    let store = ZSetWrite::Store {
        destination: b("h"),
        combine: combine(&["a", "s"], vec![], Aggregate::Min, ZAlgebra::Union),
    };
    assert_eq!(s.write(store).unwrap(), Output::Int(4));
    assert_eq!(
        all(&s, "h"),
        pairs(&[("q", 1.0), ("x", 1.0), ("z", 1.0), ("y", 2.0)])
    );
    let store = ZSetWrite::Store {
        destination: b("a"),
        combine: combine(&["a", "b"], vec![], Aggregate::Sum, ZAlgebra::Diff),
    };
    assert_eq!(s.write(store).unwrap(), Output::Int(1));
    assert_eq!(all(&s, "a"), pairs(&[("x", 1.0)]));
    let wrong = combine(&["a", "h2"], vec![], Aggregate::Sum, ZAlgebra::Union);
    s.write(crate::types::list::ListWrite::Push {
        key: b("h2"),
        elements: vec![b("e")],
        left: true,
        only_if_exists: false,
    })
    .unwrap();
    assert!(matches!(
        s.read(ZSetRead::Combine {
            combine: wrong,
            with_scores: false
        }),
        Err(ExecError::WrongType)
    ));
    let spec = RangeSpec {
        by: score(10.0, false, f64::INFINITY, false),
        rev: true,
        limit: None,
    };
    let rs = ZSetWrite::RangeStore {
        destination: b("h2"),
        source: b("b"),
        spec,
    };
    assert_eq!(s.write(rs).unwrap(), Output::Int(3));
    assert_eq!(
        all(&s, "h2"),
        pairs(&[("y", 10.0), ("z", 20.0), ("w", f64::INFINITY)])
    );
    let spec = RangeSpec {
        by: score(100.0, false, 200.0, false),
        rev: false,
        limit: None,
    };
    let rs = ZSetWrite::RangeStore {
        destination: b("h2"),
        source: b("b"),
        spec,
    };
    assert_eq!(s.write(rs).unwrap(), Output::Int(0));
    assert!(gone(&s, "h2"));
}

#[test]
fn randmember_and_scan() {
    let mut s = TestShard::new();
    let items: Vec<(f64, String)> = (0..30)
        .map(|i| (f64::from(i), format!("m{i:02}")))
        .collect();
    let refs: Vec<(f64, &str)> = items.iter().map(|(sc, m)| (*sc, m.as_str())).collect();
    zadd(&mut s, "z", &refs).unwrap();
    let rand = |count, with_scores| ZSetRead::RandMember {
        key: b("z"),
        count,
        with_scores,
        seed: 11,
    };
    let Output::Pairs(p) = s.read(rand(Some(-50), true)).unwrap() else {
        panic!()
    };
    assert_eq!(p.len(), 50);
    for (m, sc) in p {
        let (Output::Bulk(m), Output::Double(sc)) = (m, sc) else {
            panic!()
        };
        assert_eq!(format!("m{:02}", sc as i64).into_bytes(), m);
    }
    let Output::Array(d) = s.read(rand(Some(10), false)).unwrap() else {
        panic!()
    };
    assert_eq!(d.len(), 10);
    assert!(matches!(
        s.read(rand(None, false)).unwrap(),
        Output::Bulk(_)
    ));
    let mut cursor = 0;
    let mut seen = 0;
    loop {
        let args = ScanArgs {
            cursor,
            pattern: None,
            count: 7,
        };
        let Output::Array(r) = s.read(ZSetRead::Scan { key: b("z"), args }).unwrap() else {
            panic!()
        };
        let [Output::Bulk(c), Output::Array(items)] = &r[..] else {
            panic!()
        };
        seen += items.len() / 2;
        cursor = std::str::from_utf8(c).unwrap().parse().unwrap();
        if cursor == 0 {
            break;
        }
    }
    assert!(seen >= 30);
}

#[test]
fn stale_members_invisible_after_recreate() {
    let mut s = TestShard::new();
    zadd(&mut s, "z", &[(1.0, "a"), (2.0, "b")]).unwrap();
    s.delete_key(b"z");
    zadd(&mut s, "z", &[(5.0, "c")]).unwrap();
    assert_eq!(all(&s, "z"), pairs(&[("c", 5.0)]));
    assert_eq!(
        s.read(ZSetRead::Score {
            key: b("z"),
            member: b("a")
        })
        .unwrap(),
        Output::Nil
    );
}

#[test]
fn deterministic_across_replicas() {
    let ops = || {
        vec![
            ZSetWrite::Add {
                key: b("z"),
                flags: ZAddFlags::default(),
                items: vec![(1.0, b("a")), (2.0, b("b")), (3.0, b("c"))],
            },
            ZSetWrite::Add {
                key: b("z"),
                flags: ZAddFlags {
                    incr: true,
                    ..ZAddFlags::default()
                },
                items: vec![(5.0, b("a"))],
            },
            ZSetWrite::Pop {
                key: b("z"),
                max: false,
                count: Some(1),
            },
            ZSetWrite::RemRange {
                key: b("z"),
                by: RangeBy::Rank {
                    start: -1,
                    stop: -1,
                },
            },
        ]
    };
    let (mut one, mut two) = (TestShard::new(), TestShard::new());
    for op in ops() {
        one.write(op).unwrap();
    }
    for op in ops() {
        two.write(op).unwrap();
    }
    assert_eq!(one.raw(), two.raw());
}
