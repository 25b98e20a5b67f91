//! Drives a three-node RedRaft group in memory, following the driver contract of the
//! `raft` crate: tick, step, ready, persist, send, apply, advance.
//!
//! Run with `cargo run -p raft --example three_nodes`.

use std::collections::VecDeque;

use raft::{
    ConfChange, ConfState, Config, EntryKind, MemStorage, Message, NodeId, RawNode, Ready,
    StateRole,
};

/// One server: its Raft node and a tiny state machine (the applied commands).
struct Server {
    node: RawNode<MemStorage>,
    applied: Vec<String>,
}

impl Server {
    /// Driver contract steps 3-7 for one Ready; returns the messages to send.
    fn handle(&mut self, mut rd: Ready) -> Vec<Message> {
        // 3. Messages that may leave before the persist (leader appends, heartbeats).
        let mut out: Vec<Message> = std::mem::take(&mut rd.messages);
        // 4. Persist: snapshot, then entries, then hard state (fsync if rd.must_sync).
        let store = self.node.store_mut();
        if let Some(snapshot) = rd.snapshot.take() {
            store.apply_snapshot(snapshot).expect("install snapshot");
        }
        store.append(&rd.entries);
        if let Some(hs) = rd.hard_state {
            store.set_hard_state(hs);
        }
        // 5. Messages that promise durable state.
        out.append(&mut rd.persisted_messages);
        // 6. Apply committed entries.
        for e in &rd.committed_entries {
            match e.kind {
                EntryKind::Normal if e.data.is_empty() => {}
                EntryKind::Normal => self.applied.push(String::from_utf8_lossy(&e.data).into()),
                EntryKind::ConfChange => {
                    let cc = ConfChange::decode(&e.data).expect("decode conf change");
                    let cs = self.node.apply_conf_change(&cc).expect("apply conf change");
                    self.node.store_mut().set_conf_state(cs);
                }
            }
        }
        // 7. Advance.
        self.node.advance();
        out
    }
}

fn main() -> Result<(), raft::Error> {
    let conf = ConfState {
        voters: vec![NodeId(1), NodeId(2), NodeId(3)],
        ..Default::default()
    };
    let mut servers = Vec::new();
    for id in 1..=3 {
        let mut cfg = Config::new(NodeId(id));
        cfg.seed = 2024;
        cfg.applied = 1;
        let node = RawNode::new(&cfg, MemStorage::new_with_conf_state(conf.clone()))?;
        servers.push(Server {
            node,
            applied: Vec::new(),
        });
    }
    let mut network: VecDeque<Message> = VecDeque::new();
    let mut proposed = false;
    for tick in 0..100 {
        // 1. Input: time passes for everyone; messages are delivered.
        for s in &mut servers {
            s.node.tick();
        }
        for _ in 0..10 {
            while let Some(m) = network.pop_front() {
                servers[(m.to.0 - 1) as usize].node.step(m)?;
            }
            // 2. Ready.
            for s in &mut servers {
                while s.node.has_ready() {
                    let rd = s.node.ready();
                    network.extend(s.handle(rd));
                }
            }
        }
        let leader = servers
            .iter_mut()
            .find(|s| s.node.soft_state().role == StateRole::Leader);
        if let (Some(l), false) = (leader, proposed) {
            let p = l
                .node
                .propose_batch(vec![b"set a 1".to_vec(), b"set b 2".to_vec()])?;
            println!(
                "tick {tick}: node {} leads term {}, proposed {:?}",
                l.node.status().id,
                p.term,
                p.indexes
            );
            proposed = true;
        }
    }
    for s in &servers {
        let st = s.node.status();
        println!(
            "node {}: {:?} term={} commit={} applied={:?}",
            st.id, st.soft_state.role, st.hard_state.term, st.hard_state.commit, s.applied
        );
    }
    Ok(())
}
