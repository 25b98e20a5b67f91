//! The node's one RocksDB: column families, the shared memory budget, and shard lookup.
//!
//! Column families: `meta` (node metadata), `raft` (Raft logs and hard states of every shard on
//! the node) and one `shard-<id>` per shard replica holding that shard's data.
//!
//! Memory budget: every column family shares one LRU block cache of
//! [`StorageConfig::block_cache_bytes`] and one write-buffer manager holding all memtables
//! together to about [`StorageConfig::memtable_budget_bytes`] (past it RocksDB flushes the
//! oldest memtable; writes never wait, see [`Db::open_with_shards`]), so hundreds of shard
//! column families stay near `block_cache_bytes + memtable_budget_bytes` plus index and filter
//! blocks, which are charged to the block cache too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rocksdb::{
    BlockBasedOptions, BoundColumnFamily, Cache, ColumnFamilyDescriptor, FlushOptions, Options,
    WriteBufferManager,
};

use crate::error::StorageError;
use crate::gc::{GcLink, SnapshotRegistry};
use crate::shard::ShardStore;

/// The RocksDB handle type RedRaft uses (column families can be created through `&self`).
pub type RocksDb = rocksdb::DBWithThreadMode<rocksdb::MultiThreaded>;

/// Name of the node metadata column family.
pub const META_CF: &str = "meta";
/// Name of the Raft log column family.
pub const RAFT_CF: &str = "raft";
const SHARD_CF_PREFIX: &str = "shard-";
/// Obsolete write-ahead log files kept for reuse.
const WAL_FILES_RECYCLED: usize = 4;

/// Storage limits and tuning. Every field is a documented, configurable limit.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Capacity of the block cache shared by every column family, in bytes.
    pub block_cache_bytes: usize,
    /// Memtables of all column families together, in bytes, past which RocksDB flushes the
    /// column family with the oldest memtable (a soft cap: writes never wait for it).
    pub memtable_budget_bytes: usize,
    /// Size of one column family's memtable before it is flushed, in bytes. Smaller memtables
    /// are cheaper to insert into (a shallower skip list that stays in cache): with random
    /// keys, 8 MiB took about two thirds of the CPU per write of 32 MiB, flushes included.
    pub write_buffer_bytes: usize,
    /// Cap on the write-ahead log's total size, in bytes. Past it, RocksDB flushes the column
    /// families that keep the oldest log file alive. Without a cap, one rarely written column
    /// family (the routing table's metadata shard, an idle shard) pins every log file written
    /// since its last flush, and the log grows without bound while busy shards write.
    pub wal_bytes_max: u64,
    /// Background flush and compaction threads.
    pub background_jobs_max: i32,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            block_cache_bytes: 256 << 20,
            memtable_budget_bytes: 256 << 20,
            write_buffer_bytes: 8 << 20,
            wal_bytes_max: 256 << 20,
            background_jobs_max: 2,
        }
    }
}

/// The node's RocksDB with its shared cache and memtable budget.
pub struct Db {
    rocks: RocksDb,
    cache: Cache,
    write_buffers: WriteBufferManager,
    config: StorageConfig,
    path: PathBuf,
    /// Lets the shards' compaction filters reach this DB (see `gc.rs`).
    gc_link: GcLink,
    /// Open snapshot views, which the compaction filter must not pull data from under.
    snapshots: SnapshotRegistry,
    /// Set by [`Db::close`]: compaction filters stop taking handles to this DB.
    closing: AtomicBool,
    /// Every column family by name, with what the last [`Db::tend_memtables`] saw of it.
    memtables_seen: Mutex<HashMap<String, MemtableSeen>>,
}

impl Db {
    /// Opens (creating if needed) the database at `path`, with every column family it has.
    pub fn open(path: &Path, config: &StorageConfig) -> Result<Arc<Db>, StorageError> {
        Db::open_with_shards(path, config, &[])
    }

