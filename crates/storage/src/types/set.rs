//! Set commands. A set is a metadata record plus one sub-key per member (empty value).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::engine::{OpRng, Reader, ReaderExt, Txn};
use crate::keys::{KeyKind, Meta};
use crate::output::{ExecError, ExecResult, Output};
use crate::types::collection::{self, ScanArgs};

/// How several sets combine (SINTER, SUNION, SDIFF and their STORE forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetAlgebra {
    /// Members in every set.
    Inter,
    /// Members in any set.
    Union,
    /// Members of the first set in none of the others.
    Diff,
}

/// A set write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SetWrite {
    /// SADD: replies with the number of members added.
    Add {
        /// The set.
        key: Vec<u8>,
        /// The members.
        members: Vec<Vec<u8>>,
    },
    /// SREM: replies with the number of members removed.
    Rem {
        /// The set.
        key: Vec<u8>,
        /// The members.
        members: Vec<Vec<u8>>,
    },
    /// SPOP: removes random members (one, as a bulk, when `count` is `None`).
    Pop {
        /// The set.
        key: Vec<u8>,
        /// How many members to pop; `None` pops one and replies with it alone.
        count: Option<u64>,
        /// Seed of the random choice, chosen by the proposer.
        seed: u64,
    },
    /// SMOVE.
    Move {
        /// Source set.
        source: Vec<u8>,
        /// Destination set.
        destination: Vec<u8>,
        /// The member.
        member: Vec<u8>,
    },
    /// SINTERSTORE, SUNIONSTORE, SDIFFSTORE: overwrites `destination` (whatever its type) with
    /// the result; an empty result deletes it. Replies with the result's size.
    Store {
        /// Where the result goes.
        destination: Vec<u8>,
        /// The sources (may include `destination`).
        keys: Vec<Vec<u8>>,
        /// The combination.
        algebra: SetAlgebra,
    },
}

impl SetWrite {
    /// Applies the op.
    pub fn apply(&self, txn: &mut Txn<'_>) -> ExecResult {
        match self {
            SetWrite::Add { key, members } => Ok(Output::Int(add(txn, key, members)?)),
            SetWrite::Rem { key, members } => rem(txn, key, members),
            SetWrite::Pop { key, count, seed } => pop(txn, key, *count, *seed),
            SetWrite::Move {
                source,
                destination,
                member,
            } => smove(txn, source, destination, member),
            SetWrite::Store {
                destination,
                keys,
                algebra,
            } => {
                let members = combine(&*txn, keys, *algebra)?;
                Ok(Output::Int(store(txn, destination, members)))
            }
        }
    }
}

/// Adds `members`; returns how many were new.
fn add(txn: &mut Txn<'_>, key: &[u8], members: &[Vec<u8>]) -> Result<i64, ExecError> {
    let mut meta = collection::load_or_new(txn, key, KeyKind::Set)?;
    let mut added = 0i64;
    for member in members {
        if meta.size > 0 && txn.sub_get(key, &meta, member)?.is_some() {
            continue;
        }
        txn.put_sub(key, &meta, member, Vec::new());
        meta.size += 1;
        added += 1;
    }
    if added > 0 {
        txn.put_meta(key, &meta);
    }
    Ok(added)
}

fn rem(txn: &mut Txn<'_>, key: &[u8], members: &[Vec<u8>]) -> ExecResult {
    let Some(mut meta) = txn.meta_of(key, KeyKind::Set)? else {
        return Ok(Output::Int(0));
    };
    let removed = remove_members(txn, key, &mut meta, members)?;
    if removed > 0 {
        collection::store_meta(txn, key, &meta);
    }
    Ok(Output::Int(removed))
}

/// Removes the present ones of `members` from the set `meta`, updating its size (not stored).
fn remove_members(
    txn: &mut Txn<'_>,
    key: &[u8],
    meta: &mut Meta,
    members: &[Vec<u8>],
) -> Result<i64, ExecError> {
    let mut removed = 0i64;
    for member in members {
        if txn.sub_get(key, meta, member)?.is_some() {
            txn.delete_sub(key, meta, member);
            meta.size -= 1;
            removed += 1;
        }
    }
    Ok(removed)
}

fn pop(txn: &mut Txn<'_>, key: &[u8], count: Option<u64>, seed: u64) -> ExecResult {
    let Some(mut meta) = txn.meta_of(key, KeyKind::Set)? else {
        return Ok(if count.is_some() {
            Output::Set(Vec::new())
        } else {
            Output::Nil
        });
    };
    let wanted = count.unwrap_or(1);
    let members: Vec<Vec<u8>> = if wanted >= meta.size {
        // Everything goes: the key is deleted in O(1) and its members become stale.
        let all = collection::all_subs(&*txn, key, &meta, &[])?;
        meta.size = 0;
        all.into_iter().map(|(m, _)| m).collect()
    } else {
        pick_and_remove(txn, key, &mut meta, wanted, seed)?
    };
    collection::store_meta(txn, key, &meta);
    Ok(match count {
        Some(_) => Output::Set(members.into_iter().map(Output::Bulk).collect()),
        None => Output::bulk_or_nil(members.into_iter().next()),
    })
}

