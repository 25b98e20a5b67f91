//! Plain value types that cross the library boundary: node identities, log entries,
//! hard state, snapshots, configuration states and messages.
//!
//! These are ordinary Rust structs with public fields; the node crate converts them
//! to its wire format.

use std::fmt;

use crate::error::{Error, Result};

/// Identity of a Raft node inside one group. `NodeId(0)` is reserved for "none" and is
/// rejected by [`crate::Config::validate`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u64);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Fixed per-entry overhead counted in byte limits, on top of the payload.
pub const ENTRY_OVERHEAD_BYTES: u64 = 24;

/// What an entry carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EntryKind {
    /// An application command (or the leader's empty no-op).
    #[default]
    Normal,
    /// An encoded [`ConfChange`] (see [`ConfChange::encode`]).
    ConfChange,
}

/// One log entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// Term of the leader that created the entry.
    pub term: u64,
    /// Position in the log; the first entry has index 1.
    pub index: u64,
    /// Whether `data` is an application command or a configuration change.
    pub kind: EntryKind,
    /// Opaque payload.
    pub data: Vec<u8>,
}

impl Entry {
    /// Size counted against byte limits: payload plus [`ENTRY_OVERHEAD_BYTES`].
    pub fn size_bytes(&self) -> u64 {
        self.data.len() as u64 + ENTRY_OVERHEAD_BYTES
    }
}

/// State that must be durable before some messages may be sent (Raft §5.1, Figure 2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    /// Latest term this node has seen.
    pub term: u64,
    /// Candidate this node voted for in `term`, if any.
    pub vote: Option<NodeId>,
    /// Highest index known committed. Invariant: never decreases.
    pub commit: u64,
}

/// Role of a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StateRole {
    /// Follows a leader (or waits for one).
    #[default]
    Follower,
    /// Asks for pre-votes without raising its term (Raft thesis §9.6).
    PreCandidate,
    /// Asks for votes in a new term (Raft §5.2).
    Candidate,
    /// Leads its term.
    Leader,
}

/// Volatile state useful to the driver; need not be persisted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftState {
    /// The leader this node knows of.
    pub leader: Option<NodeId>,
    /// This node's role.
    pub role: StateRole,
}

/// Membership of a group. Voters in `voters` (and, while joint, `voters_outgoing`)
/// elect and commit; learners only receive the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfState {
    /// Voters of the incoming (or only) configuration, sorted.
    pub voters: Vec<NodeId>,
    /// Learners, sorted.
    pub learners: Vec<NodeId>,
    /// Voters of the outgoing configuration; non-empty only in a joint configuration.
    pub voters_outgoing: Vec<NodeId>,
    /// Nodes that become learners when the joint configuration is left.
    pub learners_next: Vec<NodeId>,
    /// Whether the leader leaves the joint configuration on its own.
    pub auto_leave: bool,
}

/// What a snapshot covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotMetadata {
    /// Last index included in the snapshot.
    pub index: u64,
    /// Term of the entry at `index`.
    pub term: u64,
    /// Configuration as of `index`.
    pub conf_state: ConfState,
}

/// A snapshot: metadata plus an opaque payload (the library never looks inside).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// What the snapshot covers.
    pub metadata: SnapshotMetadata,
    /// Opaque application state; the node may stream it in chunks.
    pub data: Vec<u8>,
}

/// Outcome of sending a snapshot, reported with [`crate::RawNode::report_snapshot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// The follower received the whole snapshot.
    Finish,
    /// Sending failed; the leader will retry.
    Failure,
}

/// A linearizable read point: once `applied >= index`, reads for `request_ctx` may be
/// served.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadState {
    /// Commit index at the time the read was confirmed.
    pub index: u64,
    /// The context passed to [`crate::RawNode::read_index`].
    pub request_ctx: Vec<u8>,
}

/// Kind of a [`Message`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MessageType {
    /// Leader → follower: entries after (`index`, `log_term`), and `commit` (Raft §5.3).
    #[default]
    Append,
    /// Follower → leader: `index` is the last matching index, or a rejection with hints.
    AppendResponse,
    /// Candidate → voter: vote for me in `term` (Raft §5.2).
    RequestVote,
    /// Voter → candidate: granted unless `reject`.
    RequestVoteResponse,
    /// Pre-candidate → voter: would you vote for me in `term` (thesis §9.6)?
    RequestPreVote,
    /// Answer to a pre-vote.
    RequestPreVoteResponse,
    /// Leader → follower: install `snapshot` (Raft §7).
    Snapshot,
    /// Leader → follower: keep-alive with `commit`; `index` is the leader's tick round,
    /// `context` a pending read-index context.
    Heartbeat,
    /// Follower → leader: echoes the heartbeat's `index` and `context`.
    HeartbeatResponse,
    /// Leader → transfer target: campaign now (thesis §3.10).
    TimeoutNow,
    /// Follower → leader: request a read index for `context`.
    ReadIndex,
    /// Leader → follower: the read index (`index`) for `context`.
    ReadIndexResponse,
    /// Leader → follower: nothing to do; stop the election timer until woken.
    Quiesce,
}

