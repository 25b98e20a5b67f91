//! Conversions between the Raft library's plain types and their protobuf forms
//! (`redraft-proto`), used on the wire and for the values of the `raft` column family.
//!
//! The Raft crate has no protobuf (it is a pure state machine); this module is the one place
//! that maps between the two. Decoding is total where the wire allows: an unknown enum value
//! from a newer node is an error value, never a panic.

use prost::Message as _;
use raft::{
    ConfState, Entry, EntryKind, HardState, Message, MessageType, NodeId, Snapshot,
    SnapshotMetadata,
};
use redraft_proto as pb;

/// A protobuf value that does not map to a Raft value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The bytes are not a valid protobuf message.
    #[error("malformed protobuf: {0}")]
    Malformed(String),
    /// An enum field holds a value this node does not know.
    #[error("unknown {what} value {value}")]
    UnknownEnum {
        /// Which enum.
        what: &'static str,
        /// The value received.
        value: i32,
    },
    /// A required field is missing.
    #[error("missing field {0}")]
    Missing(&'static str),
}

fn ids(v: &[NodeId]) -> Vec<u64> {
    v.iter().map(|id| id.0).collect()
}

fn node_ids(v: &[u64]) -> Vec<NodeId> {
    v.iter().copied().map(NodeId).collect()
}

/// Converts a configuration.
pub fn conf_state_to_pb(cs: &ConfState) -> pb::ConfState {
    pb::ConfState {
        voters: ids(&cs.voters),
        learners: ids(&cs.learners),
        voters_outgoing: ids(&cs.voters_outgoing),
        learners_next: ids(&cs.learners_next),
        auto_leave: cs.auto_leave,
    }
}

/// Converts a configuration back.
pub fn conf_state_from_pb(cs: &pb::ConfState) -> ConfState {
    ConfState {
        voters: node_ids(&cs.voters),
        learners: node_ids(&cs.learners),
        voters_outgoing: node_ids(&cs.voters_outgoing),
        learners_next: node_ids(&cs.learners_next),
        auto_leave: cs.auto_leave,
    }
}

/// Converts a hard state; no vote is 0.
pub fn hard_state_to_pb(hs: &HardState) -> pb::HardState {
    pb::HardState {
        term: hs.term,
        vote: hs.vote.map_or(0, |v| v.0),
        commit: hs.commit,
    }
}

/// Converts a hard state back.
pub fn hard_state_from_pb(hs: &pb::HardState) -> HardState {
    HardState {
        term: hs.term,
        vote: (hs.vote != 0).then_some(NodeId(hs.vote)),
        commit: hs.commit,
    }
}

/// Converts an entry.
pub fn entry_to_pb(e: &Entry) -> pb::Entry {
    let kind = match e.kind {
        EntryKind::Normal => pb::EntryKind::Normal,
        EntryKind::ConfChange => pb::EntryKind::ConfChange,
    };
    pb::Entry {
        term: e.term,
        index: e.index,
        kind: kind as i32,
        data: e.data.clone(),
    }
}

/// Converts an entry back.
pub fn entry_from_pb(e: pb::Entry) -> Result<Entry, CodecError> {
    let kind = match pb::EntryKind::try_from(e.kind) {
        Ok(pb::EntryKind::Normal) => EntryKind::Normal,
        Ok(pb::EntryKind::ConfChange) => EntryKind::ConfChange,
        Err(_) => return Err(unknown("EntryKind", e.kind)),
    };
    Ok(Entry {
        term: e.term,
        index: e.index,
        kind,
        data: e.data,
    })
}

/// Converts snapshot metadata.
pub fn snapshot_metadata_to_pb(m: &SnapshotMetadata) -> pb::SnapshotMetadata {
    pb::SnapshotMetadata {
        index: m.index,
        term: m.term,
        conf_state: Some(conf_state_to_pb(&m.conf_state)),
    }
}

/// Converts snapshot metadata back.
pub fn snapshot_metadata_from_pb(m: &pb::SnapshotMetadata) -> SnapshotMetadata {
    SnapshotMetadata {
        index: m.index,
        term: m.term,
        conf_state: m
            .conf_state
            .as_ref()
            .map(conf_state_from_pb)
            .unwrap_or_default(),
    }
}

