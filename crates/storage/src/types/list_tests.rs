use super::*;
use crate::types::collection::testkit::TestShard;

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn bulks(items: &[&str]) -> Output {
    Output::Array(items.iter().map(|s| Output::Bulk(b(s))).collect())
}

fn push(s: &mut TestShard, key: &str, left: bool, items: &[&str]) -> ExecResult {
    let elements = items.iter().map(|e| b(e)).collect();
    s.write(ListWrite::Push {
        key: b(key),
        elements,
        left,
        only_if_exists: false,
    })
}

fn range(s: &TestShard, key: &str) -> Output {
    s.read(ListRead::Range {
        key: b(key),
        start: 0,
        stop: -1,
    })
    .unwrap()
}

fn gone(s: &TestShard, key: &str) -> bool {
    s.store
        .with_snapshot(s.now_ms, |v| v.meta(key.as_bytes()).unwrap())
        .is_none()
}

#[test]
fn push_pop_both_ends() {
    let mut s = TestShard::new();
    assert_eq!(
        push(&mut s, "l", true, &["a", "b", "c"]).unwrap(),
        Output::Int(3)
    );
    assert_eq!(
        push(&mut s, "l", false, &["d", "e"]).unwrap(),
        Output::Int(5)
    );
    assert_eq!(range(&s, "l"), bulks(&["c", "b", "a", "d", "e"]));
    let pushx = |k: &str| ListWrite::Push {
        key: b(k),
        elements: vec![b("x")],
        left: true,
        only_if_exists: true,
    };
    assert_eq!(s.write(pushx("none")).unwrap(), Output::Int(0));
    assert!(gone(&s, "none"));
    assert_eq!(s.write(pushx("l")).unwrap(), Output::Int(6));
    let pop = |left, count| ListWrite::Pop {
        key: b("l"),
        left,
        count,
    };
    assert_eq!(s.write(pop(true, None)).unwrap(), Output::Bulk(b("x")));
    assert_eq!(s.write(pop(false, Some(2))).unwrap(), bulks(&["e", "d"]));
    assert_eq!(s.write(pop(true, Some(0))).unwrap(), bulks(&[]));
    assert_eq!(
        s.write(pop(true, Some(10))).unwrap(),
        bulks(&["c", "b", "a"])
    );
    assert!(gone(&s, "l"));
    assert_eq!(s.write(pop(true, Some(1))).unwrap(), Output::NilArray);
    assert_eq!(s.write(pop(false, None)).unwrap(), Output::Nil);
}

#[test]
fn range_index_len_set() {
    let mut s = TestShard::new();
    push(&mut s, "l", false, &["a", "b", "c", "d"]).unwrap();
    let r = |start, stop| {
        s.read(ListRead::Range {
            key: b("l"),
            start,
            stop,
        })
        .unwrap()
    };
    assert_eq!(r(1, 2), bulks(&["b", "c"]));
    assert_eq!(r(-2, -1), bulks(&["c", "d"]));
    assert_eq!(r(-100, 100), bulks(&["a", "b", "c", "d"]));
    assert_eq!(r(3, 1), bulks(&[]));
    assert_eq!(r(4, 10), bulks(&[]));
    let idx = |index| s.read(ListRead::Index { key: b("l"), index }).unwrap();
    assert_eq!(idx(0), Output::Bulk(b("a")));
    assert_eq!(idx(-1), Output::Bulk(b("d")));
    assert_eq!(idx(4), Output::Nil);
    assert_eq!(idx(-5), Output::Nil);
    assert_eq!(
        s.read(ListRead::Len { key: b("l") }).unwrap(),
        Output::Int(4)
    );
    let set = |key: &str, index| ListWrite::Set {
        key: b(key),
        index,
        element: b("Z"),
    };
    assert_eq!(s.write(set("l", -2)).unwrap(), Output::Ok);
    assert!(matches!(
        s.write(set("l", 4)),
        Err(ExecError::IndexOutOfRange)
    ));
    assert!(matches!(s.write(set("none", 0)), Err(ExecError::NoSuchKey)));
    assert_eq!(range(&s, "l"), bulks(&["a", "b", "Z", "d"]));
}

