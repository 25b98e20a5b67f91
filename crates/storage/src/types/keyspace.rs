//! Keyspace commands (DEL, EXPIRE, RENAME, SCAN, FLUSHDB...) and the ops of active expiry.
//!
//! Expired keys are invisible to every op here (they read through [`ReaderExt::meta`] or filter
//! with [`Meta::is_expired`]); they are physically removed by [`KeyspaceWrite::DeleteExpired`]
//! or by any write that replaces them.
//!
//! `CLUSTER COUNTKEYSINSLOT` and `GETKEYSINSLOT` ([`KeyspaceRead::CountKeysInSlot`],
//! [`KeyspaceRead::KeysInSlot`]) are prefix scans of one slot's metadata: every key starts
//! with its 2-byte slot.
//!
//! # `SCAN` cursor (per shard)
//!
//! Keys are visited in metadata-key order: by slot, then by user-key bytes. A cursor is
//! `slot << 48 | prefix`, where `prefix` is the first 6 bytes of the next key to visit,
//! zero-padded, big-endian (bits 62..63 are always zero). `0` starts and ends an iteration.
//! Resuming seeks to `slot`, user key = those 6 bytes with trailing zero bytes stripped, which
//! sorts at or before the next key, so:
//! - every key present during the whole iteration is returned at least once;
//! - a key sharing its first 6 bytes with the resume point may be returned twice;
//! - a page stops only where the resume point sorts after the last key it visited, so cursors
//!   strictly increase and the iteration terminates.
//!
//! The trade-off of a stateless `u64` cursor: a page can exceed `COUNT` while keys of one slot
//! share their first 6 bytes (`user:1...`); at worst it holds one slot's keys, which hash tags
//! can concentrate. The slot in the top bits tells the node which shard continues the
//! iteration ([`scan_cursor_slot`], [`scan_cursor_at_slot`]): a shard's reply cursor 0 means
//! "this shard is done", and the node continues at the first slot of the next shard.
//!
//! # Active expiry ([`KeyspaceRead::SampleExpired`], [`KeyspaceWrite::DeleteExpired`])
//!
//! There is no index by expiry time (TODO(#2): a volatile-key index would make sampling
//! proportional to the keys that expire). The node's expiry task walks each shard's metadata
//! with a rotating cursor in the `SCAN` format: `SampleExpired { cursor, visit_max, count_max }`
//! visits at most `visit_max` metadata records from `cursor` and replies
//! `[next_cursor, [expired keys...]]` with at most `count_max` keys that are expired at the
//! reader's `now_ms`; `next_cursor == 0` means the walk wrapped and starts again. The node then
//! proposes `DeleteExpired { keys }`, which deletes each key only if it is still expired at the
//! entry's `now_ms` (a key rewritten meanwhile survives) and replies with the number deleted.
//!
//! # RENAME and COPY cost
//!
//! A collection's sub-keys embed its user key, so renaming or copying a collection rewrites all
//! of its live sub-keys under the destination key and a new version: O(n) in the collection's
//! size (Redis's RENAME is O(1)). The source's old sub-keys become stale (RENAME) and are
//! reclaimed by compaction. Strings are one record either way.

use serde::{Deserialize, Serialize};

use crate::engine::{OpRng, Reader, ReaderExt, SubRange, Txn};
use crate::error::StorageError;
use crate::glob;
use crate::keys::{self, KeyKind, Meta};
use crate::output::{ExecError, ExecResult, Output};
use crate::types::collection::ScanPage;

/// The highest slot number.
const SLOT_LAST: u16 = 0x3FFF;
/// Bits of a `SCAN` cursor below the slot.
const CURSOR_SLOT_SHIFT: u32 = 48;
/// Bytes of the next key kept in a `SCAN` cursor.
const CURSOR_PREFIX_LEN: usize = 6;

/// The condition of `EXPIRE` and friends (Redis 7 `NX`/`XX`/`GT`/`LT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpireCond {
    /// No condition.
    Always,
    /// `NX`: only if the key has no expiry.
    NoExpiry,
    /// `XX`: only if the key has an expiry.
    HasExpiry,
    /// `GT`: only if the new expiry is later (no expiry counts as infinite).
    Later,
    /// `LT`: only if the new expiry is earlier (no expiry counts as infinite).
    Earlier,
    /// `XX LT`: only if the key has an expiry and the new one is earlier. (`XX GT` is `Later`.)
    EarlierWithExpiry,
}

