//! Keeping a session's pipelined writes to one shard in order across a leader change.
//!
//! A session starts its pipelined writes to a shard without waiting for each (the leader
//! appends them to its log in the order they arrive), so a leader that did not take one of
//! them but took a later one would let the later one land first: the earlier write is
//! retried only when the session gets to it. A write may fail to get in while the leader is
//! not the leader, during a leadership transfer, when a queue on the leader's node is full
//! (a forwarded write is then retried), or when it was never sent (its forwarding stream
//! broke); by the next write the leader may lead again (a new term), have ended the transfer
//! (the same term) or have room.
//!
//! So every session write carries a [`ChainLink`]: its session, its number among the
//! session's writes, and the number of the write it follows (the session's previous write
//! to the same shard, while that one may still be in flight). A replica remembers, per
//! session, the last write of it that it decided on, and accepts a write that follows
//! another only if that other is exactly that last write and was accepted in the replica's
//! current term ([`Chains::admit`]); otherwise it refuses it with
//! [`ClusterError::OutOfOrder`](super::error::ClusterError::OutOfOrder), which the session
//! retries in command order, once every earlier write is done (a retry follows nothing).
//! Writes accepted in one term are in one leader's log in arrival order: they commit in that
//! order or, when a later leader overwrites some of them, the overwritten ones are a suffix,
//! so an accepted write never lands before the accepted write it follows.

use std::collections::HashMap;
use std::time::Instant;

/// A session: the node its client is connected to and the client's id there (`CLIENT ID`).
/// Unique among the sessions alive; after a node restarts its client ids start over, so a
/// session numbers its writes from a random point (`dispatch::WriteOrder::numbered_after`)
/// and cannot be taken for the earlier session with its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey {
    /// The node the client is connected to.
    pub node: u64,
    /// The client's id on that node.
    pub client: u64,
}

/// Where a write stands in its session's chain of writes to one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainLink {
    /// The session that sent the write.
    pub session: SessionKey,
    /// The write's number among the session's writes (increasing, never 0).
    pub seq: u64,
    /// The number of the session's previous write to this shard while that one may still be
    /// in flight: this write is then accepted only right behind it, in the same term.
    pub follows: Option<u64>,
}

impl ChainLink {
    /// The same write sent again once every earlier write of its session is done: it
    /// follows nothing.
    pub fn retried(self) -> ChainLink {
        ChainLink {
            follows: None,
            ..self
        }
    }
}

/// What a replica last did with a session's write.
#[derive(Debug, Clone, Copy)]
struct LastWrite {
    /// The write's number.
    seq: u64,
    /// The term it was accepted in; `None` if it was refused.
    accepted_term: Option<u64>,
    /// Until when the record matters: the deadline of that write. A write that follows it
    /// is sent before it is done, so before that deadline.
    until: Instant,
}

/// Per shard replica: the last write of every session that wrote to it recently.
///
/// Invariant: a session's record describes the last write of that session this replica
/// decided on (accepted into its log or refused).
#[derive(Debug, Default)]
pub struct Chains {
    last: HashMap<SessionKey, LastWrite>,
}

impl Chains {
    /// Whether a write with `link` may be proposed in `term`: one that follows nothing may;
    /// one that follows another may only if that other is the session's last write here and
    /// was accepted in `term`. Records the decision as accepted or refused;
    /// [`Chains::refused`] overrides an acceptance when the proposal fails after all.
    pub fn admit(&mut self, link: ChainLink, term: u64, until: Instant) -> bool {
        let ok = link.follows.is_none_or(|prev| {
            self.last
                .get(&link.session)
                .is_some_and(|w| w.seq == prev && w.accepted_term == Some(term))
        });
        self.record(link, ok.then_some(term), until);
        ok
    }

    /// Records that the write with `link` was refused.
    pub fn refused(&mut self, link: ChainLink, until: Instant) {
        self.record(link, None, until);
    }

    fn record(&mut self, link: ChainLink, accepted_term: Option<u64>, until: Instant) {
        let write = LastWrite {
            seq: link.seq,
            accepted_term,
            until,
        };
        self.last.insert(link.session, write);
    }

    /// Forgets the sessions whose last write's deadline passed.
    pub fn expire(&mut self, now: Instant) {
        self.last.retain(|_, w| w.until > now);
    }

    /// Number of sessions recorded.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.last.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const S: SessionKey = SessionKey { node: 1, client: 7 };
    const OTHER: SessionKey = SessionKey { node: 2, client: 7 };

    fn link(session: SessionKey, seq: u64, follows: Option<u64>) -> ChainLink {
        ChainLink {
            session,
            seq,
            follows,
        }
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn a_write_right_behind_one_accepted_in_this_term_is_admitted() {
        let mut c = Chains::default();
        assert!(c.admit(link(S, 1, None), 3, later()));
        assert!(c.admit(link(S, 2, Some(1)), 3, later()));
        assert!(c.admit(link(S, 3, Some(2)), 3, later()));
    }

    #[test]
    fn a_write_behind_one_accepted_in_an_earlier_term_is_refused() {
        let mut c = Chains::default();
        assert!(c.admit(link(S, 1, None), 3, later()));
        // The leader lost its leadership and won it back (term 5): the first write may
        // have been overwritten by another leader's entry and be retried later.
        assert!(!c.admit(link(S, 2, Some(1)), 5, later()));
        // Everything after it in the chain is refused too, until the session starts over.
        assert!(!c.admit(link(S, 3, Some(2)), 5, later()));
        assert!(c.admit(link(S, 2, None), 5, later()));
        assert!(c.admit(link(S, 3, Some(2)), 5, later()));
    }

    #[test]
    fn a_write_behind_a_refused_one_is_refused_in_the_same_term() {
        let mut c = Chains::default();
        assert!(c.admit(link(S, 1, None), 3, later()));
        // Refused by Raft (a transfer in progress): the term did not change.
        c.refused(link(S, 1, None), later());
        assert!(!c.admit(link(S, 2, Some(1)), 3, later()));
        assert!(c.admit(link(S, 1, None), 3, later()));
    }

    #[test]
    fn a_write_behind_one_that_never_arrived_is_refused() {
        let mut c = Chains::default();
        assert!(c.admit(link(S, 1, None), 3, later()));
        // Write 2 was refused before the replica saw it (a full queue), or never sent (its
        // stream broke): write 3 must not take its place.
        assert!(!c.admit(link(S, 3, Some(2)), 3, later()));
        // Nor may a write behind one of another session, or with no record at all.
        assert!(c.admit(link(OTHER, 9, None), 3, later()));
        assert!(!c.admit(
            link(SessionKey { node: 3, client: 1 }, 2, Some(1)),
            3,
            later()
        ));
    }

    #[test]
    fn records_expire_with_the_last_writes_deadline() {
        let mut c = Chains::default();
        let now = Instant::now();
        c.admit(link(S, 1, None), 3, now + Duration::from_secs(1));
        c.admit(link(OTHER, 1, None), 3, now + Duration::from_secs(9));
        c.expire(now + Duration::from_secs(2));
        assert_eq!(c.len(), 1);
        // The session without a record starts over safely: its next follower is refused.
        assert!(!c.admit(link(S, 2, Some(1)), 3, later()));
    }
}
