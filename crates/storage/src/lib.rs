//! RedRaft's storage engine: Redis data types on RocksDB.
//!
//! Where it sits: below the node crate (which parses commands into ops and drives Raft) and
//! above RocksDB. One RocksDB per node ([`Db`]) holds a column family per shard replica plus
//! `meta` and `raft`. A shard's data changes only by applying [`WriteEntry`]s
//! ([`ShardStore::apply`]), deterministically, so every replica that applies the same entries
//! holds the same data. Reads run [`ReadOp`]s on point-in-time snapshots.
//!
//! - [`keys`]: every byte layout (the only module that lays out bytes).
//! - [`engine`]: the [`Reader`] trait, the apply transaction [`Txn`], snapshot views.
//! - [`op`]: write entries, write ops and read ops, and their encoding.
//! - [`types`]: one module per Redis command family.
//! - [`gc`]: reclaiming stale sub-keys of deleted or overwritten collections.
//! - [`export`]: exporting, importing and deleting slot ranges (snapshots, migration).

pub mod db;
pub mod engine;
pub mod error;
pub mod export;
pub mod gc;
pub mod glob;
pub mod keys;
pub mod number;
pub mod op;
pub mod output;
pub mod shard;
pub mod types;

pub use db::{Db, MemtableUpkeep, StorageConfig};
pub use engine::{Reader, ReaderExt, SnapshotView, Txn};
pub use error::StorageError;
pub use op::{ReadOp, WriteEntry, WriteOp};
pub use output::{ExecError, ExecResult, Output};
pub use shard::{ApplyGroup, ShardStore};
