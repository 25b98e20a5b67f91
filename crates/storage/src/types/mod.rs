//! Redis types on top of the engine: one file per command family, each defining its write and
//! read ops and executing them. Nothing here sees RESP or calls RocksDB directly.

pub mod collection;
pub mod hash;
pub mod keyspace;
pub mod list;
pub mod set;
pub mod string;
pub mod zset;
