//! Shared in-memory cluster harness for RedRaft's Raft tests: a network of `RawNode`s
//! over `MemStorage`, driven exactly as the driver contract in the crate docs says.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use raft::{
    ConfChange, ConfState, Config, EntryKind, MemStorage, Message, MessageType, NodeId, RawNode,
    Ready, SnapshotStatus, StateRole, Storage,
};

/// One simulated server: its Raft node and a state machine that records applied data.
pub struct Node {
    /// The Raft node; `None` while crashed.
    pub raw: Option<RawNode<MemStorage>>,
    /// Durable storage while crashed.
    pub crashed_store: Option<MemStorage>,
    /// Parameters used to (re)start the node.
    pub cfg: Config,
    /// Applied normal entries' payloads, in order (the state machine).
    pub applied: Vec<String>,
    /// Index the state machine has applied (durable with it).
    pub applied_index: u64,
    /// Configuration as of `applied_index`.
    pub conf_state: ConfState,
}

/// A cluster connected by an in-order message queue.
pub struct Network {
    /// Nodes by id.
    pub nodes: BTreeMap<u64, Node>,
    /// Messages in flight, in send order.
    pub queue: VecDeque<Message>,
    /// Cut links (from, to).
    pub cut: BTreeSet<(u64, u64)>,
    /// Transcript of what happened.
    pub out: String,
    /// Whether to log every message and Ready detail.
    pub verbose: bool,
    /// Whether to log which messages a Ready lets go before and after the persist.
    pub show_split: bool,
}

/// Test defaults: election 10 ticks, heartbeat 1, pre-vote and check-quorum off.
pub fn test_config(id: u64) -> Config {
    let mut c = Config::new(NodeId(id));
    c.pre_vote = false;
    c.check_quorum = false;
    c.seed = 42;
    c
}

pub fn ids(v: &[u64]) -> Vec<NodeId> {
    v.iter().map(|&i| NodeId(i)).collect()
}

impl Network {
    /// Founding voters and learners, all configured with `cfg_of`.
    pub fn new(voters: &[u64], learners: &[u64], cfg_of: impl Fn(u64) -> Config) -> Self {
        let cs = ConfState {
            voters: ids(voters),
            learners: ids(learners),
            ..Default::default()
        };
        let mut net = Self {
            nodes: BTreeMap::new(),
            queue: VecDeque::new(),
            cut: BTreeSet::new(),
            out: String::new(),
            verbose: true,
            show_split: false,
        };
        for &id in voters.iter().chain(learners) {
            let store = MemStorage::new_with_conf_state(cs.clone());
            net.insert(id, cfg_of(id), store, cs.clone(), 1);
        }
        net
    }

    /// Starts a node over `store`.
    pub fn insert(&mut self, id: u64, cfg: Config, store: MemStorage, cs: ConfState, applied: u64) {
        let mut cfg = cfg;
        cfg.applied = applied;
        let raw = RawNode::new(&cfg, store).expect("start node");
        let node = Node {
            raw: Some(raw),
            crashed_store: None,
            cfg,
            applied: Vec::new(),
            applied_index: applied,
            conf_state: cs,
        };
        self.nodes.insert(id, node);
    }

    /// A new, empty node that will be brought in by a membership change.
    pub fn add_empty_node(&mut self, id: u64, cfg: Config) {
        self.insert(id, cfg, MemStorage::new(), ConfState::default(), 0);
    }

    pub fn raw(&mut self, id: u64) -> &mut RawNode<MemStorage> {
        self.nodes
            .get_mut(&id)
            .and_then(|n| n.raw.as_mut())
            .expect("node is running")
    }

    pub fn raw_ref(&self, id: u64) -> &RawNode<MemStorage> {
        self.nodes
            .get(&id)
            .and_then(|n| n.raw.as_ref())
            .expect("node is running")
    }

    /// Loses everything not persisted.
    pub fn crash(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        if let Some(raw) = node.raw.take() {
            node.crashed_store = Some(raw.store().clone());
        }
        self.queue.retain(|m| m.to.0 != id);
    }

    /// Restarts from durable state.
    pub fn restart(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        let Some(mut store) = node.crashed_store.take() else {
            return;
        };
        store.set_conf_state(node.conf_state.clone());
        let mut cfg = node.cfg.clone();
        cfg.applied = node.applied_index;
        node.raw = Some(RawNode::new(&cfg, store).expect("restart node"));
    }

