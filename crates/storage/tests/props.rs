//! Property tests: byte layouts (round trips and sort order), the entry encoding, and the
//! apply transaction's overlay merge.

#![allow(clippy::unwrap_used)] // Tests may unwrap (team rule); helpers outside #[test] too.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;
use storage::engine::Reader;
use storage::keys::{self, KeyKind, Meta, ShardState};
use storage::types::keyspace::{ExpireCond, KeyspaceWrite};
use storage::types::string::{ExpiryChange, SetCond, StringWrite};
use storage::{WriteEntry, WriteOp};

fn user_key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..12)
}

fn slot() -> impl Strategy<Value = u16> {
    0u16..0x4000
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NEG_INFINITY),
        Just(f64::INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(-f64::MIN_POSITIVE),
        Just(f64::MAX),
        Just(f64::MIN),
        any::<f64>().prop_filter("not NaN", |f| !f.is_nan()),
        (-1000i32..1000).prop_map(f64::from),
    ]
}

fn kind() -> impl Strategy<Value = KeyKind> {
    prop_oneof![
        Just(KeyKind::String),
        Just(KeyKind::Hash),
        Just(KeyKind::List),
        Just(KeyKind::Set),
        Just(KeyKind::ZSet)
    ]
}

fn meta() -> impl Strategy<Value = Meta> {
    (
        kind(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        user_key(),
        any::<(u64, u64)>(),
    )
        .prop_map(
            |(kind, expire_at_ms, version, size, head, value, bounds)| match kind {
                KeyKind::String => Meta {
                    expire_at_ms,
                    ..Meta::string(value)
                },
                KeyKind::List => Meta {
                    expire_at_ms,
                    size,
                    list_head: head,
                    ..Meta::collection(kind, version)
                },
                KeyKind::ZSet => Meta {
                    expire_at_ms,
                    size,
                    zset_score_lo: bounds.0,
                    zset_score_hi: bounds.1,
                    ..Meta::collection(kind, version)
                },
                _ => Meta {
                    expire_at_ms,
                    size,
                    ..Meta::collection(kind, version)
                },
            },
        )
}

proptest! {
    #[test]
    fn meta_keys_round_trip_and_sort_by_slot_then_key(s1 in slot(), k1 in user_key(), s2 in slot(), k2 in user_key()) {
        let m1 = keys::meta_key(s1, &k1);
        let m2 = keys::meta_key(s2, &k2);
        prop_assert_eq!(keys::parse_meta_key(&m1), Some((s1, &k1[..])));
        prop_assert!(keys::parse_sub_key(&m1).is_none());
        prop_assert_eq!(m1.cmp(&m2), (s1, &k1).cmp(&(s2, &k2)));
        prop_assert!(m1 >= keys::meta_range_start(s1) && m1 < keys::meta_range_end(s1));
    }

    #[test]
    fn sub_keys_round_trip_and_group_by_key_and_version(
        s in slot(), k1 in user_key(), v1 in any::<u64>(), sub1 in user_key(),
        k2 in user_key(), v2 in any::<u64>(), sub2 in user_key(),
    ) {
        let a = keys::sub_key(s, &k1, v1, &sub1);
        let parsed = keys::parse_sub_key(&a).unwrap();
        prop_assert_eq!((parsed.slot, parsed.user_key, parsed.version, parsed.sub), (s, &k1[..], v1, &sub1[..]));
        prop_assert!(keys::parse_meta_key(&a).is_none());
        // Every sub-key sorts after every metadata key of its slot.
        prop_assert!(a >= keys::meta_range_end(s));
        // Sub-keys of one key and version are contiguous: another (key, version)'s sub-key never
        // falls inside this prefix range.
        let prefix = keys::sub_prefix(s, &k2, v2);
        let end = keys::prefix_end(&prefix).unwrap();
        let inside = a >= prefix && a < end;
        prop_assert_eq!(inside, k1 == k2 && v1 == v2);
        // Within one key and version, order is sub order.
        let b = keys::sub_key(s, &k1, v1, &sub2);
        prop_assert_eq!(a.cmp(&b), sub1.cmp(&sub2));
    }

    #[test]
    fn meta_values_round_trip(m in meta()) {
        let bytes = keys::encode_meta(&m);
        prop_assert_eq!(keys::decode_meta(&bytes).unwrap(), m.clone());
        prop_assert_eq!(keys::peek_meta(&bytes).unwrap(), (m.kind, m.expire_at_ms));
        if m.kind == KeyKind::ZSet {
            // A sorted-set record written before the score bounds existed (no trailing bounds)
            // decodes as unbounded.
            let old = keys::encode_meta(&Meta { zset_score_lo: 0, zset_score_hi: u64::MAX, ..m.clone() });
            prop_assert_eq!(old.len(), 25);
            let decoded = keys::decode_meta(&old).unwrap();
            prop_assert_eq!((decoded.zset_score_lo, decoded.zset_score_hi), (0, u64::MAX));
        }
    }

    #[test]
    fn score_bounds_as_integers_are_numeric_order(a in score(), b in score()) {
        let (ea, eb) = (keys::encode_score(a), keys::encode_score(b));
        prop_assert_eq!(u64::from_be_bytes(ea).cmp(&u64::from_be_bytes(eb)), a.partial_cmp(&b).unwrap());
    }

    #[test]
    fn score_encoding_is_numeric_order(a in score(), b in score(), member in user_key()) {
        let (ea, eb) = (keys::encode_score(a), keys::encode_score(b));
        prop_assert_eq!(ea.cmp(&eb), a.partial_cmp(&b).unwrap());
        let back = keys::decode_score(&ea).unwrap();
        prop_assert!(back == a && back.is_sign_negative() == (a < 0.0 || a == f64::NEG_INFINITY));
        let sub = keys::zset_score_sub(a, &member);
        let (s, m) = keys::parse_zset_score_sub(&sub).unwrap();
        prop_assert!(s == a);
        prop_assert_eq!(m, &member[..]);
    }

    #[test]
    fn list_positions_order(a in any::<u64>(), b in any::<u64>()) {
        prop_assert_eq!(keys::list_sub(a).cmp(&keys::list_sub(b)), a.cmp(&b));
        prop_assert_eq!(keys::parse_list_sub(&keys::list_sub(a)).unwrap(), a);
    }

    #[test]
    fn shard_state_round_trips(applied_index in any::<u64>(), last_version in any::<u64>()) {
        let state = ShardState { applied_index, last_version };
        prop_assert_eq!(keys::decode_shard_state(&keys::encode_shard_state(&state)).unwrap(), state);
    }

    #[test]
    fn write_entries_round_trip(now_ms in any::<u64>(), ops in prop::collection::vec(write_op(), 0..8)) {
        let entry = WriteEntry { now_ms, ops };
        prop_assert_eq!(WriteEntry::decode(&entry.encode()).unwrap(), entry);
    }
}

fn write_op() -> impl Strategy<Value = WriteOp> {
    let expiry = prop_oneof![
        Just(ExpiryChange::Clear),
        Just(ExpiryChange::Keep),
        any::<u64>().prop_map(ExpiryChange::At)
    ];
    let cond = prop_oneof![
        Just(SetCond::Always),
        Just(SetCond::IfMissing),
        Just(SetCond::IfExists)
    ];
    prop_oneof![
        (user_key(), user_key(), cond, expiry, any::<bool>()).prop_map(
            |(key, value, cond, expiry, get)| {
                WriteOp::String(StringWrite::Set {
                    key,
                    value,
                    cond,
                    expiry,
                    get,
                })
            }
        ),
        (
            prop::collection::vec((user_key(), user_key()), 0..4),
            any::<bool>()
        )
            .prop_map(|(pairs, nx)| WriteOp::String(StringWrite::MSet { pairs, nx })),
        (user_key(), any::<i64>())
            .prop_map(|(key, delta)| WriteOp::String(StringWrite::IncrBy { key, delta })),
        (user_key(), -1e300f64..1e300)
            .prop_map(|(key, delta)| WriteOp::String(StringWrite::IncrByFloat { key, delta })),
        (user_key(), any::<i64>()).prop_map(|(key, at_ms)| {
            WriteOp::Keyspace(KeyspaceWrite::Expire {
                key,
                at_ms,
                cond: ExpireCond::Later,
            })
        }),
        prop::collection::vec(user_key(), 0..4)
            .prop_map(|keys| WriteOp::Keyspace(KeyspaceWrite::Del { keys })),
        Just(WriteOp::Keyspace(KeyspaceWrite::FlushAll)),
    ]
}

/// A pending change to the overlay.
#[derive(Debug, Clone)]
enum Pending {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    DeleteRange(Vec<u8>, Vec<u8>),
}

fn small_key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![Just(0u8), Just(1u8), Just(0x7F), Just(0xFE)],
        0..4,
    )
}

