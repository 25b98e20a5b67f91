//! Hash commands. A hash is a metadata record plus one sub-key per field (value = field value).

use serde::{Deserialize, Serialize};

use crate::engine::{OpRng, Reader, ReaderExt, Txn};
use crate::keys::{KeyKind, Meta};
use crate::number::{format_f64_human, parse_f64, parse_i64};
use crate::output::{ExecError, ExecResult, Output};
use crate::types::collection::{self, ScanArgs};

/// A hash write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HashWrite {
    /// HSET / HMSET: set fields; replies with the number of new fields, or `+OK` when `reply_ok`.
    Set {
        /// The hash.
        key: Vec<u8>,
        /// Field-value pairs, applied in order (a repeated field keeps the last value).
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
        /// Reply `+OK` (HMSET) instead of the count (HSET).
        reply_ok: bool,
    },
    /// HSETNX: set a field only if it does not exist.
    SetNx {
        /// The hash.
        key: Vec<u8>,
        /// The field.
        field: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// HDEL: delete fields; replies with the number removed.
    Del {
        /// The hash.
        key: Vec<u8>,
        /// The fields.
        fields: Vec<Vec<u8>>,
    },
    /// HINCRBY.
    IncrBy {
        /// The hash.
        key: Vec<u8>,
        /// The field.
        field: Vec<u8>,
        /// The increment.
        by: i64,
    },
    /// HINCRBYFLOAT (the parser rejects NaN and infinite increments).
    IncrByFloat {
        /// The hash.
        key: Vec<u8>,
        /// The field.
        field: Vec<u8>,
        /// The increment.
        by: f64,
    },
}

impl HashWrite {
    /// Applies the op.
    pub fn apply(&self, txn: &mut Txn<'_>) -> ExecResult {
        match self {
            HashWrite::Set {
                key,
                pairs,
                reply_ok,
            } => {
                let added = set_fields(txn, key, pairs, false)?;
                Ok(if *reply_ok {
                    Output::Ok
                } else {
                    Output::Int(added)
                })
            }
            HashWrite::SetNx { key, field, value } => {
                let pair = [(field.clone(), value.clone())];
                Ok(Output::Int(set_fields(txn, key, &pair, true)?))
            }
            HashWrite::Del { key, fields } => del_fields(txn, key, fields),
            HashWrite::IncrBy { key, field, by } => incr_by(txn, key, field, *by),
            HashWrite::IncrByFloat { key, field, by } => incr_by_float(txn, key, field, *by),
        }
    }
}

/// Sets `pairs` (only missing fields when `only_new`); returns how many fields were added.
fn set_fields(
    txn: &mut Txn<'_>,
    key: &[u8],
    pairs: &[(Vec<u8>, Vec<u8>)],
    only_new: bool,
) -> Result<i64, ExecError> {
    let mut meta = collection::load_or_new(txn, key, KeyKind::Hash)?;
    let mut added = 0i64;
    for (field, value) in pairs {
        let exists = meta.size > 0 && txn.sub_get(key, &meta, field)?.is_some();
        if exists && only_new {
            continue;
        }
        if !exists {
            added += 1;
            meta.size += 1;
        }
        txn.put_sub(key, &meta, field, value.clone());
    }
    if added > 0 {
        txn.put_meta(key, &meta);
    }
    Ok(added)
}

fn del_fields(txn: &mut Txn<'_>, key: &[u8], fields: &[Vec<u8>]) -> ExecResult {
    let Some(mut meta) = txn.meta_of(key, KeyKind::Hash)? else {
        return Ok(Output::Int(0));
    };
    let mut removed = 0i64;
    for field in fields {
        if txn.sub_get(key, &meta, field)?.is_some() {
            txn.delete_sub(key, &meta, field);
            meta.size -= 1;
            removed += 1;
        }
    }
    if removed > 0 {
        collection::store_meta(txn, key, &meta);
    }
    Ok(Output::Int(removed))
}

