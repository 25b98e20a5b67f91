//! Seeded randomized simulation of RedRaft's Raft.
//!
//! Clusters of 3, 5 and 7 nodes (plus spares to add) run under message drops,
//! duplicates, reordering and delays, symmetric and asymmetric partitions, crashes that
//! lose unpersisted state and restarts, while membership changes, leader transfers and
//! compaction happen. After every step the safety invariants are checked:
//! at most one leader per term; log matching; leader completeness; no two nodes apply
//! different entries at one index (the state machines agree); committed entries never
//! change; term, commit and applied never go back. Then the faults stop and every
//! acknowledged proposal must be applied on every member within `LIVENESS_TICKS_MAX`.
//!
//! `SIM_SEEDS=N` runs N seeds (default 5000); a failure prints its seed and
//! `SIM_SEED=s` replays exactly that seed (`SIM_TRACE=1` prints what happened).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};

use raft::{
    ConfChange, ConfChangeSingle, ConfChangeType, ConfState, Config, Entry, EntryKind, MemStorage,
    Message, MessageType, NodeId, Prng, RawNode, Ready, SnapshotStatus, StateRole, Storage,
};

/// Seeds run by default (`SIM_SEEDS` overrides).
const DEFAULT_SEEDS: u64 = 5000;
/// Ticks with faults.
const FAULT_TICKS: u64 = 300;
/// Bound on the liveness phase: all acknowledged proposals applied everywhere.
const LIVENESS_TICKS_MAX: u64 = 600;

/// FNV-1a, for payload and state-machine hashes.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn mix(a: u64, b: u64) -> u64 {
    let mut p = Prng::new(a ^ b.rotate_left(17));
    p.next_u64()
}

/// One simulated server.
struct SimNode {
    raw: Option<RawNode<MemStorage>>,
    /// Durable storage while crashed.
    crashed_store: Option<MemStorage>,
    cfg: Config,
    /// Durable state machine: applied index and hash chain over applied entries.
    applied_index: u64,
    sm_hash: u64,
    conf_state: ConfState,
    /// Tick at which a crashed node restarts.
    restart_at: u64,
    /// Monotonic checks within one incarnation: term, commit, applied.
    seen: (u64, u64, u64),
}

/// What the checker knows about the whole history.
#[derive(Default)]
struct History {
    leaders: HashMap<u64, u64>,
    /// (index, term) -> (payload hash, term of the previous entry if known).
    entries: HashMap<(u64, u64), (u64, Option<u64>)>,
    /// index -> (term, payload hash) of every applied (hence committed) entry.
    committed: BTreeMap<u64, (u64, u64)>,
    /// index -> state-machine hash after applying it.
    sm_at: HashMap<u64, u64>,
    /// Payload ids of acknowledged proposals (applied somewhere) and their indexes.
    acked: BTreeMap<u64, u64>,
    /// Highest index of an acknowledged proposal.
    max_acked_index: u64,
    /// Pending reads: context -> highest acknowledged index when the read started. A
    /// linearizable read must return an index at least that high.
    reads: HashMap<Vec<u8>, u64>,
    /// Reads answered.
    reads_served: u64,
}

struct Sim {
    rng: Prng,
    now: u64,
    nodes: BTreeMap<u64, SimNode>,
    /// In-flight messages with their delivery tick.
    net: Vec<(u64, Message)>,
    /// Cut links (from, to) and the tick they heal.
    cut: BTreeSet<(u64, u64)>,
    heal_at: u64,
    faults: bool,
    hist: History,
    next_payload: u64,
    /// A node crashes with probability 1 / crash_one_in per tick.
    crash_one_in: u64,
    /// A message is dropped with probability 1 / drop_one_in.
    drop_one_in: u64,
    /// A partition starts with probability 1 / partition_one_in per tick.
    partition_one_in: u64,
    trace: Option<Vec<String>>,
}

type Check = Result<(), String>;

