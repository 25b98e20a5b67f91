//! Sorted-set commands.
//!
//! A sorted set is a metadata record plus, per member, a member record (`0x00 member` ->
//! encoded score) and a score index record (`0x01 score member`, empty value), always written
//! and deleted together. Score order is the index order; ties order by member bytes, as in
//! Redis.
//!
//! - [`range`]: rank, score and lex ranges.
//! - [`algebra`]: ZUNION, ZINTER, ZDIFF.

pub mod algebra;
pub mod range;

use serde::{Deserialize, Serialize};

use crate::engine::{OpRng, Reader, ReaderExt, Txn};
use crate::keys::{self, KeyKind, Meta};
use crate::output::{ExecError, ExecResult, Output};
use crate::types::collection::{self, ScanArgs};

use algebra::Combine;
use range::{RangeBy, RangeSpec, Scored};

/// ZADD options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZAddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update when the new score is greater.
    pub gt: bool,
    /// Only update when the new score is less.
    pub lt: bool,
    /// Count changed members too.
    pub ch: bool,
    /// Increment (one pair); reply with the new score or nil.
    pub incr: bool,
}

/// A sorted-set write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ZSetWrite {
    /// ZADD and ZINCRBY (`incr`); scores are never NaN.
    Add {
        /// The sorted set.
        key: Vec<u8>,
        /// Options.
        flags: ZAddFlags,
        /// `(score, member)` pairs, applied in order.
        items: Vec<(f64, Vec<u8>)>,
    },
    /// ZREM.
    Rem {
        /// The sorted set.
        key: Vec<u8>,
        /// The members.
        members: Vec<Vec<u8>>,
    },
    /// ZPOPMIN, ZPOPMAX.
    Pop {
        /// The sorted set.
        key: Vec<u8>,
        /// Pop the highest scores.
        max: bool,
        /// `None`: one element as a flat `[member, score]`; `Some(n)`: pairs.
        count: Option<u64>,
    },
    /// ZMPOP.
    MPop {
        /// The candidates, in order.
        keys: Vec<Vec<u8>>,
        /// Pop the highest scores.
        max: bool,
        /// How many at most.
        count: u64,
    },
    /// ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX.
    RemRange {
        /// The sorted set.
        key: Vec<u8>,
        /// What to remove.
        by: RangeBy,
    },
    /// ZRANGESTORE: overwrites `destination` (whatever its type) with the range.
    RangeStore {
        /// Where the result goes.
        destination: Vec<u8>,
        /// The source sorted set.
        source: Vec<u8>,
        /// The range.
        spec: RangeSpec,
    },
    /// ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE: overwrites `destination` with the result.
    Store {
        /// Where the result goes.
        destination: Vec<u8>,
        /// The combination.
        combine: Combine,
    },
}

impl ZSetWrite {
    /// Applies the op.
    pub fn apply(&self, txn: &mut Txn<'_>) -> ExecResult {
        match self {
            ZSetWrite::Add { key, flags, items } => zadd(txn, key, *flags, items),
            ZSetWrite::Rem { key, members } => zrem(txn, key, members),
            ZSetWrite::Pop { key, max, count } => {
                let Some(meta) = txn.meta_of(key, KeyKind::ZSet)? else {
                    return Ok(Output::Array(Vec::new()));
                };
                let popped = pop(txn, key, meta, *max, count.unwrap_or(1))?;
                Ok(match count {
                    Some(_) => scored_output(popped, true),
                    None => Output::Array(
                        popped
                            .into_iter()
                            .flat_map(|(m, s)| [Output::Bulk(m), Output::Double(s)])
                            .collect(),
                    ),
                })
            }
            ZSetWrite::MPop { keys, max, count } => mpop(txn, keys, *max, *count),
            ZSetWrite::RemRange { key, by } => {
                let Some(meta) = txn.meta_of(key, KeyKind::ZSet)? else {
                    return Ok(Output::Int(0));
                };
                let spec = RangeSpec {
                    by: by.clone(),
                    rev: false,
                    limit: None,
                };
                let items = range::range_items(&*txn, key, &meta, &spec)?;
                Ok(Output::Int(remove_items(txn, key, meta, &items)))
            }
            ZSetWrite::RangeStore {
                destination,
                source,
                spec,
            } => {
                let items = match txn.meta_of(source, KeyKind::ZSet)? {
                    Some(meta) => range::range_items(&*txn, source, &meta, spec)?,
                    None => Vec::new(),
                };
                Ok(Output::Int(store(txn, destination, &items)))
            }
            ZSetWrite::Store {
                destination,
                combine,
            } => {
                let items = algebra::combine(&*txn, combine, u64::MAX)?;
                Ok(Output::Int(store(txn, destination, &items)))
            }
        }
    }
}

