//! Sorted-set ranges: by rank, by score, by lex, and the scans that answer them.
//!
//! Rank queries walk the score index from one end (O(rank + count)): the layout keeps no
//! per-node span counts, so ZRANK, ZRANGE by rank and ZREMRANGEBYRANK cost O(n) in the worst
//! case where Redis's skiplist needs O(log n). Score and lex ranges seek directly.
//!
//! Lex ranges are answered from the member records (sorted by member bytes). Redis defines lex
//! ranges only for sorted sets whose members all have the same score, where this is the same
//! order as Redis's; with mixed scores Redis's answer follows its skiplist and ours follows
//! member order.

use serde::{Deserialize, Serialize};

use crate::engine::{Reader, ReaderExt, SubRange};
use crate::error::StorageError;
use crate::keys::{self, Meta};

/// A score interval `min..max` with each end inclusive or exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreRange {
    /// Lower end.
    pub min: f64,
    /// Whether `min` itself is excluded (`(min`).
    pub min_exclusive: bool,
    /// Upper end.
    pub max: f64,
    /// Whether `max` itself is excluded (`(max`).
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// Whether `score` lies in the range.
    pub fn contains(&self, score: f64) -> bool {
        let above = if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        };
        let below = if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        };
        above && below
    }
}

/// One end of a lex range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LexBound {
    /// `-`: below every member.
    NegInf,
    /// `+`: above every member.
    PosInf,
    /// `[member`.
    Inclusive(Vec<u8>),
    /// `(member`.
    Exclusive(Vec<u8>),
}

/// A member interval for the `*LEX` commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LexRange {
    /// Lower end.
    pub min: LexBound,
    /// Upper end.
    pub max: LexBound,
}

/// What a ZRANGE-style command selects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RangeBy {
    /// Ranks `start..=stop` (negative counts from the end), in the walk direction.
    Rank {
        /// First rank.
        start: i64,
        /// Last rank (inclusive).
        stop: i64,
    },
    /// Scores.
    Score(ScoreRange),
    /// Members (lex order).
    Lex(LexRange),
}

/// A full ZRANGE request: what, in which direction, and which slice of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeSpec {
    /// The selection.
    pub by: RangeBy,
    /// Walk from the highest score (or member) down.
    pub rev: bool,
    /// `LIMIT offset count` (score and lex only); a negative count means all the rest.
    pub limit: Option<(i64, i64)>,
}

/// A member and its score.
pub type Scored = (Vec<u8>, f64);

/// The elements `spec` selects, in walk order.
pub fn range_items(
    reader: &dyn Reader,
    key: &[u8],
    meta: &Meta,
    spec: &RangeSpec,
) -> Result<Vec<Scored>, StorageError> {
    let (offset, count) = match spec.limit {
        Some((offset, _)) if offset < 0 => return Ok(Vec::new()),
        Some((offset, count)) => (offset as u64, u64::try_from(count).unwrap_or(u64::MAX)),
        None => (0, u64::MAX),
    };
    match &spec.by {
        RangeBy::Rank { start, stop } => {
            let size = meta.size as i64;
            let start = if *start < 0 {
                (start + size).max(0)
            } else {
                *start
            };
            let stop = if *stop < 0 {
                stop + size
            } else {
                (*stop).min(size - 1)
            };
            if start > stop || start >= size {
                return Ok(Vec::new());
            }
            let bounds = (vec![keys::zset_score_prefix()[0]], None);
            walk_scores(
                reader,
                key,
                meta,
                bounds,
                spec.rev,
                (start as u64, (stop - start + 1) as u64),
            )
        }
        RangeBy::Score(range) => {
            let Some(bounds) = score_bounds(range) else {
                return Ok(Vec::new());
            };
            walk_scores(reader, key, meta, bounds, spec.rev, (offset, count))
        }
        RangeBy::Lex(range) => {
            let Some(bounds) = lex_bounds(range) else {
                return Ok(Vec::new());
            };
            walk_members(reader, key, meta, bounds, spec.rev, (offset, count))
        }
    }
}

/// How many elements `by` selects (ZCOUNT, ZLEXCOUNT).
pub fn count_in(
    reader: &dyn Reader,
    key: &[u8],
    meta: &Meta,
    by: &RangeBy,
) -> Result<u64, StorageError> {
    let spec = RangeSpec {
        by: by.clone(),
        rev: false,
        limit: None,
    };
    Ok(range_items(reader, key, meta, &spec)?.len() as u64)
}

/// Sub bounds `[start, end)` (end `None` = to the end of the start's tag).
type Bounds = (Vec<u8>, Option<Vec<u8>>);

fn score_sub_at(score: f64) -> Vec<u8> {
    let mut sub = keys::zset_score_prefix().to_vec();
    sub.extend_from_slice(&keys::encode_score(score));
    sub
}

fn score_bounds(range: &ScoreRange) -> Option<Bounds> {
    let start = if range.min_exclusive {
        keys::prefix_end(&score_sub_at(range.min))?
    } else {
        score_sub_at(range.min)
    };
    let end = if range.max_exclusive {
        score_sub_at(range.max)
    } else {
        keys::prefix_end(&score_sub_at(range.max))?
    };
    (start < end).then_some((start, Some(end)))
}