/// The hash's metadata (new if missing) and the field's current value.
fn load_field(
    txn: &mut Txn<'_>,
    key: &[u8],
    field: &[u8],
) -> Result<(Meta, Option<Vec<u8>>), ExecError> {
    let meta = collection::load_or_new(txn, key, KeyKind::Hash)?;
    let current = if meta.size > 0 {
        txn.sub_get(key, &meta, field)?
    } else {
        None
    };
    Ok((meta, current))
}

/// Stores `value` in `field`, counting the field if it is new.
fn store_field(
    txn: &mut Txn<'_>,
    key: &[u8],
    mut meta: Meta,
    field: &[u8],
    is_new: bool,
    value: Vec<u8>,
) {
    if is_new {
        meta.size += 1;
        txn.put_meta(key, &meta);
    }
    txn.put_sub(key, &meta, field, value);
}

fn incr_by(txn: &mut Txn<'_>, key: &[u8], field: &[u8], by: i64) -> ExecResult {
    let (meta, current) = load_field(txn, key, field)?;
    let old = match &current {
        Some(bytes) => parse_i64(bytes).ok_or(ExecError::HashNotInteger)?,
        None => 0,
    };
    let new = old.checked_add(by).ok_or(ExecError::Overflow)?;
    store_field(
        txn,
        key,
        meta,
        field,
        current.is_none(),
        new.to_string().into_bytes(),
    );
    Ok(Output::Int(new))
}

fn incr_by_float(txn: &mut Txn<'_>, key: &[u8], field: &[u8], by: f64) -> ExecResult {
    let (meta, current) = load_field(txn, key, field)?;
    let old = match &current {
        Some(bytes) => parse_f64(bytes).ok_or(ExecError::HashNotFloat)?,
        None => 0.0,
    };
    let new = old + by;
    if !new.is_finite() {
        return Err(ExecError::NanOrInfinity);
    }
    let text = format_f64_human(new).into_bytes();
    store_field(txn, key, meta, field, current.is_none(), text.clone());
    Ok(Output::Bulk(text))
}

/// A hash read op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HashRead {
    /// HGET.
    Get {
        /// The hash.
        key: Vec<u8>,
        /// The field.
        field: Vec<u8>,
    },
    /// HMGET.
    MGet {
        /// The hash.
        key: Vec<u8>,
        /// The fields.
        fields: Vec<Vec<u8>>,
    },
    /// HEXISTS.
    Exists {
        /// The hash.
        key: Vec<u8>,
        /// The field.
        field: Vec<u8>,
    },
    /// HLEN.
    Len {
        /// The hash.
        key: Vec<u8>,
    },
    /// HSTRLEN.
    StrLen {
        /// The hash.
        key: Vec<u8>,
        /// The field.
        field: Vec<u8>,
    },
    /// HGETALL (a map), HKEYS, HVALS.
    GetAll {
        /// The hash.
        key: Vec<u8>,
        /// Which parts to return.
        part: HashPart,
    },
    /// HRANDFIELD.
    RandField {
        /// The hash.
        key: Vec<u8>,
        /// `None`: one field or nil; `Some(n)`: see [`collection::sample_positions`].
        count: Option<i64>,
        /// Include values (`WITHVALUES`).
        with_values: bool,
        /// Seed of the random choice.
        seed: u64,
    },
    /// HSCAN.
    Scan {
        /// The hash.
        key: Vec<u8>,
        /// Cursor, pattern and count.
        args: ScanArgs,
    },
}

/// What HGETALL, HKEYS and HVALS return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HashPart {
    /// Fields and values, as a map (HGETALL).
    All,
    /// Fields (HKEYS).
    Keys,
    /// Values (HVALS).
    Values,
}