fn snapshot_to_pb(s: &Snapshot) -> pb::Snapshot {
    pb::Snapshot {
        metadata: Some(snapshot_metadata_to_pb(&s.metadata)),
        data: s.data.clone(),
    }
}

fn snapshot_from_pb(s: pb::Snapshot) -> Result<Snapshot, CodecError> {
    let metadata = s.metadata.ok_or(CodecError::Missing("Snapshot.metadata"))?;
    Ok(Snapshot {
        metadata: snapshot_metadata_from_pb(&metadata),
        data: s.data,
    })
}

/// Converts a message type.
pub fn msg_type_to_pb(t: MessageType) -> pb::MessageType {
    use pb::MessageType as P;
    match t {
        MessageType::Append => P::Append,
        MessageType::AppendResponse => P::AppendResponse,
        MessageType::RequestVote => P::RequestVote,
        MessageType::RequestVoteResponse => P::RequestVoteResponse,
        MessageType::RequestPreVote => P::RequestPreVote,
        MessageType::RequestPreVoteResponse => P::RequestPreVoteResponse,
        MessageType::Snapshot => P::Snapshot,
        MessageType::Heartbeat => P::Heartbeat,
        MessageType::HeartbeatResponse => P::HeartbeatResponse,
        MessageType::TimeoutNow => P::TimeoutNow,
        MessageType::ReadIndex => P::ReadIndex,
        MessageType::ReadIndexResponse => P::ReadIndexResponse,
        MessageType::Quiesce => P::Quiesce,
    }
}

/// Converts a message type back.
pub fn msg_type_from_pb(t: pb::MessageType) -> MessageType {
    use pb::MessageType as P;
    match t {
        P::Append => MessageType::Append,
        P::AppendResponse => MessageType::AppendResponse,
        P::RequestVote => MessageType::RequestVote,
        P::RequestVoteResponse => MessageType::RequestVoteResponse,
        P::RequestPreVote => MessageType::RequestPreVote,
        P::RequestPreVoteResponse => MessageType::RequestPreVoteResponse,
        P::Snapshot => MessageType::Snapshot,
        P::Heartbeat => MessageType::Heartbeat,
        P::HeartbeatResponse => MessageType::HeartbeatResponse,
        P::TimeoutNow => MessageType::TimeoutNow,
        P::ReadIndex => MessageType::ReadIndex,
        P::ReadIndexResponse => MessageType::ReadIndexResponse,
        P::Quiesce => MessageType::Quiesce,
    }
}

/// Converts a message.
pub fn message_to_pb(m: &Message) -> pb::Message {
    pb::Message {
        msg_type: msg_type_to_pb(m.msg_type) as i32,
        to: m.to.0,
        from: m.from.0,
        term: m.term,
        log_term: m.log_term,
        index: m.index,
        entries: m.entries.iter().map(entry_to_pb).collect(),
        commit: m.commit,
        snapshot: m.snapshot.as_ref().map(snapshot_to_pb),
        reject: m.reject,
        reject_hint: m.reject_hint,
        context: m.context.clone(),
    }
}

/// Converts a message back.
pub fn message_from_pb(m: pb::Message) -> Result<Message, CodecError> {
    let msg_type =
        pb::MessageType::try_from(m.msg_type).map_err(|_| unknown("MessageType", m.msg_type))?;
    let entries = m
        .entries
        .into_iter()
        .map(entry_from_pb)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Message {
        msg_type: msg_type_from_pb(msg_type),
        to: NodeId(m.to),
        from: NodeId(m.from),
        term: m.term,
        log_term: m.log_term,
        index: m.index,
        entries,
        commit: m.commit,
        snapshot: m.snapshot.map(snapshot_from_pb).transpose()?,
        reject: m.reject,
        reject_hint: m.reject_hint,
        context: m.context,
    })
}

/// Encodes a stored log entry.
pub fn encode_entry(e: &Entry) -> Vec<u8> {
    entry_to_pb(e).encode_to_vec()
}

/// Decodes a stored log entry.
pub fn decode_entry(bytes: &[u8]) -> Result<Entry, CodecError> {
    entry_from_pb(decode_pb(bytes)?)
}