/// The score of `member`, if present.
fn score_of(
    reader: &dyn Reader,
    key: &[u8],
    meta: &Meta,
    member: &[u8],
) -> Result<Option<f64>, ExecError> {
    match reader.sub_get(key, meta, &keys::zset_member_sub(member))? {
        Some(bytes) => Ok(Some(keys::decode_score(&bytes)?)),
        None => Ok(None),
    }
}

/// Writes `member` at `score`, replacing its score index record at `old` if it had one.
fn put_member(
    txn: &mut Txn<'_>,
    key: &[u8],
    meta: &Meta,
    member: &[u8],
    old: Option<f64>,
    score: f64,
) {
    if let Some(old) = old {
        txn.delete_sub(key, meta, &keys::zset_score_sub(old, member));
    }
    txn.put_sub(
        key,
        meta,
        &keys::zset_member_sub(member),
        keys::encode_score(score).to_vec(),
    );
    txn.put_sub(key, meta, &keys::zset_score_sub(score, member), Vec::new());
}

fn delete_member(txn: &mut Txn<'_>, key: &[u8], meta: &Meta, member: &[u8], score: f64) {
    txn.delete_sub(key, meta, &keys::zset_member_sub(member));
    txn.delete_sub(key, meta, &keys::zset_score_sub(score, member));
}

/// What ZADD does with one pair: `None` to skip it, or the new score.
fn zadd_target(
    flags: ZAddFlags,
    current: Option<f64>,
    score: f64,
) -> Result<Option<f64>, ExecError> {
    let Some(current) = current else {
        return Ok((!flags.xx).then_some(score));
    };
    if flags.nx {
        return Ok(None);
    }
    let new = if flags.incr { current + score } else { score };
    if new.is_nan() {
        return Err(ExecError::ScoreNan);
    }
    if (flags.lt && new >= current) || (flags.gt && new <= current) {
        return Ok(None);
    }
    Ok(Some(new))
}

fn zadd(txn: &mut Txn<'_>, key: &[u8], flags: ZAddFlags, items: &[(f64, Vec<u8>)]) -> ExecResult {
    let mut meta = collection::load_or_new(txn, key, KeyKind::ZSet)?;
    let (mut added, mut changed) = (0i64, 0i64);
    let (mut last_score, mut widened) = (None, false);
    for (score, member) in items {
        let current = if meta.size > 0 {
            score_of(&*txn, key, &meta, member)?
        } else {
            None
        };
        let Some(new) = zadd_target(flags, current, *score)? else {
            last_score = None;
            continue;
        };
        last_score = Some(new);
        widened |= widen_score_bounds(&mut meta, new);
        match current {
            None => {
                put_member(txn, key, &meta, member, None, new);
                meta.size += 1;
                added += 1;
            }
            Some(old) if old != new => {
                put_member(txn, key, &meta, member, Some(old), new);
                changed += 1;
            }
            Some(_) => {}
        }
    }
    if added > 0 || widened {
        txn.put_meta(key, &meta);
    }
    if flags.incr {
        return Ok(last_score.map_or(Output::Nil, Output::Double));
    }
    Ok(Output::Int(added + if flags.ch { changed } else { 0 }))
}

