//! Every byte layout RedRaft writes to RocksDB, in one place.
//!
//! No other module builds or parses stored keys or values; they call the functions here.
//! Integers are big-endian so that byte order is numeric order.
//!
//! # Shard data column family (`shard-<id>`)
//!
//! | record | key | value |
//! |---|---|---|
//! | metadata of user key `k` | `slot:u16` `0x00` `k` | [`Meta`] (below) |
//! | sub-key of a collection | `slot:u16` `0x01` `len(k):u32` `k` `version:u64` `sub` | depends on type |
//! | shard state | `0xFF` `b"state"` | `applied_index:u64` `last_version:u64` |
//!
//! Every data key starts with the slot of its user key, so a slot range is one key range:
//! `[slot_start:u16, (slot_end+1):u16)`. Slots are below 16384 (`0x4000`), so keys starting with
//! `0xFF` are never data and never fall inside an exported slot range.
//!
//! Within one slot all metadata records (`0x00`) sort before all sub-keys (`0x01`), and the
//! sub-keys of one user key and version are contiguous and sorted by `sub`.
//!
//! `sub` per type:
//!
//! | type | sub | value |
//! |---|---|---|
//! | hash | field | field value |
//! | set | member | empty |
//! | list | position:u64 | element |
//! | sorted set, member record | `0x00` member | score as [`encode_score`] (8 bytes) |
//! | sorted set, score index | `0x01` [`encode_score`] member | empty |
//!
//! # Metadata value ([`Meta`])
//!
//! | kind | bytes |
//! |---|---|
//! | string | `0x00` `expire_at_ms:u64` value-bytes |
//! | hash, set | kind:u8 `expire_at_ms:u64` `version:u64` `size:u64` |
//! | sorted set | `0x04` `expire_at_ms:u64` `version:u64` `size:u64` [`score_lo:u64` `score_hi:u64`] |
//! | list | `0x02` `expire_at_ms:u64` `version:u64` `size:u64` `head:u64` |
//!
//! `expire_at_ms == 0` means no expiry. A collection's sub-keys are live only while their
//! `version` equals the one in its metadata: deleting or overwriting a big key rewrites only the
//! metadata (O(1)), and the stale sub-keys are reclaimed by the compaction filter in `gc.rs`.
//! A list's elements occupy positions `head .. head + size`; `head` starts at
//! [`LIST_HEAD_INITIAL`] so both ends can grow.
//!
//! A sorted set's `score_lo`/`score_hi` are bounds on the [`encode_score`] bytes (read as a
//! big-endian `u64`) of its live score index records: every live record's score encodes to a
//! value in `score_lo ..= score_hi`. They are loose (not necessarily attained) and exist so that
//! ZPOPMIN/ZPOPMAX and rank walks seek past the deletion tombstones that earlier pops left at the
//! ends of the index instead of skipping them one by one. Both are omitted when unbounded
//! (`0`, `u64::MAX`), which is also what a record without them decodes to.
//!
//! # Raft column family (`raft`)
//!
//! | record | key | value |
//! |---|---|---|
//! | log entry | `shard:u64` `0x01` `index:u64` | encoded entry (owned by the node crate) |
//! | hard state | `shard:u64` `0x02` | encoded hard state (owned by the node crate) |
//! | other per-shard Raft state | `shard:u64` `0x03` name | opaque |
//!
//! # Node metadata column family (`meta`)
//!
//! | record | key | value |
//! |---|---|---|
//! | node-wide setting | `b"node/"` name | opaque |
//! | shard descriptor | `b"shard/"` `shard:u64` | opaque |

use crate::error::StorageError;