#[test]
fn insert_shifts_either_side() {
    let mut s = TestShard::new();
    push(&mut s, "l", false, &["a", "b", "c", "d", "e"]).unwrap();
    let ins = |before, pivot: &str, e: &str| ListWrite::Insert {
        key: b("l"),
        before,
        pivot: b(pivot),
        element: b(e),
    };
    assert_eq!(s.write(ins(true, "b", "x")).unwrap(), Output::Int(6));
    assert_eq!(range(&s, "l"), bulks(&["a", "x", "b", "c", "d", "e"]));
    assert_eq!(s.write(ins(false, "d", "y")).unwrap(), Output::Int(7));
    assert_eq!(range(&s, "l"), bulks(&["a", "x", "b", "c", "d", "y", "e"]));
    assert_eq!(s.write(ins(true, "a", "h")).unwrap(), Output::Int(8));
    assert_eq!(s.write(ins(false, "e", "t")).unwrap(), Output::Int(9));
    assert_eq!(
        range(&s, "l"),
        bulks(&["h", "a", "x", "b", "c", "d", "y", "e", "t"])
    );
    assert_eq!(s.write(ins(true, "nope", "q")).unwrap(), Output::Int(-1));
    let missing = ListWrite::Insert {
        key: b("none"),
        before: true,
        pivot: b("a"),
        element: b("b"),
    };
    assert_eq!(s.write(missing).unwrap(), Output::Int(0));
    assert_eq!(
        s.read(ListRead::Len { key: b("l") }).unwrap(),
        Output::Int(9)
    );
}

#[test]
fn rem_directions() {
    let mut s = TestShard::new();
    let fill = |s: &mut TestShard| {
        s.delete_key(b"l");
        push(s, "l", false, &["a", "b", "a", "c", "a", "d"]).unwrap();
    };
    let rem = |count| ListWrite::Rem {
        key: b("l"),
        count,
        element: b("a"),
    };
    fill(&mut s);
    assert_eq!(s.write(rem(2)).unwrap(), Output::Int(2));
    assert_eq!(range(&s, "l"), bulks(&["b", "c", "a", "d"]));
    fill(&mut s);
    assert_eq!(s.write(rem(-2)).unwrap(), Output::Int(2));
    assert_eq!(range(&s, "l"), bulks(&["a", "b", "c", "d"]));
    fill(&mut s);
    assert_eq!(s.write(rem(0)).unwrap(), Output::Int(3));
    assert_eq!(range(&s, "l"), bulks(&["b", "c", "d"]));
    assert_eq!(
        s.read(ListRead::Len { key: b("l") }).unwrap(),
        Output::Int(3)
    );
    assert_eq!(
        s.read(ListRead::Index {
            key: b("l"),
            index: -1
        })
        .unwrap(),
        Output::Bulk(b("d"))
    );
    assert_eq!(
        s.write(ListWrite::Rem {
            key: b("l"),
            count: 0,
            element: b("q")
        })
        .unwrap(),
        Output::Int(0)
    );
    s.delete_key(b"l");
    push(&mut s, "l", false, &["a", "a"]).unwrap();
    assert_eq!(s.write(rem(0)).unwrap(), Output::Int(2));
    assert!(gone(&s, "l"));
}

#[test]
fn trim_cases() {
    let mut s = TestShard::new();
    push(&mut s, "l", false, &["a", "b", "c", "d", "e"]).unwrap();
    let trim = |start, stop| ListWrite::Trim {
        key: b("l"),
        start,
        stop,
    };
    assert_eq!(s.write(trim(1, -2)).unwrap(), Output::Ok);
    assert_eq!(range(&s, "l"), bulks(&["b", "c", "d"]));
    // Pushing after a trim must not resurrect trimmed elements.
    push(&mut s, "l", true, &["x"]).unwrap();
    push(&mut s, "l", false, &["y"]).unwrap();
    assert_eq!(range(&s, "l"), bulks(&["x", "b", "c", "d", "y"]));
    assert_eq!(s.write(trim(0, 100)).unwrap(), Output::Ok);
    assert_eq!(
        s.read(ListRead::Len { key: b("l") }).unwrap(),
        Output::Int(5)
    );
    assert_eq!(s.write(trim(3, 1)).unwrap(), Output::Ok);
    assert!(gone(&s, "l"));
    assert_eq!(s.write(trim(0, 1)).unwrap(), Output::Ok);
}

