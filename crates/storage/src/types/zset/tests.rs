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

/// ZADD flags from names like `"nx ch"`.
fn flags(names: &str) -> ZAddFlags {
    let mut f = ZAddFlags::default();
    for name in names.split_whitespace() {
        match name {
            "nx" => f.nx = true,
            "xx" => f.xx = true,
            "gt" => f.gt = true,
            "lt" => f.lt = true,
            "ch" => f.ch = true,
            "incr" => f.incr = true,
            other => panic!("unknown flag {other}"),
        }
    }
    f
}

#[test]
fn zadd_conditions() {
    let mut s = TestShard::new();
    let r = zadd(&mut s, "z", &[(1.0, "a"), (2.0, "b"), (3.0, "a")]);
    assert_eq!(r.unwrap(), Output::Int(2));
    assert_eq!(all(&s, "z"), pairs(&[("b", 2.0), ("a", 3.0)]));
    let r = zadd_flags(&mut s, "z", flags("nx ch"), &[(9.0, "a"), (1.0, "c")]);
    assert_eq!(r.unwrap(), Output::Int(1));
    let r = zadd_flags(&mut s, "z", flags("xx ch"), &[(9.0, "a"), (1.0, "d")]);
    assert_eq!(r.unwrap(), Output::Int(1));
    let r = zadd_flags(
        &mut s,
        "z",
        flags("gt ch"),
        &[(1.0, "a"), (5.0, "b"), (0.0, "e")],
    );
    assert_eq!(r.unwrap(), Output::Int(2));
    let r = zadd_flags(&mut s, "z", flags("lt"), &[(10.0, "a"), (4.0, "b")]);
    assert_eq!(r.unwrap(), Output::Int(0));
    let expected = pairs(&[("e", 0.0), ("c", 1.0), ("b", 4.0), ("a", 9.0)]);
    assert_eq!(all(&s, "z"), expected);
    let r = zadd_flags(&mut s, "y", flags("xx"), &[(1.0, "a")]);
    assert_eq!(r.unwrap(), Output::Int(0));
    assert!(gone(&s, "y"));
}