    fn log(&mut self, line: String) {
        self.out.push_str(&line);
        self.out.push('\n');
    }

    /// Handles every Ready of `id` (driver contract steps 2-7).
    pub fn process(&mut self, id: u64) {
        loop {
            let Some(node) = self.nodes.get_mut(&id) else {
                return;
            };
            let Some(raw) = node.raw.as_mut() else { return };
            if !raw.has_ready() {
                return;
            }
            let rd = raw.ready();
            self.handle_ready(id, rd);
        }
    }

    fn handle_ready(&mut self, id: u64, mut rd: Ready) {
        let mut lines = Vec::new();
        if let Some(ss) = rd.soft_state {
            let leader = ss.leader.map_or("none".to_string(), |l| l.to_string());
            lines.push(format!("n{id}: become {:?} (leader {leader})", ss.role));
        }
        if self.show_split {
            for m in &rd.messages {
                lines.push(format!("n{id}: send now: {}", fmt_msg(m)));
            }
            for m in &rd.persisted_messages {
                lines.push(format!("n{id}: send after persist: {}", fmt_msg(m)));
            }
        }
        let early = std::mem::take(&mut rd.messages);
        self.queue.extend(early);
        let node = self.nodes.get_mut(&id).expect("node");
        let raw = node.raw.as_mut().expect("running");
        if let Some(snap) = rd.snapshot.take() {
            lines.push(format!(
                "n{id}: install snapshot {}/{}",
                snap.metadata.index, snap.metadata.term
            ));
            node.applied = decode_state(&snap.data);
            node.applied_index = snap.metadata.index;
            node.conf_state = snap.metadata.conf_state.clone();
            raw.store_mut()
                .apply_snapshot(snap)
                .expect("apply snapshot");
        }
        if let (Some(f), Some(l)) = (rd.entries.first(), rd.entries.last()) {
            lines.push(format!(
                "n{id}: persist entries {}..={} (term {})",
                f.index, l.index, l.term
            ));
        }
        raw.store_mut().append(&rd.entries);
        if let Some(hs) = rd.hard_state {
            let vote = hs.vote.map_or("none".to_string(), |v| v.to_string());
            lines.push(format!(
                "n{id}: hard state term={} vote={vote} commit={}",
                hs.term, hs.commit
            ));
            raw.store_mut().set_hard_state(hs);
        }
        self.queue
            .extend(std::mem::take(&mut rd.persisted_messages));
        self.apply(id, &rd, &mut lines);
        for rs in &rd.read_states {
            let ctx = String::from_utf8_lossy(&rs.request_ctx);
            lines.push(format!("n{id}: read state index={} ctx={ctx}", rs.index));
        }
        self.nodes
            .get_mut(&id)
            .and_then(|n| n.raw.as_mut())
            .expect("running")
            .advance();
        if self.verbose {
            for l in lines {
                self.log(l);
            }
        }
    }

    fn apply(&mut self, id: u64, rd: &Ready, lines: &mut Vec<String>) {
        let node = self.nodes.get_mut(&id).expect("node");
        let raw = node.raw.as_mut().expect("running");
        for e in &rd.committed_entries {
            match e.kind {
                EntryKind::Normal if e.data.is_empty() => {
                    lines.push(format!("n{id}: apply {}/{} (empty)", e.index, e.term));
                }
                EntryKind::Normal => {
                    let s = String::from_utf8_lossy(&e.data).to_string();
                    lines.push(format!("n{id}: apply {}/{} {s}", e.index, e.term));
                    node.applied.push(s);
                }
                EntryKind::ConfChange => {
                    let cc = ConfChange::decode(&e.data).expect("decode conf change");
                    let cs = raw.apply_conf_change(&cc).expect("apply conf change");
                    lines.push(format!(
                        "n{id}: apply {}/{} {}",
                        e.index,
                        e.term,
                        fmt_cc(&cc, &cs)
                    ));
                    raw.store_mut().set_conf_state(cs.clone());
                    node.conf_state = cs;
                }
            }
            node.applied_index = e.index;
        }
    }

