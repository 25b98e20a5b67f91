//! List commands.
//!
//! A list is a metadata record (`list_head`, `size`) plus one sub-key per element at position
//! `list_head + index` (see `keys.rs`). Pushes and pops at either end touch one element and the
//! metadata. LINSERT shifts the shorter side of the list by one position, and LREM compacts the
//! elements after the first removed one: O(n) writes, like Redis's O(n) for these. LTRIM drops
//! both ends with two range deletes (O(1) writes).

use serde::{Deserialize, Serialize};

use crate::engine::{slot_of, Reader, ReaderExt, SubRange, Txn};
use crate::keys::{self, KeyKind, Meta};
use crate::output::{ExecError, ExecResult, Output};
use crate::types::collection;

/// A list write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ListWrite {
    /// LPUSH, RPUSH, LPUSHX, RPUSHX: replies with the new length.
    Push {
        /// The list.
        key: Vec<u8>,
        /// Elements, pushed one after another.
        elements: Vec<Vec<u8>>,
        /// Push at the head (LPUSH) rather than the tail.
        left: bool,
        /// Only push if the list exists (the `X` forms); replies 0 otherwise.
        only_if_exists: bool,
    },
    /// LPOP, RPOP.
    Pop {
        /// The list.
        key: Vec<u8>,
        /// Pop from the head.
        left: bool,
        /// `None`: one element (bulk or nil); `Some(n)`: up to n (array, or null array when the
        /// key is missing).
        count: Option<u64>,
    },
    /// LSET.
    Set {
        /// The list.
        key: Vec<u8>,
        /// Index (negative counts from the tail).
        index: i64,
        /// New element.
        element: Vec<u8>,
    },
    /// LINSERT: replies with the new length, -1 when the pivot is missing, 0 when the key is.
    Insert {
        /// The list.
        key: Vec<u8>,
        /// Insert before the pivot (rather than after).
        before: bool,
        /// The element to insert next to (first occurrence from the head).
        pivot: Vec<u8>,
        /// The new element.
        element: Vec<u8>,
    },
    /// LREM: replies with the number removed.
    Rem {
        /// The list.
        key: Vec<u8>,
        /// > 0: first `count` from the head; < 0: from the tail; 0: all.
        count: i64,
        /// The element to remove.
        element: Vec<u8>,
    },
    /// LTRIM.
    Trim {
        /// The list.
        key: Vec<u8>,
        /// First index kept.
        start: i64,
        /// Last index kept.
        stop: i64,
    },
    /// LMOVE and RPOPLPUSH (source and destination may be the same list).
    Move {
        /// Source list.
        source: Vec<u8>,
        /// Destination list.
        destination: Vec<u8>,
        /// Pop from the source's head.
        from_left: bool,
        /// Push at the destination's head.
        to_left: bool,
    },
    /// LMPOP: pops from the first non-empty list; `[key, [elements]]` or a null array.
    MPop {
        /// The candidate lists, in order.
        keys: Vec<Vec<u8>>,
        /// Pop from the head.
        left: bool,
        /// How many elements at most.
        count: u64,
    },
}

impl ListWrite {
    /// Applies the op.
    pub fn apply(&self, txn: &mut Txn<'_>) -> ExecResult {
        match self {
            ListWrite::Push {
                key,
                elements,
                left,
                only_if_exists,
            } => {
                if *only_if_exists && txn.meta_of(key, KeyKind::List)?.is_none() {
                    return Ok(Output::Int(0));
                }
                Ok(Output::Int(push(txn, key, elements, *left)?))
            }
            ListWrite::Pop { key, left, count } => {
                let Some(meta) = txn.meta_of(key, KeyKind::List)? else {
                    return Ok(if count.is_some() {
                        Output::NilArray
                    } else {
                        Output::Nil
                    });
                };
                let popped = pop(txn, key, meta, *left, count.unwrap_or(1))?;
                Ok(match count {
                    Some(_) => Output::bulks(popped),
                    None => Output::bulk_or_nil(popped.into_iter().next()),
                })
            }
            ListWrite::Set {
                key,
                index,
                element,
            } => lset(txn, key, *index, element),
            ListWrite::Insert {
                key,
                before,
                pivot,
                element,
            } => insert(txn, key, *before, pivot, element),
            ListWrite::Rem {
                key,
                count,
                element,
            } => rem(txn, key, *count, element),
            ListWrite::Trim { key, start, stop } => trim(txn, key, *start, *stop),
            ListWrite::Move {
                source,
                destination,
                from_left,
                to_left,
            } => lmove(txn, source, destination, *from_left, *to_left),
            ListWrite::MPop { keys, left, count } => mpop(txn, keys, *left, *count),
        }
    }
}

