//! Snapshots of a shard's data: produced by a leader for a follower its log cannot catch up
//! any more (the entries were compacted), streamed in chunks, staged on the follower's disk and
//! installed by the apply worker.
//!
//! # What Raft sees
//!
//! `LogStore::snapshot` answers with metadata (index = the shard's applied index, its term, the
//! configuration) and a small *descriptor* as the snapshot's `data` ([`descriptor`]). Raft
//! treats it as opaque. The store loop intercepts the leader's `Snapshot` message and hands it
//! to a sender thread (`send`), which streams the payload and then reports `Finish` or
//! `Failure` to Raft (`report_snapshot`).
//!
//! # Payload
//!
//! The payload is read from one consistent RocksDB view of the shard (`ShardStore::
//! with_snapshot`), exported in chunks of at most `snapshot_chunk_bytes_max` record bytes
//! (`storage::export`), and paced to `snapshot_bytes_per_sec_max`:
//!
//! | part | bytes |
//! |---|---|
//! | header | `b"RRS1"` `applied_index:u64` `last_version:u64` (the view's shard state) |
//! | record, repeated | `key_len:u32` key `value_len:u32` value (raw, as stored, key order) |
//!
//! Integers are big-endian. The view's applied index may be ahead of the metadata's index (the
//! leader kept applying between the two): the follower then holds committed entries it will
//! receive again in its log, and applying them is a no-op (`ShardStore::apply` skips indexes at
//! or below the applied one).
//!
//! # Staging and install
//!
//! The receiver ([`SnapshotReceiver`]) writes the payload to
//! `<db>/snapshots/shard-<id>-<index>-<term>.snap.tmp`, fsyncs it, renames it to `.snap`, and
//! only then steps the Raft message into the follower. When Raft accepts it, the follower's
//! Ready persists the new log position (log deleted, snapshot record, conf state; synced), and
//! the apply worker installs the staged file (`install_staged`): one range delete of the
//! shard's data, one batch per `snapshot_chunk_bytes_max` of records, and the shard state
//! (applied index, version floor) written last; then one WAL fsync, and the file is removed.
//!
//! Crash safety: the install is not one atomic write, but it is redone. On restart, a shard
//! whose log snapshot index is above its data's applied index has an unfinished install (a
//! compaction never passes the applied index, and the data it covers is earlier in the WAL),
//! and `recover_install` installs the staged file again before Raft starts. The staged file
//! is removed only after the installed data is synced.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use raft::{Message, NodeId};
use router::ShardId;
use storage::export::{export_chunk, Chunk, SlotRange};
use storage::keys::{self, ShardState};
use storage::{Reader, ShardStore, StorageError};

use super::log_store::{LogStore, BOOTSTRAP_INDEX};
use super::transport::{Inbound, ShardMessage, SnapshotChunk, SnapshotError, Transport};

/// Version byte of the descriptor and of the payload format.
const FORMAT_VERSION: u8 = 1;
/// First bytes of a payload.
const PAYLOAD_MAGIC: &[u8; 4] = b"RRS1";
/// Length of the payload header.
const HEADER_LEN: usize = 4 + 8 + 8;
/// Every slot: a snapshot carries the whole shard.
const ALL_SLOTS: SlotRange = SlotRange {
    first: 0,
    last: 0x3FFF,
};
/// Longest key or value accepted when reading a staged payload (corruption guard).
const RECORD_PART_BYTES_MAX: usize = 1 << 30;

/// The snapshot `data` Raft carries: format version and shard id; the payload is streamed.
pub fn descriptor(shard: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&shard.to_be_bytes());
    out
}

/// The directory snapshots are staged in, under the database directory.
pub fn snapshot_dir(db_path: &Path) -> PathBuf {
    db_path.join("snapshots")
}

/// Where the payload of `shard`'s snapshot at `index` (of `term`) is staged.
pub fn staged_path(dir: &Path, shard: u64, index: u64, term: u64) -> PathBuf {
    dir.join(format!("shard-{shard}-{index}-{term}.snap"))
}

