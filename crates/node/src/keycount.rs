//! Counting keys and keys with an expiry, for `INFO keyspace`.
//!
//! RocksDB keeps no exact key count, so this scans the metadata records of every shard on a
//! snapshot, up to [`KEYS_COUNTED_MAX`] records; beyond that the counts are lower bounds.

use storage::engine::Reader;
use storage::keys;

use crate::state::{unix_ms, Node};

/// The most metadata records one `INFO keyspace` visits.
pub const KEYS_COUNTED_MAX: u64 = 1_000_000;

/// `(keys, keys with an expiry)` over every data shard with a replica here, live keys only.
pub fn count(node: &Node) -> (u64, u64) {
    let now_ms = unix_ms();
    let (mut keys_n, mut expires_n, mut seen) = (0u64, 0u64, 0u64);
    for store in node
        .local_shards()
        .into_iter()
        .filter_map(|s| node.shard_data(s))
    {
        store.with_snapshot(now_ms, |view| {
            let scanned = view.scan_metas(0, router::SLOT_COUNT - 1, None, &mut |_, raw| {
                seen += 1;
                if let Ok(meta) = keys::decode_meta(raw) {
                    if !meta.is_expired(now_ms) {
                        keys_n += 1;
                        expires_n += u64::from(meta.expire_at_ms != 0);
                    }
                }
                seen < KEYS_COUNTED_MAX
            });
            if let Err(e) = scanned {
                tracing::warn!(shard = store.id(), error = %e, "counting keys failed");
            }
        });
    }
    (keys_n, expires_n)
}