/// Encodes a stored hard state.
pub fn encode_hard_state(hs: &HardState) -> Vec<u8> {
    hard_state_to_pb(hs).encode_to_vec()
}

/// Decodes a stored hard state.
pub fn decode_hard_state(bytes: &[u8]) -> Result<HardState, CodecError> {
    Ok(hard_state_from_pb(&decode_pb(bytes)?))
}

/// Decodes any protobuf message.
pub fn decode_pb<T: prost::Message + Default>(bytes: &[u8]) -> Result<T, CodecError> {
    T::decode(bytes).map_err(|e| CodecError::Malformed(e.to_string()))
}

fn unknown(what: &'static str, value: i32) -> CodecError {
    CodecError::UnknownEnum { what, value }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_TYPES: [MessageType; 13] = [
        MessageType::Append,
        MessageType::AppendResponse,
        MessageType::RequestVote,
        MessageType::RequestVoteResponse,
        MessageType::RequestPreVote,
        MessageType::RequestPreVoteResponse,
        MessageType::Snapshot,
        MessageType::Heartbeat,
        MessageType::HeartbeatResponse,
        MessageType::TimeoutNow,
        MessageType::ReadIndex,
        MessageType::ReadIndexResponse,
        MessageType::Quiesce,
    ];

    fn full_message(t: MessageType) -> Message {
        Message {
            msg_type: t,
            to: NodeId(2),
            from: NodeId(1),
            term: 7,
            log_term: 6,
            index: 41,
            entries: vec![
                Entry {
                    term: 6,
                    index: 42,
                    kind: EntryKind::Normal,
                    data: b"set".to_vec(),
                },
                Entry {
                    term: 7,
                    index: 43,
                    kind: EntryKind::ConfChange,
                    data: vec![0, 1],
                },
            ],
            commit: 40,
            snapshot: Some(Snapshot {
                metadata: SnapshotMetadata {
                    index: 30,
                    term: 5,
                    conf_state: ConfState {
                        voters: vec![NodeId(1), NodeId(2)],
                        learners: vec![NodeId(3)],
                        voters_outgoing: vec![NodeId(1)],
                        learners_next: vec![NodeId(4)],
                        auto_leave: true,
                    },
                },
                data: b"payload".to_vec(),
            }),
            reject: true,
            reject_hint: 12,
            context: b"ctx".to_vec(),
        }
    }

    #[test]
    fn every_message_type_round_trips_through_bytes() {
        for t in ALL_TYPES {
            let m = full_message(t);
            let bytes = message_to_pb(&m).encode_to_vec();
            let back = message_from_pb(decode_pb(&bytes).unwrap()).unwrap();
            assert_eq!(back, m, "{t:?}");
        }
        let empty = Message::default();
        assert_eq!(message_from_pb(message_to_pb(&empty)).unwrap(), empty);
    }

    #[test]
    fn stored_values_round_trip() {
        let e = Entry {
            term: 3,
            index: 9,
            kind: EntryKind::ConfChange,
            data: vec![1, 2, 3],
        };
        assert_eq!(decode_entry(&encode_entry(&e)).unwrap(), e);
        for vote in [None, Some(NodeId(3))] {
            let hs = HardState {
                term: 4,
                vote,
                commit: 8,
            };
            assert_eq!(decode_hard_state(&encode_hard_state(&hs)).unwrap(), hs);
        }
    }

    #[test]
    fn unknown_values_are_errors_not_panics() {
        let mut m = message_to_pb(&Message::default());
        m.msg_type = 99;
        assert!(matches!(
            message_from_pb(m),
            Err(CodecError::UnknownEnum { .. })
        ));
        let mut e = entry_to_pb(&Entry::default());
        e.kind = 5;
        assert!(entry_from_pb(e).is_err());
        assert!(decode_entry(&[0xff, 0xff, 0xff]).is_err());
        let mut m = message_to_pb(&Message::default());
        m.snapshot = Some(pb::Snapshot {
            metadata: None,
            data: vec![],
        });
        assert_eq!(
            message_from_pb(m),
            Err(CodecError::Missing("Snapshot.metadata"))
        );
    }
}
