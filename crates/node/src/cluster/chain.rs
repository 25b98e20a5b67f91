//! Keeping a session's pipelined writes to one shard in order across a leader change.
//!
//! A session starts its pipelined writes to a shard without waiting for each (the store
//! appends them to the log in the order they arrive), so a leader that refused one of them
//! and accepted a later one would let the later one land first: the refused write is
//! retried only when the session gets to it. A leader refuses a write while it is not the
//! leader, during a leadership transfer, or when its queues are full; between that refusal
//! and the next write it may have become the leader again (a new term) or ended the transfer
//! (the same term).
//!
//! So every session write carries a [`ChainLink`]: who sent it, and whether an earlier write
//! of the same session to the same shard may still be in flight (`follows`). A leader
//! accepts a write that follows only if the session's previous write reached it and was
//! accepted in its current term ([`Chains::admit`]); otherwise it refuses it with
//! [`ClusterError::OutOfOrder`](super::error::ClusterError::OutOfOrder), which the session
//! retries in command order, once every earlier write is done. Writes accepted in one term
//! are in one leader's log in arrival order: they commit in that order or, when a later
//! leader overwrites some of them, the overwritten ones are a suffix, so an accepted write
//! never lands before an earlier accepted one.

use std::collections::HashMap;
use std::time::Instant;

/// A session, unique in the cluster: the node its client is connected to and the client's
/// id there (`CLIENT ID`).
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
    /// Whether an earlier write of the session to this shard may still be in flight: the
    /// write is then accepted only where that one was accepted, in the same term.
    pub follows: bool,
}

/// What a leader last did with a session's write.
#[derive(Debug, Clone, Copy)]
struct LastWrite {
    /// The term it was accepted in; `None` if it was refused.
    accepted_term: Option<u64>,
    /// Until when the record matters: the deadline of the session's last write. A write
    /// that follows is sent before the one it follows is done, so before that deadline.
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
    /// Whether a write with `link` may be proposed in `term`. A write that follows one this
    /// replica refused, accepted in an earlier term, or has no record of, may not. Records
    /// the decision as provisionally accepted; [`Chains::refused`] undoes it when the
    /// proposal fails after all.
    pub fn admit(&mut self, link: ChainLink, term: u64, until: Instant) -> bool {
        let ok = !link.follows
            || self
                .last
                .get(&link.session)
                .is_some_and(|w| w.accepted_term == Some(term));
        let accepted_term = ok.then_some(term);
        self.last.insert(
            link.session,
            LastWrite {
                accepted_term,
                until,
            },
        );
        ok
    }

    /// Records that the write with `link` was refused.
    pub fn refused(&mut self, link: ChainLink, until: Instant) {
        self.last.insert(
            link.session,
            LastWrite {
                accepted_term: None,
                until,
            },
        );
    }

    /// Forgets the sessions whose last write's deadline passed.
    pub fn expire(&mut self, now: Instant) {
        self.last.retain(|_, w| w.until > now);
    }

    /// Number of sessions recorded.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Whether no session is recorded.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const S: SessionKey = SessionKey { node: 1, client: 7 };
    const OTHER: SessionKey = SessionKey { node: 2, client: 7 };

    fn link(session: SessionKey, follows: bool) -> ChainLink {
        ChainLink { session, follows }
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn a_write_that_follows_one_accepted_in_this_term_is_admitted() {
        let mut c = Chains::default();
        assert!(c.admit(link(S, false), 3, later()));
        assert!(c.admit(link(S, true), 3, later()));
        assert!(c.admit(link(S, true), 3, later()));
    }

    #[test]
    fn a_write_that_follows_one_accepted_in_an_earlier_term_is_refused() {
        let mut c = Chains::default();
        assert!(c.admit(link(S, false), 3, later()));
        // The leader lost its leadership and won it back (term 5): the first write may
        // have been overwritten by another leader's entry and be retried later.
        assert!(!c.admit(link(S, true), 5, later()));
        // Everything after it in the chain is refused too, until the session starts over.
        assert!(!c.admit(link(S, true), 5, later()));
        assert!(c.admit(link(S, false), 5, later()));
        assert!(c.admit(link(S, true), 5, later()));
    }

    #[test]
    fn a_write_that_follows_a_refused_one_is_refused_in_the_same_term() {
        let mut c = Chains::default();
        assert!(c.admit(link(S, false), 3, later()));
        // Refused by Raft (a transfer in progress): the term did not change.
        c.refused(link(S, false), later());
        assert!(!c.admit(link(S, true), 3, later()));
        assert!(c.admit(link(S, false), 3, later()));
    }

    #[test]
    fn a_write_that_follows_an_unknown_one_is_refused() {
        let mut c = Chains::default();
        assert!(c.admit(link(OTHER, false), 3, later()));
        // This session's earlier write went to another replica, or its record expired.
        assert!(!c.admit(link(S, true), 3, later()));
    }

    #[test]
    fn records_expire_with_the_last_writes_deadline() {
        let mut c = Chains::default();
        let now = Instant::now();
        c.admit(link(S, false), 3, now + Duration::from_secs(1));
        c.admit(link(OTHER, false), 3, now + Duration::from_secs(9));
        c.expire(now + Duration::from_secs(2));
        assert_eq!(c.len(), 1);
        // The session without a record starts over safely: its next follower is refused.
        assert!(!c.admit(link(S, true), 3, later()));
    }
}