/// A keyspace write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KeyspaceWrite {
    /// `DEL`, `UNLINK`: replies the number of keys deleted.
    Del {
        /// The keys (a repeated key counts once).
        keys: Vec<Vec<u8>>,
    },
    /// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`: replies 1 if the expiry was set (or the key
    /// deleted because `at_ms` is not in the future), 0 otherwise.
    Expire {
        /// The key.
        key: Vec<u8>,
        /// Absolute expiry in Unix milliseconds; may be in the past or negative.
        at_ms: i64,
        /// `NX`/`XX`/`GT`/`LT`.
        cond: ExpireCond,
    },
    /// `PERSIST`: replies 1 if an expiry was removed.
    Persist {
        /// The key.
        key: Vec<u8>,
    },
    /// `RENAME` (replies OK) and `RENAMENX` (`nx`, replies 1 or 0). The expiry moves along.
    Rename {
        /// Source key; `ERR no such key` if missing.
        src: Vec<u8>,
        /// Destination key.
        dst: Vec<u8>,
        /// Do nothing if the destination exists.
        nx: bool,
    },
    /// `COPY`: replies 1 if copied. The parser rejects `src == dst`.
    Copy {
        /// Source key.
        src: Vec<u8>,
        /// Destination key.
        dst: Vec<u8>,
        /// Overwrite an existing destination.
        replace: bool,
    },
    /// `FLUSHDB`, `FLUSHALL`: one range delete over every slot of the shard (O(1) in RocksDB).
    FlushAll,
    /// Active expiry: deletes each key that is expired at the entry's time; replies the count.
    DeleteExpired {
        /// Keys found by [`KeyspaceRead::SampleExpired`].
        keys: Vec<Vec<u8>>,
    },
}

impl KeyspaceWrite {
    /// Applies the op.
    pub fn apply(&self, txn: &mut Txn<'_>) -> ExecResult {
        match self {
            KeyspaceWrite::Del { keys } => del(txn, keys),
            KeyspaceWrite::Expire { key, at_ms, cond } => expire(txn, key, *at_ms, *cond),
            KeyspaceWrite::Persist { key } => persist(txn, key),
            KeyspaceWrite::Rename { src, dst, nx } => rename(txn, src, dst, *nx),
            KeyspaceWrite::Copy { src, dst, replace } => copy(txn, src, dst, *replace),
            KeyspaceWrite::FlushAll => {
                let (start, end) = keys::slot_range_bounds(0, SLOT_LAST);
                txn.delete_range_raw(start, end);
                Ok(Output::Ok)
            }
            KeyspaceWrite::DeleteExpired { keys } => delete_expired(txn, keys),
        }
    }
}

/// What `TTL` and friends report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TtlKind {
    /// `TTL`: remaining seconds (rounded).
    Seconds,
    /// `PTTL`: remaining milliseconds.
    Millis,
    /// `EXPIRETIME`: absolute Unix seconds.
    AtSeconds,
    /// `PEXPIRETIME`: absolute Unix milliseconds.
    AtMillis,
}

