//! Pieces shared by the collection families (hash, list, set, sorted set): loading and storing
//! a collection's metadata, the `*SCAN` cursor, and random sampling for the `*RAND*`/`SPOP`
//! commands.
//!
//! # `HSCAN`/`SSCAN`/`ZSCAN` cursor
//!
//! Elements are visited in sub-key order (field / member bytes). The cursor is the first
//! 8 bytes of the sub (after any type prefix) of the next element to visit, zero-padded, read as
//! a big-endian `u64`; `0` starts and ends an iteration. Resuming seeks to those bytes with
//! trailing zero bytes stripped, which sorts at or before the element, so:
//! - every element present for the whole iteration is returned (nothing before the resume
//!   point is skipped that was not returned already);
//! - an element sharing its first 8 bytes with the resume point may be returned twice
//!   (Redis allows duplicates);
//! - iteration terminates: a page never ends on a cursor equal to the one it started from (it
//!   keeps going past elements that encode to the same cursor), so cursors strictly increase.
//!
//! The cost of statelessness: a page returns more than `COUNT` elements when many elements
//! share their first 8 bytes (for example fields `user:0000001`...), up to all of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::{KeepGoing, OpRng, Reader, ReaderExt, SubRange, Txn};
use crate::error::StorageError;
use crate::glob;
use crate::keys::{KeyKind, Meta};
use crate::output::{ExecError, Output};

/// Arguments of `HSCAN`/`SSCAN`/`ZSCAN` after the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanArgs {
    /// The cursor (see the module docs); 0 starts an iteration.
    pub cursor: u64,
    /// Only return elements whose field/member matches this glob pattern.
    pub pattern: Option<Vec<u8>>,
    /// How many elements to visit (a hint; more may be returned).
    pub count: u64,
}

/// A sub (without its type prefix) and its value.
pub type SubItem = (Vec<u8>, Vec<u8>);

/// One page of a sub-key scan.
#[derive(Debug, Default)]
pub struct ScanPage {
    /// The cursor to continue with; 0 when the iteration is complete.
    pub cursor: u64,
    /// `(sub without the prefix, value)` of the visited elements that match the pattern.
    pub items: Vec<SubItem>,
}

impl ScanPage {
    /// The `[cursor, [elements...]]` reply; `render` turns one item into its reply elements.
    pub fn into_output(self, render: impl Fn(Vec<u8>, Vec<u8>) -> Vec<Output>) -> Output {
        let items = self
            .items
            .into_iter()
            .flat_map(|(sub, value)| render(sub, value))
            .collect();
        Output::Array(vec![
            Output::bulk(self.cursor.to_string()),
            Output::Array(items),
        ])
    }
}

/// The cursor that resumes at `sub`.
fn cursor_of(sub: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = sub.len().min(8);
    bytes[..n].copy_from_slice(&sub[..n]);
    u64::from_be_bytes(bytes)
}