/// One snapshot to send: the leader's Raft message and the shard's data.
pub(crate) struct SendJob {
    pub(crate) shard: ShardId,
    pub(crate) to: NodeId,
    pub(crate) message: Message,
    pub(crate) data: std::sync::Arc<ShardStore>,
    pub(crate) chunk_bytes_max: usize,
    pub(crate) bytes_per_sec_max: u64,
    /// Set when the store stops: the stream gives up at its next chunk.
    pub(crate) cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Streams `job`'s snapshot through `transport`, paced to its rate limit. Returns the payload
/// bytes sent once the receiver has staged them durably.
pub(crate) fn send(job: &SendJob, transport: &dyn Transport) -> Result<u64, SnapshotError> {
    let mut sink = transport.send_snapshot(job.to)?;
    let started = Instant::now();
    let sent = job
        .data
        .with_snapshot(0, |view| -> Result<u64, SnapshotError> {
            let mut data = header(&read_state(view)?);
            let mut message = Some(job.message.clone());
            let mut from: Option<Vec<u8>> = None;
            let mut offset = 0u64;
            loop {
                if job.cancel.load(std::sync::atomic::Ordering::Acquire) {
                    return Err(SnapshotError::Broken("store stopping".into()));
                }
                let chunk = export_chunk(view, ALL_SLOTS, from.as_deref(), job.chunk_bytes_max)
                    .map_err(io_err)?;
                encode_records(&chunk.records, &mut data);
                from = chunk.next;
                let len = data.len() as u64;
                sink.send_chunk(SnapshotChunk {
                    shard: job.shard,
                    message: message.take(),
                    offset,
                    data: std::mem::take(&mut data),
                    last: from.is_none(),
                })?;
                offset += len;
                pace(started, offset, job.bytes_per_sec_max);
                if from.is_none() {
                    return Ok(offset);
                }
            }
        })?;
    sink.finish()?;
    Ok(sent)
}

/// Sleeps so that `sent_bytes` since `started` stay within `bytes_per_sec_max` (0: no limit).
fn pace(started: Instant, sent_bytes: u64, bytes_per_sec_max: u64) {
    if bytes_per_sec_max == 0 {
        return;
    }
    let due = Duration::from_secs_f64(sent_bytes as f64 / bytes_per_sec_max as f64);
    if let Some(ahead) = due.checked_sub(started.elapsed()) {
        std::thread::sleep(ahead);
    }
}

fn read_state(view: &dyn Reader) -> Result<ShardState, SnapshotError> {
    match view.get_raw(keys::SHARD_STATE_KEY).map_err(io_err)? {
        Some(bytes) => keys::decode_shard_state(&bytes).map_err(io_err),
        None => Ok(ShardState::default()),
    }
}

fn header(state: &ShardState) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(PAYLOAD_MAGIC);
    out.extend_from_slice(&state.applied_index.to_be_bytes());
    out.extend_from_slice(&state.last_version.to_be_bytes());
    out
}

/// Appends `records` in the payload's record framing.
fn encode_records(records: &[(Vec<u8>, Vec<u8>)], out: &mut Vec<u8>) {
    for (key, value) in records {
        for part in [key, value] {
            let len = u32::try_from(part.len()).expect("records are far below 4 GiB");
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part);
        }
    }
}

/// The file a stream is being staged into.
struct Staging {
    shard: ShardId,
    message: Message,
    tmp: PathBuf,
    path: PathBuf,
    file: BufWriter<File>,
    next_offset: u64,
}

/// Receives one snapshot stream from one node: stages the payload, then steps the Raft
/// message into the store. A stream that ends before its last chunk leaves nothing behind.
pub struct SnapshotReceiver {
    from: NodeId,
    inbound: Inbound,
    staging: Option<Staging>,
    done: bool,
}

impl SnapshotReceiver {
    pub(crate) fn new(from: NodeId, inbound: Inbound) -> Self {
        SnapshotReceiver {
            from,
            inbound,
            staging: None,
            done: false,
        }
    }