/// A keyspace read op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KeyspaceRead {
    /// `EXISTS`, `TOUCH`: the number of existing keys, counting repeats.
    Exists {
        /// The keys.
        keys: Vec<Vec<u8>>,
    },
    /// `TYPE`: a status `none`, `string`, `list`, `set`, `zset` or `hash`.
    Type {
        /// The key.
        key: Vec<u8>,
    },
    /// `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME`: -2 if missing, -1 if no expiry.
    Ttl {
        /// The key.
        key: Vec<u8>,
        /// What to report.
        kind: TtlKind,
    },
    /// `KEYS`: every live key of the shard matching the glob pattern.
    Keys {
        /// Glob pattern.
        pattern: Vec<u8>,
    },
    /// `SCAN` within one shard: replies `[next_cursor, [keys...]]` (cursor format in the
    /// module docs).
    Scan {
        /// Where to resume; 0 starts.
        cursor: u64,
        /// `MATCH` pattern.
        pattern: Option<Vec<u8>>,
        /// `COUNT`: keys to visit (a hint).
        count: u64,
        /// `TYPE` filter: a name `TYPE` replies with.
        type_name: Option<Vec<u8>>,
    },
    /// `RANDOMKEY`: a live key chosen with `seed`, or nil when the shard is empty.
    RandomKey {
        /// Seed of the choice.
        seed: u64,
    },
    /// `DBSIZE`: the number of live keys (O(keys): it walks the metadata).
    DbSize,
    /// Active expiry: up to `count_max` expired keys among `visit_max` records from `cursor`;
    /// replies `[next_cursor, [keys...]]`.
    SampleExpired {
        /// Where to resume (the `SCAN` format); 0 starts.
        cursor: u64,
        /// Metadata records to visit at most.
        visit_max: u64,
        /// Keys to return at most.
        count_max: u64,
    },
    /// `CLUSTER COUNTKEYSINSLOT`: the number of live keys in `slot` (O(keys in the slot): a
    /// prefix scan of the slot's metadata).
    CountKeysInSlot {
        /// The slot, `0..=16383`.
        slot: u16,
    },
    /// `CLUSTER GETKEYSINSLOT`: up to `count` live keys of `slot`, in key order.
    KeysInSlot {
        /// The slot, `0..=16383`.
        slot: u16,
        /// Keys to return at most.
        count: u64,
    },
    /// A command with an argument that does not parse, answered in Redis's order: Redis
    /// looks its keys up before it reads that argument (LINDEX, LSET, GETEX, the member scans,
    /// ZUNION and its family), so, key by key, a missing key gets `missing` and a key of none
    /// of the `type_names` WRONGTYPE; only when every key passes comes the argument's `error`.
    FailAfterLookup {
        /// The keys, in the order Redis looks them up.
        keys: Vec<Vec<u8>>,
        /// The types the command works on, as `TYPE` names them.
        type_names: Vec<String>,
        /// What a missing key gets.
        missing: MissingKey,
        /// The argument's error reply: its full text without the leading `-`.
        error: String,
    },
}

/// What [`KeyspaceRead::FailAfterLookup`] answers for a missing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MissingKey {
    /// A nil reply (LINDEX, GETEX).
    Nil,
    /// `ERR no such key` (LSET).
    NoSuchKey,
    /// An empty, final scan page (HSCAN, SSCAN, ZSCAN).
    EmptyScan,
    /// Nothing: the next key is looked up (ZUNION and its family read it as empty).
    Skip,
}

impl KeyspaceRead {
    /// Executes the op.
    pub fn execute(&self, reader: &dyn Reader) -> ExecResult {
        match self {
            KeyspaceRead::Exists { keys } => {
                let mut count = 0;
                for key in keys {
                    count += i64::from(reader.meta(key)?.is_some());
                }
                Ok(Output::Int(count))
            }
            KeyspaceRead::Type { key } => {
                let name = reader.meta(key)?.map_or("none", |m| m.kind.type_name());
                Ok(Output::Status(name))
            }
            KeyspaceRead::FailAfterLookup {
                keys,
                type_names,
                missing,
                error,
            } => fail_after_lookup(reader, keys, type_names, *missing, error),
            KeyspaceRead::Ttl { key, kind } => ttl(reader, key, *kind),
            KeyspaceRead::Keys { pattern } => keys_matching(reader, pattern),
            KeyspaceRead::Scan {
                cursor,
                pattern,
                count,
                type_name,
            } => {
                let filter = ScanFilter {
                    pattern: pattern.as_deref(),
                    type_name: type_name.as_deref(),
                };
                scan(reader, *cursor, *count, &filter)
            }
            KeyspaceRead::RandomKey { seed } => random_key(reader, *seed),
            KeyspaceRead::DbSize => {
                let mut count = 0;
                visit_live(reader, &mut |_, _| {
                    count += 1;
                    true
                })?;
                Ok(Output::Int(count))
            }
            KeyspaceRead::SampleExpired {
                cursor,
                visit_max,
                count_max,
            } => sample_expired(reader, *cursor, *visit_max, *count_max),
            KeyspaceRead::CountKeysInSlot { slot } => {
                let mut count = 0;
                visit_live_in_slot(reader, *slot, &mut |_| {
                    count += 1;
                    true
                })?;
                Ok(Output::Int(count))
            }
            KeyspaceRead::KeysInSlot { slot, count } => {
                let mut found = Vec::new();
                if *count > 0 {
                    visit_live_in_slot(reader, *slot, &mut |user_key| {
                        found.push(Output::bulk(user_key));
                        (found.len() as u64) < *count
                    })?;
                }
                Ok(Output::Array(found))
            }
        }
    }
}

