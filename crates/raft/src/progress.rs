//! [`Progress`]: the leader's view of one follower's log (Raft §5.3 nextIndex/matchIndex).

use crate::inflights::Inflights;

/// How the leader replicates to a follower.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProgressState {
    /// One append at a time until the match point is found.
    #[default]
    Probe,
    /// Pipelined appends within the inflight window.
    Replicate,
    /// A snapshot is being sent; appends pause until it is reported.
    Snapshot,
}

/// Replication state of one peer, kept by the leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Highest index known replicated (and durable) on the peer.
    /// Invariant: `matched < next_idx`.
    pub matched: u64,
    /// Next index to send.
    pub next_idx: u64,
    /// Flow-control state.
    pub state: ProgressState,
    /// Index of the snapshot in flight (state `Snapshot`), else 0.
    pub pending_snapshot: u64,
    /// Whether the peer was heard from during the current election period (CheckQuorum).
    pub recent_active: bool,
    /// In `Probe`: an append was sent and we wait for its answer.
    pub probe_sent: bool,
    /// In `Replicate`: the window of unacknowledged appends.
    pub inflights: Inflights,
    /// Whether the peer is a learner.
    pub is_learner: bool,
    /// Latest leader tick round the peer acknowledged with a heartbeat response (lease).
    pub heartbeat_ack_tick: u64,
}

impl Progress {
    /// A progress that will probe from `next_idx`.
    pub fn new(next_idx: u64, max_inflight_msgs: usize) -> Self {
        Self {
            matched: 0,
            next_idx,
            state: ProgressState::Probe,
            pending_snapshot: 0,
            recent_active: false,
            probe_sent: false,
            inflights: Inflights::new(max_inflight_msgs),
            is_learner: false,
            heartbeat_ack_tick: 0,
        }
    }

    fn reset_state(&mut self, state: ProgressState) {
        self.probe_sent = false;
        self.pending_snapshot = 0;
        self.state = state;
        self.inflights.reset();
    }

    /// Back to probing from just after the match point (or the snapshot).
    pub fn become_probe(&mut self) {
        if self.state == ProgressState::Snapshot {
            let pending = self.pending_snapshot;
            self.reset_state(ProgressState::Probe);
            self.next_idx = (self.matched + 1).max(pending + 1);
        } else {
            self.reset_state(ProgressState::Probe);
            self.next_idx = self.matched + 1;
        }
    }

    /// Start pipelining.
    pub fn become_replicate(&mut self) {
        self.reset_state(ProgressState::Replicate);
        self.next_idx = self.matched + 1;
    }

    /// Wait for the snapshot at `snapshot_index`.
    pub fn become_snapshot(&mut self, snapshot_index: u64) {
        self.reset_state(ProgressState::Snapshot);
        self.pending_snapshot = snapshot_index;
    }

    /// Raises `matched` on a successful append response; returns whether it changed.
    pub fn maybe_update(&mut self, n: u64) -> bool {
        let updated = n > self.matched;
        if updated {
            self.matched = n;
            self.probe_sent = false;
        }
        self.next_idx = self.next_idx.max(n + 1);
        updated
    }

    /// Handles a rejection of the append after `rejected`; `match_hint` is the
    /// follower's (or our computed) guess of the last matching index. Returns whether
    /// `next_idx` moved (a stale rejection changes nothing).
    pub fn maybe_decr_to(&mut self, rejected: u64, match_hint: u64) -> bool {
        if self.state == ProgressState::Replicate {
            if rejected <= self.matched {
                return false;
            }
            self.next_idx = self.matched + 1;
            return true;
        }
        if self.next_idx == 0 || self.next_idx - 1 != rejected {
            return false;
        }
        self.next_idx = rejected.min(match_hint + 1).max(self.matched + 1);
        self.probe_sent = false;
        true
    }

    /// Records that an append carrying `entries` entries ending at `last_index` was sent.
    pub fn sent_entries(&mut self, entries: usize, last_index: u64) {
        match self.state {
            ProgressState::Replicate if entries > 0 => {
                self.next_idx = last_index + 1;
                self.inflights.add(last_index);
            }
            ProgressState::Probe => self.probe_sent = true,
            _ => {}
        }
    }

    /// Whether appends to this peer must wait.
    pub fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflights.full(),
            ProgressState::Snapshot => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_backtracks_with_hint_but_not_below_match() {
        let mut p = Progress::new(10, 4);
        p.matched = 3;
        assert!(p.maybe_decr_to(9, 5));
        assert_eq!(p.next_idx, 6);
        assert!(!p.maybe_decr_to(9, 5), "stale rejection is ignored");
        assert!(p.maybe_decr_to(5, 0));
        assert_eq!(p.next_idx, 4);
    }

    #[test]
    fn replicate_pauses_when_window_full() {
        let mut p = Progress::new(1, 1);
        p.become_replicate();
        p.sent_entries(2, 2);
        assert!(p.is_paused());
        assert!(p.maybe_update(2));
        p.inflights.free_le(2);
        assert!(!p.is_paused());
    }
}
