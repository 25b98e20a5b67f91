//! [`Raft`]: the protocol state machine of one node — roles, terms, elections and the
//! dispatch of inbound messages. Replication, reads, membership and quiescence live in
//! the `raft/` submodules as further `impl` blocks of the same type.

mod membership;
mod quiesce;
mod reads;
pub(crate) mod replication;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::log::RaftLog;
use crate::message::{
    EntryKind, HardState, Message, MessageType, NodeId, ReadState, SoftState, StateRole,
};
use crate::prng::Prng;
use crate::progress::Progress;
use crate::quorum::VoteResult;
use crate::read_only::ReadOnly;
use crate::storage::Storage;
use crate::tracker::ProgressTracker;

/// Context marking a vote request caused by a leader transfer: voters grant it even
/// while they still hear from the old leader (thesis §3.10).
pub(crate) const CAMPAIGN_TRANSFER: &[u8] = b"CampaignTransfer";

/// Why a node campaigns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CampaignKind {
    /// A pre-vote round first (thesis §9.6).
    PreElection,
    /// A real election (Raft §5.2).
    Election,
    /// A real election on the leader's TimeoutNow (thesis §3.10).
    Transfer,
}

/// The Raft state machine of one node. Driven through [`crate::RawNode`].
#[derive(Debug)]
pub struct Raft<S: Storage> {
    /// This node.
    pub(crate) id: NodeId,
    /// Current term. Invariant: never decreases.
    pub(crate) term: u64,
    /// Vote cast in `term`.
    pub(crate) vote: Option<NodeId>,
    /// The log.
    pub(crate) raft_log: RaftLog<S>,
    /// Current role.
    pub(crate) role: StateRole,
    /// Known leader of `term`.
    pub(crate) leader_id: Option<NodeId>,
    /// Configuration, progresses and votes.
    pub(crate) tracker: ProgressTracker,
    /// Outbound messages not yet handed out in a `Ready`.
    pub(crate) msgs: Vec<Message>,
    /// Confirmed reads not yet handed out.
    pub(crate) read_states: Vec<ReadState>,
    /// Read-index requests waiting for a heartbeat quorum (leader).
    pub(crate) read_only: ReadOnly,
    /// Read requests waiting for the leader's first commit in its term.
    /// Invariant: `pending_reads.len() + read_only.len() <= max_pending_reads`.
    pub(crate) pending_reads: Vec<(NodeId, Vec<u8>)>,
    /// Ticks since the last election reset (or, for a leader, the last quorum check).
    pub(crate) election_elapsed_ticks: u64,
    /// Leader: ticks since the last heartbeat.
    pub(crate) heartbeat_elapsed_ticks: u64,
    /// Election timeout in force, in `[election_ticks, 2 * election_ticks)`.
    pub(crate) randomized_election_ticks: u64,
    /// Ticks since the node started; heartbeat rounds are stamped with it. Starts at 1.
    pub(crate) tick_count: u64,
    /// Leader transfer target.
    pub(crate) lead_transferee: Option<NodeId>,
    /// Leader: a TimeoutNow was sent this term, so the lease is no longer safe.
    pub(crate) lease_disabled: bool,
    /// Index of the latest configuration change the leader appended.
    pub(crate) pending_conf_index: u64,
    /// Leader: bytes of entries appended but not committed.
    /// Invariant: `uncommitted_bytes <= max_uncommitted_bytes` after the first proposal.
    pub(crate) uncommitted_bytes: u64,
    /// Leader: entries were appended; broadcast them at the next `Ready`.
    pub(crate) bcast_pending: bool,
    /// Ticks without activity (for quiescence).
    pub(crate) idle_ticks: u64,
    /// Whether the group is quiesced here: no heartbeats, no election timer.
    pub(crate) quiesced: bool,
    /// Election jitter.
    pub(crate) prng: Prng,
    /// Parameters and limits.
    pub(crate) cfg: Config,
}

/// The election-jitter generator of a node: `Config::seed` mixed with the node id.
///
/// The id goes through the generator rather than being multiplied by its increment:
/// streams whose seeds differ by a multiple of the increment are shifted copies of each
/// other, which gave two voters identical election timeouts forever and split every
/// vote (found by the simulation, seed 16512).
pub(crate) fn election_prng(cfg: &Config) -> Prng {
    Prng::new(cfg.seed ^ Prng::new(cfg.id.0).next_u64())
}

