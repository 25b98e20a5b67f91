//! A minimal in-memory driver for the benches: groups of `RawNode`s over `MemStorage`
//! connected by a message queue, handled as the driver contract in the crate docs says.

#![allow(dead_code)]

use std::collections::VecDeque;

use raft::{
    ConfChange, ConfState, Config, EntryKind, MemStorage, Message, NodeId, RawNode, StateRole,
};

/// One group of `n` replicas with ids 1..=n.
pub struct Group {
    /// Replica `i` has id `i + 1`.
    pub nodes: Vec<RawNode<MemStorage>>,
    /// Messages in flight.
    pub queue: VecDeque<Message>,
    /// Entries applied per replica.
    pub applied: Vec<u64>,
}

impl Group {
    /// A group of `n` voters built from `base` (its `id` is replaced).
    pub fn new(n: u64, base: &Config) -> Self {
        let cs = ConfState {
            voters: (1..=n).map(NodeId).collect(),
            ..Default::default()
        };
        let nodes = (1..=n)
            .map(|id| {
                let mut cfg = base.clone();
                cfg.id = NodeId(id);
                cfg.applied = 1;
                RawNode::new(&cfg, MemStorage::new_with_conf_state(cs.clone())).expect("node")
            })
            .collect();
        Self {
            nodes,
            queue: VecDeque::new(),
            applied: vec![0; n as usize],
        }
    }

    /// Elects replica 0 and settles.
    pub fn elect_first(&mut self) {
        self.nodes[0].campaign().expect("campaign");
        self.stabilize();
        assert_eq!(self.nodes[0].soft_state().role, StateRole::Leader);
    }

    /// Handles every Ready of replica `i`.
    pub fn process(&mut self, i: usize) {
        while self.nodes[i].has_ready() {
            let node = &mut self.nodes[i];
            let mut rd = node.ready();
            self.queue.extend(rd.messages.drain(..));
            if let Some(s) = rd.snapshot.take() {
                node.store_mut().apply_snapshot(s).expect("snapshot");
            }
            node.store_mut().append(&rd.entries);
            if let Some(hs) = rd.hard_state {
                node.store_mut().set_hard_state(hs);
            }
            self.queue.extend(rd.persisted_messages.drain(..));
            for e in &rd.committed_entries {
                if e.kind == EntryKind::ConfChange {
                    let cc = ConfChange::decode(&e.data).expect("decode");
                    let cs = node.apply_conf_change(&cc).expect("conf change");
                    node.store_mut().set_conf_state(cs);
                }
                self.applied[i] += 1;
            }
            node.advance();
        }
    }

    /// Delivers and processes until nothing is left.
    pub fn stabilize(&mut self) {
        loop {
            for i in 0..self.nodes.len() {
                self.process(i);
            }
            if self.queue.is_empty() {
                return;
            }
            while let Some(m) = self.queue.pop_front() {
                let to = (m.to.0 - 1) as usize;
                let _ = self.nodes[to].step(m);
            }
        }
    }

    /// Ticks every replica once and settles.
    pub fn tick(&mut self) {
        for n in &mut self.nodes {
            n.tick();
        }
        self.stabilize();
    }

    /// Snapshots and compacts every replica at its applied index.
    pub fn compact(&mut self) {
        for n in &mut self.nodes {
            let applied = n.raft_log().applied();
            let cs = n.status().conf_state;
            let _ = n.store_mut().create_snapshot(applied, cs, Vec::new());
            let _ = n.store_mut().compact(applied);
        }
    }
}
