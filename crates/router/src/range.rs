//! Inclusive ranges of slots.

use std::fmt;

use crate::{Error, Result, Slot};

/// An inclusive range of slots, `start..=end`, as `CLUSTER SLOTS` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotRange {
    /// The first slot.
    pub start: Slot,
    /// The last slot (inclusive).
    pub end: Slot,
}

impl SlotRange {
    /// The range `start..=end`.
    ///
    /// # Errors
    /// [`Error::EmptyRange`] when `start > end`.
    pub fn new(start: Slot, end: Slot) -> Result<Self> {
        if start > end {
            return Err(Error::EmptyRange { start, end });
        }
        Ok(Self { start, end })
    }

    /// The range of slot numbers `start..=end`.
    ///
    /// # Errors
    /// [`Error::SlotOutOfRange`] or [`Error::EmptyRange`].
    pub fn from_numbers(start: u16, end: u16) -> Result<Self> {
        Self::new(Slot::new(start)?, Slot::new(end)?)
    }

    /// All 16384 slots.
    pub fn full() -> Self {
        Self {
            start: Slot::MIN,
            end: Slot::MAX,
        }
    }

    /// The range holding only `slot`.
    pub fn single(slot: Slot) -> Self {
        Self {
            start: slot,
            end: slot,
        }
    }

    /// How many slots the range holds (at least 1 for a valid range).
    pub fn len(&self) -> usize {
        (self.end.index() + 1).saturating_sub(self.start.index())
    }

    /// Whether the range holds no slot (only possible for a range built by hand with
    /// `start > end`).
    pub fn is_empty(&self) -> bool {
        self.start > self.end
    }

    /// Whether `slot` is in the range.
    pub fn contains(&self, slot: Slot) -> bool {
        self.start <= slot && slot <= self.end
    }

    /// The slots of the range, in order.
    pub fn slots(&self) -> impl Iterator<Item = Slot> {
        let (start, end) = (self.start.get(), self.end.get());
        (start..=end).filter_map(|n| Slot::new(n).ok())
    }
}

impl fmt::Display for SlotRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}
