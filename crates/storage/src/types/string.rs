//! String commands.
//!
//! A string lives entirely in its metadata record (`keys::Meta::value`), so every string op is
//! one point read and at most one point write. Writing a string over a collection replaces the
//! metadata; the collection's sub-keys become stale and are reclaimed by `gc.rs`.
//!
//! Relative expiry times (`EX`, `PX`) are turned into absolute `expire_at_ms` by the parser, so
//! the ops carry only absolute times and apply identically on every replica. An absolute time at
//! or before the entry's `now_ms` deletes the key, as Redis does for `SET ... EXAT <past>`.

use serde::{Deserialize, Serialize};

use crate::engine::{Reader, ReaderExt, Txn};
use crate::keys::{KeyKind, Meta};
use crate::number::{format_f64_human, parse_f64, parse_i64};
use crate::output::{ExecError, ExecResult, Output};

/// The existence condition of `SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetCond {
    /// Always set.
    Always,
    /// `NX`: only if the key does not exist.
    IfMissing,
    /// `XX`: only if the key exists.
    IfExists,
}

/// What happens to the key's time to live when a value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpiryChange {
    /// Remove any expiry (plain `SET`, `GETEX PERSIST`).
    Clear,
    /// Keep the current expiry (`KEEPTTL`).
    Keep,
    /// Expire at this absolute Unix time in milliseconds (> 0).
    At(u64),
}

/// A string write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StringWrite {
    /// `SET` (and `SETEX`, `PSETEX`, `GETSET`). Replies `OK`/nil, or the old value with `get`.
    Set {
        /// The key.
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
        /// `NX`/`XX`.
        cond: SetCond,
        /// `EX`/`PX`/`EXAT`/`PXAT`/`KEEPTTL`, or clear.
        expiry: ExpiryChange,
        /// `GET`: reply with the old value (WRONGTYPE, and no write, if it is not a string).
        get: bool,
    },
    /// `MSET` (`nx == false`, replies OK) and `MSETNX`/`SETNX` (`nx`, replies 1 or 0).
    MSet {
        /// Key-value pairs, applied in order (a repeated key ends with its last value).
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
        /// Set nothing if any key exists.
        nx: bool,
    },
    /// `GETDEL`.
    GetDel {
        /// The key.
        key: Vec<u8>,
    },
    /// `GETEX` with an option. `Keep` never reaches storage (it is a plain read).
    GetEx {
        /// The key.
        key: Vec<u8>,
        /// `PERSIST` (`Clear`) or a new absolute expiry.
        expiry: ExpiryChange,
    },
    /// `APPEND`; fails if the result would exceed `bulk_len_max`.
    Append {
        /// The key.
        key: Vec<u8>,
        /// Bytes to append.
        value: Vec<u8>,
        /// Longest allowed result.
        bulk_len_max: u64,
    },
    /// `INCR`, `DECR`, `INCRBY`, `DECRBY`.
    IncrBy {
        /// The key.
        key: Vec<u8>,
        /// Amount to add.
        delta: i64,
    },
    /// `INCRBYFLOAT`.
    IncrByFloat {
        /// The key.
        key: Vec<u8>,
        /// Amount to add (finite).
        delta: f64,
    },
    /// `SETRANGE`; fails if the result would exceed `bulk_len_max`.
    SetRange {
        /// The key.
        key: Vec<u8>,
        /// Byte offset to write at.
        offset: u64,
        /// Bytes to write.
        value: Vec<u8>,
        /// Longest allowed result.
        bulk_len_max: u64,
    },
}

impl StringWrite {
    /// Applies the op.
    pub fn apply(&self, txn: &mut Txn<'_>) -> ExecResult {
        match self {
            StringWrite::Set {
                key,
                value,
                cond,
                expiry,
                get,
            } => set(txn, key, value, *cond, *expiry, *get),
            StringWrite::MSet { pairs, nx } => mset(txn, pairs, *nx),
            StringWrite::GetDel { key } => getdel(txn, key),
            StringWrite::GetEx { key, expiry } => getex(txn, key, *expiry),
            StringWrite::Append {
                key,
                value,
                bulk_len_max,
            } => append(txn, key, value, *bulk_len_max),
            StringWrite::IncrBy { key, delta } => incr_by(txn, key, *delta),
            StringWrite::IncrByFloat { key, delta } => incr_by_float(txn, key, *delta),
            StringWrite::SetRange {
                key,
                offset,
                value,
                bulk_len_max,
            } => set_range(txn, key, *offset, value, *bulk_len_max),
        }
    }
}

