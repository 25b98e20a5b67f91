//! One test per rule of the Raft paper (Ongaro & Ousterhout, "In Search of an
//! Understandable Consensus Algorithm", §5.1–§5.4, §6, §7), each citing its section.

mod common;

use common::{test_config, Network};
use raft::{ConfChange, ConfChangeType, Entry, Error, Message, MessageType, NodeId, StateRole};

fn three() -> Network {
    let mut net = Network::new(&[1, 2, 3], &[], test_config);
    net.verbose = false;
    net
}

fn elect(net: &mut Network, id: u64) {
    net.raw(id).campaign().expect("campaign");
    net.stabilize();
    assert_eq!(net.leader(), Some(id));
}

fn role(net: &Network, id: u64) -> StateRole {
    net.raw_ref(id).soft_state().role
}

fn term(net: &Network, id: u64) -> u64 {
    net.raw_ref(id).hard_state().term
}

fn msg(t: MessageType, from: u64, to: u64, term: u64) -> Message {
    Message {
        msg_type: t,
        from: NodeId(from),
        to: NodeId(to),
        term,
        ..Default::default()
    }
}

fn entry(index: u64, term: u64, data: &str) -> Entry {
    Entry {
        index,
        term,
        data: data.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// Raft §5.1: a server that sees a higher term updates its term and reverts to follower.
#[test]
fn s5_1_higher_term_turns_leader_into_follower() {
    let mut net = three();
    elect(&mut net, 1);
    let t = term(&net, 1);
    net.raw(1)
        .step(msg(MessageType::Append, 2, 1, t + 5))
        .unwrap();
    assert_eq!(role(&net, 1), StateRole::Follower);
    assert_eq!(term(&net, 1), t + 5);
}

/// Raft §5.1: a request with a stale term is rejected (the reply carries the newer term).
#[test]
fn s5_1_stale_term_requests_are_rejected() {
    let mut net = three();
    elect(&mut net, 1);
    let t = term(&net, 2);
    let mut m = msg(MessageType::Append, 3, 2, t - 1);
    m.index = 2;
    m.log_term = 2;
    m.entries = vec![entry(3, t - 1, "stale")];
    net.raw(2).step(m).unwrap();
    net.process(2);
    assert_eq!(
        net.raw_ref(2).raft_log().last_index(),
        2,
        "stale append ignored"
    );
    let reply = net
        .queue
        .iter()
        .find(|m| m.to == NodeId(3))
        .expect("reply to stale leader");
    assert_eq!(
        (reply.msg_type, reply.term),
        (MessageType::AppendResponse, t)
    );
}

/// Raft §5.2: a follower that hears nothing for an election timeout becomes a candidate,
/// increments its term and votes for itself.
#[test]
fn s5_2_follower_times_out_and_campaigns() {
    let mut net = three();
    let t = term(&net, 1);
    for _ in 0..20 {
        net.raw(1).tick();
    }
    assert_eq!(role(&net, 1), StateRole::Candidate);
    assert_eq!(term(&net, 1), t + 1);
    assert_eq!(net.raw_ref(1).hard_state().vote, Some(NodeId(1)));
}

/// Raft §5.2: election timeouts are randomized in [election_ticks, 2 * election_ticks)
/// and differ between nodes, so split votes are rare.
#[test]
fn s5_2_election_timeouts_are_randomized() {
    let mut first_campaign = Vec::new();
    for id in 1..=5 {
        let mut net = Network::new(&[1, 2, 3, 4, 5], &[], test_config);
        let mut ticks = 0;
        while role(&net, id) == StateRole::Follower {
            net.raw(id).tick();
            ticks += 1;
        }
        assert!(
            (10..20).contains(&ticks),
            "timeout {ticks} outside [10, 20)"
        );
        first_campaign.push(ticks);
    }
    first_campaign.dedup();
    assert!(first_campaign.len() > 1, "all nodes drew the same timeout");
}

/// Raft §5.2: a candidate that receives votes from a majority becomes leader.
#[test]
fn s5_2_candidate_with_majority_becomes_leader() {
    let mut net = three();
    net.isolate(3);
    elect(&mut net, 1);
    assert_eq!(role(&net, 2), StateRole::Follower);
}

/// Raft §5.2: each server votes for at most one candidate in a term.
#[test]
fn s5_2_at_most_one_vote_per_term() {
    let mut net = three();
    let t = term(&net, 3) + 1;
    let mut req = msg(MessageType::RequestVote, 1, 3, t);
    req.index = 1;
    req.log_term = 1;
    net.raw(3).step(req.clone()).unwrap();
    req.from = NodeId(2);
    net.raw(3).step(req).unwrap();
    net.process(3);
    let votes: Vec<(NodeId, bool)> = net.queue.iter().map(|m| (m.to, m.reject)).collect();
    assert_eq!(votes, vec![(NodeId(1), false), (NodeId(2), true)]);
}

/// Raft §5.2: a candidate that hears from a leader of its term returns to follower.
#[test]
fn s5_2_candidate_yields_to_leader_of_same_term() {
    let mut net = three();
    net.raw(1).campaign().unwrap();
    let t = term(&net, 1);
    let mut m = msg(MessageType::Append, 2, 1, t);
    m.index = 1;
    m.log_term = 1;
    net.raw(1).step(m).unwrap();
    assert_eq!(role(&net, 1), StateRole::Follower);
    assert_eq!(net.raw_ref(1).soft_state().leader, Some(NodeId(2)));
}

/// Raft §5.3: the leader appends a command, replicates it, and once it is on a majority
/// it is committed and applied everywhere; logs end up identical.
#[test]
fn s5_3_leader_replicates_and_commits() {
    let mut net = three();
    elect(&mut net, 1);
    let p = net.raw(1).propose(b"x".to_vec()).unwrap();
    net.stabilize();
    for id in 1..=3 {
        assert_eq!(net.raw_ref(id).raft_log().committed(), *p.indexes.end());
        assert_eq!(net.nodes[&id].applied, vec!["x".to_string()]);
    }
}

/// Raft §5.3: a follower refuses an append whose previous entry does not match, and
/// hints where its log diverges.
#[test]
fn s5_3_append_consistency_check() {
    let mut net = three();
    let mut m = msg(MessageType::Append, 1, 2, 5);
    m.index = 7;
    m.log_term = 4;
    m.entries = vec![entry(8, 5, "x")];
    net.raw(2).step(m).unwrap();
    net.process(2);
    let r = net.queue.pop_back().expect("response");
    assert!(r.reject);
    assert_eq!((r.index, r.reject_hint), (7, 1));
}

/// Raft §5.3: conflicting uncommitted entries on a follower are overwritten by the
/// leader's.
#[test]
fn s5_3_conflicting_entries_are_replaced() {
    let mut net = three();
    let mut m = msg(MessageType::Append, 1, 2, 2);
    m.index = 1;
    m.log_term = 1;
    m.entries = vec![entry(2, 2, "old-a"), entry(3, 2, "old-b")];
    net.raw(2).step(m).unwrap();
    net.process(2);
    let mut m = msg(MessageType::Append, 3, 2, 3);
    m.index = 1;
    m.log_term = 1;
    m.entries = vec![entry(2, 3, "new")];
    net.raw(2).step(m).unwrap();
    net.process(2);
    let log = net.raw_ref(2).raft_log();
    assert_eq!(log.last_index(), 2);
    assert_eq!(log.term(2), Ok(3));
}

/// Raft §5.3 (log matching): after a leader change with divergent logs, all logs agree.
#[test]
fn s5_3_log_matching_after_leader_change() {
    let mut net = three();
    elect(&mut net, 1);
    net.isolate(1);
    net.raw(1).propose(b"lost".to_vec()).unwrap();
    net.stabilize();
    net.cut.clear();
    net.crash(1);
    net.tick_all(30);
    net.restart(1);
    net.tick_all(5);
    let l = net.leader().expect("leader");
    net.raw(l).propose(b"kept".to_vec()).unwrap();
    net.stabilize();
    let logs: Vec<String> = (1..=3)
        .map(|id| net.log_of(id).split_once(' ').unwrap().1.to_string())
        .collect();
    assert_eq!(logs[0], logs[1]);
    assert_eq!(logs[1], logs[2]);
    assert!(!logs[0].contains("lost"));
}

/// Raft §5.4.1: a voter denies its vote to a candidate whose log is less up-to-date.
#[test]
fn s5_4_1_vote_denied_to_less_up_to_date_log() {
    let mut net = three();
    elect(&mut net, 1);
    net.raw(1).propose(b"x".to_vec()).unwrap();
    net.stabilize();
    let t = term(&net, 2) + 1;
    for (index, log_term, granted) in [(2, 2, false), (3, 1, false), (3, 2, true), (1, 9, true)] {
        let mut n = three();
        for id in 1..=3 {
            let ents: Vec<Entry> = (2..=3).map(|i| entry(i, 2, "")).collect();
            let node = n.nodes.get_mut(&id).unwrap();
            node.raw.as_mut().unwrap().store_mut().append(&ents);
        }
        n.crash(2);
        n.restart(2);
        let mut req = msg(MessageType::RequestVote, 3, 2, t);
        req.index = index;
        req.log_term = log_term;
        n.raw(2).step(req).unwrap();
        n.process(2);
        let r = n.queue.pop_back().expect("vote response");
        assert_eq!(!r.reject, granted, "candidate last {index}/{log_term}");
    }
}

/// Raft §5.4.2: a leader does not commit an entry from an earlier term by counting
/// replicas; it commits once an entry of its own term is on a majority.
#[test]
fn s5_4_2_old_term_entries_commit_only_through_current_term() {
    let mut net = three();
    for id in [1, 2] {
        net.crash(id);
        let node = net.nodes.get_mut(&id).unwrap();
        let store = node.crashed_store.as_mut().unwrap();
        store.append(&[entry(2, 2, "old")]);
        let mut hs = store.hard_state();
        hs.term = 2;
        store.set_hard_state(hs);
        net.restart(id);
    }
    net.raw(1).campaign().unwrap();
    net.process(1);
    while net.deliver_one() {}
    net.process_all();
    while net.deliver_one() {}
    net.process(1);
    net.queue.clear();
    let t = term(&net, 1);
    let mut ack = msg(MessageType::AppendResponse, 2, 1, t);
    ack.index = 2;
    net.raw(1).step(ack.clone()).unwrap();
    assert_eq!(
        net.raw_ref(1).raft_log().committed(),
        1,
        "old-term entry not committed by count"
    );
    ack.index = 3;
    net.raw(1).step(ack).unwrap();
    assert_eq!(net.raw_ref(1).raft_log().committed(), 3);
}

/// Raft §5.4.3 / §5.5: a crashed follower is retried and catches up after restarting.
#[test]
fn s5_5_crashed_follower_catches_up() {
    let mut net = three();
    elect(&mut net, 1);
    net.crash(3);
    net.raw(1).propose(b"a".to_vec()).unwrap();
    net.stabilize();
    net.restart(3);
    net.tick_all(3);
    assert_eq!(net.nodes[&3].applied, vec!["a".to_string()]);
}

/// Raft §6: in a joint configuration, commitment needs a majority of both the old and
/// the new configuration.
#[test]
fn s6_joint_consensus_needs_both_majorities() {
    let mut net = three();
    elect(&mut net, 1);
    net.add_empty_node(4, test_config(4));
    net.add_empty_node(5, test_config(5));
    let cc = ConfChange {
        changes: vec![
            raft::ConfChangeSingle {
                change_type: ConfChangeType::AddNode,
                node_id: NodeId(4),
            },
            raft::ConfChangeSingle {
                change_type: ConfChangeType::AddNode,
                node_id: NodeId(5),
            },
            raft::ConfChangeSingle {
                change_type: ConfChangeType::RemoveNode,
                node_id: NodeId(2),
            },
            raft::ConfChangeSingle {
                change_type: ConfChangeType::RemoveNode,
                node_id: NodeId(3),
            },
        ],
        context: vec![],
    };
    net.raw(1).propose_conf_change(&cc).unwrap();
    // Only the new members answer: {1, 4, 5} is a majority of C_new but not of C_old.
    net.cut.insert((1, 2));
    net.cut.insert((1, 3));
    net.stabilize();
    let committed = net.raw_ref(1).raft_log().committed();
    assert_eq!(
        committed, 2,
        "the change must not commit without a C_old majority"
    );
    net.cut.clear();
    net.tick_all(3);
    let st = net.raw_ref(1).status();
    assert_eq!(st.conf_state.voters, vec![NodeId(1), NodeId(4), NodeId(5)]);
    assert!(
        st.conf_state.voters_outgoing.is_empty(),
        "left the joint configuration"
    );
}

/// Raft §6: only one configuration change may be pending at a time.
#[test]
fn s6_one_pending_change_at_a_time() {
    let mut net = three();
    elect(&mut net, 1);
    let cc = ConfChange::single(ConfChangeType::AddLearner, NodeId(4));
    net.raw(1).propose_conf_change(&cc).unwrap();
    let again = ConfChange::single(ConfChangeType::AddLearner, NodeId(5));
    assert_eq!(
        net.raw(1).propose_conf_change(&again),
        Err(Error::ConfChangePending)
    );
}

/// Raft §6: servers ignore vote requests within the minimum election timeout of hearing
/// from a leader, so removed servers cannot disrupt the cluster.
#[test]
fn s6_removed_server_cannot_disrupt() {
    let mut net = three();
    elect(&mut net, 1);
    let t = term(&net, 2);
    let mut req = msg(MessageType::RequestVote, 9, 2, t + 10);
    req.index = 100;
    req.log_term = 100;
    net.raw(2).step(req).unwrap();
    assert_eq!(term(&net, 2), t, "term unchanged");
    assert_eq!(net.raw_ref(2).soft_state().leader, Some(NodeId(1)));
}

/// Raft §6: a leader that is not part of the new configuration steps down once the
/// new configuration is committed, and the rest elect a leader.
#[test]
fn s6_leader_removed_from_configuration_steps_down() {
    let mut net = three();
    elect(&mut net, 1);
    let cc = ConfChange::single(ConfChangeType::RemoveNode, NodeId(1));
    net.raw(1).propose_conf_change(&cc).unwrap();
    net.stabilize();
    assert_eq!(role(&net, 1), StateRole::Follower);
    net.tick_all(30);
    let l = net.leader().expect("new leader");
    assert_ne!(l, 1);
    net.raw(l).propose(b"after".to_vec()).unwrap();
    net.stabilize();
    assert_eq!(
        net.nodes[&2].applied.last().map(String::as_str),
        Some("after")
    );
}

/// Raft §7: a follower behind the leader's compacted log receives a snapshot.
#[test]
fn s7_lagging_follower_receives_snapshot() {
    let mut net = three();
    elect(&mut net, 1);
    net.isolate(3);
    net.raw(1)
        .propose_batch(vec![b"a".to_vec(), b"b".to_vec()])
        .unwrap();
    net.stabilize();
    net.compact(1);
    net.cut.clear();
    net.tick_all(3);
    let n3 = &net.nodes[&3];
    assert_eq!(n3.applied, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(net.raw_ref(3).raft_log().first_index(), 5);
}

/// Raft §7: if the follower already has the snapshot's last entry, it keeps the
/// entries that follow instead of discarding its log.
#[test]
fn s7_snapshot_covered_by_log_keeps_following_entries() {
    let mut net = three();
    elect(&mut net, 1);
    net.raw(1)
        .propose_batch(vec![b"a".to_vec(), b"b".to_vec()])
        .unwrap();
    net.stabilize();
    let t = term(&net, 2);
    let mut m = msg(MessageType::Snapshot, 1, 2, t);
    let mut snap = net.raw_ref(1).store().clone();
    let snap = snap
        .create_snapshot(3, net.nodes[&1].conf_state.clone(), vec![])
        .unwrap();
    m.snapshot = Some(snap);
    let last = net.raw_ref(2).raft_log().last_index();
    net.raw(2).step(m).unwrap();
    net.process(2);
    assert_eq!(net.raw_ref(2).raft_log().last_index(), last);
    assert_eq!(
        net.raw_ref(2).raft_log().first_index(),
        2,
        "log not replaced"
    );
}