/// Removes `wanted` (< size) members picked with [`collection::sub_near_random_point`], one
/// after the other, so each pick sees the earlier ones gone; returns them in pick order.
fn pick_and_remove(
    txn: &mut Txn<'_>,
    key: &[u8],
    meta: &mut Meta,
    wanted: u64,
    seed: u64,
) -> Result<Vec<Vec<u8>>, ExecError> {
    let mut rng = OpRng::new(seed);
    let mut picked = Vec::new();
    for _ in 0..wanted {
        let Some((member, _)) = collection::sub_near_random_point(&*txn, key, meta, &[], &mut rng)?
        else {
            panic!(
                "set of size {} has no member left after {} pops",
                meta.size,
                picked.len()
            );
        };
        txn.delete_sub(key, meta, &member);
        meta.size -= 1;
        picked.push(member);
    }
    Ok(picked)
}

fn smove(txn: &mut Txn<'_>, source: &[u8], destination: &[u8], member: &[u8]) -> ExecResult {
    // As in Redis, a missing source answers 0 before the destination's type is checked.
    let Some(mut src) = txn.meta_of(source, KeyKind::Set)? else {
        return Ok(Output::Int(0));
    };
    txn.meta_of(destination, KeyKind::Set)?;
    if txn.sub_get(source, &src, member)?.is_none() {
        return Ok(Output::Int(0));
    }
    if source == destination {
        return Ok(Output::Int(1));
    }
    remove_members(txn, source, &mut src, &[member.to_vec()])?;
    collection::store_meta(txn, source, &src);
    add(txn, destination, &[member.to_vec()])?;
    Ok(Output::Int(1))
}

/// Overwrites `destination` with a set of `members` (deleting it when empty); returns the size.
fn store(txn: &mut Txn<'_>, destination: &[u8], members: BTreeSet<Vec<u8>>) -> i64 {
    let size = members.len() as i64;
    if members.is_empty() {
        txn.delete_key(destination);
        return 0;
    }
    let mut meta = Meta::collection(KeyKind::Set, txn.new_version());
    meta.size = members.len() as u64;
    for member in members {
        txn.put_sub(destination, &meta, &member, Vec::new());
    }
    txn.put_meta(destination, &meta);
    size
}

/// The live metadata of every key (`None` for missing ones); `WrongType` if any is not a set.
fn metas_of(reader: &dyn Reader, keys: &[Vec<u8>]) -> Result<Vec<Option<Meta>>, ExecError> {
    keys.iter()
        .map(|k| reader.meta_of(k, KeyKind::Set))
        .collect()
}

fn members_of(reader: &dyn Reader, key: &[u8], meta: &Meta) -> Result<Vec<Vec<u8>>, ExecError> {
    Ok(collection::all_subs(reader, key, meta, &[])?
        .into_iter()
        .map(|(m, _)| m)
        .collect())
}

fn is_member(
    reader: &dyn Reader,
    key: &[u8],
    meta: Option<&Meta>,
    member: &[u8],
) -> Result<bool, ExecError> {
    match meta {
        Some(meta) => Ok(reader.sub_get(key, meta, member)?.is_some()),
        None => Ok(false),
    }
}

/// Combines the sets at `keys` (every key is type-checked first, as Redis does).
fn combine(
    reader: &dyn Reader,
    keys: &[Vec<u8>],
    algebra: SetAlgebra,
) -> Result<BTreeSet<Vec<u8>>, ExecError> {
    let metas = metas_of(reader, keys)?;
    let sources: Vec<(&Vec<u8>, Option<&Meta>)> =
        keys.iter().zip(metas.iter().map(Option::as_ref)).collect();
    match algebra {
        SetAlgebra::Union => {
            let mut out = BTreeSet::new();
            for (key, meta) in sources {
                if let Some(meta) = meta {
                    out.extend(members_of(reader, key, meta)?);
                }
            }
            Ok(out)
        }
        SetAlgebra::Inter => intersect(reader, &sources, u64::MAX),
        SetAlgebra::Diff => {
            let Some((first, rest)) = sources.split_first() else {
                return Ok(BTreeSet::new());
            };
            let Some(first_meta) = first.1 else {
                return Ok(BTreeSet::new());
            };
            let mut out = BTreeSet::new();
            'members: for member in members_of(reader, first.0, first_meta)? {
                for (key, meta) in rest {
                    if is_member(reader, key, *meta, &member)? {
                        continue 'members;
                    }
                }
                out.insert(member);
            }
            Ok(out)
        }
    }
}