impl HashRead {
    /// Executes the op.
    pub fn execute(&self, reader: &dyn Reader) -> ExecResult {
        match self {
            HashRead::Get { key, field } => {
                let meta = reader.meta_of(key, KeyKind::Hash)?;
                Ok(Output::bulk_or_nil(field_value(
                    reader,
                    key,
                    meta.as_ref(),
                    field,
                )?))
            }
            HashRead::MGet { key, fields } => {
                let meta = reader.meta_of(key, KeyKind::Hash)?;
                let values = fields
                    .iter()
                    .map(|f| {
                        Ok(Output::bulk_or_nil(field_value(
                            reader,
                            key,
                            meta.as_ref(),
                            f,
                        )?))
                    })
                    .collect::<Result<_, ExecError>>()?;
                Ok(Output::Array(values))
            }
            HashRead::Exists { key, field } => {
                let meta = reader.meta_of(key, KeyKind::Hash)?;
                Ok(Output::Int(i64::from(
                    field_value(reader, key, meta.as_ref(), field)?.is_some(),
                )))
            }
            HashRead::Len { key } => {
                let meta = reader.meta_of(key, KeyKind::Hash)?;
                Ok(Output::Int(meta.map_or(0, |m| m.size as i64)))
            }
            HashRead::StrLen { key, field } => {
                let meta = reader.meta_of(key, KeyKind::Hash)?;
                let value = field_value(reader, key, meta.as_ref(), field)?;
                Ok(Output::Int(value.map_or(0, |v| v.len() as i64)))
            }
            HashRead::GetAll { key, part } => get_all(reader, key, *part),
            HashRead::RandField {
                key,
                count,
                with_values,
                seed,
            } => rand_field(reader, key, *count, *with_values, *seed),
            HashRead::Scan { key, args } => {
                let Some(meta) = reader.meta_of(key, KeyKind::Hash)? else {
                    return Ok(collection::ScanPage::default().into_output(|_, _| Vec::new()));
                };
                let page = collection::scan_page(reader, key, &meta, &[], args)?;
                Ok(page.into_output(|f, v| vec![Output::Bulk(f), Output::Bulk(v)]))
            }
        }
    }
}

fn field_value(
    reader: &dyn Reader,
    key: &[u8],
    meta: Option<&Meta>,
    field: &[u8],
) -> Result<Option<Vec<u8>>, ExecError> {
    match meta {
        Some(meta) => Ok(reader.sub_get(key, meta, field)?),
        None => Ok(None),
    }
}

fn get_all(reader: &dyn Reader, key: &[u8], part: HashPart) -> ExecResult {
    let pairs = match reader.meta_of(key, KeyKind::Hash)? {
        Some(meta) => collection::all_subs(reader, key, &meta, &[])?,
        None => Vec::new(),
    };
    Ok(match part {
        HashPart::All => Output::Map(
            pairs
                .into_iter()
                .map(|(f, v)| (Output::Bulk(f), Output::Bulk(v)))
                .collect(),
        ),
        HashPart::Keys => Output::bulks(pairs.into_iter().map(|(f, _)| f)),
        HashPart::Values => Output::bulks(pairs.into_iter().map(|(_, v)| v)),
    })
}

fn rand_field(
    reader: &dyn Reader,
    key: &[u8],
    count: Option<i64>,
    with_values: bool,
    seed: u64,
) -> ExecResult {
    let meta = reader.meta_of(key, KeyKind::Hash)?;
    let Some(meta) = meta else {
        return Ok(if count.is_some() {
            Output::Array(Vec::new())
        } else {
            Output::Nil
        });
    };
    let mut rng = OpRng::new(seed);
    let positions = collection::sample_positions(&mut rng, meta.size, count.unwrap_or(1));
    let picked = collection::subs_at_positions(reader, key, &meta, &[], &positions)?;
    if count.is_none() {
        let (field, _) = picked
            .into_iter()
            .next()
            .expect("a live hash has a field to pick");
        return Ok(Output::Bulk(field));
    }
    Ok(if with_values {
        Output::Pairs(
            picked
                .into_iter()
                .map(|(f, v)| (Output::Bulk(f), Output::Bulk(v)))
                .collect(),
        )
    } else {
        Output::bulks(picked.into_iter().map(|(f, _)| f))
    })
}

#[cfg(test)]
#[path = "hash_tests.rs"]
mod tests;