/// Number of bytes of the slot prefix of every data key.
pub const SLOT_PREFIX_LEN: usize = 2;
/// Tag byte after the slot for metadata records.
const TAG_META: u8 = 0x00;
/// Tag byte after the slot for collection sub-keys.
const TAG_SUB: u8 = 0x01;
/// First byte of shard-local records that are not user data.
const SHARD_LOCAL_PREFIX: u8 = 0xFF;
/// The shard state record's key.
pub const SHARD_STATE_KEY: &[u8] = b"\xFFstate";
/// Initial `head` of a new list: the middle of the u64 range, so pushes on both ends fit.
pub const LIST_HEAD_INITIAL: u64 = 1 << 63;
/// Sorted-set sub-key tag of a member record.
const ZSET_MEMBER_TAG: u8 = 0x00;
/// Sorted-set sub-key tag of a score index record.
const ZSET_SCORE_TAG: u8 = 0x01;

/// The Redis type of a key, as stored in its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// A string value, stored inline in the metadata.
    String,
    /// A hash: field -> value sub-keys.
    Hash,
    /// A list: position -> element sub-keys.
    List,
    /// A set: member sub-keys.
    Set,
    /// A sorted set: member -> score and score index sub-keys.
    ZSet,
}

impl KeyKind {
    fn to_byte(self) -> u8 {
        match self {
            KeyKind::String => 0,
            KeyKind::Hash => 1,
            KeyKind::List => 2,
            KeyKind::Set => 3,
            KeyKind::ZSet => 4,
        }
    }

    fn from_byte(b: u8) -> Result<Self, StorageError> {
        Ok(match b {
            0 => KeyKind::String,
            1 => KeyKind::Hash,
            2 => KeyKind::List,
            3 => KeyKind::Set,
            4 => KeyKind::ZSet,
            other => return Err(StorageError::Corrupt(format!("unknown key kind {other}"))),
        })
    }

    /// The name `TYPE` replies with.
    pub fn type_name(self) -> &'static str {
        match self {
            KeyKind::String => "string",
            KeyKind::Hash => "hash",
            KeyKind::List => "list",
            KeyKind::Set => "set",
            KeyKind::ZSet => "zset",
        }
    }
}

/// The metadata record of one user key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The key's type.
    pub kind: KeyKind,
    /// Absolute expiry time in Unix milliseconds; 0 means the key does not expire.
    pub expire_at_ms: u64,
    /// Version of the live sub-keys (collections only; 0 for strings).
    pub version: u64,
    /// Number of elements (collections only; 0 for strings).
    /// Invariant: a stored collection has `size > 0`; an emptied collection is deleted.
    pub size: u64,
    /// Position of the first list element (lists only; 0 otherwise).
    pub list_head: u64,
    /// The string's value (strings only; empty otherwise).
    pub value: Vec<u8>,
    /// Sorted sets only: lower bound on the encoded scores (see [`encode_score`]) of the live
    /// score index records, as a big-endian `u64`; 0 (unbounded) otherwise.
    pub zset_score_lo: u64,
    /// Sorted sets only: upper bound like `zset_score_lo`; `u64::MAX` (unbounded) otherwise.
    pub zset_score_hi: u64,
}

impl Meta {
    /// A string value with no expiry.
    pub fn string(value: Vec<u8>) -> Self {
        Meta {
            kind: KeyKind::String,
            expire_at_ms: 0,
            version: 0,
            size: 0,
            list_head: 0,
            value,
            zset_score_lo: 0,
            zset_score_hi: u64::MAX,
        }
    }

    /// An empty collection of `kind` at `version`, with no expiry.
    pub fn collection(kind: KeyKind, version: u64) -> Self {
        let list_head = if kind == KeyKind::List {
            LIST_HEAD_INITIAL
        } else {
            0
        };
        Meta {
            kind,
            expire_at_ms: 0,
            version,
            size: 0,
            list_head,
            value: Vec::new(),
            zset_score_lo: 0,
            zset_score_hi: u64::MAX,
        }
    }

    /// Whether the key is expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && self.expire_at_ms <= now_ms
    }
}