impl Sim {
    fn new(seed: u64, trace: bool) -> Self {
        let mut rng = Prng::new(seed);
        let n = [3u64, 5, 7][(seed % 3) as usize];
        let pool = n + 2;
        let mut base = Config::new(NodeId(1));
        base.seed = seed;
        base.election_ticks = 10;
        base.heartbeat_ticks = 2;
        base.pre_vote = rng.chance(1, 2);
        base.check_quorum = rng.chance(1, 2);
        base.lease_read = base.check_quorum && rng.chance(1, 2);
        base.lease_ticks = 8;
        base.quiesce_after_ticks = if rng.chance(1, 3) { 15 } else { 0 };
        // A third of the seeds run "chaos": one entry per append, frequent crashes.
        let chaos = rng.chance(1, 3);
        base.max_inflight_msgs = 1 + rng.below(8) as usize;
        base.max_size_per_msg_bytes = if chaos { 1 } else { 64 + rng.below(1024) };
        base.max_committed_bytes_per_ready = 64 + rng.below(1024);
        base.max_uncommitted_bytes = 2048 + rng.below(8192);
        let cs = ConfState {
            voters: (1..=n).map(NodeId).collect(),
            ..Default::default()
        };
        let mut nodes = BTreeMap::new();
        for id in 1..=pool {
            let mut cfg = base.clone();
            cfg.id = NodeId(id);
            let (store, conf, applied) = if id <= n {
                (MemStorage::new_with_conf_state(cs.clone()), cs.clone(), 1)
            } else {
                (MemStorage::new(), ConfState::default(), 0)
            };
            cfg.applied = applied;
            let raw = RawNode::new(&cfg, store).expect("start node");
            let node = SimNode {
                raw: Some(raw),
                crashed_store: None,
                cfg,
                applied_index: applied,
                sm_hash: 0,
                conf_state: conf,
                restart_at: 0,
                seen: (0, 0, 0),
            };
            nodes.insert(id, node);
        }
        let trace = trace.then(Vec::new);
        Self {
            rng,
            now: 0,
            nodes,
            net: Vec::new(),
            cut: BTreeSet::new(),
            heal_at: 0,
            faults: true,
            hist: History::default(),
            next_payload: 1,
            crash_one_in: if chaos { 15 } else { 80 },
            drop_one_in: if chaos { 4 } else { 20 },
            partition_one_in: if chaos { 15 } else { 60 },
            trace,
        }
    }

    fn log(&mut self, f: impl FnOnce() -> String) {
        let now = self.now;
        if let Some(t) = self.trace.as_mut() {
            t.push(format!("[{now}] {}", f()));
        }
    }

