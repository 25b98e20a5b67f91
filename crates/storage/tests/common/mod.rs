//! A shard in a temporary RocksDB for executor tests: applies write ops as entries with
//! increasing indexes at a controllable time.

#![allow(dead_code, clippy::unwrap_used)]

use std::cell::Cell;
use std::sync::Arc;

use storage::types::keyspace::{KeyspaceRead, KeyspaceWrite};
use storage::types::string::{StringRead, StringWrite};
use storage::{Db, ExecResult, Output, ReadOp, ShardStore, StorageConfig, WriteEntry, WriteOp};

/// A test start time (2023-11-14), far from 0 so relative times stay positive.
pub const T0_MS: u64 = 1_700_000_000_000;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub db: Arc<Db>,
    pub shard: ShardStore,
    index: Cell<u64>,
    pub now_ms: Cell<u64>,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = StorageConfig {
            block_cache_bytes: 8 << 20,
            memtable_budget_bytes: 8 << 20,
            ..Default::default()
        };
        let db = Db::open(dir.path(), &config).unwrap();
        db.create_shard(1).unwrap();
        let shard = db.shard(1).unwrap();
        Fixture {
            dir,
            db,
            shard,
            index: Cell::new(0),
            now_ms: Cell::new(T0_MS),
        }
    }

    /// A second shard in the same DB.
    pub fn other_shard(&self, id: u64) -> ShardStore {
        self.db.create_shard(id).unwrap();
        self.db.shard(id).unwrap()
    }

    pub fn advance_ms(&self, ms: u64) {
        self.now_ms.set(self.now_ms.get() + ms);
    }

    pub fn write(&self, op: WriteOp) -> ExecResult {
        self.index.set(self.index.get() + 1);
        let entry = WriteEntry {
            now_ms: self.now_ms.get(),
            ops: vec![op],
        };
        let entry = WriteEntry::decode(&entry.encode()).unwrap();
        self.shard
            .apply(self.index.get(), &entry)
            .unwrap()
            .unwrap()
            .pop()
            .unwrap()
    }

    pub fn read(&self, op: ReadOp) -> ExecResult {
        self.shard.read(self.now_ms.get(), &op)
    }

    pub fn s(&self, op: StringWrite) -> ExecResult {
        self.write(WriteOp::String(op))
    }

    pub fn sr(&self, op: StringRead) -> ExecResult {
        self.read(ReadOp::String(op))
    }

    pub fn k(&self, op: KeyspaceWrite) -> ExecResult {
        self.write(WriteOp::Keyspace(op))
    }

    pub fn kr(&self, op: KeyspaceRead) -> ExecResult {
        self.read(ReadOp::Keyspace(op))
    }

    /// `SET key value` with no options.
    pub fn set(&self, key: &[u8], value: &[u8]) {
        use storage::types::string::{ExpiryChange, SetCond};
        let op = StringWrite::Set {
            key: key.to_vec(),
            value: value.to_vec(),
            cond: SetCond::Always,
            expiry: ExpiryChange::Clear,
            get: false,
        };
        assert_eq!(self.s(op).unwrap(), Output::Ok);
    }

    pub fn get(&self, key: &[u8]) -> Output {
        self.sr(StringRead::Get { key: key.to_vec() }).unwrap()
    }

    /// Every raw record of the shard's column family.
    pub fn raw_records(&self, shard: &ShardStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        let cf = self.db.cf(shard.cf_name()).unwrap();
        self.db
            .rocks()
            .iterator_cf(&cf, rocksdb::IteratorMode::Start)
            .map(|r| {
                let (k, v) = r.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect()
    }
}

pub fn bulk(b: &[u8]) -> Output {
    Output::Bulk(b.to_vec())
}
