//! Write ops (the payload of Raft entries) and read ops.
//!
//! Every write command becomes a [`WriteOp`]; a [`WriteEntry`] (one or more ops with the time
//! they were proposed at) is what a shard's log carries and what [`crate::ShardStore::apply`]
//! executes deterministically. Read commands become [`ReadOp`]s executed on a snapshot.
//!
//! Encoding: one format-version byte ([`ENTRY_FORMAT_VERSION`]) followed by the `postcard`
//! (serde) encoding of the entry. Enum variants are encoded by position, so new ops and fields
//! are only ever appended; a change that cannot be appended bumps the format version and keeps a
//! decoder for the old one.

use serde::{Deserialize, Serialize};

use crate::engine::{Reader, Txn};
use crate::error::StorageError;
use crate::output::{ExecResult, Output};
use crate::types::{hash, keyspace, list, set, string, zset};

/// The current entry encoding version.
pub const ENTRY_FORMAT_VERSION: u8 = 1;

/// Bytes an encoded entry starts with room for (see [`WriteEntry::encode`]).
const ENCODED_CAPACITY_MIN: usize = 128;

/// One unit of replicated work: ops applied together, atomically, at `now_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteEntry {
    /// Unix time in milliseconds chosen by the node that accepted the command; every replica
    /// uses it for expiry decisions and new versions.
    pub now_ms: u64,
    /// The ops, applied in order. A transaction or multi-key write within one slot is one entry.
    pub ops: Vec<WriteOp>,
}

impl WriteEntry {
    /// The results of every op, when all are known before the entry applies (see
    /// [`WriteOp::result_without_state`]).
    pub fn results_without_state(&self) -> Option<Vec<ExecResult>> {
        self.ops.iter().map(WriteOp::result_without_state).collect()
    }

    /// Encodes the entry with its format version.
    pub fn encode(&self) -> Vec<u8> {
        // Room for a small write (a SET of a short key and value) up front: serializing into
        // an empty Vec grew it three times per entry, a realloc each.
        let mut out = Vec::with_capacity(ENCODED_CAPACITY_MIN);
        out.push(ENTRY_FORMAT_VERSION);
        postcard::to_io(self, &mut out).expect("writing to a Vec cannot fail");
        out
    }

    /// Decodes an entry written by [`WriteEntry::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, StorageError> {
        match bytes.split_first() {
            Some((&ENTRY_FORMAT_VERSION, rest)) => {
                postcard::from_bytes(rest).map_err(|e| StorageError::BadOp(e.to_string()))
            }
            Some((v, _)) => Err(StorageError::BadOp(format!(
                "unknown entry format version {v}"
            ))),
            None => Err(StorageError::BadOp("empty entry".into())),
        }
    }
}

/// A write, grouped by Redis command family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WriteOp {
    /// String commands.
    String(string::StringWrite),
    /// Keyspace commands (DEL, EXPIRE, RENAME, FLUSHDB, expiry of sampled keys...).
    Keyspace(keyspace::KeyspaceWrite),
    /// Hash commands.
    Hash(hash::HashWrite),
    /// List commands.
    List(list::ListWrite),
    /// Set commands.
    Set(set::SetWrite),
    /// Sorted-set commands.
    ZSet(zset::ZSetWrite),
}

impl WriteOp {
    /// The op's result when it is known before the op applies: it replies the same whatever
    /// the data holds (a plain `SET`, `MSET`), so a proposer may be answered once the entry is
    /// committed, before it is applied. `None` for every op whose reply reads the data.
    pub fn result_without_state(&self) -> Option<ExecResult> {
        use string::{ExpiryChange, SetCond, StringWrite};
        match self {
            WriteOp::String(StringWrite::Set {
                cond: SetCond::Always,
                get: false,
                expiry,
                ..
            }) if *expiry != ExpiryChange::Keep => Some(Ok(Output::Ok)),
            WriteOp::String(StringWrite::MSet { nx: false, .. }) => Some(Ok(Output::Ok)),
            _ => None,
        }
    }

    /// Applies the op inside `txn`.
    pub fn apply(&self, txn: &mut Txn<'_>) -> ExecResult {
        match self {
            WriteOp::String(op) => op.apply(txn),
            WriteOp::Keyspace(op) => op.apply(txn),
            WriteOp::Hash(op) => op.apply(txn),
            WriteOp::List(op) => op.apply(txn),
            WriteOp::Set(op) => op.apply(txn),
            WriteOp::ZSet(op) => op.apply(txn),
        }
    }
}

/// A read, grouped by Redis command family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReadOp {
    /// String commands.
    String(string::StringRead),
    /// Keyspace commands.
    Keyspace(keyspace::KeyspaceRead),
    /// Hash commands.
    Hash(hash::HashRead),
    /// List commands.
    List(list::ListRead),
    /// Set commands.
    Set(set::SetRead),
    /// Sorted-set commands.
    ZSet(zset::ZSetRead),
}

impl ReadOp {
    /// Whether the op reads one record (a string's metadata, which holds its value), so it
    /// may be read without a snapshot ([`crate::ShardStore::read_points`]).
    pub fn reads_one_record(&self) -> bool {
        matches!(
            self,
            ReadOp::String(
                string::StringRead::Get { .. }
                    | string::StringRead::StrLen { .. }
                    | string::StringRead::GetRange { .. }
            )
        )
    }

    /// Executes the op on `reader`.
    pub fn execute(&self, reader: &dyn Reader) -> ExecResult {
        match self {
            ReadOp::String(op) => op.execute(reader),
            ReadOp::Keyspace(op) => op.execute(reader),
            ReadOp::Hash(op) => op.execute(reader),
            ReadOp::List(op) => op.execute(reader),
            ReadOp::Set(op) => op.execute(reader),
            ReadOp::ZSet(op) => op.execute(reader),
        }
    }
}

/// `From` conversions from each family's ops, so callers write `op.into()`.
macro_rules! family_ops {
    ($($variant:ident: $write:ty, $read:ty;)*) => {$(
        impl From<$write> for WriteOp {
            fn from(op: $write) -> Self {
                WriteOp::$variant(op)
            }
        }

        impl From<$read> for ReadOp {
            fn from(op: $read) -> Self {
                ReadOp::$variant(op)
            }
        }
    )*};
}

family_ops! {
    String: string::StringWrite, string::StringRead;
    Keyspace: keyspace::KeyspaceWrite, keyspace::KeyspaceRead;
    Hash: hash::HashWrite, hash::HashRead;
    List: list::ListWrite, list::ListRead;
    Set: set::SetWrite, set::SetRead;
    ZSet: zset::ZSetWrite, zset::ZSetRead;
}