    fn running(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.raw.is_some())
            .map(|(&id, _)| id)
            .collect()
    }

    fn raw(&mut self, id: u64) -> Option<&mut RawNode<MemStorage>> {
        self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut())
    }

    fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter_map(|(&id, n)| {
                n.raw
                    .as_ref()
                    .map(|r| (id, r.hard_state().term, r.soft_state()))
            })
            .filter(|(_, _, ss)| ss.role == StateRole::Leader)
            .max_by_key(|(_, term, _)| *term)
            .map(|(id, _, _)| id)
    }

    /// Queues a message, with faults: drops, duplicates, delays (hence reordering).
    fn send(&mut self, m: Message) {
        let (from, to) = (m.from.0, m.to.0);
        if self.faults && (self.cut.contains(&(from, to)) || self.rng.chance(1, self.drop_one_in)) {
            self.on_dropped(&m);
            return;
        }
        let delay = if !self.faults {
            1
        } else if self.rng.chance(1, 30) {
            3 + self.rng.below(15)
        } else {
            1 + self.rng.below(2)
        };
        if self.faults && self.rng.chance(1, 40) {
            let again = self.now + 1 + self.rng.below(6);
            self.net.push((again, m.clone()));
        }
        self.net.push((self.now + delay, m));
    }

    fn on_dropped(&mut self, m: &Message) {
        if m.msg_type == MessageType::Snapshot {
            let (from, to) = (m.from.0, m.to);
            if let Some(raw) = self.raw(from) {
                raw.report_snapshot(to, SnapshotStatus::Failure);
            }
        }
    }

    /// Delivers every message due now, in random order.
    fn deliver(&mut self) {
        let now = self.now;
        let mut due: Vec<Message> = Vec::new();
        self.net.retain(|(at, m)| {
            if *at <= now {
                due.push(m.clone());
                false
            } else {
                true
            }
        });
        for i in (1..due.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            due.swap(i, j);
        }
        for m in due {
            let (from, to, is_snap) = (m.from.0, m.to.0, m.msg_type == MessageType::Snapshot);
            if self.faults && self.cut.contains(&(from, to)) {
                self.on_dropped(&m);
                continue;
            }
            if self.raw(to).is_none() {
                self.on_dropped(&m);
                continue;
            }
            if matches!(
                m.msg_type,
                MessageType::RequestVote
                    | MessageType::RequestVoteResponse
                    | MessageType::RequestPreVote
                    | MessageType::RequestPreVoteResponse
            ) {
                let line = format!(
                    "deliver {:?} {}->{} term={} index={} log_term={} reject={}",
                    m.msg_type, m.from, m.to, m.term, m.index, m.log_term, m.reject
                );
                self.log(|| line);
            }
            let Some(raw) = self.raw(to) else { continue };
            let _ = raw.step(m);
            if is_snap {
                if let Some(raw) = self.raw(from) {
                    raw.report_snapshot(NodeId(to), SnapshotStatus::Finish);
                }
            }
        }
    }

    /// Handles every Ready of every running node (driver contract), possibly crashing a
    /// node between sending its early messages and persisting.
    fn process_all(&mut self) -> Check {
        for id in self.running() {
            for _ in 0..100 {
                let Some(raw) = self.raw(id) else { break };
                if !raw.has_ready() {
                    break;
                }
                let mut rd = raw.ready();
                for m in std::mem::take(&mut rd.messages) {
                    self.send(m);
                }
                if self.faults && self.rng.chance(1, 400) {
                    self.log(|| format!("n{id} crashes before persisting a ready"));
                    self.crash(id);
                    break;
                }
                self.handle_ready(id, rd)?;
            }
        }
        Ok(())
    }

    fn handle_ready(&mut self, id: u64, mut rd: Ready) -> Check {
        if let Some(ss) = rd.soft_state {
            self.log(|| format!("n{id} becomes {:?} (leader {:?})", ss.role, ss.leader));
            if ss.role == StateRole::Leader {
                self.check_leader_completeness(id)?;
            }
        }
        self.persist(id, &mut rd)?;
        for m in std::mem::take(&mut rd.persisted_messages) {
            self.send(m);
        }
        self.apply(id, &rd.committed_entries)?;
        self.check_reads(id, &rd.read_states)?;
        self.raw(id).expect("running").advance();
        Ok(())
    }

    fn persist(&mut self, id: u64, rd: &mut Ready) -> Check {
        if let Some(snap) = rd.snapshot.take() {
            self.install_snapshot(id, &snap)?;
            let raw = self.raw(id).expect("running");
            raw.store_mut()
                .apply_snapshot(snap)
                .map_err(|e| format!("apply snapshot: {e}"))?;
        }
        self.check_persisted_entries(id, &rd.entries)?;
        let raw = self.raw(id).expect("running");
        raw.store_mut().append(&rd.entries);
        if let Some(hs) = rd.hard_state {
            let old = raw.store().hard_state();
            if hs.term < old.term || hs.commit < old.commit {
                return Err(format!(
                    "n{id}: durable hard state went back: {old:?} -> {hs:?}"
                ));
            }
            raw.store_mut().set_hard_state(hs);
        }
        Ok(())
    }

    fn install_snapshot(&mut self, id: u64, snap: &raft::Snapshot) -> Check {
        let (index, term) = (snap.metadata.index, snap.metadata.term);
        if let Some(&(t, _)) = self.hist.committed.get(&index) {
            if t != term {
                return Err(format!(
                    "n{id}: snapshot {index}/{term} contradicts committed term {t}"
                ));
            }
        }
        let (sm_index, sm_hash) = decode_sm(&snap.data);
        if sm_index != index && !(index == 1 && sm_index == 0) {
            return Err(format!(
                "n{id}: snapshot data at {sm_index} for index {index}"
            ));
        }
        if let Some(&h) = self.hist.sm_at.get(&index) {
            if h != sm_hash {
                return Err(format!(
                    "n{id}: snapshot state at {index} differs from applied state"
                ));
            }
        }
        let node = self.nodes.get_mut(&id).expect("node");
        if index < node.applied_index {
            return Err(format!(
                "n{id}: snapshot {index} behind applied {}",
                node.applied_index
            ));
        }
        node.applied_index = index;
        node.sm_hash = sm_hash;
        node.conf_state = snap.metadata.conf_state.clone();
        self.log(|| format!("n{id} installs snapshot {index}/{term}"));
        Ok(())
    }

    /// Log matching and "committed entries never change", checked on what is persisted.
    fn check_persisted_entries(&mut self, id: u64, ents: &[Entry]) -> Check {
        let raw = self.raw(id).expect("running");
        let mut prev = ents
            .first()
            .and_then(|e| raw.store().term(e.index - 1).ok());
        // Entries at or below this node's commit index must never change; a stale node
        // may of course write other entries above its own commit index.
        let node_commit = raw.store().hard_state().commit.max(raw.hard_state().commit);
        for e in ents {
            let h = hash(&e.data);
            if let Some(&(t, ch)) = self
                .hist
                .committed
                .get(&e.index)
                .filter(|_| e.index <= node_commit)
            {
                if t != e.term || ch != h {
                    return Err(format!(
                        "n{id}: overwrites committed entry {} (term {t} -> {})",
                        e.index, e.term
                    ));
                }
            }
            let rec = self
                .hist
                .entries
                .entry((e.index, e.term))
                .or_insert((h, prev));
            if rec.0 != h {
                return Err(format!(
                    "n{id}: two different entries at {}/{}",
                    e.index, e.term
                ));
            }
            match (rec.1, prev) {
                (Some(a), Some(b)) if a != b => {
                    return Err(format!(
                        "log matching: {}/{} preceded by terms {a} and {b}",
                        e.index, e.term
                    ));
                }
                (None, Some(b)) => rec.1 = Some(b),
                _ => {}
            }
            prev = Some(e.term);
        }
        Ok(())
    }

    /// Applies committed entries; checks every node applies the same entry at an index.
    fn apply(&mut self, id: u64, ents: &[Entry]) -> Check {
        for e in ents {
            let node = self.nodes.get_mut(&id).expect("node");
            if e.index != node.applied_index + 1 {
                return Err(format!(
                    "n{id}: applies {} after {}",
                    e.index, node.applied_index
                ));
            }
            let h = hash(&e.data);
            let rec = *self.hist.committed.entry(e.index).or_insert((e.term, h));
            if rec != (e.term, h) {
                return Err(format!(
                    "n{id}: applies {}/{} but {}/{} was applied elsewhere",
                    e.index, e.term, e.index, rec.0
                ));
            }
            node.sm_hash = mix(node.sm_hash, h ^ e.index);
            node.applied_index = e.index;
            let sm = *self.hist.sm_at.entry(e.index).or_insert(node.sm_hash);
            if sm != node.sm_hash {
                return Err(format!("n{id}: state machine diverges at {}", e.index));
            }
            if e.kind == EntryKind::ConfChange {
                let cc = ConfChange::decode(&e.data).map_err(|e| e.to_string())?;
                let raw = node.raw.as_mut().expect("running");
                let cs = raw
                    .apply_conf_change(&cc)
                    .map_err(|err| format!("n{id}: apply conf change at {}: {err}", e.index))?;
                raw.store_mut().set_conf_state(cs.clone());
                node.conf_state = cs;
                let cs = node.conf_state.clone();
                self.log(|| format!("n{id} applies conf change at {}: {cs:?}", e.index));
            } else if e.data.len() >= 8 {
                let mut b = [0u8; 8];
                b.copy_from_slice(&e.data[..8]);
                self.hist.acked.insert(u64::from_le_bytes(b), e.index);
                self.hist.max_acked_index = self.hist.max_acked_index.max(e.index);
            }
        }
        Ok(())
    }

    /// Linearizable reads (ReadIndex and lease): the read index covers every write
    /// acknowledged before the read started.
    fn check_reads(&mut self, id: u64, states: &[raft::ReadState]) -> Check {
        for rs in states {
            let Some(min) = self.hist.reads.remove(&rs.request_ctx) else {
                continue;
            };
            if rs.index < min {
                return Err(format!(
                    "n{id}: stale read at index {} < acknowledged {min}",
                    rs.index
                ));
            }
            self.hist.reads_served += 1;
        }
        Ok(())
    }

    /// Raft §5.4.1 leader completeness: a new leader holds every committed entry.
    fn check_leader_completeness(&mut self, id: u64) -> Check {
        let raw = self.nodes[&id].raw.as_ref().expect("running");
        let log = raw.raft_log();
        let first = log.first_index();
        for (&i, &(t, _)) in self.hist.committed.range(first..) {
            match log.term(i) {
                Ok(lt) if lt == t => {}
                other => {
                    return Err(format!(
                        "n{id} leads without committed entry {i}/{t} (has {other:?})"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Per-step invariants: one leader per term; term, commit, applied never go back.
    fn check_step(&mut self) -> Check {
        for (&id, node) in self.nodes.iter_mut() {
            let Some(raw) = node.raw.as_ref() else {
                continue;
            };
            let hs = raw.hard_state();
            if raw.soft_state().role == StateRole::Leader {
                let l = *self.hist.leaders.entry(hs.term).or_insert(id);
                if l != id {
                    return Err(format!("two leaders in term {}: n{l} and n{id}", hs.term));
                }
            }
            let now = (hs.term, hs.commit, raw.raft_log().applied());
            let (t, c, a) = node.seen;
            if now.0 < t || now.1 < c || now.2 < a {
                return Err(format!(
                    "n{id}: (term, commit, applied) went back: {:?} -> {now:?}",
                    node.seen
                ));
            }
            node.seen = now;
            if raw.raft_log().applied() != node.applied_index {
                return Err(format!(
                    "n{id}: raft applied {} but state machine {}",
                    raw.raft_log().applied(),
                    node.applied_index
                ));
            }
        }
        Ok(())
    }

    fn crash(&mut self, id: u64) {
        let restart_at = self.now + 5 + self.rng.below(40);
        let node = self.nodes.get_mut(&id).expect("node");
        if let Some(raw) = node.raw.take() {
            node.crashed_store = Some(raw.store().clone());
            node.restart_at = restart_at;
        }
        // The failure detector notices and wakes the groups on the other nodes.
        for other in self.running() {
            if let Some(raw) = self.raw(other) {
                raw.wake();
            }
        }
    }

    fn restart(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("node");
        let Some(store) = node.crashed_store.take() else {
            return;
        };
        let mut cfg = node.cfg.clone();
        cfg.applied = node.applied_index;
        node.raw = Some(RawNode::new(&cfg, store).expect("restart"));
        node.seen = (0, 0, 0);
        self.log(|| format!("n{id} restarts"));
    }

    fn inject_faults(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        if !self.cut.is_empty() && self.now >= self.heal_at {
            self.cut.clear();
            self.log(|| "partition heals".into());
        } else if self.cut.is_empty() && self.rng.chance(1, self.partition_one_in) {
            self.partition(&ids);
        }
        if self.rng.chance(1, self.crash_one_in) {
            let running = self.running();
            if running.len() > 1 {
                let id = running[self.rng.below(running.len() as u64) as usize];
                self.log(|| format!("n{id} crashes"));
                self.crash(id);
            }
        }
        for id in ids {
            let due = self.nodes[&id].raw.is_none() && self.nodes[&id].restart_at <= self.now;
            if due {
                self.restart(id);
            }
        }
    }

    /// A symmetric split into two sides, or asymmetric one-way cuts.
    fn partition(&mut self, ids: &[u64]) {
        let symmetric = self.rng.chance(1, 2);
        let side: BTreeSet<u64> = ids
            .iter()
            .copied()
            .filter(|_| self.rng.chance(1, 3))
            .collect();
        for &a in ids {
            for &b in ids {
                if a == b {
                    continue;
                }
                let crosses = side.contains(&a) != side.contains(&b);
                if (symmetric && crosses) || (!symmetric && side.contains(&a) && !side.contains(&b))
                {
                    self.cut.insert((a, b));
                }
            }
        }
        self.heal_at = self.now + 10 + self.rng.below(60);
        for id in self.running() {
            if let Some(raw) = self.raw(id) {
                raw.wake();
            }
        }
        self.log(|| format!("partition (symmetric: {symmetric}) side {side:?}"));
    }

    fn client_ops(&mut self) {
        let running = self.running();
        if running.is_empty() {
            return;
        }
        if self.faults && self.rng.chance(1, 2) {
            let random = running[self.rng.below(running.len() as u64) as usize];
            let id = if self.rng.chance(1, 2) {
                self.leader().unwrap_or(random)
            } else {
                random
            };
            let n = 1 + self.rng.below(3);
            let batch: Vec<Vec<u8>> = (0..n).map(|_| self.payload()).collect();
            if let Some(raw) = self.raw(id) {
                let _ = raw.propose_batch(batch);
            }
        }
        if self.rng.chance(1, 3) {
            // Half the reads go to a node that believes it leads (possibly a deposed
            // leader that has not noticed yet): where stale reads would come from.
            let leaders: Vec<u64> = running
                .iter()
                .copied()
                .filter(|&i| {
                    self.nodes[&i]
                        .raw
                        .as_ref()
                        .is_some_and(|r| r.soft_state().role == StateRole::Leader)
                })
                .collect();
            let pool = if !leaders.is_empty() && self.rng.chance(1, 2) {
                &leaders
            } else {
                &running
            };
            let id = pool[self.rng.below(pool.len() as u64) as usize];
            let ctx = format!("read-{}", self.next_payload).into_bytes();
            self.next_payload += 1;
            let min = self.hist.max_acked_index;
            if self
                .raw(id)
                .is_some_and(|r| r.read_index(ctx.clone()).is_ok())
            {
                self.hist.reads.insert(ctx, min);
            }
        }
        if self.faults && self.rng.chance(1, 60) {
            self.conf_change();
        }
        if self.faults && self.rng.chance(1, 80) {
            self.transfer();
        }
        if self.rng.chance(1, 25) {
            let id = running[self.rng.below(running.len() as u64) as usize];
            self.compact(id);
        }
    }

    fn payload(&mut self) -> Vec<u8> {
        let mut p = self.next_payload.to_le_bytes().to_vec();
        self.next_payload += 1;
        p.extend(std::iter::repeat_n(7u8, self.rng.below(40) as usize));
        p
    }

    fn conf_change(&mut self) {
        let Some(l) = self.leader() else { return };
        let cs = self.nodes[&l]
            .raw
            .as_ref()
            .expect("running")
            .status()
            .conf_state;
        let members: BTreeSet<NodeId> = cs.voters.iter().chain(&cs.learners).copied().collect();
        let outsiders: Vec<NodeId> = self
            .nodes
            .keys()
            .map(|&i| NodeId(i))
            .filter(|i| !members.contains(i))
            .collect();
        let pick = |rng: &mut Prng, v: &[NodeId]| {
            v.get(rng.below(v.len().max(1) as u64) as usize).copied()
        };
        let one = |change_type, node_id| ConfChangeSingle {
            change_type,
            node_id,
        };
        let changes = match self.rng.below(5) {
            0 => pick(&mut self.rng, &outsiders).map(|n| vec![one(ConfChangeType::AddLearner, n)]),
            1 => pick(&mut self.rng, &cs.learners).map(|n| vec![one(ConfChangeType::AddNode, n)]),
            2 => pick(&mut self.rng, &outsiders).map(|n| vec![one(ConfChangeType::AddNode, n)]),
            3 => pick(&mut self.rng, &cs.voters).map(|n| vec![one(ConfChangeType::RemoveNode, n)]),
            _ => match (
                pick(&mut self.rng, &outsiders),
                pick(&mut self.rng, &cs.voters),
            ) {
                (Some(a), Some(r)) => Some(vec![
                    one(ConfChangeType::AddNode, a),
                    one(ConfChangeType::RemoveNode, r),
                ]),
                _ => None,
            },
        };
        let Some(changes) = changes else { return };
        let cc = ConfChange {
            changes,
            context: Vec::new(),
        };
        let r = self.raw(l).expect("running").propose_conf_change(&cc);
        self.log(|| format!("n{l} proposes {:?}: {:?}", cc.changes, r.map(|p| p.indexes)));
    }

    fn transfer(&mut self) {
        let Some(l) = self.leader() else { return };
        let voters = self.nodes[&l].conf_state.voters.clone();
        if voters.is_empty() {
            return;
        }
        let target = voters[self.rng.below(voters.len() as u64) as usize];
        if target.0 == l {
            return;
        }
        let _ = self.raw(l).expect("running").transfer_leader(target);
        self.log(|| format!("n{l} transfers leadership to n{target}"));
    }

    /// Snapshot at the applied index and compact the log to (a little before) it.
    fn compact(&mut self, id: u64) {
        let keep = self.rng.below(5);
        let node = self.nodes.get_mut(&id).expect("node");
        let (index, data, cs) = (
            node.applied_index,
            encode_sm(node.applied_index, node.sm_hash),
            node.conf_state.clone(),
        );
        let Some(raw) = node.raw.as_mut() else { return };
        if raw.store().create_snapshot_allowed(index) {
            let _ = raw.store_mut().create_snapshot(index, cs, data);
        }
        let snap_index = raw.store().snapshot(0).map_or(0, |s| s.metadata.index);
        let _ = raw.store_mut().compact(snap_index.saturating_sub(keep));
    }

    fn tick_all(&mut self) {
        for id in self.running() {
            if let Some(raw) = self.raw(id) {
                raw.tick();
            }
        }
    }

    fn step(&mut self) -> Check {
        self.now += 1;
        if self.faults {
            self.inject_faults();
        }
        self.client_ops();
        self.tick_all();
        self.deliver();
        self.process_all()?;
        self.check_step()
    }

    /// Faults stop: heal, restart everyone, wake everyone; then every acknowledged
    /// proposal must be applied on every member.
    fn liveness(&mut self) -> Check {
        self.faults = false;
        self.cut.clear();
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for &id in &ids {
            self.restart(id);
        }
        for &id in &ids {
            self.raw(id).expect("running").wake();
        }
        // A final proposal proves the group commits again; it is re-proposed if a
        // leader change loses it (another entry gets applied at its index).
        let mut final_entry: Option<(u64, u64)> = None;
        for _ in 0..LIVENESS_TICKS_MAX {
            self.step()?;
            let lost = final_entry.is_some_and(|(i, t)| self.final_lost(i, t));
            if final_entry.is_none() || lost {
                final_entry = self.propose_final();
            }
            if let Some((fi, _)) = final_entry {
                if self.all_applied(fi) {
                    return Ok(());
                }
            }
        }
        let final_index = final_entry.map(|f| f.0);
        Err(format!("liveness: not everything applied after {LIVENESS_TICKS_MAX} ticks (final proposal {final_index:?}); {}", self.describe()))
    }

    /// The final proposal is lost once the current leader's log disagrees with it.
    fn final_lost(&self, index: u64, term: u64) -> bool {
        let Some(l) = self.leader() else { return false };
        let log = self.nodes[&l].raw.as_ref().expect("running").raft_log();
        log.term(index) != Ok(term)
    }

    fn propose_final(&mut self) -> Option<(u64, u64)> {
        let l = self.leader()?;
        let data = self.payload();
        let p = self.raw(l)?.propose(data).ok()?;
        Some((*p.indexes.end(), p.term))
    }

    fn all_applied(&self, final_index: u64) -> bool {
        let Some(l) = self.leader() else { return false };
        let cs = &self.nodes[&l].conf_state;
        let max_acked = self.hist.acked.values().copied().max().unwrap_or(0);
        let need = final_index.max(max_acked);
        cs.voters.iter().chain(&cs.learners).all(|id| {
            self.nodes
                .get(&id.0)
                .is_some_and(|n| n.raw.is_some() && n.applied_index >= need)
        }) && self.hist.committed.contains_key(&final_index)
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        for (id, n) in &self.nodes {
            if let Some(raw) = n.raw.as_ref() {
                let st = raw.status();
                s += &format!(
                    "\n  n{id}: {:?} term={} leader={:?} commit={} applied={} last={} quiescent={} conf={:?}",
                    st.soft_state.role, st.hard_state.term, st.soft_state.leader, st.hard_state.commit,
                    st.applied, st.last_index, st.quiescent, st.conf_state
                );
                if !st.progress.is_empty() {
                    s += &format!("\n    progress {:?}", st.progress);
                }
            }
        }
        s
    }
}

fn encode_sm(index: u64, h: u64) -> Vec<u8> {
    let mut v = index.to_le_bytes().to_vec();
    v.extend_from_slice(&h.to_le_bytes());
    v
}

fn decode_sm(data: &[u8]) -> (u64, u64) {
    if data.len() != 16 {
        return (0, 0);
    }
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&data[..8]);
    b.copy_from_slice(&data[8..]);
    (u64::from_le_bytes(a), u64::from_le_bytes(b))
}

/// Helper so the sim only snapshots indexes storage can serve.
trait SnapshotAllowed {
    fn create_snapshot_allowed(&self, index: u64) -> bool;
}

impl SnapshotAllowed for MemStorage {
    fn create_snapshot_allowed(&self, index: u64) -> bool {
        let snap = self.snapshot(0).map_or(0, |s| s.metadata.index);
        index > snap && self.term(index).is_ok()
    }
}

/// Runs one seed; returns the failure (with trace if enabled).
fn run_seed(seed: u64, trace: bool) -> Result<(u64, u64), String> {
    let mut sim = Sim::new(seed, trace);
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Check {
        for _ in 0..FAULT_TICKS {
            sim.step()?;
        }
        sim.liveness()
    }));
    let result = match outcome {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default();
            Err(format!("panic: {msg}"))
        }
    };
    if let Some(t) = &sim.trace {
        for line in t {
            eprintln!("{line}");
        }
    }
    result
        .map(|()| (sim.hist.acked.len() as u64, sim.hist.reads_served))
        .map_err(|e| format!("seed {seed} failed at tick {}: {e}", sim.now))
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs the seeds `part`, `part + parts`, ... so the test harness spreads them over
/// threads.
fn run_part(part: u64, parts: u64) {
    if let Some(seed) = env_u64("SIM_SEED") {
        if part == 0 {
            let trace = std::env::var_os("SIM_TRACE").is_some();
            if let Err(e) = run_seed(seed, trace) {
                panic!("{e}\nreplay: SIM_SEED={seed} cargo test -p raft --test sim");
            }
        }
        return;
    }
    let seeds = env_u64("SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let (mut acked, mut reads) = (0, 0);
    let mut seed = part;
    while seed < seeds {
        match run_seed(seed, false) {
            Ok((a, r)) => {
                acked += a;
                reads += r;
            }
            Err(e) => {
                panic!("{e}\nreplay: SIM_SEED={seed} SIM_TRACE=1 cargo test -p raft --test sim")
            }
        }
        seed += parts;
    }
    eprintln!(
        "sim part {part}/{parts}: seeds ok, {acked} proposals acknowledged, {reads} reads served"
    );
}

#[test]
fn sim_part_0() {
    run_part(0, 4);
}

#[test]
fn sim_part_1() {
    run_part(1, 4);
}

#[test]
fn sim_part_2() {
    run_part(2, 4);
}

#[test]
fn sim_part_3() {
    run_part(3, 4);
}