/// Widens the score bounds of `meta` (see `keys::Meta`) to cover `score`; whether they changed.
fn widen_score_bounds(meta: &mut Meta, score: f64) -> bool {
    let encoded = u64::from_be_bytes(keys::encode_score(score));
    let (lo, hi) = (
        meta.zset_score_lo.min(encoded),
        meta.zset_score_hi.max(encoded),
    );
    let widened = (lo, hi) != (meta.zset_score_lo, meta.zset_score_hi);
    (meta.zset_score_lo, meta.zset_score_hi) = (lo, hi);
    widened
}

fn zrem(txn: &mut Txn<'_>, key: &[u8], members: &[Vec<u8>]) -> ExecResult {
    let Some(mut meta) = txn.meta_of(key, KeyKind::ZSet)? else {
        return Ok(Output::Int(0));
    };
    let mut removed = 0i64;
    for member in members {
        if let Some(score) = score_of(&*txn, key, &meta, member)? {
            delete_member(txn, key, &meta, member, score);
            meta.size -= 1;
            removed += 1;
        }
    }
    if removed > 0 {
        collection::store_meta(txn, key, &meta);
    }
    Ok(Output::Int(removed))
}

/// Removes `items` (present members with their scores); returns how many.
fn remove_items(txn: &mut Txn<'_>, key: &[u8], mut meta: Meta, items: &[Scored]) -> i64 {
    for (member, score) in items {
        delete_member(txn, key, &meta, member, *score);
    }
    meta.size -= items.len() as u64;
    if !items.is_empty() {
        collection::store_meta(txn, key, &meta);
    }
    items.len() as i64
}

fn pop(
    txn: &mut Txn<'_>,
    key: &[u8],
    meta: Meta,
    max: bool,
    count: u64,
) -> Result<Vec<Scored>, ExecError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let stop = i64::try_from(count).unwrap_or(i64::MAX) - 1;
    let spec = RangeSpec {
        by: RangeBy::Rank { start: 0, stop },
        rev: max,
        limit: None,
    };
    let mut meta = meta;
    let items = range::range_items(&*txn, key, &meta, &spec)?;
    // The pop took the lowest (highest) records in index order, so every remaining record sorts
    // after (before) the last one taken and its score is at least (most) that score. Tightening
    // the bound makes the next pop seek past this pop's tombstones.
    if let Some((_, last)) = items.last() {
        let encoded = u64::from_be_bytes(keys::encode_score(*last));
        if max {
            meta.zset_score_hi = encoded;
        } else {
            meta.zset_score_lo = encoded;
        }
    }
    remove_items(txn, key, meta, &items);
    Ok(items)
}

fn mpop(txn: &mut Txn<'_>, keys: &[Vec<u8>], max: bool, count: u64) -> ExecResult {
    for key in keys {
        if let Some(meta) = txn.meta_of(key, KeyKind::ZSet)? {
            let popped = pop(txn, key, meta, max, count)?;
            let pairs = popped
                .into_iter()
                .map(|(m, s)| Output::Array(vec![Output::Bulk(m), Output::Double(s)]))
                .collect();
            return Ok(Output::Array(vec![
                Output::Bulk(key.clone()),
                Output::Array(pairs),
            ]));
        }
    }
    Ok(Output::NilArray)
}

/// Overwrites `destination` with a sorted set of `items` (deleting it when empty); returns
/// the size.
fn store(txn: &mut Txn<'_>, destination: &[u8], items: &[Scored]) -> i64 {
    if items.is_empty() {
        txn.delete_key(destination);
        return 0;
    }
    let mut meta = Meta::collection(KeyKind::ZSet, txn.new_version());
    meta.size = items.len() as u64;
    for (member, score) in items {
        put_member(txn, destination, &meta, member, None, *score);
    }
    txn.put_meta(destination, &meta);
    items.len() as i64
}

/// Members, or `(member, score)` pairs when `with_scores`.
fn scored_output(items: Vec<Scored>, with_scores: bool) -> Output {
    if with_scores {
        Output::Pairs(
            items
                .into_iter()
                .map(|(m, s)| (Output::Bulk(m), Output::Double(s)))
                .collect(),
        )
    } else {
        Output::bulks(items.into_iter().map(|(m, _)| m))
    }
}