/// The slot a `SCAN` cursor resumes in.
pub fn scan_cursor_slot(cursor: u64) -> u16 {
    (cursor >> CURSOR_SLOT_SHIFT) as u16
}

/// The cursor that starts at the first key of `slot`.
pub fn scan_cursor_at_slot(slot: u16) -> u64 {
    u64::from(slot) << CURSOR_SLOT_SHIFT
}

/// The cursor that resumes at the metadata key `meta_key`.
fn cursor_of(meta_key: &[u8]) -> u64 {
    let (slot, user_key) =
        keys::parse_meta_key(meta_key).expect("scan_metas visits metadata keys only");
    let mut prefix = [0u8; 8];
    let n = user_key.len().min(CURSOR_PREFIX_LEN);
    prefix[8 - CURSOR_PREFIX_LEN..8 - CURSOR_PREFIX_LEN + n].copy_from_slice(&user_key[..n]);
    scan_cursor_at_slot(slot) | u64::from_be_bytes(prefix)
}

/// The metadata key a cursor resumes at (sorting at or before the key it was made from).
fn resume_key(cursor: u64) -> Vec<u8> {
    let bytes = cursor.to_be_bytes();
    let mut prefix = &bytes[8 - CURSOR_PREFIX_LEN..];
    while let Some((&0, rest)) = prefix.split_last() {
        prefix = rest;
    }
    keys::meta_key(scan_cursor_slot(cursor), prefix)
}

/// Visits every live key of the shard with its metadata bytes.
fn visit_live(
    reader: &dyn Reader,
    visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<(), StorageError> {
    let now_ms = reader.now_ms();
    let mut failure = None;
    reader.scan_metas(0, SLOT_LAST, None, &mut |k, v| match keys::peek_meta(v) {
        Ok((_, expire_at_ms)) if expire_at_ms != 0 && expire_at_ms <= now_ms => true,
        Ok(_) => visit(k, v),
        Err(e) => {
            failure = Some(e);
            false
        }
    })?;
    failure.map_or(Ok(()), Err)
}

/// Visits the user keys of the live keys of `slot`, in key order, until `visit` returns false.
/// A slot outside `0..=16383` has no keys.
fn visit_live_in_slot(
    reader: &dyn Reader,
    slot: u16,
    visit: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), StorageError> {
    if slot > SLOT_LAST {
        return Ok(());
    }
    let now_ms = reader.now_ms();
    let mut failure = None;
    reader.scan_metas(slot, slot, None, &mut |k, v| match keys::peek_meta(v) {
        Ok((_, expire_at_ms)) if expire_at_ms != 0 && expire_at_ms <= now_ms => true,
        Ok(_) => visit(user_key_of(k)),
        Err(e) => {
            failure = Some(e);
            false
        }
    })?;
    failure.map_or(Ok(()), Err)
}

fn user_key_of(meta_key: &[u8]) -> &[u8] {
    keys::parse_meta_key(meta_key)
        .expect("scan_metas visits metadata keys only")
        .1
}

/// See [`KeyspaceRead::FailAfterLookup`].
fn fail_after_lookup(
    reader: &dyn Reader,
    keys: &[Vec<u8>],
    type_names: &[String],
    missing: MissingKey,
    error: &str,
) -> ExecResult {
    for key in keys {
        match reader.meta(key)? {
            None => match missing {
                MissingKey::Nil => return Ok(Output::Nil),
                MissingKey::NoSuchKey => return Err(ExecError::NoSuchKey),
                MissingKey::EmptyScan => {
                    return Ok(ScanPage::default().into_output(|_, _| Vec::new()))
                }
                MissingKey::Skip => {}
            },
            Some(meta) if !type_names.iter().any(|t| t == meta.kind.type_name()) => {
                return Err(ExecError::WrongType)
            }
            Some(_) => {}
        }
    }
    Err(ExecError::Reply(error.to_owned()))
}

fn keys_matching(reader: &dyn Reader, pattern: &[u8]) -> ExecResult {
    let match_all = pattern == b"*";
    let mut out = Vec::new();
    visit_live(reader, &mut |k, _| {
        let user_key = user_key_of(k);
        if match_all || glob::matches(pattern, user_key, false) {
            out.push(Output::bulk(user_key));
        }
        true
    })?;
    Ok(Output::Array(out))
}

/// The `MATCH` and `TYPE` filters of `SCAN`.
struct ScanFilter<'a> {
    pattern: Option<&'a [u8]>,
    type_name: Option<&'a [u8]>,
}