#[test]
fn lpos_options() {
    let mut s = TestShard::new();
    push(
        &mut s,
        "l",
        false,
        &["a", "b", "c", "1", "2", "3", "c", "c"],
    )
    .unwrap();
    let pos = |rank, count, maxlen| ListRead::Pos {
        key: b("l"),
        element: b("c"),
        rank,
        count,
        maxlen,
    };
    let ints = |v: &[i64]| Output::Array(v.iter().map(|&i| Output::Int(i)).collect());
    assert_eq!(s.read(pos(1, None, 0)).unwrap(), Output::Int(2));
    assert_eq!(s.read(pos(2, None, 0)).unwrap(), Output::Int(6));
    assert_eq!(s.read(pos(-1, None, 0)).unwrap(), Output::Int(7));
    assert_eq!(s.read(pos(1, Some(0), 0)).unwrap(), ints(&[2, 6, 7]));
    assert_eq!(s.read(pos(-1, Some(2), 0)).unwrap(), ints(&[7, 6]));
    assert_eq!(s.read(pos(1, Some(0), 3)).unwrap(), ints(&[2]));
    assert_eq!(s.read(pos(1, Some(0), 2)).unwrap(), ints(&[]));
    assert_eq!(s.read(pos(5, None, 0)).unwrap(), Output::Nil);
    let missing = ListRead::Pos {
        key: b("x"),
        element: b("c"),
        rank: 1,
        count: Some(1),
        maxlen: 0,
    };
    assert_eq!(s.read(missing).unwrap(), ints(&[]));
}

#[test]
fn lmove_and_mpop() {
    let mut s = TestShard::new();
    push(&mut s, "a", false, &["1", "2", "3"]).unwrap();
    let mv = |src: &str, dst: &str, from_left, to_left| ListWrite::Move {
        source: b(src),
        destination: b(dst),
        from_left,
        to_left,
    };
    assert_eq!(
        s.write(mv("a", "a", false, true)).unwrap(),
        Output::Bulk(b("3"))
    );
    assert_eq!(range(&s, "a"), bulks(&["3", "1", "2"]));
    assert_eq!(
        s.write(mv("a", "b", true, false)).unwrap(),
        Output::Bulk(b("3"))
    );
    assert_eq!(s.write(mv("none", "b", true, false)).unwrap(), Output::Nil);
    assert_eq!(range(&s, "b"), bulks(&["3"]));
    s.write(crate::types::set::SetWrite::Add {
        key: b("s"),
        members: vec![b("m")],
    })
    .unwrap();
    assert!(matches!(
        s.write(mv("a", "s", true, true)),
        Err(ExecError::WrongType)
    ));
    assert_eq!(range(&s, "a"), bulks(&["1", "2"]));
    // A single-element list moved onto itself survives.
    assert_eq!(
        s.write(mv("b", "b", true, true)).unwrap(),
        Output::Bulk(b("3"))
    );
    assert_eq!(range(&s, "b"), bulks(&["3"]));
    let mpop = |keys: &[&str], left, count| ListWrite::MPop {
        keys: keys.iter().map(|k| b(k)).collect(),
        left,
        count,
    };
    let reply = s.write(mpop(&["none", "a", "b"], false, 5)).unwrap();
    assert_eq!(
        reply,
        Output::Array(vec![Output::Bulk(b("a")), bulks(&["2", "1"])])
    );
    assert!(gone(&s, "a"));
    assert_eq!(s.write(mpop(&["none"], true, 1)).unwrap(), Output::NilArray);
    assert!(matches!(
        s.write(mpop(&["s", "b"], true, 1)),
        Err(ExecError::WrongType)
    ));
}

#[test]
fn stale_elements_invisible_after_recreate() {
    let mut s = TestShard::new();
    push(&mut s, "l", false, &["a", "b", "c"]).unwrap();
    s.delete_key(b"l");
    assert_eq!(range(&s, "l"), bulks(&[]));
    push(&mut s, "l", false, &["z"]).unwrap();
    assert_eq!(range(&s, "l"), bulks(&["z"]));
    assert_eq!(
        s.read(ListRead::Index {
            key: b("l"),
            index: 1
        })
        .unwrap(),
        Output::Nil
    );
}