/// A sorted-set read op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ZSetRead {
    /// ZCARD.
    Card {
        /// The sorted set.
        key: Vec<u8>,
    },
    /// ZSCORE.
    Score {
        /// The sorted set.
        key: Vec<u8>,
        /// The member.
        member: Vec<u8>,
    },
    /// ZMSCORE.
    MScore {
        /// The sorted set.
        key: Vec<u8>,
        /// The members.
        members: Vec<Vec<u8>>,
    },
    /// ZRANK, ZREVRANK (O(rank): see [`range`]).
    Rank {
        /// The sorted set.
        key: Vec<u8>,
        /// The member.
        member: Vec<u8>,
        /// Rank from the highest score.
        rev: bool,
        /// Reply `[rank, score]` (WITHSCORE).
        with_score: bool,
    },
    /// ZCOUNT, ZLEXCOUNT.
    Count {
        /// The sorted set.
        key: Vec<u8>,
        /// The range (score or lex).
        by: RangeBy,
    },
    /// ZRANGE and its older forms.
    Range {
        /// The sorted set.
        key: Vec<u8>,
        /// The range.
        spec: RangeSpec,
        /// Include scores.
        with_scores: bool,
    },
    /// ZUNION, ZINTER, ZDIFF.
    Combine {
        /// The combination.
        combine: Combine,
        /// Include scores.
        with_scores: bool,
    },
    /// ZINTERCARD.
    InterCard {
        /// The inputs.
        keys: Vec<Vec<u8>>,
        /// Stop counting at this many; 0 means no limit.
        limit: u64,
    },
    /// ZRANDMEMBER.
    RandMember {
        /// The sorted set.
        key: Vec<u8>,
        /// `None`: one member or nil; `Some(n)`: see [`collection::sample_positions`].
        count: Option<i64>,
        /// Include scores.
        with_scores: bool,
        /// Seed of the random choice.
        seed: u64,
    },
    /// ZSCAN.
    Scan {
        /// The sorted set.
        key: Vec<u8>,
        /// Cursor, pattern and count.
        args: ScanArgs,
    },
}

impl ZSetRead {
    /// Executes the op.
    pub fn execute(&self, reader: &dyn Reader) -> ExecResult {
        match self {
            ZSetRead::Card { key } => Ok(Output::Int(
                reader
                    .meta_of(key, KeyKind::ZSet)?
                    .map_or(0, |m| m.size as i64),
            )),
            ZSetRead::Score { key, member } => {
                let meta = reader.meta_of(key, KeyKind::ZSet)?;
                Ok(maybe_score(reader, key, meta.as_ref(), member)?
                    .map_or(Output::Nil, Output::Double))
            }
            ZSetRead::MScore { key, members } => mscore(reader, key, members),
            ZSetRead::Rank {
                key,
                member,
                rev,
                with_score,
            } => zrank(reader, key, member, *rev, *with_score),
            ZSetRead::Count { key, by } => {
                let Some(meta) = reader.meta_of(key, KeyKind::ZSet)? else {
                    return Ok(Output::Int(0));
                };
                Ok(Output::Int(range::count_in(reader, key, &meta, by)? as i64))
            }
            ZSetRead::Range {
                key,
                spec,
                with_scores,
            } => {
                let Some(meta) = reader.meta_of(key, KeyKind::ZSet)? else {
                    return Ok(scored_output(Vec::new(), *with_scores));
                };
                Ok(scored_output(
                    range::range_items(reader, key, &meta, spec)?,
                    *with_scores,
                ))
            }
            ZSetRead::Combine {
                combine,
                with_scores,
            } => Ok(scored_output(
                algebra::combine(reader, combine, u64::MAX)?,
                *with_scores,
            )),
            ZSetRead::InterCard { keys, limit } => inter_card(reader, keys, *limit),
            ZSetRead::RandMember {
                key,
                count,
                with_scores,
                seed,
            } => rand_member(reader, key, *count, *with_scores, *seed),
            ZSetRead::Scan { key, args } => zscan(reader, key, args),
        }
    }
}