impl ScanFilter<'_> {
    fn accepts(&self, user_key: &[u8], meta_value: &[u8]) -> Result<bool, StorageError> {
        if let Some(type_name) = self.type_name {
            let (kind, _) = keys::peek_meta(meta_value)?;
            if !kind.type_name().as_bytes().eq_ignore_ascii_case(type_name) {
                return Ok(false);
            }
        }
        Ok(self
            .pattern
            .is_none_or(|p| glob::matches(p, user_key, false)))
    }
}

/// Sees one metadata record `(meta key, meta value)` of a walk.
type MetaVisitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), StorageError> + 'a;

/// Walks metadata from `cursor`, visiting at least `count` records and stopping at the first
/// point where a cursor can resume without revisiting; `visit` sees every record passed.
/// Returns the next cursor (0 at the end of the shard).
fn walk_from(
    reader: &dyn Reader,
    cursor: u64,
    count: u64,
    visit: &mut MetaVisitor<'_>,
) -> Result<u64, StorageError> {
    if scan_cursor_slot(cursor) > SLOT_LAST {
        return Ok(0);
    }
    let from = resume_key(cursor);
    let mut visited = 0u64;
    let mut last: Vec<u8> = Vec::new();
    let mut next_cursor = 0;
    let mut failure = None;
    reader.scan_metas(
        scan_cursor_slot(cursor),
        SLOT_LAST,
        Some(&from),
        &mut |k, v| {
            if visited >= count.max(1) {
                let candidate = cursor_of(k);
                if resume_key(candidate).as_slice() > last.as_slice() {
                    next_cursor = candidate;
                    return false;
                }
            }
            visited += 1;
            last.clear();
            last.extend_from_slice(k);
            match visit(k, v) {
                Ok(()) => true,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        },
    )?;
    failure.map_or(Ok(next_cursor), Err)
}

fn scan(reader: &dyn Reader, cursor: u64, count: u64, filter: &ScanFilter<'_>) -> ExecResult {
    let now_ms = reader.now_ms();
    let mut found = Vec::new();
    let next = walk_from(reader, cursor, count, &mut |k, v| {
        let (_, expire_at_ms) = keys::peek_meta(v)?;
        let user_key = user_key_of(k);
        if !(expire_at_ms != 0 && expire_at_ms <= now_ms) && filter.accepts(user_key, v)? {
            found.push(Output::bulk(user_key));
        }
        Ok(())
    })?;
    Ok(Output::Array(vec![
        Output::bulk(next.to_string()),
        Output::Array(found),
    ]))
}

fn sample_expired(reader: &dyn Reader, cursor: u64, visit_max: u64, count_max: u64) -> ExecResult {
    let now_ms = reader.now_ms();
    let mut found = Vec::new();
    // Stop early once enough keys are found by pretending the budget is spent: walk_from still
    // ends on a resumable boundary.
    let next = walk_from(reader, cursor, visit_max, &mut |k, v| {
        let (_, expire_at_ms) = keys::peek_meta(v)?;
        if expire_at_ms != 0 && expire_at_ms <= now_ms && (found.len() as u64) < count_max {
            found.push(Output::bulk(user_key_of(k)));
        }
        Ok(())
    })?;
    Ok(Output::Array(vec![
        Output::bulk(next.to_string()),
        Output::Array(found),
    ]))
}

fn random_key(reader: &dyn Reader, seed: u64) -> ExecResult {
    // Start at a random slot and take the first live key from there, wrapping around once.
    let start_slot = OpRng::new(seed).below(u64::from(SLOT_LAST) + 1) as u16;
    let mut chosen = first_live(reader, start_slot, SLOT_LAST)?;
    if chosen.is_none() && start_slot > 0 {
        chosen = first_live(reader, 0, start_slot - 1)?;
    }
    Ok(Output::bulk_or_nil(chosen))
}

/// The first live key in slots `first..=last`.
fn first_live(reader: &dyn Reader, first: u16, last: u16) -> Result<Option<Vec<u8>>, StorageError> {
    let now_ms = reader.now_ms();
    let mut chosen = None;
    let mut failure = None;
    reader.scan_metas(first, last, None, &mut |k, v| match keys::peek_meta(v) {
        Ok((_, at)) if at != 0 && at <= now_ms => true,
        Ok(_) => {
            chosen = Some(user_key_of(k).to_vec());
            false
        }
        Err(e) => {
            failure = Some(e);
            false
        }
    })?;
    failure.map_or(Ok(chosen), Err)
}

fn ttl(reader: &dyn Reader, key: &[u8], kind: TtlKind) -> ExecResult {
    let Some(meta) = reader.meta(key)? else {
        return Ok(Output::Int(-2));
    };
    if meta.expire_at_ms == 0 {
        return Ok(Output::Int(-1));
    }
    let at_ms = meta.expire_at_ms as i64;
    let remaining_ms = (at_ms - reader.now_ms() as i64).max(0);
    Ok(Output::Int(match kind {
        TtlKind::Seconds => (remaining_ms + 500) / 1000,
        TtlKind::Millis => remaining_ms,
        TtlKind::AtSeconds => (at_ms + 500) / 1000,
        TtlKind::AtMillis => at_ms,
    }))
}

fn del(txn: &mut Txn<'_>, keys: &[Vec<u8>]) -> ExecResult {
    let mut count = 0;
    for key in keys {
        if txn.meta(key)?.is_some() {
            txn.delete_key(key);
            count += 1;
        }
    }
    Ok(Output::Int(count))
}

fn expire(txn: &mut Txn<'_>, key: &[u8], at_ms: i64, cond: ExpireCond) -> ExecResult {
    let Some(mut meta) = txn.meta(key)? else {
        return Ok(Output::Int(0));
    };
    let current = meta.expire_at_ms;
    let allowed = match cond {
        ExpireCond::Always => true,
        ExpireCond::NoExpiry => current == 0,
        ExpireCond::HasExpiry => current != 0,
        ExpireCond::Later => current != 0 && at_ms > current as i64,
        ExpireCond::Earlier => current == 0 || at_ms < current as i64,
        ExpireCond::EarlierWithExpiry => current != 0 && at_ms < current as i64,
    };
    if !allowed {
        return Ok(Output::Int(0));
    }
    if at_ms <= txn.now_ms() as i64 {
        txn.delete_key(key);
    } else {
        meta.expire_at_ms = at_ms as u64;
        txn.put_meta(key, &meta);
    }
    Ok(Output::Int(1))
}

fn persist(txn: &mut Txn<'_>, key: &[u8]) -> ExecResult {
    match txn.meta(key)? {
        Some(mut meta) if meta.expire_at_ms != 0 => {
            meta.expire_at_ms = 0;
            txn.put_meta(key, &meta);
            Ok(Output::Int(1))
        }
        _ => Ok(Output::Int(0)),
    }
}

/// Writes `meta` (of `src`) at `dst`; a collection's live sub-keys are copied under a new
/// version. The caller has checked that `dst` may be overwritten.
fn write_copy(txn: &mut Txn<'_>, src: &[u8], meta: &Meta, dst: &[u8]) -> Result<(), ExecError> {
    if meta.kind == KeyKind::String {
        txn.put_meta(dst, meta);
        return Ok(());
    }
    let mut subs = Vec::new();
    txn.sub_scan(src, meta, SubRange::all(), &mut |sub, value| {
        subs.push((sub.to_vec(), value.to_vec()));
        true
    })?;
    let new_meta = Meta {
        version: txn.new_version(),
        ..meta.clone()
    };
    for (sub, value) in subs {
        txn.put_sub(dst, &new_meta, &sub, value);
    }
    txn.put_meta(dst, &new_meta);
    Ok(())
}

fn rename(txn: &mut Txn<'_>, src: &[u8], dst: &[u8], nx: bool) -> ExecResult {
    let meta = txn.meta(src)?.ok_or(ExecError::NoSuchKey)?;
    let done = if nx { Output::Int(1) } else { Output::Ok };
    if src == dst {
        return Ok(if nx { Output::Int(0) } else { Output::Ok });
    }
    if nx && txn.meta(dst)?.is_some() {
        return Ok(Output::Int(0));
    }
    write_copy(txn, src, &meta, dst)?;
    txn.delete_key(src);
    Ok(done)
}

fn copy(txn: &mut Txn<'_>, src: &[u8], dst: &[u8], replace: bool) -> ExecResult {
    let Some(meta) = txn.meta(src)? else {
        return Ok(Output::Int(0));
    };
    if !replace && txn.meta(dst)?.is_some() {
        return Ok(Output::Int(0));
    }
    write_copy(txn, src, &meta, dst)?;
    Ok(Output::Int(1))
}

fn delete_expired(txn: &mut Txn<'_>, keys: &[Vec<u8>]) -> ExecResult {
    let now_ms = txn.now_ms();
    let mut count = 0;
    for key in keys {
        let meta_key = keys::meta_key(crate::engine::slot_of(key), key);
        let Some(raw) = txn.get_raw(&meta_key)? else {
            continue;
        };
        let (_, expire_at_ms) = keys::peek_meta(&raw)?;
        if expire_at_ms != 0 && expire_at_ms <= now_ms {
            txn.delete_raw(meta_key);
            count += 1;
        }
    }
    Ok(Output::Int(count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_resumes_at_or_before_its_key() {
        for key in [
            &b""[..],
            b"a",
            b"ab\0",
            b"abcdefgh",
            b"\0\0\x01",
            b"user:1000",
        ] {
            let mk = keys::meta_key(77, key);
            let c = cursor_of(&mk);
            assert_eq!(scan_cursor_slot(c), 77);
            assert!(resume_key(c) <= mk, "{key:?}");
            assert_eq!(c >> 62, 0);
        }
        assert_eq!(resume_key(0), keys::meta_key(0, b""));
    }

    mod in_slot {
        use std::sync::Arc;

        use super::*;
        use crate::engine::slot_of;
        use crate::types::hash::HashWrite;
        use crate::types::string::{ExpiryChange, SetCond, StringWrite};
        use crate::{Db, ReadOp, ShardStore, StorageConfig, WriteEntry, WriteOp};

        const T0_MS: u64 = 1_700_000_000_000;

        fn open(dir: &std::path::Path) -> (Arc<Db>, ShardStore) {
            let config = StorageConfig {
                block_cache_bytes: 8 << 20,
                memtable_budget_bytes: 8 << 20,
                ..Default::default()
            };
            let db = Db::open(dir, &config).unwrap();
            db.create_shard(1).unwrap();
            let store = db.shard(1).unwrap();
            (db, store)
        }

        fn set(key: &str, expiry: ExpiryChange) -> WriteOp {
            WriteOp::String(StringWrite::Set {
                key: key.into(),
                value: b"v".to_vec(),
                cond: SetCond::Always,
                expiry,
                get: false,
            })
        }

        fn count(store: &ShardStore, now_ms: u64, slot: u16) -> Output {
            let op = ReadOp::Keyspace(KeyspaceRead::CountKeysInSlot { slot });
            store.read(now_ms, &op).unwrap()
        }

        fn keys_in(store: &ShardStore, now_ms: u64, slot: u16, count: u64) -> Output {
            let op = ReadOp::Keyspace(KeyspaceRead::KeysInSlot { slot, count });
            store.read(now_ms, &op).unwrap()
        }

        /// A shard with `{t}a`, `{t}b`, `{t}c` (strings), `{t}h` (a hash with sub-keys),
        /// `{t}x` (expiring at T0 + 1000) and `other` (another slot).
        fn filled(store: &ShardStore) {
            let hash = WriteOp::Hash(HashWrite::Set {
                key: b"{t}h".to_vec(),
                pairs: vec![
                    (b"f1".to_vec(), b"1".to_vec()),
                    (b"f2".to_vec(), b"2".to_vec()),
                ],
                reply_ok: false,
            });
            let ops = vec![
                set("{t}c", ExpiryChange::Clear),
                set("{t}a", ExpiryChange::Clear),
                set("{t}b", ExpiryChange::Clear),
                hash,
                set("{t}x", ExpiryChange::At(T0_MS + 1_000)),
                set("other", ExpiryChange::Clear),
            ];
            store
                .apply(1, &WriteEntry { now_ms: T0_MS, ops })
                .unwrap()
                .unwrap();
        }

        #[test]
        fn fail_after_lookup_answers_missing_then_type_then_the_error() {
            let dir = tempfile::tempdir().unwrap();
            let (_db, store) = open(dir.path());
            filled(&store);
            let op = |keys: &[&str], types: &[&str], missing| {
                ReadOp::Keyspace(KeyspaceRead::FailAfterLookup {
                    keys: keys.iter().map(|k| k.as_bytes().to_vec()).collect(),
                    type_names: types.iter().map(|t| (*t).to_owned()).collect(),
                    missing,
                    error: "ERR bad argument".into(),
                })
            };
            let check = |keys: &[&str], missing: MissingKey| match store
                .read(T0_MS, &op(keys, &["hash"], missing))
            {
                Ok(out) => format!("{out:?}"),
                Err(ExecError::Reply(text)) => text,
                Err(e) => format!("{e}"),
            };
            assert_eq!(check(&["nokey"], MissingKey::Nil), "Nil");
            assert_eq!(check(&["nokey"], MissingKey::NoSuchKey), "no such key");
            let empty_page = Output::Array(vec![Output::bulk("0"), Output::Array(Vec::new())]);
            assert_eq!(
                check(&["nokey"], MissingKey::EmptyScan),
                format!("{empty_page:?}")
            );
            assert_eq!(check(&["{t}a"], MissingKey::Nil), "wrong type");
            assert_eq!(check(&["{t}h"], MissingKey::Nil), "ERR bad argument");
            // Key by key: a missing key skipped, then the first key of another type.
            assert_eq!(
                check(&["nokey", "{t}h", "{t}a"], MissingKey::Skip),
                "wrong type"
            );
            assert_eq!(
                check(&["nokey", "{t}h"], MissingKey::Skip),
                "ERR bad argument"
            );
            assert_eq!(check(&["nokey", "{t}a"], MissingKey::Nil), "Nil");
            let either = op(&["{t}a", "{t}h"], &["hash", "string"], MissingKey::Skip);
            assert!(matches!(
                store.read(T0_MS, &either),
                Err(ExecError::Reply(_))
            ));
            // `{t}x` expires at T0 + 1000: a key before then, missing from then on.
            let expiring = op(&["{t}x"], &["string"], MissingKey::Nil);
            assert_eq!(store.read(T0_MS + 1_000, &expiring).unwrap(), Output::Nil);
            assert!(store.read(T0_MS, &expiring).is_err());
        }

        #[test]
        fn count_and_list_see_only_the_live_keys_of_the_slot() {
            let dir = tempfile::tempdir().unwrap();
            let (_db, store) = open(dir.path());
            filled(&store);
            let slot = slot_of(b"{t}");
            assert_ne!(slot, slot_of(b"other"));
            assert_eq!(count(&store, T0_MS, slot), Output::Int(5));
            assert_eq!(count(&store, T0_MS, slot_of(b"other")), Output::Int(1));
            let all = ["{t}a", "{t}b", "{t}c", "{t}h", "{t}x"];
            assert_eq!(
                keys_in(&store, T0_MS, slot, 100),
                Output::bulks(all.map(|k| k.as_bytes().to_vec()))
            );
            // Once `{t}x` expired it is neither counted nor listed, though still stored.
            let later = T0_MS + 1_000;
            assert_eq!(count(&store, later, slot), Output::Int(4));
            assert_eq!(
                keys_in(&store, later, slot, 100),
                Output::bulks(all[..4].iter().map(|k| k.as_bytes().to_vec()))
            );
        }

        #[test]
        fn list_stops_at_count_and_empty_or_bad_slots_have_no_keys() {
            let dir = tempfile::tempdir().unwrap();
            let (_db, store) = open(dir.path());
            filled(&store);
            let slot = slot_of(b"{t}");
            assert_eq!(
                keys_in(&store, T0_MS, slot, 2),
                Output::bulks([b"{t}a".to_vec(), b"{t}b".to_vec()])
            );
            assert_eq!(keys_in(&store, T0_MS, slot, 0), Output::Array(Vec::new()));
            let empty = (0..=SLOT_LAST)
                .find(|&s| s != slot && s != slot_of(b"other"))
                .unwrap();
            assert_eq!(count(&store, T0_MS, empty), Output::Int(0));
            assert_eq!(keys_in(&store, T0_MS, empty, 10), Output::Array(Vec::new()));
            assert_eq!(count(&store, T0_MS, SLOT_LAST + 1), Output::Int(0));
            assert_eq!(count(&store, T0_MS, u16::MAX), Output::Int(0));
        }

        #[test]
        fn the_ops_survive_the_wire_encoding() {
            for op in [
                KeyspaceRead::CountKeysInSlot { slot: 12182 },
                KeyspaceRead::KeysInSlot {
                    slot: 866,
                    count: 7,
                },
            ] {
                let bytes = postcard::to_stdvec(&op).unwrap();
                assert_eq!(postcard::from_bytes::<KeyspaceRead>(&bytes).unwrap(), op);
            }
        }
    }
}