impl<S: Storage> Raft<S> {
    /// Opens a node over `store` (Raft §5.1: term and vote come from durable state).
    pub fn new(cfg: &Config, store: S) -> Result<Self> {
        cfg.validate()?;
        let rs = store.initial_state()?;
        let hs = rs.hard_state;
        let raft_log = RaftLog::new(store, cfg.applied, hs.commit)?;
        if hs.commit > raft_log.last_index() {
            return Err(Error::Storage(format!(
                "commit {} beyond last index {}",
                hs.commit,
                raft_log.last_index()
            )));
        }
        let next = raft_log.last_index() + 1;
        let tracker = ProgressTracker::from_conf_state(&rs.conf_state, next, cfg.max_inflight_msgs);
        let prng = election_prng(cfg);
        let mut r = Self {
            id: cfg.id,
            term: hs.term,
            vote: hs.vote,
            raft_log,
            role: StateRole::Follower,
            leader_id: None,
            tracker,
            msgs: Vec::new(),
            read_states: Vec::new(),
            read_only: ReadOnly::default(),
            pending_reads: Vec::new(),
            election_elapsed_ticks: 0,
            heartbeat_elapsed_ticks: 0,
            randomized_election_ticks: cfg.election_ticks,
            tick_count: 1,
            lead_transferee: None,
            lease_disabled: false,
            pending_conf_index: 0,
            uncommitted_bytes: 0,
            bcast_pending: false,
            idle_ticks: 0,
            quiesced: false,
            prng,
            cfg: cfg.clone(),
        };
        r.become_follower(hs.term, None);
        Ok(r)
    }