/// The sub a cursor resumes at.
fn resume_point(cursor: u64) -> Vec<u8> {
    let mut bytes = cursor.to_be_bytes().to_vec();
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

/// Scans one page of the subs under `prefix` of the collection `meta` of `key`.
pub fn scan_page(
    reader: &dyn Reader,
    key: &[u8],
    meta: &Meta,
    prefix: &[u8],
    args: &ScanArgs,
) -> Result<ScanPage, StorageError> {
    let start = [prefix, &resume_point(args.cursor)].concat();
    let mut page = ScanPage::default();
    let mut visited = 0u64;
    let mut next_cursor = 0;
    let range = SubRange {
        prefix,
        start: Some(&start),
        ..Default::default()
    };
    reader.sub_scan(key, meta, range, &mut |sub, value| -> KeepGoing {
        let rest = &sub[prefix.len()..];
        let cursor = cursor_of(rest);
        if visited >= args.count && cursor != args.cursor {
            next_cursor = cursor;
            return false;
        }
        visited += 1;
        if args
            .pattern
            .as_deref()
            .is_none_or(|p| glob::matches(p, rest, false))
        {
            page.items.push((rest.to_vec(), value.to_vec()));
        }
        true
    })?;
    page.cursor = next_cursor;
    Ok(page)
}

/// The live metadata of `key` for a write of `kind`, or a fresh empty collection with a new
/// version when the key does not exist. `WrongType` if it holds another type.
pub fn load_or_new(txn: &mut Txn<'_>, key: &[u8], kind: KeyKind) -> Result<Meta, ExecError> {
    match txn.meta_of(key, kind)? {
        Some(meta) => Ok(meta),
        None => Ok(Meta::collection(kind, txn.new_version())),
    }
}

/// Writes `meta` back, or deletes the key when the collection became empty (Redis never keeps
/// empty collections).
pub fn store_meta(txn: &mut Txn<'_>, key: &[u8], meta: &Meta) {
    if meta.size == 0 {
        txn.delete_key(key);
    } else {
        txn.put_meta(key, meta);
    }
}

/// Which positions (`0..size`, in sub order) a `*RAND*` command with `count` picks: distinct
/// positions in random order when `count >= 0` (all of them, in order, when `count >= size`),
/// `|count|` positions with repeats when negative.
pub fn sample_positions(rng: &mut OpRng, size: u64, count: i64) -> Vec<u64> {
    if size == 0 || count == 0 {
        return Vec::new();
    }
    if count < 0 {
        return (0..count.unsigned_abs()).map(|_| rng.below(size)).collect();
    }
    let wanted = count.unsigned_abs();
    if wanted >= size {
        return (0..size).collect();
    }
    // Floyd's algorithm: `wanted` distinct positions in O(wanted) draws.
    let mut chosen = std::collections::BTreeSet::new();
    let mut picked = Vec::with_capacity(wanted as usize);
    for j in (size - wanted)..size {
        let t = rng.below(j + 1);
        let p = if chosen.insert(t) {
            t
        } else {
            chosen.insert(j);
            j
        };
        picked.push(p);
    }
    picked
}

/// The `(sub without prefix, value)` at each of `positions` (sub order, under `prefix`), in
/// the order of `positions`. One scan of the collection up to the highest position.
pub fn subs_at_positions(
    reader: &dyn Reader,
    key: &[u8],
    meta: &Meta,
    prefix: &[u8],
    positions: &[u64],
) -> Result<Vec<SubItem>, StorageError> {
    let mut wanted: BTreeMap<u64, Option<SubItem>> = positions.iter().map(|&p| (p, None)).collect();
    let Some(&last) = wanted.keys().next_back() else {
        return Ok(Vec::new());
    };
    let mut position = 0u64;
    reader.sub_scan(key, meta, SubRange::prefixed(prefix), &mut |sub, value| {
        if let Some(slot) = wanted.get_mut(&position) {
            *slot = Some((sub[prefix.len()..].to_vec(), value.to_vec()));
        }
        position += 1;
        position <= last
    })?;
    positions
        .iter()
        .map(|p| {
            wanted.get(p).cloned().flatten().ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "collection size {} but no element at position {p}",
                    meta.size
                ))
            })
        })
        .collect()
}

/// One live `(sub without prefix, value)` under `prefix`, picked at a seeded random point:
/// the first element at or after a random point between the first and the last element,
/// wrapping around to the first. `None` when the collection has no element under `prefix`.
///
/// Three seeks whatever the size, and the seeks land past the tombstones of earlier removals
/// instead of stepping over all of them (as a walk to a random position would). The point is
/// drawn per byte over the first 8 bytes in which the first and last elements differ (see
/// `random_point_between`), so an element is picked in proportion to the gap in that space
/// between it and its predecessor, not exactly uniformly (Redis's SPOP/SRANDMEMBER are not exactly uniform either: they pick a
/// random hash bucket, then a random element of its chain). Deterministic given `rng`.
pub fn sub_near_random_point(
    reader: &dyn Reader,
    key: &[u8],
    meta: &Meta,
    prefix: &[u8],
    rng: &mut OpRng,
) -> Result<Option<SubItem>, StorageError> {
    let first_at = |start: Option<&[u8]>, reverse: bool| {
        let mut found = None;
        let range = SubRange {
            prefix,
            start,
            end: None,
            reverse,
        };
        reader.sub_scan(key, meta, range, &mut |sub, value| {
            found = Some((sub[prefix.len()..].to_vec(), value.to_vec()));
            false
        })?;
        Ok::<_, StorageError>(found)
    };
    let Some(first) = first_at(None, false)? else {
        return Ok(None);
    };
    let Some(last) = first_at(None, true)? else {
        return Ok(None);
    };
    let point = [prefix, &random_point_between(&first.0, &last.0, rng)].concat();
    Ok(Some(first_at(Some(&point), false)?.unwrap_or(first)))
}