    /// Delivers one message; returns false if the queue was empty.
    pub fn deliver_one(&mut self) -> bool {
        let Some(m) = self.queue.pop_front() else {
            return false;
        };
        let (from, to) = (m.from.0, m.to.0);
        let running = self.nodes.get(&to).is_some_and(|n| n.raw.is_some());
        let is_snapshot = m.msg_type == MessageType::Snapshot;
        if self.cut.contains(&(from, to)) || !running {
            if self.verbose {
                self.log(format!("dropped: {}", fmt_msg(&m)));
            }
            if is_snapshot {
                self.report_snapshot(from, to, SnapshotStatus::Failure);
            }
            return true;
        }
        if self.verbose {
            self.log(fmt_msg(&m));
        }
        let _ = self.raw(to).step(m);
        if is_snapshot {
            self.report_snapshot(from, to, SnapshotStatus::Finish);
        }
        true
    }

    fn report_snapshot(&mut self, from: u64, to: u64, status: SnapshotStatus) {
        if let Some(raw) = self.nodes.get_mut(&from).and_then(|n| n.raw.as_mut()) {
            raw.report_snapshot(NodeId(to), status);
        }
    }

    /// Processes every Ready.
    pub fn process_all(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.process(id);
        }
    }

    /// Delivers messages and handles Readies until nothing is left.
    pub fn stabilize(&mut self) {
        for _ in 0..100_000 {
            self.process_all();
            if self.queue.is_empty() {
                return;
            }
            while self.deliver_one() {
                let ids: Vec<u64> = self.nodes.keys().copied().collect();
                for id in ids {
                    self.process(id);
                }
            }
        }
        panic!("network did not stabilize");
    }

    /// Ticks `id` `n` times, handling Readies after each tick.
    pub fn tick(&mut self, id: u64, n: u64) {
        for _ in 0..n {
            if let Some(raw) = self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut()) {
                raw.tick();
            }
            self.process(id);
        }
    }

    /// Ticks every running node `n` times, delivering messages after each round.
    pub fn tick_all(&mut self, n: u64) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for _ in 0..n {
            for &id in &ids {
                if let Some(raw) = self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut()) {
                    raw.tick();
                }
            }
            self.stabilize();
        }
    }

    /// Isolates `id` from everyone (both directions).
    pub fn isolate(&mut self, id: u64) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for other in ids {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    /// The node that believes it leads the highest term, if any.
    pub fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter_map(|(&id, n)| n.raw.as_ref().map(|r| (id, r.status())))
            .filter(|(_, s)| s.soft_state.role == StateRole::Leader)
            .max_by_key(|(_, s)| s.hard_state.term)
            .map(|(id, _)| id)
    }

    /// One line per node: role, term, leader, commit, applied, configuration.
    pub fn state(&self) -> String {
        let mut s = String::new();
        for (id, n) in &self.nodes {
            let Some(raw) = n.raw.as_ref() else {
                let _ = writeln!(s, "n{id}: crashed");
                continue;
            };
            let st = raw.status();
            let leader = st
                .soft_state
                .leader
                .map_or("none".to_string(), |l| l.to_string());
            let q = if st.quiescent { " quiescent" } else { "" };
            let _ = writeln!(
                s,
                "n{id}: {:?} term={} leader={leader} commit={} applied={} last={} {}{q}",
                st.soft_state.role,
                st.hard_state.term,
                st.hard_state.commit,
                st.applied,
                st.last_index,
                fmt_conf(&st.conf_state)
            );
        }
        s
    }

    /// The log of `id` as `index/term` pairs.
    pub fn log_of(&self, id: u64) -> String {
        let raw = self.raw_ref(id);
        let l = raw.raft_log();
        let ents = l
            .slice(l.first_index(), l.last_index() + 1, u64::MAX)
            .expect("log slice");
        let parts: Vec<String> = ents
            .iter()
            .map(|e| {
                if e.data.is_empty() {
                    format!("{}/{}", e.index, e.term)
                } else if e.kind == EntryKind::ConfChange {
                    format!("{}/{} cc", e.index, e.term)
                } else {
                    format!(
                        "{}/{} {}",
                        e.index,
                        e.term,
                        String::from_utf8_lossy(&e.data)
                    )
                }
            })
            .collect();
        format!("n{id}: first={} [{}]", l.first_index(), parts.join(", "))
    }

    /// Snapshots `id`'s state machine at its applied index and compacts its log there.
    pub fn compact(&mut self, id: u64) -> u64 {
        let node = self.nodes.get_mut(&id).expect("node");
        let (index, cs, data) = (
            node.applied_index,
            node.conf_state.clone(),
            encode_state(&node.applied),
        );
        let raw = node.raw.as_mut().expect("running");
        let _ = raw.store_mut().create_snapshot(index, cs, data);
        raw.store_mut().compact(index).expect("compact");
        index
    }

    /// Term of entry `index` in `id`'s durable log.
    pub fn durable_term(&self, id: u64, index: u64) -> Option<u64> {
        self.raw_ref(id).store().term(index).ok()
    }
}