#[test]
fn deterministic_across_replicas() {
    let ops = || {
        vec![
            ListWrite::Push {
                key: b("l"),
                elements: vec![b("a"), b("b"), b("c")],
                left: false,
                only_if_exists: false,
            },
            ListWrite::Insert {
                key: b("l"),
                before: false,
                pivot: b("a"),
                element: b("x"),
            },
            ListWrite::Rem {
                key: b("l"),
                count: 1,
                element: b("b"),
            },
            ListWrite::Trim {
                key: b("l"),
                start: 1,
                stop: -1,
            },
            ListWrite::Move {
                source: b("l"),
                destination: b("m"),
                from_left: true,
                to_left: true,
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

/// One random list op applied to the store and to a `Vec` model.
fn random_op(rng: &mut crate::engine::OpRng, model: &mut Vec<Vec<u8>>) -> ListWrite {
    let element = |rng: &mut crate::engine::OpRng| vec![b'a' + rng.below(4) as u8];
    let index = |rng: &mut crate::engine::OpRng| rng.below(12) as i64 - 6;
    let key = b("l");
    match rng.below(7) {
        0 | 1 => {
            let left = rng.below(2) == 0;
            let elements: Vec<_> = (0..1 + rng.below(3)).map(|_| element(rng)).collect();
            for e in &elements {
                if left {
                    model.insert(0, e.clone())
                } else {
                    model.push(e.clone())
                }
            }
            ListWrite::Push {
                key,
                elements,
                left,
                only_if_exists: false,
            }
        }
        2 => {
            let (left, count) = (rng.below(2) == 0, rng.below(3));
            let n = (count as usize).min(model.len());
            if left {
                model.drain(..n);
            } else {
                model.truncate(model.len() - n);
            }
            ListWrite::Pop {
                key,
                left,
                count: Some(count),
            }
        }
        3 => {
            let (before, pivot, element) = (rng.below(2) == 0, element(rng), element(rng));
            if let Some(i) = model.iter().position(|e| *e == pivot) {
                model.insert(if before { i } else { i + 1 }, element.clone());
            }
            ListWrite::Insert {
                key,
                before,
                pivot,
                element,
            }
        }
        4 => {
            let (count, element) = (index(rng), element(rng));
            model_rem(model, count, &element);
            ListWrite::Rem {
                key,
                count,
                element,
            }
        }
        5 => {
            let (start, stop) = (index(rng), index(rng));
            match normalize_range(model.len() as u64, start, stop) {
                Some((a, z)) => *model = model[a as usize..z as usize].to_vec(),
                None => model.clear(),
            }
            ListWrite::Trim { key, start, stop }
        }
        _ => {
            let (i, element) = (index(rng), element(rng));
            let len = model.len() as i64;
            let at = if i < 0 { i + len } else { i };
            if (0..len).contains(&at) {
                model[at as usize] = element.clone();
            }
            ListWrite::Set {
                key,
                index: i,
                element,
            }
        }
    }
}

/// LREM on the model.
fn model_rem(model: &mut Vec<Vec<u8>>, count: i64, element: &[u8]) {
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let mut hits: Vec<usize> = (0..model.len()).filter(|&i| model[i] == element).collect();
    if count < 0 {
        hits.reverse();
    }
    hits.truncate(limit);
    hits.sort_unstable();
    for i in hits.into_iter().rev() {
        model.remove(i);
    }
}

#[test]
fn randomized_against_a_vec_model() {
    let seed = test_seed();
    let mut rng = crate::engine::OpRng::new(seed);
    let mut s = TestShard::new();
    let mut model: Vec<Vec<u8>> = Vec::new();
    for step in 0..400 {
        let op = random_op(&mut rng, &mut model);
        let _ = s.write(op.clone());
        let expected = Output::Array(model.iter().cloned().map(Output::Bulk).collect());
        assert_eq!(
            range(&s, "l"),
            expected,
            "seed {seed} step {step} after {op:?}"
        );
        assert_eq!(
            s.read(ListRead::Len { key: b("l") }).unwrap(),
            Output::Int(model.len() as i64)
        );
        assert_eq!(gone(&s, "l"), model.is_empty(), "seed {seed} step {step}");
    }
}
