//! The versioned map from slots to shards.

use crate::{Error, Result, ShardId, Slot, SlotRange, SLOT_COUNT};

/// Marks a slot no shard owns in [`RoutingTable::owner`].
const UNASSIGNED: u16 = u16::MAX;

/// Which shard owns each slot, at one epoch.
///
/// Lookups are O(1): one array index per slot. A table may leave slots unassigned (while a
/// cluster is being built, or in a test); they route to `None`, and [`RoutingTable::is_complete`]
/// tells whether every slot has an owner. Tables are immutable values: every change
/// (`with_*`) returns a new table whose epoch is one higher, so nodes can tell which of two
/// tables is newer and clients can cache one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingTable {
    epoch: u64,
    /// For each slot, an index into `shards`, or [`UNASSIGNED`].
    owner: Box<[u16]>,
    /// The distinct shards owning at least one slot, sorted.
    shards: Vec<ShardId>,
}

impl RoutingTable {
    /// The most distinct shards a table can hold: one per slot.
    pub const SHARDS_MAX: usize = SLOT_COUNT as usize;

    /// A table at `epoch` in which no slot is assigned.
    pub fn empty(epoch: u64) -> Self {
        Self {
            epoch,
            owner: vec![UNASSIGNED; usize::from(SLOT_COUNT)].into_boxed_slice(),
            shards: Vec::new(),
        }
    }

    /// A table at `epoch` assigning each range to its shard; slots in no range stay
    /// unassigned.
    ///
    /// # Errors
    /// [`Error::EmptyRange`] for a range with `start > end`, [`Error::Overlap`] when two
    /// ranges share a slot.
    pub fn from_ranges(
        epoch: u64,
        ranges: impl IntoIterator<Item = (SlotRange, ShardId)>,
    ) -> Result<Self> {
        let mut owners: Vec<Option<(ShardId, SlotRange)>> = vec![None; usize::from(SLOT_COUNT)];
        for (range, shard) in ranges {
            SlotRange::new(range.start, range.end)?;
            for slot in range.slots() {
                if let Some((_, first)) = owners[slot.index()] {
                    return Err(Error::Overlap {
                        slot,
                        first,
                        second: range,
                    });
                }
                owners[slot.index()] = Some((shard, range));
            }
        }
        Self::build(epoch, owners.into_iter().map(|o| o.map(|(s, _)| s)))
    }

    /// A complete table at epoch 1 splitting the slots into `n_shards` contiguous ranges of
    /// (almost) equal size, owned by `ShardId(1)` .. `ShardId(n_shards)` in slot order.
    /// The boundaries are those `redis-cli --cluster create` picks (3 shards: 0-5460,
    /// 5461-10922, 10923-16383).
    ///
    /// # Errors
    /// [`Error::ShardCount`] unless `1 <= n_shards <= 16384`.
    pub fn even_split(n_shards: u64) -> Result<Self> {
        let shards: Vec<ShardId> = (1..=n_shards).map(ShardId).collect();
        if shards.is_empty() || shards.len() > Self::SHARDS_MAX {
            return Err(Error::ShardCount(n_shards));
        }
        Self::even_split_over(1, &shards)
    }

    /// A complete table at `epoch` splitting the slots evenly over `shards`, in order (see
    /// [`RoutingTable::even_split`]).
    ///
    /// # Errors
    /// [`Error::ShardCount`] when `shards` is empty or longer than 16384.
    pub fn even_split_over(epoch: u64, shards: &[ShardId]) -> Result<Self> {
        let n = shards.len();
        if n == 0 || n > Self::SHARDS_MAX {
            return Err(Error::ShardCount(u64::try_from(n).unwrap_or(u64::MAX)));
        }
        let total = usize::from(SLOT_COUNT);
        let mut ranges = Vec::with_capacity(n);
        let mut first = 0usize;
        for (i, &shard) in shards.iter().enumerate() {
            // redis-cli: last = lround((i + 1) * 16384 / n - 1), computed exactly.
            let a = (i + 1) * total - n;
            let last = if i + 1 == n {
                total - 1
            } else {
                ((2 * a + n) / (2 * n)).max(first)
            };
            ranges.push((SlotRange::from_numbers(to_u16(first), to_u16(last))?, shard));
            first = last + 1;
        }
        Self::from_ranges(epoch, ranges)
    }

    /// Interns the owners of all 16384 slots (in slot order) into a table.
    fn build(epoch: u64, owners: impl Iterator<Item = Option<ShardId>>) -> Result<Self> {
        let owners: Vec<Option<ShardId>> = owners.collect();
        let mut shards: Vec<ShardId> = owners.iter().flatten().copied().collect();
        shards.sort_unstable();
        shards.dedup();
        if shards.len() > Self::SHARDS_MAX {
            return Err(Error::TooManyShards);
        }
        let owner = owners
            .iter()
            .map(|o| match o {
                Some(s) => shards.binary_search(s).map_or(UNASSIGNED, to_u16),
                None => UNASSIGNED,
            })
            .collect();
        Ok(Self {
            epoch,
            owner,
            shards,
        })
    }

    /// The owner of every slot, in slot order.
    fn owners(&self) -> Vec<Option<ShardId>> {
        Slot::all().map(|s| self.shard_for_slot(s)).collect()
    }