    /// Whether the last chunk was received and the snapshot delivered.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Takes the next chunk. Chunks must arrive in order, the first carrying the message.
    pub fn on_chunk(&mut self, chunk: SnapshotChunk) -> Result<(), SnapshotError> {
        if self.done {
            return Err(SnapshotError::Refused("chunk after the last one".into()));
        }
        if self.staging.is_none() {
            self.staging = Some(self.open(&chunk)?);
        }
        let st = self.staging.as_mut().expect("opened above");
        if chunk.shard != st.shard || chunk.offset != st.next_offset {
            return Err(SnapshotError::Refused(format!(
                "chunk of shard {} at offset {}, expected shard {} at {}",
                chunk.shard, chunk.offset, st.shard, st.next_offset
            )));
        }
        st.file.write_all(&chunk.data).map_err(io_err)?;
        st.next_offset += chunk.data.len() as u64;
        if chunk.last {
            self.complete()?;
        }
        Ok(())
    }

    fn open(&self, chunk: &SnapshotChunk) -> Result<Staging, SnapshotError> {
        let message = chunk
            .message
            .clone()
            .ok_or_else(|| SnapshotError::Refused("first chunk without the message".into()))?;
        let meta = &message
            .snapshot
            .as_ref()
            .ok_or_else(|| SnapshotError::Refused("message without a snapshot".into()))?
            .metadata;
        let dir = self.inbound.snapshot_dir.as_path();
        std::fs::create_dir_all(dir).map_err(io_err)?;
        let path = staged_path(dir, chunk.shard.0, meta.index, meta.term);
        let tmp = path.with_extension("snap.tmp");
        let file = BufWriter::new(File::create(&tmp).map_err(io_err)?);
        Ok(Staging {
            shard: chunk.shard,
            message,
            tmp,
            path,
            file,
            next_offset: 0,
        })
    }

    fn complete(&mut self) -> Result<(), SnapshotError> {
        let st = self.staging.take().expect("staging");
        let file = st.file.into_inner().map_err(|e| io_err(e.error()))?;
        file.sync_all().map_err(io_err)?;
        std::fs::rename(&st.tmp, &st.path).map_err(io_err)?;
        if let Some(dir) = st.path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)?;
        }
        self.done = true;
        let sm = ShardMessage {
            shard: st.shard,
            msg: st.message,
        };
        self.inbound
            .deliver_snapshot(self.from, sm)
            .map_err(|e| SnapshotError::Refused(e.to_string()))
    }
}

impl Drop for SnapshotReceiver {
    fn drop(&mut self) {
        if let Some(st) = self.staging.take() {
            drop(st.file);
            let _ = std::fs::remove_file(&st.tmp);
        }
    }
}

/// Installs the staged payload at `path` into `data` (see the module docs), syncs the WAL and
/// removes the staged files of the shard up to the installed one. Returns the new state.
pub(crate) fn install_staged(
    data: &ShardStore,
    path: &Path,
    batch_bytes_max: usize,
) -> Result<ShardState, SnapshotError> {
    let mut r = BufReader::new(File::open(path).map_err(io_err)?);
    let mut head = [0u8; HEADER_LEN];
    r.read_exact(&mut head).map_err(io_err)?;
    if &head[..4] != PAYLOAD_MAGIC {
        return Err(SnapshotError::Io(format!(
            "{}: not a snapshot",
            path.display()
        )));
    }
    let state = ShardState {
        applied_index: u64::from_be_bytes(head[4..12].try_into().expect("8 bytes")),
        last_version: u64::from_be_bytes(head[12..20].try_into().expect("8 bytes")),
    };
    let mut next_chunk = || read_chunk(&mut r, batch_bytes_max);
    data.install_snapshot(state, &mut next_chunk)
        .map_err(io_err)?;
    data.db().sync_wal().map_err(io_err)?;
    if let Some(dir) = path.parent() {
        remove_staged(dir, data.id(), state.applied_index.max(index_of(path)));
    }
    Ok(state)
}

