//! Background reclamation of stale sub-keys: a RocksDB compaction filter on every shard column
//! family.
//!
//! Deleting or overwriting a collection rewrites only its metadata (O(1)); its sub-keys, whose
//! version no longer matches the metadata, are dropped here when compaction rewrites them. A
//! sub-key is *stale* when its user key's metadata is missing, is a string, or names another
//! version. Versions are never reused within a shard (`Txn::new_version`), so a stale sub-key
//! can never become live again. Metadata that is expired but not yet deleted keeps its sub-keys:
//! the filter has no clock that replicas agree on, and the expiry task deletes the metadata soon.
//!
//! # Design
//!
//! - **Lookups.** The filter reads the metadata of each sub-key's user key from the live DB
//!   (`get_cf`), caching the answer for the current user key: sub-keys of one key are contiguous
//!   in a compaction's sorted input, so a big collection costs one lookup.
//! - **Handle to the DB without a cycle.** The column family options own the factory, the DB
//!   owns the options, so the factory cannot own the DB. It holds a [`GcLink`]
//!   (`Arc<OnceLock<Weak<Db>>>`) that [`crate::Db::open`] fills once the `Arc<Db>` exists. Until
//!   then, and once the last `Arc<Db>` is gone (the DB is closing), `Weak::upgrade` fails and
//!   the filter keeps everything.
//! - **Closing safely.** A filter upgrades the link once, when RocksDB creates it for a
//!   compaction, and holds that `Arc<Db>` until the compaction ends. Dropping it inside
//!   RocksDB's compaction thread could drop the last handle there, and closing RocksDB from its
//!   own compaction thread waits for that compaction forever; so the filter hands the handle to
//!   a short-lived thread to drop. A DB whose last user handle goes away mid-compaction
//!   therefore closes right after that compaction; [`crate::Db::close`] instead stops new
//!   filters from taking handles and waits for running ones, so the directory can be reopened
//!   as soon as it returns.
//! - **Snapshots.** RocksDB applies compaction filters even to records that open snapshots
//!   still see. A snapshot taken before a collection was deleted must still read its sub-keys,
//!   so every [`crate::SnapshotView`] registers in a [`SnapshotRegistry`] (an epoch counter and
//!   the set of open epochs, under one mutex). The filter notes the epoch right *after* looking
//!   up a key's metadata; a stale sub-key is removed only if every open snapshot registered at
//!   or after that epoch (so it was taken after the metadata change and cannot see the
//!   sub-key). Otherwise it is kept for a later compaction. Because snapshots are short-lived,
//!   a big collection's sub-keys still go within the same compaction once older snapshots
//!   close.
//! - **Imports.** Export order puts a slot's metadata before its sub-keys, and import writes
//!   chunks in order, so an imported sub-key's metadata is already present when a compaction
//!   can see the sub-key.

use std::collections::BTreeSet;
use std::ffi::{CStr, CString};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;
use rocksdb::compaction_filter::{CompactionFilter, Decision};
use rocksdb::compaction_filter_factory::{CompactionFilterContext, CompactionFilterFactory};

use crate::db::Db;
use crate::keys::{self, KeyKind};

/// How the compaction filters of a DB find it once it is open (see the module docs).
pub type GcLink = Arc<OnceLock<Weak<Db>>>;

/// Installs the stale sub-key compaction filter on a shard column family's options.
pub fn install(opts: &mut rocksdb::Options, cf_name: &str, link: &GcLink) {
    let name = CString::new(format!("redraft-stale-subkeys-{cf_name}"))
        .expect("column family names have no NUL");
    opts.set_compaction_filter_factory(StaleSubKeyFilterFactory {
        link: Arc::clone(link),
        cf_name: cf_name.to_string(),
        name,
    });
}

/// The open [`crate::SnapshotView`]s of a DB, by registration epoch.
#[derive(Debug, Default)]
pub struct SnapshotRegistry {
    inner: Mutex<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    next_epoch: u64,
    open: BTreeSet<u64>,
}

impl SnapshotRegistry {
    /// Registers a snapshot about to be taken; returns its epoch for [`Self::unregister`].
    pub fn register(&self) -> u64 {
        let mut inner = self.inner.lock();
        let epoch = inner.next_epoch;
        inner.next_epoch += 1;
        inner.open.insert(epoch);
        epoch
    }