/// The position of element `index` (0-based from the head).
fn position(meta: &Meta, index: u64) -> u64 {
    meta.list_head
        .checked_add(index)
        .expect("list positions stay within u64")
}

/// Redis's index normalisation for one index: negative counts from the tail; `None` when out
/// of range.
fn normalize_index(meta: &Meta, index: i64) -> Option<u64> {
    let size = meta.size as i64;
    let index = if index < 0 { index + size } else { index };
    (0..size).contains(&index).then_some(index as u64)
}

/// Redis's range normalisation (LRANGE, LTRIM): `[start, stop]` inclusive as `start..end`,
/// or `None` when empty.
fn normalize_range(size: u64, start: i64, stop: i64) -> Option<(u64, u64)> {
    let size = size as i64;
    let start = if start < 0 {
        (start + size).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { stop + size } else { stop };
    if start > stop || start >= size {
        return None;
    }
    Some((start as u64, (stop.min(size - 1) + 1) as u64))
}

/// The elements at indexes `start..end`, ascending (descending when `reverse`).
fn elements(
    reader: &dyn Reader,
    key: &[u8],
    meta: &Meta,
    start: u64,
    end: u64,
    reverse: bool,
) -> Result<Vec<Vec<u8>>, ExecError> {
    let (from, to) = (
        keys::list_sub(position(meta, start)),
        keys::list_sub(position(meta, end)),
    );
    let range = SubRange {
        prefix: &[],
        start: Some(&from),
        end: Some(&to),
        reverse,
    };
    let mut out = Vec::with_capacity(usize::try_from(end - start).unwrap_or(0).min(1 << 16));
    reader.sub_scan(key, meta, range, &mut |_, value| {
        out.push(value.to_vec());
        true
    })?;
    Ok(out)
}

/// Pushes `elements`; returns the new length.
fn push(txn: &mut Txn<'_>, key: &[u8], elements: &[Vec<u8>], left: bool) -> Result<i64, ExecError> {
    let mut meta = collection::load_or_new(txn, key, KeyKind::List)?;
    for element in elements {
        let pos = if left {
            meta.list_head = meta
                .list_head
                .checked_sub(1)
                .expect("list head stays above 0");
            meta.list_head
        } else {
            position(&meta, meta.size)
        };
        txn.put_sub(key, &meta, &keys::list_sub(pos), element.clone());
        meta.size += 1;
    }
    txn.put_meta(key, &meta);
    Ok(meta.size as i64)
}

/// Pops up to `count` elements from one end of the existing list `meta`.
fn pop(
    txn: &mut Txn<'_>,
    key: &[u8],
    mut meta: Meta,
    left: bool,
    count: u64,
) -> Result<Vec<Vec<u8>>, ExecError> {
    let n = count.min(meta.size);
    let (start, end) = if left {
        (0, n)
    } else {
        (meta.size - n, meta.size)
    };
    let popped = elements(&*txn, key, &meta, start, end, !left)?;
    for index in start..end {
        txn.delete_sub(key, &meta, &keys::list_sub(position(&meta, index)));
    }
    if left {
        meta.list_head += n;
    }
    meta.size -= n;
    collection::store_meta(txn, key, &meta);
    Ok(popped)
}

fn lset(txn: &mut Txn<'_>, key: &[u8], index: i64, element: &[u8]) -> ExecResult {
    let meta = txn
        .meta_of(key, KeyKind::List)?
        .ok_or(ExecError::NoSuchKey)?;
    let index = normalize_index(&meta, index).ok_or(ExecError::IndexOutOfRange)?;
    txn.put_sub(
        key,
        &meta,
        &keys::list_sub(position(&meta, index)),
        element.to_vec(),
    );
    Ok(Output::Ok)
}

/// The index of the first element equal to `wanted`, from the head.
fn find_first(
    reader: &dyn Reader,
    key: &[u8],
    meta: &Meta,
    wanted: &[u8],
) -> Result<Option<u64>, ExecError> {
    let mut index = 0u64;
    let mut found = None;
    reader.sub_scan(key, meta, SubRange::all(), &mut |_, value| {
        if value == wanted {
            found = Some(index);
            return false;
        }
        index += 1;
        true
    })?;
    Ok(found)
}

fn insert(txn: &mut Txn<'_>, key: &[u8], before: bool, pivot: &[u8], element: &[u8]) -> ExecResult {
    let Some(mut meta) = txn.meta_of(key, KeyKind::List)? else {
        return Ok(Output::Int(0));
    };
    let Some(pivot_index) = find_first(&*txn, key, &meta, pivot)? else {
        return Ok(Output::Int(-1));
    };
    let at = if before { pivot_index } else { pivot_index + 1 };
    // Shift the shorter side by one position to open a slot for index `at`.
    if at < meta.size - at {
        let moved = elements(&*txn, key, &meta, 0, at, false)?;
        meta.list_head = meta
            .list_head
            .checked_sub(1)
            .expect("list head stays above 0");
        for (index, value) in moved.into_iter().enumerate() {
            txn.put_sub(
                key,
                &meta,
                &keys::list_sub(position(&meta, index as u64)),
                value,
            );
        }
    } else {
        let moved = elements(&*txn, key, &meta, at, meta.size, false)?;
        for (offset, value) in moved.into_iter().enumerate() {
            txn.put_sub(
                key,
                &meta,
                &keys::list_sub(position(&meta, at + offset as u64 + 1)),
                value,
            );
        }
    }
    txn.put_sub(
        key,
        &meta,
        &keys::list_sub(position(&meta, at)),
        element.to_vec(),
    );
    meta.size += 1;
    txn.put_meta(key, &meta);
    Ok(Output::Int(meta.size as i64))
}

fn rem(txn: &mut Txn<'_>, key: &[u8], count: i64, element: &[u8]) -> ExecResult {
    let Some(mut meta) = txn.meta_of(key, KeyKind::List)? else {
        return Ok(Output::Int(0));
    };
    let all = elements(&*txn, key, &meta, 0, meta.size, false)?;
    let limit = if count == 0 {
        u64::MAX
    } else {
        count.unsigned_abs()
    };
    let mut remove = vec![false; all.len()];
    let mut removed = 0u64;
    let order: Box<dyn Iterator<Item = usize>> = if count < 0 {
        Box::new((0..all.len()).rev())
    } else {
        Box::new(0..all.len())
    };
    for i in order {
        if removed == limit {
            break;
        }
        if all[i] == element {
            remove[i] = true;
            removed += 1;
        }
    }
    let Some(first) = remove.iter().position(|&r| r) else {
        return Ok(Output::Int(0));
    };
    // Elements before the first removed one stay; the rest are compacted towards the head.
    let kept: Vec<Vec<u8>> = all
        .into_iter()
        .zip(remove)
        .skip(first)
        .filter(|(_, r)| !r)
        .map(|(v, _)| v)
        .collect();
    let kept_end = first as u64 + kept.len() as u64;
    for (offset, value) in kept.into_iter().enumerate() {
        txn.put_sub(
            key,
            &meta,
            &keys::list_sub(position(&meta, first as u64 + offset as u64)),
            value,
        );
    }
    delete_positions(txn, key, &meta, kept_end, meta.size);
    meta.size = kept_end;
    collection::store_meta(txn, key, &meta);
    Ok(Output::Int(removed as i64))
}

/// Deletes the elements at indexes `start..end` with one range delete.
fn delete_positions(txn: &mut Txn<'_>, key: &[u8], meta: &Meta, start: u64, end: u64) {
    if start >= end {
        return;
    }
    let slot = slot_of(key);
    let from = keys::sub_key(
        slot,
        key,
        meta.version,
        &keys::list_sub(position(meta, start)),
    );
    let to = keys::sub_key(
        slot,
        key,
        meta.version,
        &keys::list_sub(position(meta, end)),
    );
    txn.delete_range_raw(from, to);
}

fn trim(txn: &mut Txn<'_>, key: &[u8], start: i64, stop: i64) -> ExecResult {
    let Some(mut meta) = txn.meta_of(key, KeyKind::List)? else {
        return Ok(Output::Ok);
    };
    let Some((keep_start, keep_end)) = normalize_range(meta.size, start, stop) else {
        txn.delete_key(key);
        return Ok(Output::Ok);
    };
    delete_positions(txn, key, &meta, 0, keep_start);
    delete_positions(txn, key, &meta, keep_end, meta.size);
    meta.list_head += keep_start;
    meta.size = keep_end - keep_start;
    txn.put_meta(key, &meta);
    Ok(Output::Ok)
}

fn lmove(
    txn: &mut Txn<'_>,
    source: &[u8],
    destination: &[u8],
    from_left: bool,
    to_left: bool,
) -> ExecResult {
    // As in Redis, a missing source answers nil before the destination's type is checked.
    let Some(src) = txn.meta_of(source, KeyKind::List)? else {
        return Ok(Output::Nil);
    };
    txn.meta_of(destination, KeyKind::List)?;
    let popped = pop(txn, source, src, from_left, 1)?;
    push(txn, destination, &popped, to_left)?;
    Ok(Output::bulk_or_nil(popped.into_iter().next()))
}

fn mpop(txn: &mut Txn<'_>, keys: &[Vec<u8>], left: bool, count: u64) -> ExecResult {
    for key in keys {
        if let Some(meta) = txn.meta_of(key, KeyKind::List)? {
            let popped = pop(txn, key, meta, left, count)?;
            return Ok(Output::Array(vec![
                Output::Bulk(key.clone()),
                Output::bulks(popped),
            ]));
        }
    }
    Ok(Output::NilArray)
}

/// A list read op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ListRead {
    /// LLEN.
    Len {
        /// The list.
        key: Vec<u8>,
    },
    /// LRANGE.
    Range {
        /// The list.
        key: Vec<u8>,
        /// First index.
        start: i64,
        /// Last index (inclusive).
        stop: i64,
    },
    /// LINDEX.
    Index {
        /// The list.
        key: Vec<u8>,
        /// The index (negative counts from the tail).
        index: i64,
    },
    /// LPOS.
    Pos {
        /// The list.
        key: Vec<u8>,
        /// The element to find.
        element: Vec<u8>,
        /// Skip the first `rank - 1` matches; negative searches from the tail. Never 0.
        rank: i64,
        /// `None`: reply with one index or nil; `Some(0)`: all matches; `Some(n)`: up to n.
        count: Option<u64>,
        /// Compare at most this many elements; 0 means all.
        maxlen: u64,
    },
}