/// A random byte string after the common prefix of `low` and `high`: each of the next 8
/// bytes is uniform between that byte of `low` and of `high` (a missing byte counts as 0).
/// Drawing per byte rather than over the whole 8-byte range keeps points among the bytes the
/// members actually use: keys like `element:000123` would otherwise mostly land past the `9`s
/// of a digit and pile every pick onto the first member of the next block.
fn random_point_between(low: &[u8], high: &[u8], rng: &mut OpRng) -> Vec<u8> {
    let common = low.iter().zip(high).take_while(|(a, b)| a == b).count();
    let mut point = low[..common].to_vec();
    for i in common..common + 8 {
        let a = low.get(i).copied().unwrap_or(0);
        let b = high.get(i).copied().unwrap_or(0);
        let (from, to) = (a.min(b), a.max(b));
        let byte = from + rng.below(u64::from(to - from) + 1) as u8;
        point.push(byte);
    }
    while point.len() > common && point.last() == Some(&0) {
        point.pop();
    }
    point
}

/// Every `(sub without prefix, value)` under `prefix`, in sub order.
pub fn all_subs(
    reader: &dyn Reader,
    key: &[u8],
    meta: &Meta,
    prefix: &[u8],
) -> Result<Vec<SubItem>, StorageError> {
    let mut out = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0).min(1 << 16));
    reader.sub_scan(key, meta, SubRange::prefixed(prefix), &mut |sub, value| {
        out.push((sub[prefix.len()..].to_vec(), value.to_vec()));
        true
    })?;
    Ok(out)
}

/// A real shard in a temporary RocksDB for the collection families' unit tests.
#[cfg(test)]
pub(crate) mod testkit {
    use std::sync::Arc;

    use crate::db::{shard_cf_name, Db, StorageConfig};
    use crate::engine::{Reader, Txn};
    use crate::op::{ReadOp, WriteEntry, WriteOp};
    use crate::output::ExecResult;
    use crate::shard::ShardStore;

    /// One shard, applying one entry per write with increasing indexes.
    pub struct TestShard {
        _dir: tempfile::TempDir,
        db: Arc<Db>,
        pub store: ShardStore,
        index: u64,
        pub now_ms: u64,
    }

    impl TestShard {
        pub fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let db = Db::open(dir.path(), &StorageConfig::default()).unwrap();
            db.create_shard(1).unwrap();
            let store = db.shard(1).unwrap();
            TestShard {
                _dir: dir,
                db,
                store,
                index: 0,
                now_ms: 1_700_000_000_000,
            }
        }

        /// Applies one entry holding `ops`; one result per op.
        pub fn entry(&mut self, ops: Vec<WriteOp>) -> Vec<ExecResult> {
            self.index += 1;
            self.now_ms += 1;
            let entry = WriteEntry {
                now_ms: self.now_ms,
                ops,
            };
            self.store.apply(self.index, &entry).unwrap().unwrap()
        }

        /// Applies one op in its own entry.
        pub fn write(&mut self, op: impl Into<WriteOp>) -> ExecResult {
            self.entry(vec![op.into()]).pop().unwrap()
        }

        pub fn read(&self, op: impl Into<ReadOp>) -> ExecResult {
            self.store.read(self.now_ms, &op.into())
        }

        /// Deletes `key` the O(1) way (metadata only), as DEL does.
        pub fn delete_key(&mut self, key: &[u8]) {
            self.index += 1;
            let cf = shard_cf_name(1);
            let mut txn = Txn::new(&self.db, &cf, self.now_ms, self.store.state());
            txn.delete_key(key);
            txn.commit(self.index).unwrap();
            // Reopen so the store's cached state matches what was committed.
            self.store = self.db.shard(1).unwrap();
        }

        /// Every record of the shard, for determinism checks.
        pub fn raw(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
            let mut out = Vec::new();
            self.store.with_snapshot(self.now_ms, |view| {
                view.scan_raw(&[], &[0xFF; 16], false, &mut |k, v| {
                    out.push((k.to_vec(), v.to_vec()));
                    true
                })
                .unwrap();
            });
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_sorts_at_or_before_the_sub() {
        for sub in [&b"a"[..], b"abcdefghij", b"\x00\x01", b"ab\x00", b""] {
            let resume = resume_point(cursor_of(sub));
            assert!(resume.as_slice() <= sub, "{sub:?}");
        }
        assert_eq!(cursor_of(b""), 0);
    }

    #[test]
    fn distinct_samples_are_distinct() {
        let mut rng = OpRng::new(7);
        for size in 1..20u64 {
            for count in 0..25i64 {
                let mut p = sample_positions(&mut rng, size, count);
                assert_eq!(p.len() as u64, size.min(count as u64));
                p.sort_unstable();
                p.dedup();
                assert_eq!(p.len() as u64, size.min(count as u64));
                assert!(p.iter().all(|&x| x < size));
            }
        }
        assert_eq!(sample_positions(&mut rng, 3, -5).len(), 5);
    }
}
