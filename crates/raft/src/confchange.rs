//! Applying a [`ConfChange`] to a [`ProgressTracker`]: simple changes, entering and
//! leaving joint consensus (Raft §6).

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::message::{ConfChange, ConfChangeType, NodeId};
use crate::progress::Progress;
use crate::tracker::ProgressTracker;

/// How a change is applied, decided from the change and the current configuration (the
/// same on every node at the same log position, so deterministic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeMode {
    /// Learner-only change: applied at once.
    Simple,
    /// The voter set changes: enter the joint configuration (auto-leave).
    EnterJoint,
    /// Empty change: leave the joint configuration.
    LeaveJoint,
}

/// Applies `cc` to a copy of `tracker` and returns the new tracker. New progresses
/// start probing at `next_idx`.
pub fn apply(tracker: &ProgressTracker, cc: &ConfChange, next_idx: u64) -> Result<ProgressTracker> {
    let mut t = tracker.clone();
    match mode(tracker, cc)? {
        ChangeMode::LeaveJoint => leave_joint(&mut t),
        ChangeMode::Simple => apply_changes(&mut t, cc, next_idx, false),
        ChangeMode::EnterJoint => {
            t.voters.outgoing = t.voters.incoming.clone();
            t.auto_leave = true;
            apply_changes(&mut t, cc, next_idx, true);
        }
    }
    check_invariants(&t)?;
    Ok(t)
}

/// Decides how `cc` applies to `tracker`, or why it cannot.
pub fn mode(tracker: &ProgressTracker, cc: &ConfChange) -> Result<ChangeMode> {
    if cc.changes.is_empty() {
        if !tracker.is_joint() {
            return Err(Error::InvalidConfChange(
                "not in a joint configuration".into(),
            ));
        }
        return Ok(ChangeMode::LeaveJoint);
    }
    if tracker.is_joint() {
        return Err(Error::InvalidConfChange(
            "must leave the joint configuration first".into(),
        ));
    }
    if cc.changes.iter().any(|c| c.node_id == NodeId(0)) {
        return Err(Error::InvalidConfChange("node id 0 is reserved".into()));
    }
    let mut incoming = tracker.voters.incoming.voters.clone();
    for c in &cc.changes {
        match c.change_type {
            ConfChangeType::AddNode => incoming.insert(c.node_id),
            ConfChangeType::AddLearner | ConfChangeType::RemoveNode => incoming.remove(&c.node_id),
        };
    }
    if incoming.is_empty() {
        return Err(Error::InvalidConfChange("removing all voters".into()));
    }
    if incoming == tracker.voters.incoming.voters {
        Ok(ChangeMode::Simple)
    } else {
        Ok(ChangeMode::EnterJoint)
    }
}

fn apply_changes(t: &mut ProgressTracker, cc: &ConfChange, next_idx: u64, joint: bool) {
    for c in &cc.changes {
        let id = c.node_id;
        match c.change_type {
            ConfChangeType::AddNode => {
                ensure_progress(t, id, next_idx);
                t.voters.incoming.voters.insert(id);
                t.learners.remove(&id);
                t.learners_next.remove(&id);
                if let Some(pr) = t.progress.get_mut(&id) {
                    pr.is_learner = false;
                }
            }
            ConfChangeType::AddLearner => {
                ensure_progress(t, id, next_idx);
                t.voters.incoming.voters.remove(&id);
                if joint && t.voters.outgoing.voters.contains(&id) {
                    t.learners_next.insert(id);
                } else {
                    t.learners.insert(id);
                    if let Some(pr) = t.progress.get_mut(&id) {
                        pr.is_learner = true;
                    }
                }
            }
            ConfChangeType::RemoveNode => {
                t.voters.incoming.voters.remove(&id);
                t.learners.remove(&id);
                t.learners_next.remove(&id);
                if !t.voters.outgoing.voters.contains(&id) {
                    t.progress.remove(&id);
                }
            }
        }
    }
}

fn ensure_progress(t: &mut ProgressTracker, id: NodeId, next_idx: u64) {
    let max = t.max_inflight_msgs;
    t.progress.entry(id).or_insert_with(|| {
        let mut pr = Progress::new(next_idx, max);
        pr.recent_active = true;
        pr
    });
}

fn leave_joint(t: &mut ProgressTracker) {
    let next: BTreeSet<NodeId> = std::mem::take(&mut t.learners_next);
    for id in next {
        t.learners.insert(id);
        if let Some(pr) = t.progress.get_mut(&id) {
            pr.is_learner = true;
        }
    }
    let outgoing = std::mem::take(&mut t.voters.outgoing.voters);
    for id in outgoing {
        if !t.voters.incoming.voters.contains(&id) && !t.learners.contains(&id) {
            t.progress.remove(&id);
        }
    }
    t.auto_leave = false;
}

fn check_invariants(t: &ProgressTracker) -> Result<()> {
    for id in t
        .voters
        .ids()
        .iter()
        .chain(&t.learners)
        .chain(&t.learners_next)
    {
        if !t.progress.contains_key(id) {
            return Err(Error::InvalidConfChange(format!("no progress for {id}")));
        }
    }
    if t.learners.iter().any(|id| t.voters.contains(*id)) {
        return Err(Error::InvalidConfChange("a learner is also a voter".into()));
    }
    if t.learners_next
        .iter()
        .any(|id| !t.voters.outgoing.voters.contains(id))
    {
        return Err(Error::InvalidConfChange(
            "learners_next outside outgoing voters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ConfState;

    fn ids(v: &[u64]) -> Vec<NodeId> {
        v.iter().map(|&i| NodeId(i)).collect()
    }

    #[test]
    fn replace_a_voter_goes_through_joint_and_back() {
        let cs = ConfState {
            voters: ids(&[1, 2, 3]),
            ..Default::default()
        };
        let t = ProgressTracker::from_conf_state(&cs, 1, 4);
        let cc = ConfChange {
            changes: vec![
                crate::ConfChangeSingle {
                    change_type: ConfChangeType::AddNode,
                    node_id: NodeId(4),
                },
                crate::ConfChangeSingle {
                    change_type: ConfChangeType::AddLearner,
                    node_id: NodeId(3),
                },
            ],
            context: vec![],
        };
        let j = apply(&t, &cc, 1).unwrap();
        let cs = j.conf_state();
        assert_eq!(cs.voters, ids(&[1, 2, 4]));
        assert_eq!(cs.voters_outgoing, ids(&[1, 2, 3]));
        assert_eq!(cs.learners_next, ids(&[3]));
        let l = apply(&j, &ConfChange::default(), 1).unwrap();
        let cs = l.conf_state();
        assert_eq!(cs.voters, ids(&[1, 2, 4]));
        assert_eq!(cs.learners, ids(&[3]));
        assert!(cs.voters_outgoing.is_empty());
    }

    #[test]
    fn learner_only_change_is_simple_and_empty_voters_is_refused() {
        let cs = ConfState {
            voters: ids(&[1]),
            ..Default::default()
        };
        let t = ProgressTracker::from_conf_state(&cs, 1, 4);
        let add = ConfChange::single(ConfChangeType::AddLearner, NodeId(2));
        assert_eq!(mode(&t, &add).unwrap(), ChangeMode::Simple);
        let rm = ConfChange::single(ConfChangeType::RemoveNode, NodeId(1));
        assert!(mode(&t, &rm).is_err());
    }
}