/// The state machine as snapshot bytes: payloads joined by newlines.
pub fn encode_state(applied: &[String]) -> Vec<u8> {
    applied.join("\n").into_bytes()
}

/// Inverse of [`encode_state`].
pub fn decode_state(data: &[u8]) -> Vec<String> {
    if data.is_empty() {
        return Vec::new();
    }
    String::from_utf8_lossy(data)
        .split('\n')
        .map(str::to_string)
        .collect()
}

pub fn fmt_ids(v: &[NodeId]) -> String {
    v.iter()
        .map(|i| i.0.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn fmt_conf(cs: &ConfState) -> String {
    let mut s = format!("voters=({})", fmt_ids(&cs.voters));
    if !cs.voters_outgoing.is_empty() {
        let _ = write!(s, "&&({})", fmt_ids(&cs.voters_outgoing));
    }
    if !cs.learners.is_empty() {
        let _ = write!(s, " learners=({})", fmt_ids(&cs.learners));
    }
    if !cs.learners_next.is_empty() {
        let _ = write!(s, " learners_next=({})", fmt_ids(&cs.learners_next));
    }
    s
}

fn fmt_cc(cc: &ConfChange, cs: &ConfState) -> String {
    if cc.changes.is_empty() {
        return format!("leave-joint -> {}", fmt_conf(cs));
    }
    let parts: Vec<String> = cc
        .changes
        .iter()
        .map(|c| format!("{:?}({})", c.change_type, c.node_id))
        .collect();
    format!("conf-change [{}] -> {}", parts.join(" "), fmt_conf(cs))
}

/// A compact, deterministic rendering of a message.
pub fn fmt_msg(m: &Message) -> String {
    use MessageType as T;
    let mut s = format!("{}->{} {:?} term={}", m.from, m.to, m.msg_type, m.term);
    match m.msg_type {
        T::Append => {
            let _ = write!(s, " prev={}/{} commit={}", m.index, m.log_term, m.commit);
            if !m.entries.is_empty() {
                let es: Vec<String> = m
                    .entries
                    .iter()
                    .map(|e| {
                        let d = String::from_utf8_lossy(&e.data);
                        match e.kind {
                            EntryKind::ConfChange => format!("{}/{} cc", e.index, e.term),
                            _ if d.is_empty() => format!("{}/{}", e.index, e.term),
                            _ => format!("{}/{} {d}", e.index, e.term),
                        }
                    })
                    .collect();
                let _ = write!(s, " [{}]", es.join(", "));
            }
        }
        T::AppendResponse if m.reject => {
            let _ = write!(
                s,
                " reject index={} hint={}/{}",
                m.index, m.reject_hint, m.log_term
            );
        }
        T::AppendResponse | T::ReadIndexResponse => {
            let _ = write!(s, " index={}", m.index);
        }
        T::RequestVote | T::RequestPreVote => {
            let _ = write!(s, " last={}/{}", m.index, m.log_term);
        }
        T::RequestVoteResponse | T::RequestPreVoteResponse => {
            s.push_str(if m.reject { " rejected" } else { " granted" });
        }
        T::Heartbeat | T::Quiesce => {
            let _ = write!(s, " commit={}", m.commit);
        }
        T::Snapshot => {
            if let Some(snap) = &m.snapshot {
                let _ = write!(
                    s,
                    " snapshot={}/{}",
                    snap.metadata.index, snap.metadata.term
                );
            }
        }
        _ => {}
    }
    if !m.context.is_empty() && m.msg_type != T::RequestVote {
        let _ = write!(s, " ctx={}", String::from_utf8_lossy(&m.context));
    }
    s
}