/// A message between nodes of one group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// The kind of message.
    pub msg_type: MessageType,
    /// Recipient.
    pub to: NodeId,
    /// Sender.
    pub from: NodeId,
    /// Sender's term (for pre-votes: the term the sender would campaign in).
    pub term: u64,
    /// Term of the entry at `index` (appends, votes) or the hint term (rejections).
    pub log_term: u64,
    /// Log index; meaning depends on `msg_type`.
    pub index: u64,
    /// Entries to append.
    pub entries: Vec<Entry>,
    /// Leader's commit index.
    pub commit: u64,
    /// Snapshot to install.
    pub snapshot: Option<Snapshot>,
    /// Whether a response rejects the request.
    pub reject: bool,
    /// For rejected appends: the index hint for fast backtracking.
    pub reject_hint: u64,
    /// Opaque context (read-index context, campaign-transfer marker).
    pub context: Vec<u8>,
}

/// Kind of a single membership change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfChangeType {
    /// Make the node a voter.
    AddNode,
    /// Make the node a learner (demotes a voter).
    AddLearner,
    /// Remove the node.
    RemoveNode,
}

/// One membership change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfChangeSingle {
    /// What to do.
    pub change_type: ConfChangeType,
    /// To whom.
    pub node_id: NodeId,
}

/// A membership change. Changes that alter the voter set go through joint consensus
/// (Raft §6) and leave it automatically; learner-only changes apply directly. An empty
/// `changes` list means "leave the joint configuration".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfChange {
    /// The changes, applied together.
    pub changes: Vec<ConfChangeSingle>,
    /// Opaque context for the application.
    pub context: Vec<u8>,
}

impl ConfChange {
    /// A change with one element.
    pub fn single(change_type: ConfChangeType, node_id: NodeId) -> Self {
        Self {
            changes: vec![ConfChangeSingle {
                change_type,
                node_id,
            }],
            context: Vec::new(),
        }
    }

    /// Encodes the change as entry data: `u32` count, then per change a type byte and a
    /// `u64` node id, then a `u32` context length and the context (all little endian).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.changes.len() * 9 + self.context.len());
        out.extend_from_slice(&(self.changes.len() as u32).to_le_bytes());
        for c in &self.changes {
            let t = match c.change_type {
                ConfChangeType::AddNode => 0u8,
                ConfChangeType::AddLearner => 1,
                ConfChangeType::RemoveNode => 2,
            };
            out.push(t);
            out.extend_from_slice(&c.node_id.0.to_le_bytes());
        }
        out.extend_from_slice(&(self.context.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.context);
        out
    }

    /// Decodes what [`ConfChange::encode`] produced.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader { bytes, pos: 0 };
        let n = r.u32()? as usize;
        let mut changes = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let change_type = match r.u8()? {
                0 => ConfChangeType::AddNode,
                1 => ConfChangeType::AddLearner,
                2 => ConfChangeType::RemoveNode,
                t => return Err(Error::Decode(format!("unknown conf change type {t}"))),
            };
            changes.push(ConfChangeSingle {
                change_type,
                node_id: NodeId(r.u64()?),
            });
        }
        let len = r.u32()? as usize;
        let context = r.take(len)?.to_vec();
        if r.pos != bytes.len() {
            return Err(Error::Decode("trailing bytes after conf change".into()));
        }
        Ok(Self { changes, context })
    }
}

/// Little-endian cursor used by [`ConfChange::decode`].
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or_else(|| Error::Decode("truncated conf change".into()))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_change_round_trips() {
        let cc = ConfChange {
            changes: vec![
                ConfChangeSingle {
                    change_type: ConfChangeType::AddNode,
                    node_id: NodeId(4),
                },
                ConfChangeSingle {
                    change_type: ConfChangeType::RemoveNode,
                    node_id: NodeId(1),
                },
            ],
            context: b"ctx".to_vec(),
        };
        assert_eq!(ConfChange::decode(&cc.encode()).unwrap(), cc);
        assert!(ConfChange::decode(&[1, 0, 0]).is_err());
    }
}