    /// Like [`Db::open`], also creating the column families of `shards` that are missing.
    ///
    /// Creating them here rather than one by one with [`Db::create_shard`] matters with many
    /// shards: RocksDB rewrites its options file, which lists every column family, after each
    /// creation, so creating n one by one writes O(n²) bytes (a node bootstrapping 1,000 shards
    /// spent three minutes doing so), where opening writes it once.
    pub fn open_with_shards(
        path: &Path,
        config: &StorageConfig,
        shards: &[u64],
    ) -> Result<Arc<Db>, StorageError> {
        std::fs::create_dir_all(path)?;
        let cache = Cache::new_lru_cache(config.block_cache_bytes);
        // The budget triggers flushes but never stalls writers. A stalling budget waits for
        // flushes to free memory, and RocksDB schedules one only once the *mutable*
        // memtables alone pass most of the budget: with hundreds of column families, each
        // far below its own flush size, that can never happen, and every write hung for
        // good (a node with 1,000 shards wedged within seconds of random writes).
        let write_buffers = WriteBufferManager::new_write_buffer_manager_with_cache(
            config.memtable_budget_bytes,
            false,
            cache.clone(),
        );
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(config.background_jobs_max);
        db_opts.set_write_buffer_manager(&write_buffers);
        db_opts.set_max_total_wal_size(config.wal_bytes_max);
        // A recycled log file is overwritten in place, so its size does not change and an
        // fdatasync need not write the inode too: one device round trip fewer per Raft round
        // (measured: 2.5 instead of 3 block requests per fsync, 5-18% less CPU per SET).
        // Recycling is safe with the default point-in-time recovery in this RocksDB version.
        db_opts.set_recycle_log_file_num(WAL_FILES_RECYCLED);
        // The WAL is buffered in memory and reaches the file only on `flush_wal` or a synced
        // write, so a group commit costs one write(2) + fsync instead of one write(2) per
        // applied batch plus the fsync. This is safe for both write paths: (1) nothing is
        // acknowledged before `Db::sync_wal` (`flush_wal(true)`: write the buffer, then fsync)
        // returns; (2) a write with `WriteOptions::set_sync(true)` (the Raft log) still writes
        // the buffer out before its fsync (RocksDB's `WritableFileWriter::Sync` flushes first),
        // and since the WAL is one sequential file, everything written before it becomes
        // durable with it. Unsynced writes were never durable; a process crash now also loses
        // them, which is the same case as a power loss, which every path already handles.
        db_opts.set_manual_wal_flush(true);
        let mut names = RocksDb::list_cf(&db_opts, path).unwrap_or_default();
        let required = ["default", META_CF, RAFT_CF].map(String::from);
        for name in required
            .into_iter()
            .chain(shards.iter().map(|id| shard_cf_name(*id)))
        {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let gc_link = GcLink::default();
        let descriptors: Vec<_> = names
            .iter()
            .map(|name| {
                ColumnFamilyDescriptor::new(
                    name,
                    cf_options(config, &cache, &write_buffers, name, &gc_link),
                )
            })
            .collect();
        let rocks = RocksDb::open_cf_descriptors(&db_opts, path, descriptors)?;
        let db = Arc::new(Db {
            rocks,
            cache,
            write_buffers,
            config: config.clone(),
            path: path.to_path_buf(),
            gc_link: GcLink::clone(&gc_link),
            snapshots: SnapshotRegistry::default(),
            closing: AtomicBool::new(false),
            memtables_seen: Mutex::new(
                names
                    .into_iter()
                    .map(|n| (n, MemtableSeen::default()))
                    .collect(),
            ),
        });
        gc_link
            .set(Arc::downgrade(&db))
            .expect("a new link is set once");
        Ok(db)
    }

    /// The underlying RocksDB.
    pub fn rocks(&self) -> &RocksDb {
        &self.rocks
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A column family handle by name.
    pub fn cf(&self, name: &str) -> Result<Arc<BoundColumnFamily<'_>>, StorageError> {
        self.rocks
            .cf_handle(name)
            .ok_or_else(|| StorageError::Corrupt(format!("no column family {name}")))
    }

    /// Creates the column family of shard `id` if it does not exist.
    pub fn create_shard(&self, id: u64) -> Result<(), StorageError> {
        let name = shard_cf_name(id);
        if self.rocks.cf_handle(&name).is_none() {
            let opts = cf_options(
                &self.config,
                &self.cache,
                &self.write_buffers,
                &name,
                &self.gc_link,
            );
            self.rocks.create_cf(&name, &opts)?;
        }
        self.memtables_seen.lock().entry(name).or_default();
        Ok(())
    }

    /// Drops the column family of shard `id` and all its data.
    pub fn drop_shard(&self, id: u64) -> Result<(), StorageError> {
        let name = shard_cf_name(id);
        if self.rocks.cf_handle(&name).is_some() {
            self.rocks.drop_cf(&name)?;
        }
        self.memtables_seen.lock().remove(&name);
        Ok(())
    }

    /// The ids of every shard with a column family on this node, ascending.
    pub fn shard_ids(&self) -> Vec<u64> {
        let opts = Options::default();
        let mut ids: Vec<u64> = RocksDb::list_cf(&opts, &self.path)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n.strip_prefix(SHARD_CF_PREFIX)?.parse().ok())
            .filter(|id| self.rocks.cf_handle(&shard_cf_name(*id)).is_some())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The store of shard `id`, which must have been created.
    pub fn shard(self: &Arc<Self>, id: u64) -> Result<ShardStore, StorageError> {
        ShardStore::open(Arc::clone(self), id)
    }

    /// Closes the database deterministically: stops compaction filters from taking new handles,
    /// waits up to `wait_max` for every other handle (running compactions hold one) to go, and
    /// drops the last one on this thread, so the directory can be reopened right after.
    /// Returns the handle back if others still hold it at the deadline.
    pub fn close(db: Arc<Db>, wait_max: Duration) -> Result<(), Arc<Db>> {
        db.closing.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + wait_max;
        let mut db = db;
        loop {
            match Arc::try_unwrap(db) {
                Ok(inner) => {
                    drop(inner);
                    return Ok(());
                }
                Err(shared) if Instant::now() >= deadline => return Err(shared),
                Err(shared) => db = shared,
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Whether [`Db::close`] has started.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// The registry of open snapshot views (the compaction filter consults it).
    pub fn snapshots(&self) -> &SnapshotRegistry {
        &self.snapshots
    }

    /// Makes every write so far durable: writes the buffered write-ahead log to its file and
    /// fsyncs it, once for everything written so far.
    pub fn sync_wal(&self) -> Result<(), StorageError> {
        Ok(self.rocks.flush_wal(true)?)
    }

    /// Periodic upkeep of every column family's memtable, from one look at its entry count:
    ///
    /// - **Flushes what went idle.** A column family whose memtable holds writes but took
    ///   none since the previous call is flushed (without waiting). A log file stays alive
    ///   until every column family with writes in it has flushed them, so one idle column
    ///   family (the routing table's metadata shard, a shard nobody writes) would keep every
    ///   log file written since its last write until [`StorageConfig::wal_bytes_max`] forces
    ///   a flush. Meanwhile no log file becomes obsolete, so none is recycled, and every fsync
    ///   of a growing new file writes its inode too: on this project's test machines an
    ///   fdatasync after an append took about 230 µs, after an overwrite in place about
    ///   150 µs. Flushing what went idle lets log files retire and be reused as soon as the
    ///   busy column families flush.
    /// - **Gives busy shards a memtable bloom filter.** A shard column family whose memtable
    ///   holds at least [`MEMTABLE_BLOOM_ENTRIES_MIN`] entries gets one, from its next
    ///   memtable on. A point lookup searches the active and immutable memtables' skip lists
    ///   before the table files, about a quarter of the I/O thread's time under pipelined
    ///   GETs; the filter skips the search for a key the memtable does not hold (CPU per GET
    ///   at `-P 16` fell by 17% and GET/s rose by 20%, three alternating pairs). It costs
    ///   [`MEMTABLE_BLOOM_RATIO`] of the write buffer per memtable, allocated with the
    ///   memtable, so idle shards, which would never use it, do not get one.
    pub fn tend_memtables(&self) -> Result<MemtableUpkeep, StorageError> {
        let mut seen = self.memtables_seen.lock();
        let mut opts = FlushOptions::default();
        opts.set_wait(false);
        let mut done = MemtableUpkeep::default();
        for (name, last) in seen.iter_mut() {
            let Some(cf) = self.rocks.cf_handle(name) else {
                continue;
            };
            let entries = self
                .rocks
                .property_int_value_cf(&cf, "rocksdb.num-entries-active-mem-table")?
                .unwrap_or(0);
            if entries > 0 && entries == last.entries {
                self.rocks.flush_cf_opt(&cf, &opts)?;
                done.flushed += 1;
                last.entries = 0;
            } else {
                last.entries = entries;
            }
            let busy = entries >= MEMTABLE_BLOOM_ENTRIES_MIN;
            if busy && !last.bloomed && name.starts_with(SHARD_CF_PREFIX) {
                let ratio = MEMTABLE_BLOOM_RATIO.to_string();
                self.rocks.set_options_cf(
                    &cf,
                    &[
                        ("memtable_prefix_bloom_size_ratio", ratio.as_str()),
                        ("memtable_whole_key_filtering", "true"),
                    ],
                )?;
                last.bloomed = true;
                done.bloomed += 1;
            }
        }
        Ok(done)
    }
}

/// What one [`Db::tend_memtables`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MemtableUpkeep {
    /// Column families whose idle memtable it started flushing.
    pub flushed: usize,
    /// Shard column families it gave a memtable bloom filter.
    pub bloomed: usize,
}

/// What [`Db::tend_memtables`] last saw of a column family's memtable.
#[derive(Debug, Default)]
struct MemtableSeen {
    /// Entries in the active memtable (0 after a flush this upkeep started).
    entries: u64,
    /// Whether the column family's memtables have a bloom filter.
    bloomed: bool,
}

/// Entries in a column family's active memtable from which its memtables get a bloom filter
/// for point lookups (see [`Db::tend_memtables`]).
pub const MEMTABLE_BLOOM_ENTRIES_MIN: u64 = 16_384;

/// A memtable bloom filter's size as a share of the write buffer: 1% of the default 8 MiB is
/// 80 KiB, about 6 bits per entry of a memtable full of small keys.
pub const MEMTABLE_BLOOM_RATIO: f64 = 0.01;

/// The column family name of shard `id`.
pub fn shard_cf_name(id: u64) -> String {
    format!("{SHARD_CF_PREFIX}{id}")
}

fn cf_options(
    config: &StorageConfig,
    cache: &Cache,
    write_buffers: &WriteBufferManager,
    name: &str,
    gc_link: &GcLink,
) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    table.set_bloom_filter(10.0, false);
    // A hash index in each data block finds a point lookup's key without the binary search
    // over the block's restart points, which was the costliest single step of a GET that
    // reaches a table file; about 1 byte per key at this ratio.
    table.set_data_block_index_type(rocksdb::DataBlockIndexType::BinaryAndHash);
    table.set_data_block_hash_ratio(DATA_BLOCK_HASH_RATIO);
    let mut opts = tombstone_options();
    opts.set_block_based_table_factory(&table);
    opts.set_write_buffer_manager(write_buffers);
    opts.set_write_buffer_size(config.write_buffer_bytes);
    opts.set_arena_block_size(MEMTABLE_ARENA_BLOCK_BYTES);
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    if name.starts_with(SHARD_CF_PREFIX) {
        crate::gc::install(&mut opts, name, gc_link);
    }
    opts
}

/// Keys per bucket of a data block's hash index (`data_block_hash_table_util_ratio`); RocksDB
/// suggests 0.75.
const DATA_BLOCK_HASH_RATIO: f64 = 0.75;

/// Memory a memtable takes at a time. RocksDB's default is an eighth of the write buffer
/// (1 MiB for 8 MiB), and a memtable that takes concurrent inserts (the store loop and the
/// apply worker write at once) holds a whole block after its first one: 1,000 shards with a
/// key each would hold 1 GiB of memtables. With 64 KiB blocks they hold 64 MiB, and a busy
/// memtable just takes more blocks.
const MEMTABLE_ARENA_BLOCK_BYTES: usize = 64 << 10;

/// Flush a memtable once one seek in it steps over this many deleted or overwritten entries
/// (RocksDB's `memtable_op_scan_flush_trigger`; forward scans only).
pub const MEMTABLE_SCAN_FLUSH_HIDDEN_MIN: u32 = 1000;
/// Flush a memtable once reads step over this many hidden entries per step on average
/// between two seeks (`memtable_avg_op_scan_flush_trigger`).
pub const MEMTABLE_SCAN_FLUSH_HIDDEN_AVG: u32 = 100;
/// Compact a table file once some window of this many consecutive entries in it holds
/// [`TOMBSTONE_WINDOW_DELETES_MIN`] deletions, or half its entries are deletions.
pub const TOMBSTONE_WINDOW: usize = 1000;
/// See [`TOMBSTONE_WINDOW`].
pub const TOMBSTONE_WINDOW_DELETES_MIN: usize = 500;

/// Column family options that keep reads from wading through tombstones.
///
/// Removing members one by one (SPOP draining a set, runs of SREM or HDEL) leaves runs of
/// deletions that every later seek in that key must step over: a set drained by SPOP went
/// from about 30,000 pops per second to about 530 as the runs grew. A memtable whose reads
/// step over many hidden entries is flushed, and a table file dense in deletions is marked
/// for compaction, which drops them.
fn tombstone_options() -> Options {
    let text = format!(
        "memtable_op_scan_flush_trigger={MEMTABLE_SCAN_FLUSH_HIDDEN_MIN};\
         memtable_avg_op_scan_flush_trigger={MEMTABLE_SCAN_FLUSH_HIDDEN_AVG}"
    );
    let mut opts = Options::default()
        .get_options_from_string(&text)
        .expect("the option names and values are valid");
    opts.add_compact_on_deletion_collector_factory(
        TOMBSTONE_WINDOW,
        TOMBSTONE_WINDOW_DELETES_MIN,
        0.5,
    );
    opts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sizes of the write-ahead log files (`*.log`) in `dir`.
    fn wal_file_sizes(dir: &Path) -> Vec<u64> {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .map(|e| e.metadata().map_or(0, |m| m.len()))
            .collect()
    }

    fn wal_bytes(dir: &Path) -> u64 {
        wal_file_sizes(dir).iter().sum()
    }

    fn wal_files(dir: &Path) -> usize {
        wal_file_sizes(dir).len()
    }

    /// Polls `done` every 20 ms for up to 20 s (RocksDB flushes, compacts and deletes obsolete
    /// files in the background); returns its last answer.
    fn wait_until(mut done: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Writes `count` 1000-byte values to `cf` under ascending keys, syncing the log every
    /// 1000 writes and at the end, as Raft rounds would.
    fn write_synced_values(db: &Db, cf: &str, count: u32) {
        let cf = db.cf(cf).unwrap();
        let value = vec![7u8; 1000];
        for i in 0..count {
            db.rocks().put_cf(&cf, i.to_be_bytes(), &value).unwrap();
            if i % 1000 == 0 {
                db.sync_wal().unwrap();
            }
        }
        db.sync_wal().unwrap();
    }

    /// Small memtables (1 MiB, so log files switch often) and the given log cap.
    fn small_config(wal_bytes_max: u64) -> StorageConfig {
        StorageConfig {
            block_cache_bytes: 8 << 20,
            memtable_budget_bytes: 64 << 20,
            write_buffer_bytes: 1 << 20,
            wal_bytes_max,
            background_jobs_max: 2,
        }
    }

    #[test]
    fn only_busy_column_families_get_memtable_bloom_filters() {
        let dir = tempfile::tempdir().unwrap();
        let config = StorageConfig::default();
        let db = Db::open(dir.path(), &config).unwrap();
        db.create_shard(1).unwrap();
        db.create_shard(2).unwrap();
        let (busy, idle) = (shard_cf_name(1), shard_cf_name(2));
        let (busy_cf, idle_cf) = (db.cf(&busy).unwrap(), db.cf(&idle).unwrap());
        for i in 0..MEMTABLE_BLOOM_ENTRIES_MIN {
            db.rocks().put_cf(&busy_cf, i.to_be_bytes(), b"v").unwrap();
        }
        db.rocks().put_cf(&idle_cf, b"k", b"v").unwrap();
        assert_eq!(db.tend_memtables().unwrap().bloomed, 1);
        db.rocks().put_cf(&busy_cf, b"more", b"v").unwrap();
        assert_eq!(
            db.tend_memtables().unwrap().bloomed,
            0,
            "once per column family"
        );
        // The filter comes with the next memtable and is allocated with it.
        let mut wait = FlushOptions::default();
        wait.set_wait(true);
        for cf in [&busy_cf, &idle_cf] {
            db.rocks().flush_cf_opt(cf, &wait).unwrap();
        }
        // One write each: a memtable's size is counted as it takes writes.
        db.rocks().put_cf(&busy_cf, b"new", b"w").unwrap();
        db.rocks().put_cf(&idle_cf, b"new", b"w").unwrap();
        let memtable_bytes = |cf| {
            db.rocks()
                .property_int_value_cf(cf, "rocksdb.cur-size-active-mem-table")
                .unwrap()
                .unwrap()
        };
        let filter_bytes = (config.write_buffer_bytes as f64 * MEMTABLE_BLOOM_RATIO) as u64;
        assert!(memtable_bytes(&busy_cf) >= filter_bytes);
        assert!(memtable_bytes(&idle_cf) < filter_bytes);
        // A key in the filtered memtable is found; one missing from it, in a table file, too.
        let get = |key: &[u8]| db.rocks().get_cf(&busy_cf, key).unwrap();
        assert_eq!(get(b"new"), Some(b"w".to_vec()));
        assert_eq!(get(&7u64.to_be_bytes()), Some(b"v".to_vec()));
        assert_eq!(get(b"missing"), None);
    }

    #[test]
    fn a_rarely_written_column_family_does_not_pin_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let config = small_config(4 << 20);
        let db = Db::open(dir.path(), &config).unwrap();
        db.create_shard(1).unwrap();
        // One write to the metadata column family, whose memtable then never fills.
        db.rocks()
            .put_cf(&db.cf(META_CF).unwrap(), b"node", b"1")
            .unwrap();
        write_synced_values(&db, &shard_cf_name(1), 40_000);
        // 40 MB went through the log; obsolete log files are deleted in the background.
        let bound = 3 * config.wal_bytes_max;
        wait_until(|| wal_bytes(dir.path()) <= bound);
        let total = wal_bytes(dir.path());
        assert!(total <= bound, "write-ahead log holds {total} bytes");
    }

    #[test]
    fn flushing_idle_column_families_lets_log_files_retire() {
        let dir = tempfile::tempdir().unwrap();
        // A cap far above what the test writes: only tend_memtables can retire the first log file.
        let config = small_config(1 << 30);
        let db = Db::open(dir.path(), &config).unwrap();
        db.create_shard(1).unwrap();
        let busy = db.cf(&shard_cf_name(1)).unwrap();
        db.rocks()
            .put_cf(&db.cf(META_CF).unwrap(), b"node", b"1")
            .unwrap();
        db.rocks().put_cf(&busy, b"k", b"v").unwrap();
        assert_eq!(
            db.tend_memtables().unwrap().flushed,
            0,
            "first sight of both memtables"
        );
        db.rocks().put_cf(&busy, b"k", b"v2").unwrap();
        assert_eq!(
            db.tend_memtables().unwrap().flushed,
            1,
            "only the metadata family stayed idle"
        );
        // About 16 memtables of writes, so about 16 log file switches.
        write_synced_values(&db, &shard_cf_name(1), 16_000);
        let bound = WAL_FILES_RECYCLED + 3;
        wait_until(|| wal_files(dir.path()) <= bound);
        let files = wal_files(dir.path());
        assert!(files <= bound, "{files} log files are alive");
        assert_eq!(
            db.rocks()
                .get_cf(&db.cf(META_CF).unwrap(), b"node")
                .unwrap(),
            Some(b"1".to_vec())
        );
    }

    #[test]
    fn a_scan_over_many_deletions_flushes_the_memtable() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &StorageConfig::default()).unwrap();
        db.create_shard(1).unwrap();
        let cf = db.cf(&shard_cf_name(1)).unwrap();
        let n = 4 * MEMTABLE_SCAN_FLUSH_HIDDEN_MIN;
        for i in 0..n {
            db.rocks().put_cf(&cf, i.to_be_bytes(), b"v").unwrap();
        }
        for i in 0..n - 1 {
            db.rocks().delete_cf(&cf, i.to_be_bytes()).unwrap();
        }
        let active = || {
            db.rocks()
                .property_int_value_cf(&cf, "rocksdb.num-entries-active-mem-table")
                .unwrap()
                .unwrap()
        };
        assert_eq!(active(), u64::from(2 * n - 1));
        // One seek from the start steps over every deletion to reach the last key.
        let mut it = db.rocks().raw_iterator_cf(&cf);
        it.seek_to_first();
        assert_eq!(it.key(), Some(&(n - 1).to_be_bytes()[..]));
        drop(it);
        // The flush runs in the background; a write lets RocksDB act on the mark.
        let flushed = wait_until(|| {
            db.rocks().put_cf(&cf, b"tick", b"").unwrap();
            active() <= 1
        });
        assert!(flushed, "the memtable was not flushed");
    }

