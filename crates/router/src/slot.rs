//! Hash slots and the key-to-slot function.

use std::fmt;

use crate::{Error, Result};

/// The number of hash slots, as in Redis Cluster.
pub const SLOT_COUNT: u16 = 16384;

/// One of the [`SLOT_COUNT`] hash slots (always below 16384).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(u16);

impl Slot {
    /// The first slot, 0.
    pub const MIN: Slot = Slot(0);
    /// The last slot, 16383.
    pub const MAX: Slot = Slot(SLOT_COUNT - 1);

    /// The slot numbered `n`.
    ///
    /// # Errors
    /// [`Error::SlotOutOfRange`] when `n >= 16384`.
    pub fn new(n: u16) -> Result<Self> {
        if n < SLOT_COUNT {
            Ok(Self(n))
        } else {
            Err(Error::SlotOutOfRange(u64::from(n)))
        }
    }

    /// The slot number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The slot number as an index.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The slot of `key`, exactly as Redis Cluster's `keyHashSlot`: CRC16-XMODEM modulo 16384
    /// of the key, or of its hash tag — the bytes between the first `{` and the first `}`
    /// after it, when there are any (`{}` is no tag: the whole key is hashed).
    pub fn for_key(key: &[u8]) -> Slot {
        let hashed = hash_tag(key).unwrap_or(key);
        Slot(crc16::State::<crc16::XMODEM>::calculate(hashed) & (SLOT_COUNT - 1))
    }

    /// All slots in order.
    pub fn all() -> impl Iterator<Item = Slot> {
        (0..SLOT_COUNT).map(Slot)
    }
}

/// The non-empty hash tag of `key`, if it has one.
fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let rest = &key[open + 1..];
    let close = rest.iter().position(|&b| b == b'}')?;
    (close > 0).then(|| &rest[..close])
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TryFrom<u16> for Slot {
    type Error = Error;

    fn try_from(n: u16) -> Result<Self> {
        Self::new(n)
    }
}

impl From<Slot> for u16 {
    fn from(slot: Slot) -> u16 {
        slot.0
    }
}
