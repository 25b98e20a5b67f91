//! [`Inflights`]: the bounded window of append messages sent but not yet acknowledged.

use std::collections::VecDeque;

/// Last indexes of in-flight append messages to one follower, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inflights {
    /// Invariant: strictly increasing and `len() <= max_inflight_msgs`.
    queue: VecDeque<u64>,
    /// Capacity (from `Config::max_inflight_msgs`).
    max_inflight_msgs: usize,
}

impl Inflights {
    /// An empty window holding at most `max_inflight_msgs` messages.
    pub fn new(max_inflight_msgs: usize) -> Self {
        Self {
            queue: VecDeque::with_capacity(max_inflight_msgs.min(64)),
            max_inflight_msgs,
        }
    }

    /// Records a message whose last entry is `last_index`.
    ///
    /// # Panics
    /// If the window is full (the caller checks [`Inflights::full`]).
    pub fn add(&mut self, last_index: u64) {
        assert!(!self.full(), "inflight window overflow adding {last_index}");
        self.queue.push_back(last_index);
    }

    /// Frees every message whose last index is `<= to`.
    pub fn free_le(&mut self, to: u64) {
        while self.queue.front().is_some_and(|&i| i <= to) {
            self.queue.pop_front();
        }
    }

    /// Frees the oldest message (used when a heartbeat response shows the follower alive).
    pub fn free_first_one(&mut self) {
        self.queue.pop_front();
    }

    /// Whether no more messages may be sent.
    pub fn full(&self) -> bool {
        self.queue.len() >= self.max_inflight_msgs
    }

    /// Number of messages in flight.
    pub fn count(&self) -> usize {
        self.queue.len()
    }

    /// Empties the window.
    pub fn reset(&mut self) {
        self.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::Inflights;

    #[test]
    fn window_fills_and_frees() {
        let mut w = Inflights::new(2);
        w.add(3);
        w.add(5);
        assert!(w.full());
        w.free_le(4);
        assert_eq!(w.count(), 1);
        w.free_first_one();
        assert_eq!(w.count(), 0);
    }
}