/// The intersection, stopping after `limit` members. Walks the smallest set and point-checks
/// the others.
fn intersect(
    reader: &dyn Reader,
    sources: &[(&Vec<u8>, Option<&Meta>)],
    limit: u64,
) -> Result<BTreeSet<Vec<u8>>, ExecError> {
    let mut out = BTreeSet::new();
    if sources.iter().any(|(_, m)| m.is_none()) {
        return Ok(out);
    }
    let Some(smallest) = sources.iter().min_by_key(|(_, m)| m.map_or(0, |m| m.size)) else {
        return Ok(out);
    };
    let (small_key, small_meta) = (smallest.0, smallest.1.expect("checked above"));
    'members: for member in members_of(reader, small_key, small_meta)? {
        for (key, meta) in sources {
            if *key != small_key && !is_member(reader, key, *meta, &member)? {
                continue 'members;
            }
        }
        out.insert(member);
        if out.len() as u64 >= limit {
            break;
        }
    }
    Ok(out)
}

/// A set read op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SetRead {
    /// SCARD.
    Card {
        /// The set.
        key: Vec<u8>,
    },
    /// SISMEMBER.
    IsMember {
        /// The set.
        key: Vec<u8>,
        /// The member.
        member: Vec<u8>,
    },
    /// SMISMEMBER.
    MIsMember {
        /// The set.
        key: Vec<u8>,
        /// The members.
        members: Vec<Vec<u8>>,
    },
    /// SMEMBERS.
    Members {
        /// The set.
        key: Vec<u8>,
    },
    /// SRANDMEMBER.
    RandMember {
        /// The set.
        key: Vec<u8>,
        /// `None`: one member or nil; `Some(n)`: see [`collection::sample_positions`].
        count: Option<i64>,
        /// Seed of the random choice.
        seed: u64,
    },
    /// SINTER, SUNION, SDIFF.
    Combine {
        /// The sets.
        keys: Vec<Vec<u8>>,
        /// The combination.
        algebra: SetAlgebra,
    },
    /// SINTERCARD.
    InterCard {
        /// The sets.
        keys: Vec<Vec<u8>>,
        /// Stop counting at this many; 0 means no limit.
        limit: u64,
    },
    /// SSCAN.
    Scan {
        /// The set.
        key: Vec<u8>,
        /// Cursor, pattern and count.
        args: ScanArgs,
    },
}

impl SetRead {
    /// Executes the op.
    pub fn execute(&self, reader: &dyn Reader) -> ExecResult {
        match self {
            SetRead::Card { key } => Ok(Output::Int(
                reader
                    .meta_of(key, KeyKind::Set)?
                    .map_or(0, |m| m.size as i64),
            )),
            SetRead::IsMember { key, member } => {
                let meta = reader.meta_of(key, KeyKind::Set)?;
                Ok(Output::Int(i64::from(is_member(
                    reader,
                    key,
                    meta.as_ref(),
                    member,
                )?)))
            }
            SetRead::MIsMember { key, members } => {
                let meta = reader.meta_of(key, KeyKind::Set)?;
                let flags = members
                    .iter()
                    .map(|m| {
                        Ok(Output::Int(i64::from(is_member(
                            reader,
                            key,
                            meta.as_ref(),
                            m,
                        )?)))
                    })
                    .collect::<Result<_, ExecError>>()?;
                Ok(Output::Array(flags))
            }
            SetRead::Members { key } => {
                let members = combine(reader, std::slice::from_ref(key), SetAlgebra::Union)?;
                Ok(Output::Set(members.into_iter().map(Output::Bulk).collect()))
            }
            SetRead::RandMember { key, count, seed } => rand_member(reader, key, *count, *seed),
            SetRead::Combine { keys, algebra } => {
                let members = combine(reader, keys, *algebra)?;
                Ok(Output::Set(members.into_iter().map(Output::Bulk).collect()))
            }
            SetRead::InterCard { keys, limit } => {
                let metas = metas_of(reader, keys)?;
                let sources: Vec<_> = keys.iter().zip(metas.iter().map(Option::as_ref)).collect();
                let limit = if *limit == 0 { u64::MAX } else { *limit };
                Ok(Output::Int(intersect(reader, &sources, limit)?.len() as i64))
            }
            SetRead::Scan { key, args } => {
                let Some(meta) = reader.meta_of(key, KeyKind::Set)? else {
                    return Ok(collection::ScanPage::default().into_output(|_, _| Vec::new()));
                };
                let page = collection::scan_page(reader, key, &meta, &[], args)?;
                Ok(page.into_output(|m, _| vec![Output::Bulk(m)]))
            }
        }
    }
}

fn rand_member(reader: &dyn Reader, key: &[u8], count: Option<i64>, seed: u64) -> ExecResult {
    let Some(meta) = reader.meta_of(key, KeyKind::Set)? else {
        return Ok(if count.is_some() {
            Output::Array(Vec::new())
        } else {
            Output::Nil
        });
    };
    let positions =
        collection::sample_positions(&mut OpRng::new(seed), meta.size, count.unwrap_or(1));
    let picked = collection::subs_at_positions(reader, key, &meta, &[], &positions)?;
    let mut members = picked.into_iter().map(|(m, _)| m);
    Ok(match count {
        Some(_) => Output::bulks(members),
        None => Output::bulk_or_nil(members.next()),
    })
}

#[cfg(test)]
#[path = "set_tests.rs"]
mod tests;
