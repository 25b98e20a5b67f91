//! The storage crate's error type: failures of the engine, never user mistakes.

/// A storage failure. User mistakes (wrong type, not an integer...) are [`crate::ExecError`]s.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// RocksDB reported an error.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// Stored bytes do not decode: a bug or on-disk corruption.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A write op or entry could not be decoded (unknown version or truncated).
    #[error("bad write op encoding: {0}")]
    BadOp(String),
    /// The named shard has no column family on this node.
    #[error("unknown shard {0}")]
    UnknownShard(u64),
    /// An I/O error outside RocksDB (for example creating the data directory).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A read op asked a one-record view (`engine::PrefetchView`) for a record it does not
    /// serve; the caller runs the op again on a snapshot. Never reaches a client.
    #[error("a point read asked for more than one record")]
    NotPointRead,
}