impl ListRead {
    /// Executes the op.
    pub fn execute(&self, reader: &dyn Reader) -> ExecResult {
        match self {
            ListRead::Len { key } => Ok(Output::Int(
                reader
                    .meta_of(key, KeyKind::List)?
                    .map_or(0, |m| m.size as i64),
            )),
            ListRead::Range { key, start, stop } => {
                let Some(meta) = reader.meta_of(key, KeyKind::List)? else {
                    return Ok(Output::Array(Vec::new()));
                };
                let Some((from, to)) = normalize_range(meta.size, *start, *stop) else {
                    return Ok(Output::Array(Vec::new()));
                };
                Ok(Output::bulks(elements(
                    reader, key, &meta, from, to, false,
                )?))
            }
            ListRead::Index { key, index } => {
                let Some(meta) = reader.meta_of(key, KeyKind::List)? else {
                    return Ok(Output::Nil);
                };
                let Some(index) = normalize_index(&meta, *index) else {
                    return Ok(Output::Nil);
                };
                let sub = keys::list_sub(position(&meta, index));
                Ok(Output::bulk_or_nil(reader.sub_get(key, &meta, &sub)?))
            }
            ListRead::Pos {
                key,
                element,
                rank,
                count,
                maxlen,
            } => lpos(reader, key, element, *rank, *count, *maxlen),
        }
    }
}

