//! ZUNION, ZINTER, ZDIFF (and their STORE forms, ZINTERCARD): combining sorted sets and sets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::{Reader, ReaderExt};
use crate::keys::{self, KeyKind, Meta};
use crate::output::ExecError;
use crate::types::collection;

use super::range::Scored;

/// Which combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ZAlgebra {
    /// Members in any input.
    Union,
    /// Members in every input.
    Inter,
    /// Members of the first input in none of the others (scores of the first).
    Diff,
}

/// How the scores of a member present in several inputs combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregate {
    /// Add them (NaN from `inf + -inf` becomes 0, as in Redis).
    Sum,
    /// The smallest.
    Min,
    /// The largest.
    Max,
}

/// A full combination request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Combine {
    /// The inputs (sorted sets, or sets whose members score 1).
    pub keys: Vec<Vec<u8>>,
    /// One weight per input (empty = all 1).
    pub weights: Vec<f64>,
    /// The aggregate.
    pub aggregate: Aggregate,
    /// The combination.
    pub algebra: ZAlgebra,
}

/// One input: its key, metadata (None when missing), and weight.
struct Input<'a> {
    key: &'a [u8],
    meta: Option<Meta>,
    weight: f64,
}

fn load_inputs<'a>(reader: &dyn Reader, combine: &'a Combine) -> Result<Vec<Input<'a>>, ExecError> {
    combine
        .keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let meta = reader.meta(key)?;
            if let Some(m) = &meta {
                if m.kind != KeyKind::ZSet && m.kind != KeyKind::Set {
                    return Err(ExecError::WrongType);
                }
            }
            Ok(Input {
                key,
                meta,
                weight: combine.weights.get(i).copied().unwrap_or(1.0),
            })
        })
        .collect()
}

fn size_of(input: &Input<'_>) -> u64 {
    input.meta.as_ref().map_or(0, |m| m.size)
}

/// Every `(member, score)` of one input (set members score 1).
fn items_of(reader: &dyn Reader, input: &Input<'_>) -> Result<Vec<Scored>, ExecError> {
    let Some(meta) = &input.meta else {
        return Ok(Vec::new());
    };
    if meta.kind == KeyKind::Set {
        let members = collection::all_subs(reader, input.key, meta, &[])?;
        return Ok(members.into_iter().map(|(m, _)| (m, 1.0)).collect());
    }
    let records = collection::all_subs(reader, input.key, meta, &keys::zset_member_prefix())?;
    records
        .into_iter()
        .map(|(m, v)| Ok((m, keys::decode_score(&v)?)))
        .collect()
}

/// The score of `member` in one input, if present.
fn score_in(
    reader: &dyn Reader,
    input: &Input<'_>,
    member: &[u8],
) -> Result<Option<f64>, ExecError> {
    let Some(meta) = &input.meta else {
        return Ok(None);
    };
    if meta.kind == KeyKind::Set {
        return Ok(reader.sub_get(input.key, meta, member)?.map(|_| 1.0));
    }
    match reader.sub_get(input.key, meta, &keys::zset_member_sub(member))? {
        Some(v) => Ok(Some(keys::decode_score(&v)?)),
        None => Ok(None),
    }
}

fn weighted(score: f64, weight: f64) -> f64 {
    let value = score * weight;
    if value.is_nan() {
        0.0
    } else {
        value
    }
}

fn aggregate(into: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *into += value;
            if into.is_nan() {
                *into = 0.0;
            }
        }
        Aggregate::Min => *into = into.min(value),
        Aggregate::Max => *into = into.max(value),
    }
}

/// Executes `combine`; the result sorted by score, then member. Stops after `limit` members
/// for intersections (ZINTERCARD).
pub fn combine(
    reader: &dyn Reader,
    combine: &Combine,
    limit: u64,
) -> Result<Vec<Scored>, ExecError> {
    let mut inputs = load_inputs(reader, combine)?;
    let mut out: Vec<Scored> = match combine.algebra {
        ZAlgebra::Union => {
            // Redis aggregates inputs from the smallest up; doing the same gives the same
            // floating-point sums.
            inputs.sort_by_key(size_of);
            let mut acc: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            for input in &inputs {
                for (member, score) in items_of(reader, input)? {
                    let value = weighted(score, input.weight);
                    acc.entry(member)
                        .and_modify(|s| aggregate(s, value, combine.aggregate))
                        .or_insert(value);
                }
            }
            acc.into_iter().collect()
        }
        ZAlgebra::Inter => intersect(reader, &mut inputs, combine.aggregate, limit)?,
        ZAlgebra::Diff => {
            let Some((first, rest)) = inputs.split_first() else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            'members: for (member, score) in items_of(reader, first)? {
                for other in rest {
                    if score_in(reader, other, &member)?.is_some() {
                        continue 'members;
                    }
                }
                out.push((member, score));
            }
            out
        }
    };
    out.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

fn intersect(
    reader: &dyn Reader,
    inputs: &mut [Input<'_>],
    how: Aggregate,
    limit: u64,
) -> Result<Vec<Scored>, ExecError> {
    if inputs.iter().any(|i| i.meta.is_none()) {
        return Ok(Vec::new());
    }
    inputs.sort_by_key(size_of);
    let Some((first, rest)) = inputs.split_first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    'members: for (member, score) in items_of(reader, first)? {
        let mut acc = weighted(score, first.weight);
        for other in rest {
            match score_in(reader, other, &member)? {
                Some(s) => aggregate(&mut acc, weighted(s, other.weight), how),
                None => continue 'members,
            }
        }
        out.push((member, acc));
        if out.len() as u64 >= limit {
            break;
        }
    }
    Ok(out)
}
