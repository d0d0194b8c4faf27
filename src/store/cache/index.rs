//! The cache's index: digest → slot number, one probe of one cache line for most look-ups.
//!
//! Open addressing with linear probing over `u64` buckets, each `tag << 32 | slot + 1` (0:
//! empty), where `tag` is the digest's first 4 bytes (SHA-256 output is
//! uniformly random: it is its own hash) and also gives the home bucket. A tag match is
//! confirmed by the caller against the slot's whole digest. Removal shifts the following
//! entries back (no tombstones), so look-ups stay short whatever the churn. At most 3/4 of
//! the buckets are used: 8 bytes a bucket, 10.7 to 21.3 bytes a session.
//!
//! The bucket array is allocated once at its largest (zeroed, so the system maps its pages
//! only when they are written) and used up to a power-of-two `active` prefix: the table
//! grows the index by emptying a larger prefix and inserting its entries again, so memory
//! follows the entries, and no smaller array is left behind.

use crate::store::linear_probing::{self, EMPTY};

/// The bucket array, the prefix of it in use and how many entries it holds.
#[derive(Debug)]
pub(super) struct Index {
    buckets: Box<[u64]>,
    /// Buckets in use: a power of two (or 0), at most `buckets.len()`.
    active: usize,
    len: usize,
}

/// The hash of a digest: its first 4 bytes.
pub(super) fn tag(digest: &[u8; 32]) -> u32 {
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

impl Index {
    /// An index for up to `entries` entries (none if 0).
    pub(super) fn with_capacity(entries: usize) -> Self {
        let buckets = if entries == 0 {
            0
        } else {
            // Capped at 2^31 buckets: the 32-bit tag picks the home bucket.
            entries
                .saturating_mul(4)
                .div_ceil(3)
                .next_power_of_two()
                .clamp(8, 1 << 31)
        };
        Self {
            buckets: vec![EMPTY; buckets].into_boxed_slice(),
            active: buckets,
            len: 0,
        }
    }

    /// Empties the index and uses as many buckets as `entries` need (at most all): the
    /// caller inserts the entries again.
    pub(super) fn reset_for(&mut self, entries: usize) {
        let wanted = entries
            .saturating_mul(4)
            .div_ceil(3)
            .next_power_of_two()
            .max(8);
        self.active = wanted.min(self.buckets.len());
        self.buckets[..self.active].fill(EMPTY);
        self.len = 0;
    }

    /// How many entries it takes, in the buckets in use.
    pub(super) fn capacity(&self) -> usize {
        self.active / 4 * 3
    }

    /// Bytes of the buckets in use.
    pub(super) fn bytes(&self) -> usize {
        self.active * size_of::<u64>()
    }

    fn mask(&self) -> usize {
        self.active - 1
    }

    fn home(&self, tag: u32) -> usize {
        tag as usize & self.mask()
    }

    /// The slot of the entry with `tag` for which `is_it(slot)` holds.
    pub(super) fn find(&self, tag: u32, mut is_it: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.active == 0 {
            return None;
        }
        let mut at = self.home(tag);
        loop {
            let bucket = self.buckets[at];
            if bucket == EMPTY {
                return None;
            }
            if (bucket >> 32) as u32 == tag && is_it(bucket as u32 - 1) {
                return Some(bucket as u32 - 1);
            }
            at = (at + 1) & self.mask();
        }
    }

    /// Adds `slot` under `tag`: the caller has checked that it is not there, and that
    /// `len < capacity`.
    pub(super) fn insert(&mut self, tag: u32, slot: u32) {
        let mut at = self.home(tag);
        while self.buckets[at] != EMPTY {
            at = (at + 1) & self.mask();
        }
        self.buckets[at] = (u64::from(tag) << 32) | (u64::from(slot) + 1);
        self.len += 1;
    }

    /// Removes the entry of `slot` under `tag`, if there.
    pub(super) fn remove(&mut self, tag: u32, slot: u32) {
        if self.active == 0 {
            return;
        }
        let wanted = (u64::from(tag) << 32) | (u64::from(slot) + 1);
        let start = self.home(tag);
        let mask = self.mask();
        let home = |bucket: u64| (bucket >> 32) as usize & mask;
        if linear_probing::remove(&mut self.buckets[..self.active], wanted, start, home) {
            self.len -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Index;

    /// Many entries crowded into few homes, removed in an odd order: each stays findable
    /// until removed, then is gone.
    #[test]
    fn entries_stay_findable_through_removals() {
        let mut index = Index::with_capacity(1000);
        let tag = |slot: u32| (slot.wrapping_mul(2_654_435_761) % 64) | 0x1000_0000;
        for slot in 0..1000 {
            index.insert(tag(slot), slot);
        }
        let mut gone = vec![false; 1000];
        for k in 0..1000_u32 {
            let slot = k.wrapping_mul(7919) % 1000;
            index.remove(tag(slot), slot);
            gone[slot as usize] = true;
            if k % 50 == 0 {
                for s in 0..1000_u32 {
                    let found = index.find(tag(s), |x| x == s);
                    assert_eq!(found.is_some(), !gone[s as usize], "{s} after {k}");
                }
            }
        }
        assert_eq!(index.len, 0);
    }
}