/// Encodes a metadata value.
pub fn encode_meta(meta: &Meta) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + meta.value.len().max(24));
    out.push(meta.kind.to_byte());
    out.extend_from_slice(&meta.expire_at_ms.to_be_bytes());
    if meta.kind == KeyKind::String {
        out.extend_from_slice(&meta.value);
        return out;
    }
    out.extend_from_slice(&meta.version.to_be_bytes());
    out.extend_from_slice(&meta.size.to_be_bytes());
    if meta.kind == KeyKind::List {
        out.extend_from_slice(&meta.list_head.to_be_bytes());
    }
    if meta.kind == KeyKind::ZSet && (meta.zset_score_lo, meta.zset_score_hi) != (0, u64::MAX) {
        out.extend_from_slice(&meta.zset_score_lo.to_be_bytes());
        out.extend_from_slice(&meta.zset_score_hi.to_be_bytes());
    }
    out
}

/// Decodes a metadata value written by [`encode_meta`].
pub fn decode_meta(bytes: &[u8]) -> Result<Meta, StorageError> {
    let (&kind_byte, rest) = bytes
        .split_first()
        .ok_or_else(|| StorageError::Corrupt("empty metadata".into()))?;
    let kind = KeyKind::from_byte(kind_byte)?;
    let mut r = Cursor::new(rest);
    let expire_at_ms = r.u64()?;
    if kind == KeyKind::String {
        return Ok(Meta {
            expire_at_ms,
            ..Meta::string(r.rest().to_vec())
        });
    }
    let version = r.u64()?;
    let size = r.u64()?;
    let list_head = if kind == KeyKind::List { r.u64()? } else { 0 };
    let (zset_score_lo, zset_score_hi) = if kind == KeyKind::ZSet && !r.rest().is_empty() {
        (r.u64()?, r.u64()?)
    } else {
        (0, u64::MAX)
    };
    if !r.rest().is_empty() {
        return Err(StorageError::Corrupt("trailing bytes in metadata".into()));
    }
    Ok(Meta {
        kind,
        expire_at_ms,
        version,
        size,
        list_head,
        value: Vec::new(),
        zset_score_lo,
        zset_score_hi,
    })
}

/// Reads only the kind and expiry of a metadata value, without copying a string's payload.
pub fn peek_meta(bytes: &[u8]) -> Result<(KeyKind, u64), StorageError> {
    if bytes.len() < 9 {
        return Err(StorageError::Corrupt("short metadata".into()));
    }
    let kind = KeyKind::from_byte(bytes[0])?;
    Ok((
        kind,
        u64::from_be_bytes(bytes[1..9].try_into().expect("8 bytes")),
    ))
}

/// The metadata key of `user_key` in `slot`.
pub fn meta_key(slot: u16, user_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + user_key.len());
    out.extend_from_slice(&slot.to_be_bytes());
    out.push(TAG_META);
    out.extend_from_slice(user_key);
    out
}

/// Splits a metadata key into its slot and user key; `None` if `key` is not a metadata key.
pub fn parse_meta_key(key: &[u8]) -> Option<(u16, &[u8])> {
    if key.len() < 3 || key[2] != TAG_META || key[0] == SHARD_LOCAL_PREFIX {
        return None;
    }
    Some((u16::from_be_bytes([key[0], key[1]]), &key[3..]))
}

/// The first metadata key of `slot` (inclusive start of a scan over the slot's keys).
pub fn meta_range_start(slot: u16) -> Vec<u8> {
    let mut out = slot.to_be_bytes().to_vec();
    out.push(TAG_META);
    out
}

/// The exclusive end of the metadata records of `slot`.
pub fn meta_range_end(slot: u16) -> Vec<u8> {
    let mut out = slot.to_be_bytes().to_vec();
    out.push(TAG_SUB);
    out
}