/// A string read op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StringRead {
    /// `GET` (and `GETEX` without options).
    Get {
        /// The key.
        key: Vec<u8>,
    },
    /// `MGET`: nil for missing keys and keys of other types.
    MGet {
        /// The keys.
        keys: Vec<Vec<u8>>,
    },
    /// `STRLEN`.
    StrLen {
        /// The key.
        key: Vec<u8>,
    },
    /// `GETRANGE` with Redis 7's index rules.
    GetRange {
        /// The key.
        key: Vec<u8>,
        /// First index (negative counts from the end).
        start: i64,
        /// Last index, inclusive (negative counts from the end).
        end: i64,
    },
}

impl StringRead {
    /// Executes the op.
    pub fn execute(&self, reader: &dyn Reader) -> ExecResult {
        match self {
            StringRead::Get { key } => Ok(Output::bulk_or_nil(string_value(reader, key)?)),
            StringRead::MGet { keys } => mget(reader, keys),
            StringRead::StrLen { key } => {
                let len = string_value(reader, key)?.map_or(0, |v| v.len());
                Ok(Output::Int(len as i64))
            }
            StringRead::GetRange { key, start, end } => {
                let value = string_value(reader, key)?.unwrap_or_default();
                Ok(Output::Bulk(get_range(&value, *start, *end).to_vec()))
            }
        }
    }
}

/// The live string at `key`; WRONGTYPE if it holds another type.
fn string_value(reader: &(impl Reader + ?Sized), key: &[u8]) -> Result<Option<Vec<u8>>, ExecError> {
    Ok(reader.meta_of(key, KeyKind::String)?.map(|m| m.value))
}

fn mget(reader: &dyn Reader, keys: &[Vec<u8>]) -> ExecResult {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let value = match reader.meta(key)? {
            Some(meta) if meta.kind == KeyKind::String => Some(meta.value),
            _ => None,
        };
        out.push(Output::bulk_or_nil(value));
    }
    Ok(Output::Array(out))
}

/// Redis 7's `GETRANGE` index clamping.
fn get_range(value: &[u8], start: i64, end: i64) -> &[u8] {
    let len = value.len() as i64;
    if start < 0 && end < 0 && start > end {
        return &[];
    }
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 {
        (len + end).max(0)
    } else {
        end.min(len - 1)
    };
    if len == 0 || start > end {
        return &[];
    }
    &value[start as usize..=end as usize]
}

/// Writes `value` at `key` as a string with `expiry`, deleting the key instead when the expiry
/// is already in the past.
fn write_string(txn: &mut Txn<'_>, key: &[u8], value: Vec<u8>, expire_at_ms: u64) {
    if expire_at_ms != 0 && expire_at_ms <= txn.now_ms() {
        txn.delete_key(key);
        return;
    }
    txn.put_meta(
        key,
        &Meta {
            expire_at_ms,
            ..Meta::string(value)
        },
    );
}

fn set(
    txn: &mut Txn<'_>,
    key: &[u8],
    value: &[u8],
    cond: SetCond,
    expiry: ExpiryChange,
    get: bool,
) -> ExecResult {
    // A plain SET needs nothing from the old record: the new string metadata replaces it
    // whatever its type, and a replaced collection's sub-keys are stale from then on. Skipping
    // the lookup removes a memtable search from the hottest write.
    if cond == SetCond::Always && !get && expiry != ExpiryChange::Keep {
        let expire_at_ms = if let ExpiryChange::At(at_ms) = expiry {
            at_ms
        } else {
            0
        };
        write_string(txn, key, value.to_vec(), expire_at_ms);
        return Ok(Output::Ok);
    }
    let old = txn.meta(key)?;
    let old_value = match &old {
        Some(meta) if get && meta.kind != KeyKind::String => return Err(ExecError::WrongType),
        Some(meta) if meta.kind == KeyKind::String => Some(meta.value.clone()),
        _ => None,
    };
    let allowed = match cond {
        SetCond::Always => true,
        SetCond::IfMissing => old.is_none(),
        SetCond::IfExists => old.is_some(),
    };
    let reply = if get {
        Output::bulk_or_nil(old_value)
    } else if allowed {
        Output::Ok
    } else {
        Output::Nil
    };
    if !allowed {
        return Ok(reply);
    }
    let expire_at_ms = match expiry {
        ExpiryChange::Clear => 0,
        ExpiryChange::Keep => old.as_ref().map_or(0, |m| m.expire_at_ms),
        ExpiryChange::At(at_ms) => at_ms,
    };
    write_string(txn, key, value.to_vec(), expire_at_ms);
    Ok(reply)
}

fn mset(txn: &mut Txn<'_>, pairs: &[(Vec<u8>, Vec<u8>)], nx: bool) -> ExecResult {
    if nx {
        for (key, _) in pairs {
            if txn.meta(key)?.is_some() {
                return Ok(Output::Int(0));
            }
        }
    }
    for (key, value) in pairs {
        txn.put_meta(key, &Meta::string(value.clone()));
    }
    Ok(if nx { Output::Int(1) } else { Output::Ok })
}

