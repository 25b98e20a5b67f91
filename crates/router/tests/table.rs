//! Routing tables: construction, lookups, and the changes split/merge/migration make.
#![allow(clippy::unwrap_used)] // helpers of tests, where unwrap is the team rule

use router::{Error, RoutingTable, ShardId, Slot, SlotRange};

fn r(a: u16, b: u16) -> SlotRange {
    SlotRange::from_numbers(a, b).unwrap()
}

fn s(n: u16) -> Slot {
    Slot::new(n).unwrap()
}

#[test]
fn even_split_matches_redis_cli() {
    let t = RoutingTable::even_split(3).unwrap();
    assert_eq!(t.epoch(), 1);
    assert_eq!(
        t.ranges(),
        [
            (r(0, 5460), ShardId(1)),
            (r(5461, 10922), ShardId(2)),
            (r(10923, 16383), ShardId(3))
        ]
    );
    assert!(t.is_complete());
    assert_eq!(t.shards(), [ShardId(1), ShardId(2), ShardId(3)]);
    let one = RoutingTable::even_split(1).unwrap();
    assert_eq!(one.ranges(), [(SlotRange::full(), ShardId(1))]);
}

#[test]
fn even_split_any_count_is_contiguous_and_balanced() {
    for n in [1u64, 2, 5, 7, 16, 100, 1000, 16383, 16384] {
        let t = RoutingTable::even_split(n).unwrap();
        let ranges = t.ranges();
        assert_eq!(ranges.len() as u64, n);
        assert!(t.is_complete());
        let sizes: Vec<usize> = ranges.iter().map(|(r, _)| r.len()).collect();
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= 1, "n={n}: sizes {min}..{max}");
        for (i, (_, shard)) in ranges.iter().enumerate() {
            assert_eq!(*shard, ShardId(i as u64 + 1));
        }
    }
    assert_eq!(RoutingTable::even_split(0), Err(Error::ShardCount(0)));
    assert_eq!(
        RoutingTable::even_split(16385),
        Err(Error::ShardCount(16385))
    );
    assert_eq!(
        RoutingTable::even_split_over(1, &[]),
        Err(Error::ShardCount(0))
    );
}

#[test]
fn lookups() {
    let t = RoutingTable::even_split(3).unwrap();
    assert_eq!(t.shard_for_slot(s(0)), Some(ShardId(1)));
    assert_eq!(t.shard_for_slot(s(5460)), Some(ShardId(1)));
    assert_eq!(t.shard_for_slot(s(5461)), Some(ShardId(2)));
    assert_eq!(t.shard_for_slot(Slot::MAX), Some(ShardId(3)));
    assert_eq!(t.shard_for_key(b"foo"), Some(ShardId(3))); // slot 12182
    assert_eq!(t.shard_for_key(b"hello"), Some(ShardId(1))); // slot 866
    assert_eq!(t.slot_count(ShardId(2)), 5462);
    assert_eq!(t.slot_count(ShardId(9)), 0);
}

#[test]
fn from_ranges_allows_gaps_and_rejects_overlaps() {
    let t = RoutingTable::from_ranges(7, [(r(0, 99), ShardId(10)), (r(200, 299), ShardId(20))])
        .unwrap();
    assert_eq!(t.epoch(), 7);
    assert!(!t.is_complete());
    assert_eq!(t.shard_for_slot(s(150)), None);
    assert_eq!(t.shard_for_slot(s(250)), Some(ShardId(20)));
    assert_eq!(t.unassigned(), [r(100, 199), r(300, 16383)]);
    let err = RoutingTable::from_ranges(1, [(r(0, 10), ShardId(1)), (r(10, 20), ShardId(2))]);
    assert_eq!(
        err,
        Err(Error::Overlap {
            slot: s(10),
            first: r(0, 10),
            second: r(10, 20)
        })
    );
    let backwards = SlotRange {
        start: s(5),
        end: s(4),
    };
    assert!(matches!(
        RoutingTable::from_ranges(1, [(backwards, ShardId(1))]),
        Err(Error::EmptyRange { .. })
    ));
    let empty = RoutingTable::empty(0);
    assert_eq!(empty.ranges(), []);
    assert_eq!(empty.unassigned(), [SlotRange::full()]);
}