fn lpos(
    reader: &dyn Reader,
    key: &[u8],
    element: &[u8],
    rank: i64,
    count: Option<u64>,
    maxlen: u64,
) -> ExecResult {
    let Some(meta) = reader.meta_of(key, KeyKind::List)? else {
        return Ok(if count.is_some() {
            Output::Array(Vec::new())
        } else {
            Output::Nil
        });
    };
    let reverse = rank < 0;
    let mut skip = rank.unsigned_abs() - 1;
    let wanted = match count {
        None => 1,
        Some(0) => u64::MAX,
        Some(n) => n,
    };
    let compare_max = if maxlen == 0 { u64::MAX } else { maxlen };
    let mut found = Vec::new();
    let mut seen = 0u64;
    let range = SubRange {
        reverse,
        ..SubRange::all()
    };
    reader.sub_scan(key, &meta, range, &mut |_, value| {
        let index = if reverse { meta.size - 1 - seen } else { seen };
        seen += 1;
        if value == element {
            if skip > 0 {
                skip -= 1;
            } else {
                found.push(Output::Int(index as i64));
            }
        }
        (found.len() as u64) < wanted && seen < compare_max
    })?;
    Ok(match count {
        Some(_) => Output::Array(found),
        None => found.into_iter().next().unwrap_or(Output::Nil),
    })
}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