    /// Forgets a snapshot that has been released.
    pub fn unregister(&self, epoch: u64) {
        self.inner.lock().open.remove(&epoch);
    }

    /// The epoch the next registered snapshot will get.
    pub fn epoch_now(&self) -> u64 {
        self.inner.lock().next_epoch
    }

    /// Whether every open snapshot registered at or after `epoch`.
    pub fn all_open_since(&self, epoch: u64) -> bool {
        self.inner
            .lock()
            .open
            .first()
            .is_none_or(|&first| first >= epoch)
    }

    /// The number of open snapshots.
    pub fn open_count(&self) -> usize {
        self.inner.lock().open.len()
    }
}

struct StaleSubKeyFilterFactory {
    link: GcLink,
    cf_name: String,
    name: CString,
}

impl CompactionFilterFactory for StaleSubKeyFilterFactory {
    type Filter = StaleSubKeyFilter;

    fn create(&mut self, _context: CompactionFilterContext) -> StaleSubKeyFilter {
        let mut db = self.link.get().and_then(Weak::upgrade);
        if let Some(closing) = db.take_if(|db| db.is_closing()) {
            // `Db::close` waits for handles to go: do not keep one (and keep every record).
            release_off_thread(closing);
        }
        StaleSubKeyFilter {
            db,
            cf_name: self.cf_name.clone(),
            name: self.name.clone(),
            current: None,
        }
    }

    fn name(&self) -> &CStr {
        &self.name
    }
}

/// What the filter learned about one user key.
struct KeyState {
    /// The metadata key looked up.
    meta_key: Vec<u8>,
    /// The live collection version, if the key holds a collection.
    live_version: Option<u64>,
    /// The snapshot epoch right after the lookup.
    observed_epoch: u64,
}

struct StaleSubKeyFilter {
    db: Option<Arc<Db>>,
    cf_name: String,
    name: CString,
    current: Option<KeyState>,
}

impl StaleSubKeyFilter {
    /// Looks up the metadata of the user key of `sub`; `None` when the lookup fails (keep).
    fn lookup(db: &Db, cf_name: &str, meta_key: Vec<u8>) -> Option<KeyState> {
        let cf = db.rocks().cf_handle(cf_name)?;
        let raw = db.rocks().get_cf(&cf, &meta_key).ok()?;
        let observed_epoch = db.snapshots().epoch_now();
        let live_version = match raw {
            None => None,
            Some(bytes) => {
                let meta = keys::decode_meta(&bytes).ok()?;
                (meta.kind != KeyKind::String).then_some(meta.version)
            }
        };
        Some(KeyState {
            meta_key,
            live_version,
            observed_epoch,
        })
    }

    fn decide(&mut self, key: &[u8]) -> Decision {
        let Some(db) = self.db.as_ref() else {
            return Decision::Keep;
        };
        let Some(sub) = keys::parse_sub_key(key) else {
            return Decision::Keep;
        };
        let meta_key = keys::meta_key(sub.slot, sub.user_key);
        if self.current.as_ref().is_none_or(|s| s.meta_key != meta_key) {
            self.current = Self::lookup(db, &self.cf_name, meta_key);
        }
        let Some(state) = self.current.as_ref() else {
            return Decision::Keep;
        };
        if state.live_version == Some(sub.version) {
            return Decision::Keep;
        }
        if db.snapshots().all_open_since(state.observed_epoch) {
            Decision::Remove
        } else {
            Decision::Keep
        }
    }
}

impl CompactionFilter for StaleSubKeyFilter {
    fn filter(&mut self, _level: u32, key: &[u8], _value: &[u8]) -> Decision {
        self.decide(key)
    }

    fn name(&self) -> &CStr {
        &self.name
    }
}

impl Drop for StaleSubKeyFilter {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            release_off_thread(db);
        }
    }
}

/// Drops a DB handle on a short-lived thread: it may be the last one, and closing RocksDB from
/// its own compaction thread would wait for that compaction forever (see the module docs).
fn release_off_thread(db: Arc<Db>) {
    let spawned = std::thread::Builder::new()
        .name("redraft-gc-release".into())
        .spawn(move || drop(db));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot spawn the thread that releases a compaction filter's DB handle");
    }
}