    /// Durable state to persist.
    pub fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.raft_log.committed,
        }
    }

    /// Volatile role and leader.
    pub fn soft_state(&self) -> SoftState {
        SoftState {
            leader: self.leader_id,
            role: self.role,
        }
    }

    /// Whether this node may campaign: it is a voter of the current configuration.
    pub fn promotable(&self) -> bool {
        self.tracker.is_voter(self.id) && self.tracker.progress.contains_key(&self.id)
    }

    /// Queues a message; sets `from` and (except pre-votes, whose term is chosen by the
    /// caller) the current term.
    pub(crate) fn send(&mut self, mut m: Message) {
        m.from = self.id;
        if !matches!(
            m.msg_type,
            MessageType::RequestPreVote | MessageType::RequestPreVoteResponse
        ) {
            m.term = self.term;
        }
        self.msgs.push(m);
    }

    /// A message of `msg_type` to `to` with the current term.
    pub(crate) fn new_message(&self, to: NodeId, msg_type: MessageType) -> Message {
        Message {
            msg_type,
            to,
            from: self.id,
            term: self.term,
            ..Default::default()
        }
    }

    /// Advances time by one tick. Returns false if the group is quiesced here and the
    /// tick did nothing.
    pub fn tick(&mut self) -> bool {
        self.tick_count += 1;
        if self.quiesced {
            return false;
        }
        if self.role == StateRole::Leader {
            self.tick_heartbeat();
        } else {
            self.tick_election();
        }
        true
    }

    fn tick_election(&mut self) {
        self.election_elapsed_ticks += 1;
        if self.promotable() && self.election_elapsed_ticks >= self.randomized_election_ticks {
            self.election_elapsed_ticks = 0;
            let kind = if self.cfg.pre_vote {
                CampaignKind::PreElection
            } else {
                CampaignKind::Election
            };
            // An ordinary refusal (unapplied conf change) just waits for the next timeout.
            let _ = self.hup(kind);
        }
    }

    /// Leader tick: CheckQuorum every election timeout (thesis §6.2), heartbeats every
    /// `heartbeat_ticks` (Raft §5.2), transfer deadline, quiescence.
    fn tick_heartbeat(&mut self) {
        self.heartbeat_elapsed_ticks += 1;
        self.election_elapsed_ticks += 1;
        self.idle_ticks += 1;
        if self.election_elapsed_ticks >= self.cfg.election_ticks {
            self.election_elapsed_ticks = 0;
            if self.cfg.check_quorum {
                if !self.tracker.quorum_active(self.id) {
                    self.become_follower(self.term, None);
                    return;
                }
                let id = self.id;
                for (pid, pr) in self.tracker.progress.iter_mut() {
                    pr.recent_active = *pid == id;
                }
            }
            self.abort_leader_transfer();
        }
        if self.heartbeat_elapsed_ticks >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed_ticks = 0;
            self.bcast_heartbeat();
        }
        let _quiesced = self.maybe_quiesce();
    }

    /// Starts an election of `kind` unless this node is the leader or may not campaign.
    pub(crate) fn hup(&mut self, kind: CampaignKind) -> Result<()> {
        if self.role == StateRole::Leader {
            return Ok(());
        }
        if !self.promotable() {
            return Err(Error::CannotCampaign("not a voter"));
        }
        if self.has_unapplied_conf_change() {
            return Err(Error::CannotCampaign("unapplied configuration change"));
        }
        self.campaign(kind);
        Ok(())
    }

    fn has_unapplied_conf_change(&self) -> bool {
        let log = &self.raft_log;
        if log.committed <= log.applied {
            return false;
        }
        match log.slice(log.applied + 1, log.committed + 1, u64::MAX) {
            Ok(ents) => ents.iter().any(|e| e.kind == EntryKind::ConfChange),
            Err(_) => true,
        }
    }

    /// Raft §5.2: vote for ourselves and ask every other voter.
    fn campaign(&mut self, kind: CampaignKind) {
        let (vote_type, term) = if kind == CampaignKind::PreElection {
            self.become_pre_candidate();
            (MessageType::RequestPreVote, self.term + 1)
        } else {
            self.become_candidate();
            (MessageType::RequestVote, self.term)
        };
        self.tracker.record_vote(self.id, true);
        if self.tracker.tally_votes() == VoteResult::Won {
            if kind == CampaignKind::PreElection {
                self.campaign(CampaignKind::Election);
            } else {
                self.become_leader();
            }
            return;
        }
        let (index, log_term) = (self.raft_log.last_index(), self.raft_log.last_term());
        let context = if kind == CampaignKind::Transfer {
            CAMPAIGN_TRANSFER.to_vec()
        } else {
            vec![]
        };
        for id in self.tracker.voters.ids() {
            if id == self.id {
                continue;
            }
            let m = Message {
                msg_type: vote_type,
                to: id,
                term,
                index,
                log_term,
                context: context.clone(),
                ..Default::default()
            };
            self.send(m);
        }
    }

    fn reset(&mut self, term: u64) {
        if self.term != term {
            self.term = term;
            self.vote = None;
        }
        self.leader_id = None;
        self.election_elapsed_ticks = 0;
        self.heartbeat_elapsed_ticks = 0;
        self.randomized_election_ticks =
            self.cfg.election_ticks + self.prng.below(self.cfg.election_ticks);
        self.lead_transferee = None;
        self.lease_disabled = false;
        self.tracker.reset_votes();
        let (next, persisted) = (
            self.raft_log.last_index() + 1,
            self.raft_log.persisted_last_index(),
        );
        let max = self.cfg.max_inflight_msgs;
        for (&id, pr) in self.tracker.progress.iter_mut() {
            let is_learner = pr.is_learner;
            *pr = Progress::new(next, max);
            pr.is_learner = is_learner;
            if id == self.id {
                pr.matched = persisted;
                pr.recent_active = true;
            }
        }
        self.pending_conf_index = 0;
        self.uncommitted_bytes = 0;
        self.read_only = ReadOnly::default();
        self.pending_reads.clear();
        self.bcast_pending = false;
        self.idle_ticks = 0;
        self.quiesced = false;
    }

    /// Role change: follower of `term`, following `leader` if known.
    pub(crate) fn become_follower(&mut self, term: u64, leader: Option<NodeId>) {
        self.reset(term);
        self.role = StateRole::Follower;
        self.leader_id = leader;
    }

    /// Role change: pre-candidate. Neither the term nor the vote changes (thesis §9.6).
    fn become_pre_candidate(&mut self) {
        assert_ne!(
            self.role,
            StateRole::Leader,
            "{}: leader cannot pre-campaign",
            self.id
        );
        self.role = StateRole::PreCandidate;
        self.tracker.reset_votes();
        self.leader_id = None;
    }

    /// Role change: candidate of the next term, voting for itself (Raft §5.2).
    fn become_candidate(&mut self) {
        assert_ne!(
            self.role,
            StateRole::Leader,
            "{}: leader cannot campaign",
            self.id
        );
        self.reset(self.term + 1);
        self.vote = Some(self.id);
        self.role = StateRole::Candidate;
    }

    /// Role change: leader. Appends an empty entry of the new term so that earlier
    /// entries can commit (Raft §5.4.2, §8).
    pub(crate) fn become_leader(&mut self) {
        assert_ne!(
            self.role,
            StateRole::Follower,
            "{}: follower cannot lead",
            self.id
        );
        self.reset(self.term);
        self.role = StateRole::Leader;
        self.leader_id = Some(self.id);
        if let Some(pr) = self.tracker.progress.get_mut(&self.id) {
            pr.become_replicate();
            pr.matched = self.raft_log.persisted_last_index();
        }
        self.pending_conf_index = self.raft_log.last_index();
        self.append_entries(vec![crate::message::Entry::default()]);
        self.bcast_pending = true;
    }

    /// Handles one inbound message (Raft §5.1: terms first, then by role).
    pub fn step(&mut self, m: Message) -> Result<()> {
        if self.quiesced && !matches!(m.msg_type, MessageType::HeartbeatResponse) {
            self.wake();
        }
        if !matches!(
            m.msg_type,
            MessageType::Heartbeat | MessageType::HeartbeatResponse | MessageType::Quiesce
        ) {
            self.idle_ticks = 0;
        }
        if m.term > self.term {
            if !self.step_higher_term(&m) {
                return Ok(());
            }
        } else if m.term < self.term {
            self.step_lower_term(&m);
            return Ok(());
        }
        match m.msg_type {
            MessageType::RequestVote | MessageType::RequestPreVote => {
                self.handle_vote_request(&m);
            }
            _ => match self.role {
                StateRole::Leader => self.step_leader(m),
                StateRole::Candidate | StateRole::PreCandidate => self.step_candidate(m),
                StateRole::Follower => self.step_follower(m),
            },
        }
        Ok(())
    }

    /// Raft §5.1: a higher term makes us a follower — except that votes are ignored while
    /// we still hear from a leader, and pre-votes change no term. Returns whether to go
    /// on handling the message.
    ///
    /// Raft §6: "if a server receives a RequestVote RPC within the minimum election
    /// timeout of hearing from a current leader, it does not update its term or grant its
    /// vote", so removed servers cannot disrupt the cluster. Applied whether or not
    /// CheckQuorum is on; leader transfers bypass it.
    fn step_higher_term(&mut self, m: &Message) -> bool {
        use MessageType as T;
        if matches!(m.msg_type, T::RequestVote | T::RequestPreVote) {
            let force = m.context == CAMPAIGN_TRANSFER;
            // With lease reads, a node that just started may have acknowledged a
            // leader's heartbeat before it crashed; it waits out one election timeout
            // before voting so that leader's lease stays safe (thesis §6.4.1).
            let booting = self.cfg.lease_read && self.tick_count <= self.cfg.election_ticks;
            let in_lease = (self.leader_id.is_some() || booting)
                && self.election_elapsed_ticks < self.cfg.election_ticks;
            if !force && in_lease {
                return false;
            }
        }
        match m.msg_type {
            T::RequestPreVote => {}
            T::RequestPreVoteResponse if !m.reject => {}
            T::Append | T::Heartbeat | T::Snapshot | T::Quiesce => {
                self.become_follower(m.term, Some(m.from));
            }
            _ => self.become_follower(m.term, None),
        }
        true
    }

    /// A message from an older term: tell a stale leader or pre-candidate about our term
    /// so it steps down (Raft §5.1), ignore the rest. This is unconditional: a member
    /// that cannot campaign (e.g. it has not yet applied the change that makes it a
    /// voter) would otherwise never let a stale leader learn its higher term.
    fn step_lower_term(&mut self, m: &Message) {
        use MessageType as T;
        if matches!(m.msg_type, T::Heartbeat | T::Append | T::Quiesce) {
            let r = self.new_message(m.from, T::AppendResponse);
            self.send(r);
        } else if m.msg_type == T::RequestPreVote {
            let mut r = self.new_message(m.from, T::RequestPreVoteResponse);
            r.reject = true;
            self.send(r);
        }
    }

    /// Raft §5.2 and §5.4.1: grant at most one vote per term, only to an up-to-date log.
    fn handle_vote_request(&mut self, m: &Message) {
        let pre = m.msg_type == MessageType::RequestPreVote;
        let resp_type = if pre {
            MessageType::RequestPreVoteResponse
        } else {
            MessageType::RequestVoteResponse
        };
        let can_vote = self.vote == Some(m.from)
            || (self.vote.is_none() && self.leader_id.is_none())
            || (pre && m.term > self.term);
        let mut r = self.new_message(m.from, resp_type);
        if can_vote && self.raft_log.is_up_to_date(m.index, m.log_term) {
            r.term = m.term;
            if !pre {
                self.election_elapsed_ticks = 0;
                self.vote = Some(m.from);
            }
        } else {
            r.reject = true;
        }
        self.send(r);
    }

    fn step_follower(&mut self, m: Message) {
        use MessageType as T;
        match m.msg_type {
            T::Append | T::Heartbeat | T::Snapshot | T::Quiesce => {
                self.election_elapsed_ticks = 0;
                self.leader_id = Some(m.from);
                match m.msg_type {
                    T::Append => self.handle_append(m),
                    T::Heartbeat => self.handle_heartbeat(&m),
                    T::Snapshot => self.handle_snapshot(m),
                    _ => self.handle_quiesce(&m),
                }
            }
            T::TimeoutNow => self.handle_timeout_now(),
            T::ReadIndexResponse => {
                self.read_states.push(ReadState {
                    index: m.index,
                    request_ctx: m.context,
                });
            }
            _ => {}
        }
    }

    fn step_candidate(&mut self, m: Message) {
        use MessageType as T;
        match m.msg_type {
            T::Append | T::Heartbeat | T::Snapshot | T::Quiesce => {
                self.become_follower(m.term, Some(m.from));
                self.step_follower(m);
            }
            T::RequestVoteResponse | T::RequestPreVoteResponse => self.handle_vote_response(&m),
            _ => {}
        }
    }

    fn handle_vote_response(&mut self, m: &Message) {
        let expected = if self.role == StateRole::PreCandidate {
            MessageType::RequestPreVoteResponse
        } else {
            MessageType::RequestVoteResponse
        };
        if m.msg_type != expected {
            return;
        }
        self.tracker.record_vote(m.from, !m.reject);
        match self.tracker.tally_votes() {
            VoteResult::Won if self.role == StateRole::PreCandidate => {
                self.campaign(CampaignKind::Election);
            }
            VoteResult::Won => self.become_leader(),
            VoteResult::Lost => self.become_follower(self.term, None),
            VoteResult::Pending => {}
        }
    }

    fn step_leader(&mut self, m: Message) {
        use MessageType as T;
        if let Some(pr) = self.tracker.progress.get_mut(&m.from) {
            pr.recent_active = true;
        }
        match m.msg_type {
            T::AppendResponse => self.handle_append_response(&m),
            T::HeartbeatResponse => self.handle_heartbeat_response(&m),
            T::ReadIndex => self.handle_read_index_request(m.from, m.context),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::election_prng;
    use crate::{Config, NodeId};

    /// Regression (simulation seed 16512): two nodes with the same `Config::seed` must not
    /// draw the same election timeouts, not even shifted by a few draws.
    #[test]
    fn election_jitter_streams_of_different_nodes_are_not_shifted_copies() {
        for seed in [0u64, 7, 42, 16_512] {
            for (a, b) in [(1u64, 2u64), (2, 3), (3, 4), (1, 5)] {
                let draw = |id: u64| {
                    let mut c = Config::new(NodeId(id));
                    c.seed = seed;
                    let mut p = election_prng(&c);
                    (0..32).map(|_| p.below(10)).collect::<Vec<_>>()
                };
                let (x, y) = (draw(a), draw(b));
                for shift in 0..4 {
                    assert_ne!(
                        x[shift..shift + 24],
                        y[..24],
                        "seed {seed} ids {a},{b} shift {shift}"
                    );
                    assert_ne!(
                        y[shift..shift + 24],
                        x[..24],
                        "seed {seed} ids {a},{b} shift {shift}"
                    );
                }
            }
        }
    }
}