/// The prefix shared by every sub-key of `user_key` at `version`.
pub fn sub_prefix(slot: u16, user_key: &[u8], version: u64) -> Vec<u8> {
    let key_len = u32::try_from(user_key.len()).expect("user keys are limited far below 4 GiB");
    let mut out = Vec::with_capacity(15 + user_key.len() + 16);
    out.extend_from_slice(&slot.to_be_bytes());
    out.push(TAG_SUB);
    out.extend_from_slice(&key_len.to_be_bytes());
    out.extend_from_slice(user_key);
    out.extend_from_slice(&version.to_be_bytes());
    out
}

/// A sub-key: [`sub_prefix`] followed by `sub`.
pub fn sub_key(slot: u16, user_key: &[u8], version: u64, sub: &[u8]) -> Vec<u8> {
    let mut out = sub_prefix(slot, user_key, version);
    out.extend_from_slice(sub);
    out
}

/// A parsed sub-key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubKey<'a> {
    /// The slot of the user key.
    pub slot: u16,
    /// The user key.
    pub user_key: &'a [u8],
    /// The version of the collection this sub-key belongs to.
    pub version: u64,
    /// The type-specific rest.
    pub sub: &'a [u8],
}

/// Parses a sub-key written by [`sub_key`]; `None` if `key` is not a sub-key.
pub fn parse_sub_key(key: &[u8]) -> Option<SubKey<'_>> {
    if key.len() < 15 || key[2] != TAG_SUB || key[0] == SHARD_LOCAL_PREFIX {
        return None;
    }
    let slot = u16::from_be_bytes([key[0], key[1]]);
    let key_len = u32::from_be_bytes(key[3..7].try_into().ok()?) as usize;
    let user_end = 7usize.checked_add(key_len)?;
    let version_end = user_end.checked_add(8)?;
    if key.len() < version_end {
        return None;
    }
    let version = u64::from_be_bytes(key[user_end..version_end].try_into().ok()?);
    Some(SubKey {
        slot,
        user_key: &key[7..user_end],
        version,
        sub: &key[version_end..],
    })
}

/// The smallest key strictly greater than every key starting with `prefix`, or `None` if no
/// such key exists (the prefix is all `0xFF`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The key range `[start, end)` holding every data record of slots `first..=last`.
pub fn slot_range_bounds(first: u16, last: u16) -> (Vec<u8>, Vec<u8>) {
    assert!(
        first <= last && last < 0x4000,
        "slot range {first}..={last} out of bounds"
    );
    (
        first.to_be_bytes().to_vec(),
        (last + 1).to_be_bytes().to_vec(),
    )
}

/// The sub of a list element at `position`.
pub fn list_sub(position: u64) -> [u8; 8] {
    position.to_be_bytes()
}

/// Decodes a list sub back into its position.
pub fn parse_list_sub(sub: &[u8]) -> Result<u64, StorageError> {
    Cursor::new(sub).u64()
}

/// The sub of a sorted-set member record.
pub fn zset_member_sub(member: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + member.len());
    out.push(ZSET_MEMBER_TAG);
    out.extend_from_slice(member);
    out
}

/// The sub prefix of all member records of a sorted set.
pub fn zset_member_prefix() -> [u8; 1] {
    [ZSET_MEMBER_TAG]
}

/// The sub of a sorted-set score index record.
pub fn zset_score_sub(score: f64, member: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + member.len());
    out.push(ZSET_SCORE_TAG);
    out.extend_from_slice(&encode_score(score));
    out.extend_from_slice(member);
    out
}

/// The sub prefix of all score index records of a sorted set.
pub fn zset_score_prefix() -> [u8; 1] {
    [ZSET_SCORE_TAG]
}

/// Splits a score index sub into score and member.
pub fn parse_zset_score_sub(sub: &[u8]) -> Result<(f64, &[u8]), StorageError> {
    if sub.len() < 9 || sub[0] != ZSET_SCORE_TAG {
        return Err(StorageError::Corrupt("bad sorted-set score sub-key".into()));
    }
    let score = decode_score(&sub[1..9])?;
    Ok((score, &sub[9..]))
}