fn member_sub_at(member: &[u8], after: bool) -> Vec<u8> {
    let mut sub = keys::zset_member_sub(member);
    if after {
        // The smallest sub greater than every sub equal to `member`.
        sub.push(0);
    }
    sub
}

fn lex_bounds(range: &LexRange) -> Option<Bounds> {
    let start = match &range.min {
        LexBound::NegInf => keys::zset_member_prefix().to_vec(),
        LexBound::PosInf => return None,
        LexBound::Inclusive(m) => member_sub_at(m, false),
        LexBound::Exclusive(m) => member_sub_at(m, true),
    };
    let end = match &range.max {
        LexBound::NegInf => return None,
        LexBound::PosInf => keys::prefix_end(&keys::zset_member_prefix())?,
        LexBound::Inclusive(m) => member_sub_at(m, true),
        LexBound::Exclusive(m) => member_sub_at(m, false),
    };
    (start < end).then_some((start, Some(end)))
}

/// Narrows score index `bounds` to the sorted set's score bounds (see `keys::Meta`), so a walk
/// seeks past the tombstones that earlier pops left at either end of the index instead of
/// stepping over each one. `None` when nothing can be inside.
fn within_score_bounds(meta: &Meta, (start, end): Bounds) -> Option<(Vec<u8>, Vec<u8>)> {
    let tag = keys::zset_score_prefix()[0];
    let lo = [&[tag][..], &meta.zset_score_lo.to_be_bytes()].concat();
    let hi_end = keys::prefix_end(&[&[tag][..], &meta.zset_score_hi.to_be_bytes()].concat())?;
    let start = start.max(lo);
    let end = match end {
        Some(end) => end.min(hi_end),
        None => hi_end,
    };
    (start < end).then_some((start, end))
}

/// Walks the score index within `bounds`, skipping `offset` and returning up to `count`
/// elements.
fn walk_scores(
    reader: &dyn Reader,
    key: &[u8],
    meta: &Meta,
    bounds: Bounds,
    rev: bool,
    (offset, count): (u64, u64),
) -> Result<Vec<Scored>, StorageError> {
    let prefix = keys::zset_score_prefix();
    let mut out = Vec::new();
    let Some((start, end)) = within_score_bounds(meta, bounds) else {
        return Ok(out);
    };
    let range = SubRange {
        prefix: &prefix,
        start: Some(&start),
        end: Some(&end),
        reverse: rev,
    };
    let (mut skipped, mut failure) = (0u64, None);
    if count == 0 {
        return Ok(out);
    }
    reader.sub_scan(key, meta, range, &mut |sub, _| {
        if skipped < offset {
            skipped += 1;
            return true;
        }
        match keys::parse_zset_score_sub(sub) {
            Ok((score, member)) => out.push((member.to_vec(), score)),
            Err(e) => {
                failure = Some(e);
                return false;
            }
        }
        (out.len() as u64) < count
    })?;
    failure.map_or(Ok(out), Err)
}

/// Walks the member records within `bounds`, skipping `offset` and returning up to `count`.
fn walk_members(
    reader: &dyn Reader,
    key: &[u8],
    meta: &Meta,
    bounds: Bounds,
    rev: bool,
    (offset, count): (u64, u64),
) -> Result<Vec<Scored>, StorageError> {
    let prefix = keys::zset_member_prefix();
    let range = SubRange {
        prefix: &prefix,
        start: Some(&bounds.0),
        end: bounds.1.as_deref(),
        reverse: rev,
    };
    let mut out = Vec::new();
    let (mut skipped, mut failure) = (0u64, None);
    if count == 0 {
        return Ok(out);
    }
    reader.sub_scan(key, meta, range, &mut |sub, value| {
        if skipped < offset {
            skipped += 1;
            return true;
        }
        match keys::decode_score(value) {
            Ok(score) => out.push((sub[1..].to_vec(), score)),
            Err(e) => {
                failure = Some(e);
                return false;
            }
        }
        (out.len() as u64) < count
    })?;
    failure.map_or(Ok(out), Err)
}

/// The 0-based rank of `member` (with `score`) from the lowest score: the number of score
/// index records before it. O(rank).
pub fn rank_of(
    reader: &dyn Reader,
    key: &[u8],
    meta: &Meta,
    member: &[u8],
    score: f64,
) -> Result<u64, StorageError> {
    let prefix = keys::zset_score_prefix();
    let end = keys::zset_score_sub(score, member);
    let Some((start, end)) = within_score_bounds(meta, (prefix.to_vec(), Some(end))) else {
        return Ok(0);
    };
    let range = SubRange {
        prefix: &prefix,
        start: Some(&start),
        end: Some(&end),
        reverse: false,
    };
    let mut rank = 0u64;
    reader.sub_scan(key, meta, range, &mut |_, _| {
        rank += 1;
        true
    })?;
    Ok(rank)
}
