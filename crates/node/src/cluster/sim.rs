//! [`SimNetwork`]: an in-memory network of stores for tests, with partitions and seeded
//! message drops.
//!
//! Every node registers its store's [`Inbound`]; [`SimNetwork::transport`] gives the
//! [`Transport`] a node's store sends through. Delivery is immediate (into the destination's
//! bounded inbox). Cut links fail with [`SendError::Unreachable`], as a refused connection
//! would; drops are silent. Drop decisions come from a PRNG seeded at construction, and the
//! seed is printed so a failing run can be replayed. Snapshot streams are handed to the
//! destination's receiver chunk by chunk on the sender's thread; a link cut mid-stream breaks
//! the stream (seeded drops do not apply to them: a real stream is reliable until it breaks).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use raft::{NodeId, Prng};

use super::snapshot::SnapshotReceiver;
use super::transport::{
    Inbound, SendError, ShardMessage, SnapshotChunk, SnapshotError, SnapshotSink, Transport,
};

/// Counters of what the network did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Messages handed to a destination inbox.
    pub delivered: u64,
    /// Messages lost to the drop rate or a full inbox.
    pub dropped: u64,
    /// Batches refused because the link was cut.
    pub refused: u64,
    /// Snapshot chunks handed to a receiver.
    pub snapshot_chunks: u64,
}

struct SimState {
    nodes: HashMap<NodeId, Inbound>,
    /// Directed links that are cut: `(from, to)`.
    cut: BTreeSet<(NodeId, NodeId)>,
    /// Probability (per million) that a message is dropped.
    drop_per_million: u64,
    rng: Prng,
    stats: SimStats,
}

/// An in-memory network connecting the stores of one test.
pub struct SimNetwork {
    seed: u64,
    state: Mutex<SimState>,
}

impl SimNetwork {
    /// A network whose drops follow `seed` (printed, for replay).
    pub fn new(seed: u64) -> Arc<Self> {
        println!("SimNetwork seed {seed}");
        Arc::new(SimNetwork {
            seed,
            state: Mutex::new(SimState {
                nodes: HashMap::new(),
                cut: BTreeSet::new(),
                drop_per_million: 0,
                rng: Prng::new(seed),
                stats: SimStats::default(),
            }),
        })
    }

    /// The seed the network was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Connects (or reconnects, after a restart) node `id`'s store.
    pub fn register(&self, id: NodeId, inbound: Inbound) {
        self.state.lock().nodes.insert(id, inbound);
    }

    /// Disconnects node `id` (its store stopped); messages to it are refused.
    pub fn unregister(&self, id: NodeId) {
        self.state.lock().nodes.remove(&id);
    }

    /// The transport node `id` sends through.
    pub fn transport(self: &Arc<Self>, id: NodeId) -> Arc<SimTransport> {
        Arc::new(SimTransport {
            from: id,
            net: Arc::clone(self),
        })
    }

    /// Cuts every link to and from `id`.
    pub fn isolate(&self, id: NodeId) {
        let mut s = self.state.lock();
        let others: Vec<NodeId> = s.nodes.keys().copied().filter(|n| *n != id).collect();
        for other in others {
            s.cut.insert((id, other));
            s.cut.insert((other, id));
        }
    }

    /// Cuts the link between `a` and `b` in both directions.
    pub fn cut(&self, a: NodeId, b: NodeId) {
        let mut s = self.state.lock();
        s.cut.insert((a, b));
        s.cut.insert((b, a));
    }

    /// Cuts only the direction `from -> to` (an asymmetric partition).
    pub fn cut_one_way(&self, from: NodeId, to: NodeId) {
        self.state.lock().cut.insert((from, to));
    }

    /// Heals every partition and stops dropping.
    pub fn recover(&self) {
        let mut s = self.state.lock();
        s.cut.clear();
        s.drop_per_million = 0;
    }

    /// Drops each message with probability `per_million / 1_000_000`.
    pub fn set_drop_rate(&self, per_million: u64) {
        self.state.lock().drop_per_million = per_million.min(1_000_000);
    }

    /// What the network did so far.
    pub fn stats(&self) -> SimStats {
        self.state.lock().stats
    }

    /// The destination's inbound, if the link `from -> to` is up.
    fn link(&self, from: NodeId, to: NodeId) -> Option<Inbound> {
        let s = self.state.lock();
        let inbound = s.nodes.get(&to)?;
        (!s.cut.contains(&(from, to))).then(|| inbound.clone())
    }

    fn send(
        &self,
        from: NodeId,
        to: NodeId,
        mut batch: Vec<ShardMessage>,
    ) -> Result<(), SendError> {
        let inbound = {
            let mut s = self.state.lock();
            let inbound = match s.nodes.get(&to) {
                Some(inbound) if !s.cut.contains(&(from, to)) => inbound.clone(),
                _ => {
                    s.stats.refused += 1;
                    return Err(SendError::Unreachable);
                }
            };
            let rate = s.drop_per_million;
            if rate > 0 {
                let before = batch.len();
                batch.retain(|_| !s.rng.chance(rate, 1_000_000));
                s.stats.dropped += (before - batch.len()) as u64;
            }
            s.stats.delivered += batch.len() as u64;
            inbound
        };
        let n = batch.len() as u64;
        if inbound.deliver(from, batch).is_err() {
            let mut s = self.state.lock();
            s.stats.delivered -= n;
            s.stats.dropped += n;
        }
        Ok(())
    }
}

/// One node's handle on a [`SimNetwork`].
pub struct SimTransport {
    from: NodeId,
    net: Arc<SimNetwork>,
}

impl Transport for SimTransport {
    fn send(&self, to: NodeId, batch: Vec<ShardMessage>) -> Result<(), SendError> {
        self.net.send(self.from, to, batch)
    }

    fn send_snapshot(&self, to: NodeId) -> Result<Box<dyn SnapshotSink>, SnapshotError> {
        let inbound = self
            .net
            .link(self.from, to)
            .ok_or_else(|| SnapshotError::Broken(format!("link {} -> {to} is cut", self.from)))?;
        Ok(Box::new(SimSnapshotSink {
            net: Arc::clone(&self.net),
            from: self.from,
            to,
            receiver: inbound.snapshot_receiver(self.from),
        }))
    }
}

/// A snapshot stream over the simulated network.
struct SimSnapshotSink {
    net: Arc<SimNetwork>,
    from: NodeId,
    to: NodeId,
    receiver: SnapshotReceiver,
}

impl SnapshotSink for SimSnapshotSink {
    fn send_chunk(&mut self, chunk: SnapshotChunk) -> Result<(), SnapshotError> {
        if self.net.link(self.from, self.to).is_none() {
            return Err(SnapshotError::Broken(format!(
                "link {} -> {} cut mid-stream",
                self.from, self.to
            )));
        }
        self.net.state.lock().stats.snapshot_chunks += 1;
        self.receiver.on_chunk(chunk)
    }

    fn finish(self: Box<Self>) -> Result<(), SnapshotError> {
        if self.receiver.is_done() {
            Ok(())
        } else {
            Err(SnapshotError::Broken(
                "stream ended before its last chunk".into(),
            ))
        }
    }
}