    #[test]
    fn a_table_file_dense_in_deletions_is_compacted_until_they_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &StorageConfig::default()).unwrap();
        db.create_shard(1).unwrap();
        let name = shard_cf_name(1);
        let cf = db.cf(&name).unwrap();
        let n = 4 * TOMBSTONE_WINDOW as u32;
        for i in 0..n {
            db.rocks().put_cf(&cf, i.to_be_bytes(), b"v").unwrap();
        }
        db.rocks().flush_cf(&cf).unwrap();
        for i in 0..n - 1 {
            db.rocks().delete_cf(&cf, i.to_be_bytes()).unwrap();
        }
        db.rocks().flush_cf(&cf).unwrap();
        let deletions = || -> u64 {
            db.rocks()
                .live_files()
                .unwrap()
                .iter()
                .filter(|f| f.column_family_name == name)
                .map(|f| f.num_deletions)
                .sum()
        };
        wait_until(|| deletions() == 0);
        assert_eq!(deletions(), 0, "the deletions are still in table files");
        assert_eq!(
            db.rocks().get_cf(&cf, (n - 1).to_be_bytes()).unwrap(),
            Some(b"v".to_vec())
        );
    }

    #[test]
    fn open_with_shards_creates_the_missing_shard_column_families() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_with_shards(dir.path(), &StorageConfig::default(), &[3, 1, 2]).unwrap();
        assert_eq!(db.shard_ids(), vec![1, 2, 3]);
        db.rocks()
            .put_cf(&db.cf(&shard_cf_name(2)).unwrap(), b"k", b"v")
            .unwrap();
        db.sync_wal().unwrap();
        assert!(Db::close(db, Duration::from_secs(10)).is_ok());
        let db = Db::open_with_shards(dir.path(), &StorageConfig::default(), &[2, 4]).unwrap();
        assert_eq!(db.shard_ids(), vec![1, 2, 3, 4]);
        let got = db.rocks().get_cf(&db.cf(&shard_cf_name(2)).unwrap(), b"k");
        assert_eq!(got.unwrap(), Some(b"v".to_vec()));
    }

    #[test]
    fn writes_to_many_column_families_over_the_memtable_budget_never_stall() {
        // 1,000 shards with a little data each, a 32 MiB budget, and the idle flush running:
        // the shape of a node hosting 1,000 shards under random writes. With writers
        // stalled at the budget, RocksDB waited for a flush that nothing scheduled, and
        // every write hung for good within seconds.
        let dir = tempfile::tempdir().unwrap();
        let config = StorageConfig {
            memtable_budget_bytes: 32 << 20,
            ..StorageConfig::default()
        };
        let shards: Vec<u64> = (1..=1000).collect();
        let db = Db::open_with_shards(dir.path(), &config, &shards).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flusher = {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    db.tend_memtables().unwrap();
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        // Two writers, as in a node (the store loop and the apply worker): RocksDB then
        // inserts into memtables concurrently, and each memtable a concurrent insert touches
        // takes a whole arena block.
        let (tx, rx) = std::sync::mpsc::channel();
        let writers: Vec<_> = (0..2u8)
            .map(|writer| {
                let (db, tx, shards) = (Arc::clone(&db), tx.clone(), shards.clone());
                std::thread::spawn(move || {
                    for round in 0..20u8 {
                        for &shard in &shards {
                            let cf = db.cf(&shard_cf_name(shard)).unwrap();
                            db.rocks().put_cf(&cf, [writer, round], [7u8; 100]).unwrap();
                        }
                    }
                    let _ = tx.send(());
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        let finished = (0..writers.len()).all(|_| {
            let left = deadline.saturating_duration_since(Instant::now());
            rx.recv_timeout(left).is_ok()
        });
        stop.store(true, Ordering::Relaxed);
        assert!(finished, "writes stalled on the memtable budget");
        for w in writers {
            w.join().unwrap();
        }
        flusher.join().unwrap();
    }
}