/// Reads records up to `batch_bytes_max` bytes; `None` at the end of the payload.
fn read_chunk(r: &mut impl Read, batch_bytes_max: usize) -> Result<Option<Chunk>, StorageError> {
    let mut chunk = Chunk::default();
    let mut bytes = 0;
    while bytes < batch_bytes_max.max(1) {
        let Some(key) = read_part(r, true)? else {
            break;
        };
        let value = read_part(r, false)?.ok_or_else(|| truncated("value"))?;
        bytes += key.len() + value.len();
        chunk.records.push((key, value));
    }
    Ok((!chunk.records.is_empty()).then_some(chunk))
}

/// One length-prefixed part; `None` at a clean end of file when `eof_ok`.
fn read_part(r: &mut impl Read, eof_ok: bool) -> Result<Option<Vec<u8>>, StorageError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && eof_ok => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > RECORD_PART_BYTES_MAX {
        return Err(truncated("record length"));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(Some(buf))
}

fn truncated(what: &str) -> StorageError {
    StorageError::Corrupt(format!("staged snapshot truncated or corrupt at a {what}"))
}

/// The snapshot index in a staged file's name (0 if it does not parse).
fn index_of(path: &Path) -> u64 {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('-').nth(2))
        .and_then(|i| i.parse().ok())
        .unwrap_or(0)
}