/// Encodes a score so that byte order is numeric order (`-inf` < ... < `-0.0` = `0.0` <
/// ... < `+inf`). NaN is never stored: commands reject it before planning.
pub fn encode_score(score: f64) -> [u8; 8] {
    // Normalise -0.0 to 0.0 so equal scores have equal bytes.
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    ordered.to_be_bytes()
}

/// Decodes [`encode_score`].
pub fn decode_score(bytes: &[u8]) -> Result<f64, StorageError> {
    let ordered = Cursor::new(bytes).u64()?;
    let bits = if ordered >> 63 == 1 {
        ordered & !(1 << 63)
    } else {
        !ordered
    };
    Ok(f64::from_bits(bits))
}

/// The persistent state of one shard, written atomically with every applied entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardState {
    /// Index of the last applied entry.
    pub applied_index: u64,
    /// The highest collection version handed out; new versions are strictly greater.
    pub last_version: u64,
}

/// Encodes the shard state record.
pub fn encode_shard_state(state: &ShardState) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&state.applied_index.to_be_bytes());
    out[8..].copy_from_slice(&state.last_version.to_be_bytes());
    out
}

/// Decodes the shard state record.
pub fn decode_shard_state(bytes: &[u8]) -> Result<ShardState, StorageError> {
    let mut r = Cursor::new(bytes);
    Ok(ShardState {
        applied_index: r.u64()?,
        last_version: r.u64()?,
    })
}

/// Key of log entry `index` of `shard` in the Raft column family.
pub fn raft_log_key(shard: u64, index: u64) -> [u8; 17] {
    let mut out = [0u8; 17];
    out[..8].copy_from_slice(&shard.to_be_bytes());
    out[8] = 0x01;
    out[9..].copy_from_slice(&index.to_be_bytes());
    out
}

/// Parses a log entry key into `(shard, index)`.
pub fn parse_raft_log_key(key: &[u8]) -> Option<(u64, u64)> {
    if key.len() != 17 || key[8] != 0x01 {
        return None;
    }
    let shard = u64::from_be_bytes(key[..8].try_into().ok()?);
    Some((shard, u64::from_be_bytes(key[9..].try_into().ok()?)))
}

/// Key of the hard state of `shard` in the Raft column family.
pub fn raft_hard_state_key(shard: u64) -> [u8; 9] {
    let mut out = [0u8; 9];
    out[..8].copy_from_slice(&shard.to_be_bytes());
    out[8] = 0x02;
    out
}

/// Key of another named piece of per-shard Raft state (for example the snapshot metadata).
pub fn raft_state_key(shard: u64, name: &[u8]) -> Vec<u8> {
    let mut out = shard.to_be_bytes().to_vec();
    out.push(0x03);
    out.extend_from_slice(name);
    out
}

/// Key of a node-wide setting in the metadata column family.
pub fn node_meta_key(name: &str) -> Vec<u8> {
    let mut out = b"node/".to_vec();
    out.extend_from_slice(name.as_bytes());
    out
}

/// Key of a shard descriptor in the metadata column family.
pub fn shard_descriptor_key(shard: u64) -> Vec<u8> {
    let mut out = b"shard/".to_vec();
    out.extend_from_slice(&shard.to_be_bytes());
    out
}

/// Whether `key` is a shard-local record rather than user data.
pub fn is_shard_local(key: &[u8]) -> bool {
    key.first() == Some(&SHARD_LOCAL_PREFIX)
}

/// A bounds-checked big-endian reader.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes }
    }

    fn u64(&mut self) -> Result<u64, StorageError> {
        if self.bytes.len() < 8 {
            return Err(StorageError::Corrupt("truncated integer".into()));
        }
        let (head, tail) = self.bytes.split_at(8);
        self.bytes = tail;
        Ok(u64::from_be_bytes(head.try_into().expect("8 bytes")))
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes
    }
}
