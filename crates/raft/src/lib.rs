//! RedRaft's Raft: a pure, deterministic state machine for one consensus group.
//!
//! Raft here is a value, not a task. There is no async, no clock, no I/O and no global
//! randomness: time is [`RawNode::tick`], the network is a list of [`Message`]s, and
//! persistence is a to-do list in a [`Ready`]. Election jitter comes from a PRNG seeded
//! through [`Config::seed`]. The same inputs always give the same outputs.
//!
//! # Driver contract
//!
//! A driver owns a [`RawNode`] per group and loops:
//!
//! 1. **Input.** Call [`RawNode::tick`] at a fixed interval, [`RawNode::step`] for every
//!    message received from a peer, and the proposal/read/membership calls for clients.
//! 2. **Ready.** If [`RawNode::has_ready`], take [`RawNode::ready`]. Only one Ready may
//!    be outstanding: the next `ready()` must wait for step 7.
//! 3. **Send early.** [`Ready::messages`] may be sent at once, before or while
//!    persisting. They are the leader's appends, heartbeats, snapshots, TimeoutNow,
//!    read answers and quiesce notices (a leader may write its log in parallel with its
//!    followers, thesis §10.2.1; it counts itself towards commit only after step 7).
//!    If this Ready changes the term or vote, `messages` is empty; while a joint
//!    configuration is in effect, appends wait for the persist too (a crash before the
//!    persist could otherwise strand entries on an outgoing voter, see
//!    `tests/testdata/regression_joint_early_appends.txt`).
//! 4. **Persist.** Install [`Ready::snapshot`] if any, then append [`Ready::entries`]
//!    (truncating any conflicting suffix), then write [`Ready::hard_state`] if any — in
//!    this order, or atomically. If [`Ready::must_sync`], the writes must be durable
//!    (fsync) before step 5.
//! 5. **Send after persist.** Send [`Ready::persisted_messages`] only now: votes, vote
//!    requests, append and heartbeat responses promise durable state.
//! 6. **Apply.** Apply [`Ready::committed_entries`] in order, only after step 4. For an
//!    entry of kind [`EntryKind::ConfChange`], decode it with [`ConfChange::decode`],
//!    call [`RawNode::apply_conf_change`] and persist the returned [`ConfState`] with
//!    the applied index (it is what [`Storage::initial_state`] must return on restart,
//!    together with [`Config::applied`]). Serve [`Ready::read_states`] once the applied
//!    index reaches their `index`.
//! 7. **Advance.** Call [`RawNode::advance`]. It marks the entries and snapshot durable,
//!    the committed entries applied, and may make more work ready (go to step 2).
//!
//! Further rules:
//!
//! 8. **Snapshots.** The driver creates snapshots of its applied state and compacts its
//!    storage only up to the applied index. When a leader sends a
//!    [`MessageType::Snapshot`], the driver streams the opaque payload and reports the
//!    outcome with [`RawNode::report_snapshot`]; a failure to reach a peer is reported
//!    with [`RawNode::report_unreachable`].
//! 9. **Quiescence.** A leader whose group is idle for [`Config::quiesce_after_ticks`]
//!    sends [`MessageType::Quiesce`] and stops heartbeating; quiesced followers stop
//!    their election timers and [`RawNode::tick`] returns false. Any message or proposal
//!    wakes the group. A quiesced group relies on the driver to wake it: when the
//!    driver's failure detector sees a peer node go down (or a partition), it must call
//!    [`RawNode::wake`] on every group shared with that peer, so a follower of a dead
//!    leader restarts its election timer.
//! 10. **Restarts.** Open the node with the same storage and [`Config::applied`] set to
//!     the application's durable applied index. Unpersisted state is simply lost.
//! 11. **Errors.** Expected conditions are [`Error`] values (for instance
//!     [`Error::NotLeader`] for a proposal on a follower: the driver redirects;
//!     [`Error::TransferInProgress`] and [`Error::LeaderLeaving`] for a leader that is
//!     handing over). Proposals are never dropped silently once accepted: the returned
//!     [`Proposed`] names the term and indexes, and if a different entry is later
//!     applied at one of them, the proposal was lost to a leader change. Read requests
//!     may be lost the same way; the driver retries them on its own deadline. A broken
//!     invariant or a driver contract violation panics with context.
//!
//! # Elections
//!
//! A node that has heard from a leader within the last `election_ticks` ignores vote
//! requests (Raft §6), so a removed or partitioned node cannot depose a healthy
//! leader; leader transfers bypass this. [`Config::pre_vote`] avoids term inflation by
//! partitioned nodes, and [`Config::check_quorum`] makes a leader that lost its quorum
//! step down. Both are on by default.
//!
//! # Reads
//!
//! [`RawNode::read_index`] yields a [`ReadState`] once the leader has confirmed its
//! leadership with a heartbeat quorum (a follower forwards the request to the leader).
//! With [`Config::lease_read`] (which needs [`Config::check_quorum`]) the leader answers
//! at once while its lease holds; the lease is strictly shorter than the election
//! timeout and is off before the first commit of a term, during a transfer, and after
//! a quiet period (the lease is only renewed by heartbeat rounds). With lease reads on,
//! a node that just started ignores vote requests for its first `election_ticks` ticks,
//! since it may have acknowledged the leaseholder before a crash. Lease reads assume
//! the tick rates of different nodes do not drift apart by more than
//! `election_ticks - lease_ticks` ticks per lease.
//!
//! # Example
//!
//! `examples/three_nodes.rs` drives three nodes in memory.

mod confchange;
mod config;
mod error;
mod inflights;
mod log;
mod message;
mod prng;
mod progress;
mod quorum;
mod raft;
mod raw_node;
mod read_only;
mod status;
mod storage;
mod tracker;
mod unstable;

pub use config::Config;
pub use error::{Error, Result};
pub use inflights::Inflights;
pub use log::RaftLog;
pub use message::{
    ConfChange, ConfChangeSingle, ConfChangeType, ConfState, Entry, EntryKind, HardState, Message,
    MessageType, NodeId, ReadState, Snapshot, SnapshotMetadata, SnapshotStatus, SoftState,
    StateRole, ENTRY_OVERHEAD_BYTES,
};
pub use prng::Prng;
pub use progress::{Progress, ProgressState};
pub use quorum::{JointConfig, MajorityConfig, VoteResult};
pub use raft::replication::Proposed;
pub use raft::Raft;
pub use raw_node::{RawNode, Ready};
pub use read_only::{ReadIndexStatus, ReadOnly};
pub use status::{ProgressStatus, Status};
pub use storage::{MemStorage, RaftState, Storage};
pub use tracker::ProgressTracker;
pub use unstable::Unstable;