fn getdel(txn: &mut Txn<'_>, key: &[u8]) -> ExecResult {
    let value = string_value(txn, key)?;
    if value.is_some() {
        txn.delete_key(key);
    }
    Ok(Output::bulk_or_nil(value))
}

fn getex(txn: &mut Txn<'_>, key: &[u8], expiry: ExpiryChange) -> ExecResult {
    let Some(meta) = txn.meta_of(key, KeyKind::String)? else {
        return Ok(Output::Nil);
    };
    let expire_at_ms = match expiry {
        ExpiryChange::Clear => 0,
        ExpiryChange::Keep => meta.expire_at_ms,
        ExpiryChange::At(at_ms) => at_ms,
    };
    if expire_at_ms != meta.expire_at_ms {
        write_string(txn, key, meta.value.clone(), expire_at_ms);
    }
    Ok(Output::Bulk(meta.value))
}

fn append(txn: &mut Txn<'_>, key: &[u8], value: &[u8], bulk_len_max: u64) -> ExecResult {
    let meta = txn.meta_of(key, KeyKind::String)?;
    let mut meta = meta.unwrap_or_else(|| Meta::string(Vec::new()));
    if (meta.value.len() + value.len()) as u64 > bulk_len_max {
        return Err(ExecError::StringTooLong);
    }
    meta.value.extend_from_slice(value);
    txn.put_meta(key, &meta);
    Ok(Output::Int(meta.value.len() as i64))
}

fn incr_by(txn: &mut Txn<'_>, key: &[u8], delta: i64) -> ExecResult {
    let meta = txn.meta_of(key, KeyKind::String)?;
    let mut meta = meta.unwrap_or_else(|| Meta::string(b"0".to_vec()));
    let current = parse_i64(&meta.value).ok_or(ExecError::NotInteger)?;
    let next = current.checked_add(delta).ok_or(ExecError::Overflow)?;
    meta.value = next.to_string().into_bytes();
    txn.put_meta(key, &meta);
    Ok(Output::Int(next))
}

fn incr_by_float(txn: &mut Txn<'_>, key: &[u8], delta: f64) -> ExecResult {
    let meta = txn.meta_of(key, KeyKind::String)?;
    let mut meta = meta.unwrap_or_else(|| Meta::string(b"0".to_vec()));
    let current = parse_f64(&meta.value).ok_or(ExecError::NotFloat)?;
    let next = current + delta;
    if !next.is_finite() {
        return Err(ExecError::NanOrInfinity);
    }
    meta.value = format_f64_human(next).into_bytes();
    txn.put_meta(key, &meta);
    Ok(Output::Bulk(meta.value))
}

fn set_range(
    txn: &mut Txn<'_>,
    key: &[u8],
    offset: u64,
    value: &[u8],
    bulk_len_max: u64,
) -> ExecResult {
    let meta = txn.meta_of(key, KeyKind::String)?;
    let Some(mut meta) = meta else {
        if value.is_empty() {
            return Ok(Output::Int(0));
        }
        check_len(offset, value.len(), bulk_len_max)?;
        let mut bytes = vec![0u8; offset as usize];
        bytes.extend_from_slice(value);
        let len = bytes.len();
        txn.put_meta(key, &Meta::string(bytes));
        return Ok(Output::Int(len as i64));
    };
    if value.is_empty() {
        return Ok(Output::Int(meta.value.len() as i64));
    }
    check_len(offset, value.len(), bulk_len_max)?;
    let end = offset as usize + value.len();
    if meta.value.len() < end {
        meta.value.resize(end, 0);
    }
    meta.value[offset as usize..end].copy_from_slice(value);
    txn.put_meta(key, &meta);
    Ok(Output::Int(meta.value.len() as i64))
}

fn check_len(offset: u64, len: usize, bulk_len_max: u64) -> Result<(), ExecError> {
    match offset.checked_add(len as u64) {
        Some(total) if total <= bulk_len_max => Ok(()),
        _ => Err(ExecError::StringTooLong),
    }
}

#[cfg(test)]
mod tests {
    use super::get_range;

    #[test]
    fn get_range_follows_redis_7() {
        let v = b"This is a string";
        assert_eq!(get_range(v, 0, 3), b"This");
        assert_eq!(get_range(v, -3, -1), b"ing");
        assert_eq!(get_range(v, 0, -1), v);
        assert_eq!(get_range(v, 10, 100), b"string");
        assert_eq!(get_range(v, 5, 3), b"");
        assert_eq!(get_range(v, -1, -5), b"");
        assert_eq!(get_range(v, -100, 2), b"Thi");
        assert_eq!(get_range(b"", 0, -1), b"");
    }
}