fn pending() -> impl Strategy<Value = Pending> {
    prop_oneof![
        3 => (small_key(), small_key()).prop_map(|(k, v)| Pending::Put(k, v)),
        2 => small_key().prop_map(Pending::Delete),
        1 => (small_key(), small_key()).prop_map(|(a, b)| if a <= b { Pending::DeleteRange(a, b) } else { Pending::DeleteRange(b, a) }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn txn_scan_merges_stored_and_pending_records(
        stored in prop::collection::btree_map(small_key(), small_key(), 0..30),
        changes in prop::collection::vec(pending(), 0..30),
        bounds in (small_key(), small_key()),
    ) {
        let f = common::Fixture::new();
        let cf = f.db.cf(f.shard.cf_name()).unwrap();
        // Records whose first byte is 0xFF are shard-local; the generated keys never start so.
        for (k, v) in &stored {
            f.db.rocks().put_cf(&cf, k, v).unwrap();
        }
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = stored.clone();
        let (start, end) = if bounds.0 <= bounds.1 { bounds } else { (bounds.1, bounds.0) };
        let (forward, reverse, point) = f.shard.dry_run(common::T0_MS, |txn| {
            for change in &changes {
                match change.clone() {
                    Pending::Put(k, v) => {
                        model.insert(k.clone(), v.clone());
                        txn.put_raw(k, v);
                    }
                    Pending::Delete(k) => {
                        model.remove(&k);
                        txn.delete_raw(k);
                    }
                    Pending::DeleteRange(a, b) => {
                        model.retain(|k, _| k < &a || k >= &b);
                        txn.delete_range_raw(a, b);
                    }
                }
            }
            let mut forward = Vec::new();
            txn.scan_raw(&start, &end, false, &mut |k, v| { forward.push((k.to_vec(), v.to_vec())); true }).unwrap();
            let mut reverse = Vec::new();
            txn.scan_raw(&start, &end, true, &mut |k, v| { reverse.push((k.to_vec(), v.to_vec())); true }).unwrap();
            let point: Vec<Option<Vec<u8>>> = stored.keys().chain(model.keys()).map(|k| txn.get_raw(k).unwrap()).collect();
            (forward, reverse, point)
        });
        let expected: Vec<(Vec<u8>, Vec<u8>)> = model
            .range::<Vec<u8>, _>((Bound::Included(&start), Bound::Excluded(&end)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        prop_assert_eq!(&forward, &expected);
        let mut rev_expected = expected.clone();
        rev_expected.reverse();
        prop_assert_eq!(&reverse, &rev_expected);
        let point_expected: Vec<Option<Vec<u8>>> = stored.keys().chain(model.keys()).map(|k| model.get(k).cloned()).collect();
        prop_assert_eq!(point, point_expected);
    }
}

/// Keys that stress the SCAN cursor: short, with zero bytes, with long shared prefixes, and
/// concentrated in one slot by a hash tag.
fn scan_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(b'a')], 0..9),
        (0u32..500).prop_map(|i| format!("user:{i}").into_bytes()),
        (0u32..500).prop_map(|i| format!("{{t}}\0\0\0{i}").into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn scan_returns_every_key_present_throughout(
        stable in prop::collection::btree_set(scan_key(), 0..300),
        churn in prop::collection::vec((scan_key(), any::<bool>()), 0..200),
        count in 1u64..20,
    ) {
        use storage::types::keyspace::KeyspaceRead;
        use storage::Output;
        let f = common::Fixture::new();
        for key in &stable {
            f.set(key, b"v");
        }
        let mut churn = churn.into_iter().filter(|(k, _)| !stable.contains(k));
        let (mut cursor, mut seen, mut pages) = (0u64, std::collections::BTreeSet::new(), 0usize);
        loop {
            let op = KeyspaceRead::Scan { cursor, pattern: None, count, type_name: None };
            let Output::Array(parts) = f.kr(op).unwrap() else { panic!() };
            let Output::Bulk(next) = &parts[0] else { panic!() };
            let Output::Array(keys) = &parts[1] else { panic!() };
            seen.extend(keys.iter().map(|k| match k { Output::Bulk(b) => b.clone(), _ => panic!() }));
            let next: u64 = std::str::from_utf8(next).unwrap().parse().unwrap();
            prop_assert!(next == 0 || next > cursor);
            pages += 1;
            prop_assert!(pages <= stable.len() + 300, "no progress");
            // Insert or delete other keys between pages.
            if let Some((key, insert)) = churn.next() {
                if insert {
                    f.set(&key, b"v");
                } else {
                    f.k(KeyspaceWrite::Del { keys: vec![key] }).unwrap();
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let missing: Vec<_> = stable.difference(&seen).collect();
        prop_assert!(missing.is_empty(), "missing {missing:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The snapshot's seek-skipping `scan_metas` and the transaction's per-slot one agree.
    #[test]
    fn scan_metas_agree_between_snapshot_and_txn(
        keys in prop::collection::btree_set(scan_key(), 0..200),
        first in 0u16..0x4000,
        len in 0u16..0x4000,
        from_key in scan_key(),
        use_from in any::<bool>(),
    ) {
        let f = common::Fixture::new();
        for key in &keys {
            f.set(key, b"v");
        }
        // Some collections too, so sub-key regions must be skipped.
        for key in keys.iter().take(20) {
            let pairs = vec![(b"field".to_vec(), b"v".to_vec())];
            let op = storage::types::hash::HashWrite::Set { key: [b"h:", &key[..]].concat(), pairs, reply_ok: false };
            f.write(WriteOp::Hash(op)).unwrap();
        }
        let last = first.saturating_add(len).min(0x3FFF);
        let from = use_from.then(|| keys::meta_key(storage::engine::slot_of(&from_key), &from_key));
        let collect = |reader: &dyn Reader| {
            let mut out = Vec::new();
            reader.scan_metas(first, last, from.as_deref(), &mut |k, _| { out.push(k.to_vec()); true }).unwrap();
            out
        };
        let from_snapshot = f.shard.with_snapshot(common::T0_MS, |view| collect(view));
        let from_txn = f.shard.dry_run(common::T0_MS, |txn| collect(txn));
        prop_assert_eq!(from_snapshot, from_txn);
    }
}