#[test]
fn zadd_incr() {
    let mut s = TestShard::new();
    zadd(&mut s, "z", &[(9.0, "a")]).unwrap();
    let r = zadd_flags(&mut s, "z", flags("incr"), &[(1.5, "a")]);
    assert_eq!(r.unwrap(), Output::Double(10.5));
    let r = zadd_flags(&mut s, "z", flags("lt incr"), &[(1.0, "a")]);
    assert_eq!(r.unwrap(), Output::Nil);
    let r = zadd_flags(&mut s, "z", flags("xx incr"), &[(1.0, "new")]);
    assert_eq!(r.unwrap(), Output::Nil);
    zadd(&mut s, "z", &[(f64::INFINITY, "inf")]).unwrap();
    let nan = zadd_flags(&mut s, "z", flags("incr"), &[(f64::NEG_INFINITY, "inf")]);
    assert!(matches!(nan, Err(ExecError::ScoreNan)));
    assert_eq!(
        s.read(ZSetRead::Card { key: b("z") }).unwrap(),
        Output::Int(2)
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

/// A shard holding `z` = a:1 b:2 c:3 d:4 e:5.
fn five() -> TestShard {
    let mut s = TestShard::new();
    let items = [(1.0, "a"), (2.0, "b"), (3.0, "c"), (4.0, "d"), (5.0, "e")];
    zadd(&mut s, "z", &items).unwrap();
    s
}

fn range_of(
    s: &TestShard,
    by: RangeBy,
    rev: bool,
    limit: Option<(i64, i64)>,
    with_scores: bool,
) -> Output {
    let spec = RangeSpec { by, rev, limit };
    s.read(ZSetRead::Range {
        key: b("z"),
        spec,
        with_scores,
    })
    .unwrap()
}

fn rank(start: i64, stop: i64) -> RangeBy {
    RangeBy::Rank { start, stop }
}

#[test]
fn ranges_by_rank() {
    let s = five();
    assert_eq!(
        range_of(&s, rank(1, 2), false, None, false),
        bulks(&["b", "c"])
    );
    let top = pairs(&[("e", 5.0), ("d", 4.0)]);
    assert_eq!(range_of(&s, rank(0, 1), true, None, true), top);
    assert_eq!(
        range_of(&s, rank(-2, -1), false, None, false),
        bulks(&["d", "e"])
    );
    assert_eq!(range_of(&s, rank(5, 10), false, None, false), bulks(&[]));
}

#[test]
fn ranges_by_score_and_lex() {
    let s = five();
    let everything = || score(f64::NEG_INFINITY, false, f64::INFINITY, false);
    assert_eq!(
        range_of(&s, score(2.0, true, 4.0, false), false, None, false),
        bulks(&["c", "d"])
    );
    let r = range_of(&s, score(2.0, false, 5.0, false), true, Some((1, 2)), false);
    assert_eq!(r, bulks(&["d", "c"]));
    let r = range_of(&s, everything(), false, Some((1, -1)), false);
    assert_eq!(r, bulks(&["b", "c", "d", "e"]));
    assert_eq!(
        range_of(&s, everything(), false, Some((-1, 1)), false),
        bulks(&[])
    );
    let lex = |min, max| RangeBy::Lex(LexRange { min, max });
    let r = lex(LexBound::Inclusive(b("b")), LexBound::Exclusive(b("d")));
    assert_eq!(range_of(&s, r, false, None, false), bulks(&["b", "c"]));
    let r = range_of(
        &s,
        lex(LexBound::NegInf, LexBound::PosInf),
        true,
        Some((0, 2)),
        false,
    );
    assert_eq!(r, bulks(&["e", "d"]));
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

/// A shard with sorted sets `a` = x:1 y:2 z:3, `b` = y:10 z:20 w:inf and set `s` = {z, q}.
fn algebra_shard() -> TestShard {
    let mut s = TestShard::new();
    zadd(&mut s, "a", &[(1.0, "x"), (2.0, "y"), (3.0, "z")]).unwrap();
    zadd(
        &mut s,
        "b",
        &[(10.0, "y"), (20.0, "z"), (f64::INFINITY, "w")],
    )
    .unwrap();
    let members = vec![b("z"), b("q")];
    s.write(crate::types::set::SetWrite::Add {
        key: b("s"),
        members,
    })
    .unwrap();
    s
}

fn combine(keys: &[&str], weights: Vec<f64>, aggregate: Aggregate, algebra: ZAlgebra) -> Combine {
    Combine {
        keys: keys.iter().map(|k| b(k)).collect(),
        weights,
        aggregate,
        algebra,
    }
}

fn combined(s: &TestShard, combine: Combine) -> ExecResult {
    s.read(ZSetRead::Combine {
        combine,
        with_scores: true,
    })
}

#[test]
fn algebra_reads() {
    let s = algebra_shard();
    let union = combine(&["a", "b"], vec![], Aggregate::Sum, ZAlgebra::Union);
    let expected = pairs(&[("x", 1.0), ("y", 12.0), ("z", 23.0), ("w", f64::INFINITY)]);
    assert_eq!(combined(&s, union).unwrap(), expected);
    let inter = combine(
        &["a", "b", "s"],
        vec![2.0, 1.0, 5.0],
        Aggregate::Max,
        ZAlgebra::Inter,
    );
    assert_eq!(combined(&s, inter).unwrap(), pairs(&[("z", 20.0)]));
    let inter = combine(&["a", "none"], vec![], Aggregate::Sum, ZAlgebra::Inter);
    assert_eq!(combined(&s, inter).unwrap(), pairs(&[]));
    let diff = combine(&["a", "s"], vec![], Aggregate::Sum, ZAlgebra::Diff);
    assert_eq!(
        combined(&s, diff).unwrap(),
        pairs(&[("x", 1.0), ("y", 2.0)])
    );
    // 0 * inf is NaN, which Redis turns into 0.
    let nan = combine(&["b"], vec![0.0], Aggregate::Sum, ZAlgebra::Union);
    assert_eq!(
        combined(&s, nan).unwrap(),
        pairs(&[("w", 0.0), ("y", 0.0), ("z", 0.0)])
    );
    let card = ZSetRead::InterCard {
        keys: vec![b("a"), b("b")],
        limit: 1,
    };
    assert_eq!(s.read(card).unwrap(), Output::Int(1));
}

#[test]
fn algebra_stores_overwrite_any_type() {
    let mut s = algebra_shard();
    let pairs_hv = vec![(b("f"), b("v"))];
    let hset = crate::types::hash::HashWrite::Set {
        key: b("h"),
        pairs: pairs_hv,
        reply_ok: false,
    };
    s.write(hset).unwrap();
    let union = combine(&["a", "s"], vec![], Aggregate::Min, ZAlgebra::Union);
    let store = ZSetWrite::Store {
        destination: b("h"),
        combine: union,
    };
    assert_eq!(s.write(store).unwrap(), Output::Int(4));
    assert_eq!(
        all(&s, "h"),
        pairs(&[("q", 1.0), ("x", 1.0), ("z", 1.0), ("y", 2.0)])
    );
    // The destination may also be a source.
    let diff = combine(&["a", "b"], vec![], Aggregate::Sum, ZAlgebra::Diff);
    let store = ZSetWrite::Store {
        destination: b("a"),
        combine: diff,
    };
    assert_eq!(s.write(store).unwrap(), Output::Int(1));
    assert_eq!(all(&s, "a"), pairs(&[("x", 1.0)]));
    let push = crate::types::list::ListWrite::Push {
        key: b("l"),
        elements: vec![b("e")],
        left: true,
        only_if_exists: false,
    };
    s.write(push).unwrap();
    let wrong = combine(&["a", "l"], vec![], Aggregate::Sum, ZAlgebra::Union);
    assert!(matches!(combined(&s, wrong), Err(ExecError::WrongType)));
}

#[test]
fn range_store() {
    let mut s = algebra_shard();
    let spec = RangeSpec {
        by: score(10.0, false, f64::INFINITY, false),
        rev: true,
        limit: None,
    };
    let store = ZSetWrite::RangeStore {
        destination: b("s"),
        source: b("b"),
        spec,
    };
    assert_eq!(s.write(store).unwrap(), Output::Int(3));
    assert_eq!(
        all(&s, "s"),
        pairs(&[("y", 10.0), ("z", 20.0), ("w", f64::INFINITY)])
    );
    let spec = RangeSpec {
        by: score(100.0, false, 200.0, false),
        rev: false,
        limit: None,
    };
    let store = ZSetWrite::RangeStore {
        destination: b("s"),
        source: b("b"),
        spec,
    };
    assert_eq!(s.write(store).unwrap(), Output::Int(0));
    assert!(gone(&s, "s"));
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

/// A seed from `REDRAFT_TEST_SEED` (to replay a failure) or the clock; printed either way.
fn test_seed() -> u64 {
    let seed = std::env::var("REDRAFT_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("seed {seed} (replay with REDRAFT_TEST_SEED={seed})");
    seed
}

type Model = std::collections::BTreeMap<Vec<u8>, f64>;

/// The model's elements in Redis order (score, then member).
fn model_order(model: &Model) -> Vec<(Vec<u8>, f64)> {
    let mut items: Vec<_> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
    items.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    items
}

/// One random write applied to the model; returns the op for the store.
fn random_zset_op(rng: &mut OpRng, model: &mut Model) -> ZSetWrite {
    let member = |rng: &mut OpRng| format!("m{}", rng.below(12)).into_bytes();
    let score = |rng: &mut OpRng| f64::from(rng.below(7) as u32) - 3.0;
    let key = b("z");
    match rng.below(5) {
        0 | 1 => {
            let names = ["", "nx", "xx", "gt", "lt", "xx gt", "ch"][rng.below(7) as usize];
            let f = flags(names);
            let items: Vec<_> = (0..1 + rng.below(3))
                .map(|_| (score(rng), member(rng)))
                .collect();
            for (sc, m) in &items {
                let cur = model.get(m).copied();
                let skip = match cur {
                    None => f.xx,
                    Some(c) => f.nx || (f.gt && *sc <= c) || (f.lt && *sc >= c),
                };
                if !skip {
                    model.insert(m.clone(), *sc);
                }
            }
            ZSetWrite::Add {
                key,
                flags: f,
                items,
            }
        }
        2 => {
            let members: Vec<_> = (0..2).map(|_| member(rng)).collect();
            for m in &members {
                model.remove(m);
            }
            ZSetWrite::Rem { key, members }
        }
        3 => {
            let (max, count) = (rng.below(2) == 0, rng.below(3));
            let mut order = model_order(model);
            if max {
                order.reverse();
            }
            for (m, _) in order.into_iter().take(count as usize) {
                model.remove(&m);
            }
            ZSetWrite::Pop {
                key,
                max,
                count: Some(count),
            }
        }
        _ => {
            let (start, stop) = (rng.below(8) as i64 - 4, rng.below(8) as i64 - 4);
            let order = model_order(model);
            let len = order.len() as i64;
            let a = if start < 0 {
                (start + len).max(0)
            } else {
                start
            };
            let z = if stop < 0 {
                stop + len
            } else {
                stop.min(len - 1)
            };
            for (i, (m, _)) in order.iter().enumerate() {
                if (a..=z).contains(&(i as i64)) {
                    model.remove(m);
                }
            }
            ZSetWrite::RemRange {
                key,
                by: rank(start, stop),
            }
        }
    }
}

/// Checks ranks, counts and the full range against the model.
fn check_zset(s: &TestShard, model: &Model, context: &str) {
    let order = model_order(model);
    let expected = Output::Pairs(
        order
            .iter()
            .map(|(m, sc)| (Output::Bulk(m.clone()), Output::Double(*sc)))
            .collect(),
    );
    assert_eq!(all(s, "z"), expected, "{context}");
    for (i, (m, _)) in order.iter().enumerate() {
        let r = ZSetRead::Rank {
            key: b("z"),
            member: m.clone(),
            rev: false,
            with_score: false,
        };
        assert_eq!(s.read(r).unwrap(), Output::Int(i as i64), "{context}");
    }
    let in_range = order
        .iter()
        .filter(|(_, sc)| *sc > -1.0 && *sc <= 1.0)
        .count() as i64;
    let count = ZSetRead::Count {
        key: b("z"),
        by: score(-1.0, true, 1.0, false),
    };
    assert_eq!(s.read(count).unwrap(), Output::Int(in_range), "{context}");
    assert_eq!(gone(s, "z"), model.is_empty(), "{context}");
}

#[test]
fn randomized_against_a_btreemap_model() {
    let seed = test_seed();
    let mut rng = OpRng::new(seed);
    let mut s = TestShard::new();
    let mut model = Model::new();
    for step in 0..300 {
        let op = random_zset_op(&mut rng, &mut model);
        s.write(op.clone()).unwrap();
        check_zset(&s, &model, &format!("seed {seed} step {step} after {op:?}"));
    }
}

/// Pops a large sorted set to empty from both ends: each pop must see exactly the next element
/// in order, and the whole run stays fast because pops seek past earlier pops' tombstones.
#[test]
fn pops_to_empty_in_order() {
    let n = 3000u64;
    for max in [false, true] {
        let mut s = TestShard::new();
        let items: Vec<(f64, Vec<u8>)> = (0..n)
            .map(|i| ((i % 1000) as f64, format!("m{i:05}").into_bytes()))
            .collect();
        let mut expected: Vec<(Vec<u8>, f64)> =
            items.iter().map(|(sc, m)| (m.clone(), *sc)).collect();
        expected.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        if max {
            expected.reverse();
        }
        s.write(ZSetWrite::Add {
            key: b("z"),
            flags: ZAddFlags::default(),
            items,
        })
        .unwrap();
        for (i, (member, score)) in expected.iter().enumerate() {
            let popped = s
                .write(ZSetWrite::Pop {
                    key: b("z"),
                    max,
                    count: None,
                })
                .unwrap();
            let want = Output::Array(vec![Output::Bulk(member.clone()), Output::Double(*score)]);
            assert_eq!(popped, want, "pop {i} (max: {max})");
        }
        assert!(gone(&s, "z"));
        let empty = s.write(ZSetWrite::Pop {
            key: b("z"),
            max,
            count: Some(2),
        });
        assert_eq!(empty.unwrap(), Output::Array(Vec::new()));
    }
}

/// After pops tighten the score bounds, adding scores outside them (ZADD and ZINCRBY) widens
/// them again, so ranges, ranks and later pops still see every member.
#[test]
fn adds_below_popped_scores_stay_visible() {
    let mut s = TestShard::new();
    zadd(
        &mut s,
        "z",
        &[(1.0, "a"), (2.0, "b"), (3.0, "c"), (4.0, "d")],
    )
    .unwrap();
    let pop = |max| ZSetWrite::Pop {
        key: b("z"),
        max,
        count: Some(1),
    };
    assert_eq!(s.write(pop(false)).unwrap(), pairs(&[("a", 1.0)]));
    assert_eq!(s.write(pop(true)).unwrap(), pairs(&[("d", 4.0)]));
    zadd(&mut s, "z", &[(0.5, "x"), (9.0, "y")]).unwrap();
    zadd_flags(&mut s, "z", flags("incr"), &[(-10.0, "b")]).unwrap();
    assert_eq!(
        all(&s, "z"),
        pairs(&[("b", -8.0), ("x", 0.5), ("c", 3.0), ("y", 9.0)])
    );
    let rank = s.read(ZSetRead::Rank {
        key: b("z"),
        member: b("c"),
        rev: false,
        with_score: false,
    });
    assert_eq!(rank.unwrap(), Output::Int(2));
    assert_eq!(s.write(pop(false)).unwrap(), pairs(&[("b", -8.0)]));
    assert_eq!(s.write(pop(true)).unwrap(), pairs(&[("y", 9.0)]));
    assert_eq!(all(&s, "z"), pairs(&[("x", 0.5), ("c", 3.0)]));
}