fn mscore(reader: &dyn Reader, key: &[u8], members: &[Vec<u8>]) -> ExecResult {
    let meta = reader.meta_of(key, KeyKind::ZSet)?;
    let scores = members
        .iter()
        .map(
            |m| Ok(maybe_score(reader, key, meta.as_ref(), m)?.map_or(Output::Nil, Output::Double)),
        )
        .collect::<Result<_, ExecError>>()?;
    Ok(Output::Array(scores))
}

fn inter_card(reader: &dyn Reader, keys: &[Vec<u8>], limit: u64) -> ExecResult {
    let combine = Combine {
        keys: keys.to_vec(),
        weights: Vec::new(),
        aggregate: algebra::Aggregate::Sum,
        algebra: algebra::ZAlgebra::Inter,
    };
    let limit = if limit == 0 { u64::MAX } else { limit };
    Ok(Output::Int(
        algebra::combine(reader, &combine, limit)?.len() as i64,
    ))
}

/// ZSCAN replies with scores as strings in both protocols, as Redis does.
fn zscan(reader: &dyn Reader, key: &[u8], args: &ScanArgs) -> ExecResult {
    let Some(meta) = reader.meta_of(key, KeyKind::ZSet)? else {
        return Ok(collection::ScanPage::default().into_output(|_, _| Vec::new()));
    };
    let page = collection::scan_page(reader, key, &meta, &keys::zset_member_prefix(), args)?;
    Ok(page.into_output(|m, v| {
        let score = keys::decode_score(&v).map_or(f64::NAN, |s| s);
        vec![
            Output::Bulk(m),
            Output::bulk(crate::number::format_f64_human(score)),
        ]
    }))
}

fn maybe_score(
    reader: &dyn Reader,
    key: &[u8],
    meta: Option<&Meta>,
    member: &[u8],
) -> Result<Option<f64>, ExecError> {
    match meta {
        Some(meta) => score_of(reader, key, meta, member),
        None => Ok(None),
    }
}

fn zrank(
    reader: &dyn Reader,
    key: &[u8],
    member: &[u8],
    rev: bool,
    with_score: bool,
) -> ExecResult {
    let meta = reader.meta_of(key, KeyKind::ZSet)?;
    let nil = if with_score {
        Output::NilArray
    } else {
        Output::Nil
    };
    let Some(meta) = meta else { return Ok(nil) };
    let Some(score) = score_of(reader, key, &meta, member)? else {
        return Ok(nil);
    };
    let rank = range::rank_of(reader, key, &meta, member, score)?;
    let rank = if rev { meta.size - 1 - rank } else { rank } as i64;
    Ok(if with_score {
        Output::Array(vec![Output::Int(rank), Output::Double(score)])
    } else {
        Output::Int(rank)
    })
}

fn rand_member(
    reader: &dyn Reader,
    key: &[u8],
    count: Option<i64>,
    with_scores: bool,
    seed: u64,
) -> ExecResult {
    let Some(meta) = reader.meta_of(key, KeyKind::ZSet)? else {
        return Ok(if count.is_some() {
            Output::Array(Vec::new())
        } else {
            Output::Nil
        });
    };
    let positions =
        collection::sample_positions(&mut OpRng::new(seed), meta.size, count.unwrap_or(1));
    let picked =
        collection::subs_at_positions(reader, key, &meta, &keys::zset_member_prefix(), &positions)?;
    let items: Vec<Scored> = picked
        .into_iter()
        .map(|(m, v)| Ok((m, keys::decode_score(&v)?)))
        .collect::<Result<_, ExecError>>()?;
    if count.is_none() {
        return Ok(Output::bulk_or_nil(
            items.into_iter().next().map(|(m, _)| m),
        ));
    }
    Ok(scored_output(items, with_scores))
}

#[cfg(test)]
mod tests;