/// Removes staged snapshots (and leftover partial ones) of `shard` at indexes up to `index`.
fn remove_staged(dir: &Path, shard: u64, index: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("shard-{shard}-");
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(&prefix) && index_of(&path) <= index {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Redoes an install a crash interrupted: if the log's snapshot is past the data's applied
/// index, the staged payload is installed again. Also clears staged files already covered.
///
/// # Panics
/// If an install is unfinished and its staged payload is gone: the replica cannot recover its
/// data on its own and must be rebuilt.
pub(crate) fn recover_install(
    data: &ShardStore,
    log: &LogStore,
    dir: &Path,
    batch_bytes_max: usize,
) -> Result<(), SnapshotError> {
    let meta = log.snapshot_metadata();
    let applied = data.state().applied_index;
    if meta.index <= BOOTSTRAP_INDEX || meta.index <= applied {
        remove_staged(dir, data.id(), applied);
        return Ok(());
    }
    let path = staged_path(dir, data.id(), meta.index, meta.term);
    assert!(
        path.exists(),
        "shard {}: log starts after snapshot {} but data is at {applied} and {} is missing",
        data.id(),
        meta.index,
        path.display()
    );
    tracing::info!(
        shard = data.id(),
        index = meta.index,
        "redoing an interrupted snapshot install"
    );
    install_staged(data, &path, batch_bytes_max).map(|_| ())
}

fn io_err(e: impl std::fmt::Display) -> SnapshotError {
    SnapshotError::Io(e.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::sync_channel;
    use std::sync::Arc;

    use parking_lot::Mutex;
    use raft::{MessageType, Snapshot, SnapshotMetadata};
    use storage::keys::Meta;
    use storage::{Db, StorageConfig};

    use super::*;
    use crate::cluster::store::StoreMsg;
    use crate::cluster::transport::{SendError, SnapshotSink};

    /// A transport whose snapshot streams are recorded.
    #[derive(Default)]
    struct Recorder {
        chunks: Arc<Mutex<Vec<SnapshotChunk>>>,
    }

    struct RecordSink(Arc<Mutex<Vec<SnapshotChunk>>>);

    impl SnapshotSink for RecordSink {
        fn send_chunk(&mut self, chunk: SnapshotChunk) -> Result<(), SnapshotError> {
            self.0.lock().push(chunk);
            Ok(())
        }
        fn finish(self: Box<Self>) -> Result<(), SnapshotError> {
            Ok(())
        }
    }

    impl Transport for Recorder {
        fn send(&self, _: NodeId, _: Vec<ShardMessage>) -> Result<(), SendError> {
            Ok(())
        }
        fn send_snapshot(&self, _: NodeId) -> Result<Box<dyn SnapshotSink>, SnapshotError> {
            Ok(Box::new(RecordSink(Arc::clone(&self.chunks))))
        }
    }

    fn shard_with_records(db: &Arc<Db>, n: u16) -> Arc<ShardStore> {
        db.create_shard(1).unwrap();
        let data = Arc::new(db.shard(1).unwrap());
        let records = (0..n)
            .map(|i| {
                let key = keys::meta_key(i * 7 % 0x4000, format!("key-{i}").as_bytes());
                (key, keys::encode_meta(&Meta::string(vec![b'v'; 40])))
            })
            .collect();
        let mut once = Some(Chunk {
            records,
            next: None,
        });
        let state = ShardState {
            applied_index: 42,
            last_version: 9,
        };
        data.install_snapshot(state, &mut || Ok(once.take()))
            .unwrap();
        assert_eq!(data.state(), state);
        data
    }

    fn dump(data: &ShardStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        data.with_snapshot(0, |v| {
            let mut out = Vec::new();
            v.scan_raw(&[], &[0xFF; 16], false, &mut |k, v| {
                out.push((k.to_vec(), v.to_vec()));
                true
            })
            .unwrap();
            out
        })
    }

    fn snapshot_message(index: u64, term: u64) -> Message {
        Message {
            msg_type: MessageType::Snapshot,
            to: NodeId(2),
            from: NodeId(1),
            term,
            log_term: 0,
            index: 0,
            entries: Vec::new(),
            commit: 0,
            snapshot: Some(Snapshot {
                metadata: SnapshotMetadata {
                    index,
                    term,
                    ..Default::default()
                },
                data: descriptor(1),
            }),
            reject: false,
            reject_hint: 0,
            context: Vec::new(),
        }
    }

    #[test]
    fn a_snapshot_streams_in_bounded_ordered_chunks_and_installs_identically() {
        let src_dir = tempfile::tempdir().unwrap();
        let src = Db::open(src_dir.path(), &StorageConfig::default()).unwrap();
        let data = shard_with_records(&src, 300);
        let recorder = Recorder::default();
        let job = SendJob {
            shard: ShardId(1),
            to: NodeId(2),
            message: snapshot_message(40, 3),
            data: Arc::clone(&data),
            chunk_bytes_max: 500,
            bytes_per_sec_max: 0,
            cancel: Arc::default(),
        };
        let sent = send(&job, &recorder).unwrap();
        let chunks = recorder.chunks.lock().clone();
        assert!(chunks.len() > 10, "{} chunks", chunks.len());
        let mut offset = 0;
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.offset, offset, "chunk {i} is contiguous");
            assert_eq!(
                c.message.is_some(),
                i == 0,
                "only the first carries the message"
            );
            assert_eq!(c.last, i == chunks.len() - 1, "only the last is last");
            // A chunk stops at the first record that would take it past the limit.
            assert!(
                c.data.len() <= HEADER_LEN + 500 + 100,
                "chunk {i}: {}",
                c.data.len()
            );
            offset += c.data.len() as u64;
        }
        assert_eq!(offset, sent);

        // The receiver stages the payload, then delivers the message; the install copies the
        // data and the shard state exactly.
        let dst_dir = tempfile::tempdir().unwrap();
        let dst = Db::open(dst_dir.path(), &StorageConfig::default()).unwrap();
        dst.create_shard(1).unwrap();
        let target = dst.shard(1).unwrap();
        let (tx, rx) = sync_channel(4);
        let dir = Arc::new(snapshot_dir(dst.path()));
        let inbound = Inbound {
            tx,
            snapshot_dir: Arc::clone(&dir),
        };
        let mut receiver = inbound.snapshot_receiver(NodeId(1));
        for c in chunks.clone() {
            assert!(
                rx.try_recv().is_err(),
                "delivered only after the last chunk"
            );
            receiver.on_chunk(c).unwrap();
        }
        assert!(receiver.is_done());
        let Ok(StoreMsg::Raft { from, batch }) = rx.try_recv() else {
            panic!("snapshot message not delivered")
        };
        assert_eq!((from, batch.len()), (NodeId(1), 1));
        let path = staged_path(&dir, 1, 40, 3);
        assert!(path.exists());
        let state = install_staged(&target, &path, 300).unwrap();
        assert_eq!(state, data.state());
        assert_eq!(target.state(), data.state());
        assert_eq!(dump(&target), dump(&data));
        assert!(!path.exists(), "the staged file is removed once installed");

        // A stream that breaks off leaves nothing staged.
        let mut partial = inbound.snapshot_receiver(NodeId(1));
        partial.on_chunk(chunks[0].clone()).unwrap();
        assert!(
            partial.on_chunk(chunks[2].clone()).is_err(),
            "a gap is refused"
        );
        drop(partial);
        assert_eq!(std::fs::read_dir(dir.as_path()).unwrap().count(), 0);
    }

    #[test]
    fn an_install_interrupted_by_a_crash_is_redone_on_restart() {
        let src_dir = tempfile::tempdir().unwrap();
        let src = Db::open(src_dir.path(), &StorageConfig::default()).unwrap();
        let data = shard_with_records(&src, 50);
        let recorder = Recorder::default();
        let job = SendJob {
            shard: ShardId(1),
            to: NodeId(2),
            message: snapshot_message(40, 3),
            data: Arc::clone(&data),
            chunk_bytes_max: 1_000,
            bytes_per_sec_max: 0,
            cancel: Arc::default(),
        };
        send(&job, &recorder).unwrap();

        let dst_dir = tempfile::tempdir().unwrap();
        let dst = Db::open(dst_dir.path(), &StorageConfig::default()).unwrap();
        dst.create_shard(1).unwrap();
        let target = dst.shard(1).unwrap();
        let (tx, _rx) = sync_channel(4);
        let dir = Arc::new(snapshot_dir(dst.path()));
        let inbound = Inbound {
            tx,
            snapshot_dir: Arc::clone(&dir),
        };
        let mut receiver = inbound.snapshot_receiver(NodeId(1));
        for c in recorder.chunks.lock().clone() {
            receiver.on_chunk(c).unwrap();
        }
        // The crash: the log moved to the snapshot, the data install only half done (a stray
        // record, the old applied index).
        let voters = raft::ConfState {
            voters: vec![NodeId(1), NodeId(2)],
            ..Default::default()
        };
        LogStore::bootstrap(&dst, 1, &voters).unwrap();
        let mut log = LogStore::open(Arc::clone(&dst), 1, 1 << 20).unwrap();
        let mut writes = Vec::new();
        let meta = SnapshotMetadata {
            index: 40,
            term: 3,
            conf_state: voters,
        };
        log.apply_snapshot(&meta, &mut writes);
        let mut batch = rocksdb::WriteBatch::default();
        crate::cluster::log_store::stage_writes(&dst, &mut batch, &writes).unwrap();
        dst.rocks().write(batch).unwrap();
        let stray = (
            keys::meta_key(1, b"stray"),
            keys::encode_meta(&Meta::string(vec![1])),
        );
        target
            .import_chunk(&Chunk {
                records: vec![stray],
                next: None,
            })
            .unwrap();
        assert_eq!(target.state().applied_index, 0);

        let log = LogStore::open(Arc::clone(&dst), 1, 1 << 20).unwrap();
        recover_install(&target, &log, &dir, 300).unwrap();
        assert_eq!(target.state(), data.state());
        assert_eq!(dump(&target), dump(&data));
        assert!(!staged_path(&dir, 1, 40, 3).exists());
        // Once installed, a restart has nothing to redo.
        recover_install(&target, &log, &dir, 300).unwrap();
        assert_eq!(dump(&target), dump(&data));
    }
}