#[test]
fn ranges_merge_adjacent_runs_of_one_shard() {
    let t =
        RoutingTable::from_ranges(1, [(r(0, 9), ShardId(1)), (r(10, 16383), ShardId(1))]).unwrap();
    assert_eq!(t.ranges(), [(SlotRange::full(), ShardId(1))]);
}

#[test]
fn moving_a_range_bumps_the_epoch() {
    let t = RoutingTable::even_split(2).unwrap();
    let moved = t.with_range_moved(r(100, 199), ShardId(2)).unwrap();
    assert_eq!(moved.epoch(), 2);
    assert_eq!(t.epoch(), 1, "the original table is unchanged");
    assert_eq!(
        moved.ranges(),
        [
            (r(0, 99), ShardId(1)),
            (r(100, 199), ShardId(2)),
            (r(200, 8191), ShardId(1)),
            (r(8192, 16383), ShardId(2))
        ]
    );
    assert_eq!(moved.ranges_of(ShardId(1)), [r(0, 99), r(200, 8191)]);
    let to_new = moved.with_range_moved(r(0, 16383), ShardId(9)).unwrap();
    assert_eq!(to_new.shards(), [ShardId(9)]);
    let gap = t.with_range_unassigned(r(0, 0)).unwrap();
    assert_eq!(gap.shard_for_slot(s(0)), None);
    assert!(!gap.is_complete());
}

#[test]
fn split_and_merge() {
    let t = RoutingTable::even_split(2).unwrap();
    let split = t.with_shard_split(ShardId(1), ShardId(3)).unwrap();
    assert_eq!(split.epoch(), 2);
    assert_eq!(
        split.ranges(),
        [
            (r(0, 4095), ShardId(1)),
            (r(4096, 8191), ShardId(3)),
            (r(8192, 16383), ShardId(2))
        ]
    );
    let merged = split.with_shards_merged(ShardId(3), ShardId(1)).unwrap();
    assert_eq!(merged.epoch(), 3);
    assert_eq!(merged.ranges(), t.ranges());
    assert_eq!(
        t.with_shard_split(ShardId(7), ShardId(8)),
        Err(Error::UnknownShard(ShardId(7)))
    );
    assert_eq!(
        t.with_shard_split(ShardId(1), ShardId(2)),
        Err(Error::ShardExists(ShardId(2)))
    );
    let tiny = RoutingTable::from_ranges(1, [(r(5, 5), ShardId(1))]).unwrap();
    assert_eq!(
        tiny.with_shard_split(ShardId(1), ShardId(2)),
        Err(Error::TooSmallToSplit(ShardId(1)))
    );
    assert_eq!(
        t.with_shards_merged(ShardId(1), ShardId(5)),
        Err(Error::UnknownShard(ShardId(5)))
    );
    // An odd count keeps the extra slot in the original shard.
    let odd = RoutingTable::from_ranges(1, [(r(0, 2), ShardId(1))]).unwrap();
    let odd = odd.with_shard_split(ShardId(1), ShardId(2)).unwrap();
    assert_eq!(odd.ranges(), [(r(0, 1), ShardId(1)), (r(2, 2), ShardId(2))]);
}

#[test]
fn one_shard_per_slot() {
    let t = RoutingTable::even_split(16384).unwrap();
    assert_eq!(t.shards().len(), RoutingTable::SHARDS_MAX);
    assert_eq!(t.shard_for_slot(Slot::MAX), Some(ShardId(16384)));
    assert_eq!(t.ranges().len(), 16384);
}