    /// The table's version: higher is newer.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The shard owning `slot`, `None` if unassigned. O(1).
    pub fn shard_for_slot(&self, slot: Slot) -> Option<ShardId> {
        let idx = *self.owner.get(slot.index())?;
        self.shards.get(usize::from(idx)).copied()
    }

    /// The shard owning the slot of `key` (see [`Slot::for_key`]).
    pub fn shard_for_key(&self, key: &[u8]) -> Option<ShardId> {
        self.shard_for_slot(Slot::for_key(key))
    }

    /// The maximal runs of consecutive slots with the same owner, in slot order, skipping
    /// unassigned slots: what `CLUSTER SLOTS` lists.
    pub fn ranges(&self) -> Vec<(SlotRange, ShardId)> {
        let mut out: Vec<(SlotRange, ShardId)> = Vec::new();
        for slot in Slot::all() {
            let Some(shard) = self.shard_for_slot(slot) else {
                continue;
            };
            match out.last_mut() {
                Some((range, owner))
                    if *owner == shard && range.end.index() + 1 == slot.index() =>
                {
                    range.end = slot;
                }
                _ => out.push((SlotRange::single(slot), shard)),
            }
        }
        out
    }

    /// The ranges `shard` owns, in slot order.
    pub fn ranges_of(&self, shard: ShardId) -> Vec<SlotRange> {
        self.ranges()
            .into_iter()
            .filter(|&(_, s)| s == shard)
            .map(|(r, _)| r)
            .collect()
    }

    /// The unassigned ranges, in slot order.
    pub fn unassigned(&self) -> Vec<SlotRange> {
        let mut out: Vec<SlotRange> = Vec::new();
        for slot in Slot::all().filter(|&s| self.shard_for_slot(s).is_none()) {
            match out.last_mut() {
                Some(range) if range.end.index() + 1 == slot.index() => range.end = slot,
                _ => out.push(SlotRange::single(slot)),
            }
        }
        out
    }

    /// The distinct shards owning at least one slot, sorted.
    pub fn shards(&self) -> &[ShardId] {
        &self.shards
    }

    /// How many slots `shard` owns.
    pub fn slot_count(&self, shard: ShardId) -> usize {
        let Ok(idx) = self.shards.binary_search(&shard) else {
            return 0;
        };
        self.owner
            .iter()
            .filter(|&&o| usize::from(o) == idx)
            .count()
    }

    /// Whether every slot has an owner.
    pub fn is_complete(&self) -> bool {
        !self.owner.contains(&UNASSIGNED)
    }

    /// A copy with `range` owned by `shard` (whoever owned it before) and the epoch + 1: the
    /// table after a migration of `range`, or after first assigning it.
    ///
    /// # Errors
    /// [`Error::EmptyRange`] for a range with `start > end`.
    pub fn with_range_moved(&self, range: SlotRange, shard: ShardId) -> Result<Self> {
        self.with_range_owner(range, Some(shard))
    }

    /// A copy with `range` unassigned and the epoch + 1.
    ///
    /// # Errors
    /// [`Error::EmptyRange`] for a range with `start > end`.
    pub fn with_range_unassigned(&self, range: SlotRange) -> Result<Self> {
        self.with_range_owner(range, None)
    }

    fn with_range_owner(&self, range: SlotRange, shard: Option<ShardId>) -> Result<Self> {
        SlotRange::new(range.start, range.end)?;
        let mut owners = self.owners();
        for slot in range.slots() {
            owners[slot.index()] = shard;
        }
        Self::build(self.epoch.saturating_add(1), owners.into_iter())
    }

    /// A copy in which `new_shard` takes the upper half of `shard`'s slots (by count, in slot
    /// order; the odd slot stays with `shard`), with the epoch + 1: the table after a split.
    ///
    /// # Errors
    /// [`Error::UnknownShard`] if `shard` owns nothing, [`Error::TooSmallToSplit`] if it owns
    /// one slot, [`Error::ShardExists`] if `new_shard` already owns slots.
    pub fn with_shard_split(&self, shard: ShardId, new_shard: ShardId) -> Result<Self> {
        let count = self.slot_count(shard);
        match count {
            0 => return Err(Error::UnknownShard(shard)),
            1 => return Err(Error::TooSmallToSplit(shard)),
            _ => {}
        }
        if self.slot_count(new_shard) > 0 {
            return Err(Error::ShardExists(new_shard));
        }
        let keep = count.div_ceil(2);
        let mut seen = 0;
        let owners = self.owners().into_iter().map(|o| {
            if o != Some(shard) {
                return o;
            }
            seen += 1;
            Some(if seen > keep { new_shard } else { shard })
        });
        Self::build(self.epoch.saturating_add(1), owners)
    }

    /// A copy in which `into` takes all of `from`'s slots, with the epoch + 1: the table after
    /// a merge.
    ///
    /// # Errors
    /// [`Error::UnknownShard`] if either shard owns nothing.
    pub fn with_shards_merged(&self, from: ShardId, into: ShardId) -> Result<Self> {
        for shard in [from, into] {
            if self.slot_count(shard) == 0 {
                return Err(Error::UnknownShard(shard));
            }
        }
        let owners = self
            .owners()
            .into_iter()
            .map(|o| if o == Some(from) { Some(into) } else { o });
        Self::build(self.epoch.saturating_add(1), owners)
    }
}

/// Slot numbers and shard indices are below 16384 by construction.
fn to_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(UNASSIGNED)
}
