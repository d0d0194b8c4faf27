//! The multiset of 8-byte digest prefixes behind the filter of live sessions
//! ([`super::live_digests`]): one flat array of `u64` buckets with linear probing, so that a
//! look-up reads one cache line (a table with separate control bytes reads two, and at a
//! million sessions each is a miss to memory).
//!
//! A bucket holds a prefix, or 0 when empty; the prefix 0 is stored as 1 (the filter may then
//! answer "maybe" for the prefix 1 too: a false "maybe" is harmless). A prefix is held once
//! per session: two sessions sharing one are two buckets, and removing one leaves the other.
//! Removal shifts the following entries back (no tombstones). At most 3/4 of the buckets are
//! used; the array doubles when that is reached (a rebuild, under the caller's write lock):
//! 8 bytes a bucket, 10.7 to 21.3 bytes a session.

use crate::store::linear_probing::{self, EMPTY};

/// Buckets of the first allocation.
const FIRST_BUCKETS: usize = 1024;

/// What a bucket holds for `prefix`: never [`EMPTY`].
fn stored(prefix: u64) -> u64 {
    prefix.max(1)
}

/// The multiset (see the module docs).
#[derive(Debug, Default)]
pub(super) struct PrefixSet {
    buckets: Vec<u64>,
    len: usize,
}

impl PrefixSet {
    /// Elements held (one per insert not yet removed).
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of the bucket array.
    pub(super) fn bytes(&self) -> usize {
        self.buckets.len() * size_of::<u64>()
    }

    /// Makes room for `more` elements without a rebuild on the way.
    pub(super) fn reserve(&mut self, more: usize) {
        let wanted = self.len.saturating_add(more);
        if wanted > self.capacity() {
            self.rebuild(buckets_for(wanted));
        }
    }

    /// Whether `prefix` is held.
    pub(super) fn contains(&self, prefix: u64) -> bool {
        if self.buckets.is_empty() {
            return false;
        }
        let wanted = stored(prefix);
        let mask = self.buckets.len() - 1;
        let mut at = home(wanted, mask);
        loop {
            match self.buckets[at] {
                EMPTY => return false,
                b if b == wanted => return true,
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Adds one element `prefix`.
    pub(super) fn insert(&mut self, prefix: u64) {
        if self.len + 1 > self.capacity() {
            self.rebuild(buckets_for(self.len + 1).max(self.buckets.len() * 2));
        }
        self.place(stored(prefix));
        self.len += 1;
    }

    /// Removes one element `prefix`; nothing if none is held.
    pub(super) fn remove(&mut self, prefix: u64) {
        if self.buckets.is_empty() {
            return;
        }
        let wanted = stored(prefix);
        let mask = self.buckets.len() - 1;
        let start = home(wanted, mask);
        if linear_probing::remove(&mut self.buckets, wanted, start, |b| home(b, mask)) {
            self.len -= 1;
        }
    }

    fn capacity(&self) -> usize {
        self.buckets.len() / 4 * 3
    }

    /// Puts `bucket` in the first empty bucket from its home: there is one.
    fn place(&mut self, bucket: u64) {
        let mask = self.buckets.len() - 1;
        let mut at = home(bucket, mask);
        while self.buckets[at] != EMPTY {
            at = (at + 1) & mask;
        }
        self.buckets[at] = bucket;
    }

    /// Moves every element into a new array of `buckets` buckets.
    fn rebuild(&mut self, buckets: usize) {
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; buckets]);
        for bucket in old.into_iter().filter(|&b| b != EMPTY) {
            self.place(bucket);
        }
    }
}

/// The home bucket of a held value: its low bits (digests are uniformly random).
fn home(bucket: u64, mask: usize) -> usize {
    // Truncation is the point: the low bits pick the bucket.
    #[allow(clippy::cast_possible_truncation)]
    let low = bucket as usize;
    low & mask
}

/// Buckets for `elements` at most 3/4 full: a power of two.
fn buckets_for(elements: usize) -> usize {
    elements
        .saturating_mul(4)
        .div_ceil(3)
        .next_power_of_two()
        .max(FIRST_BUCKETS)
}

#[cfg(test)]
mod tests {
    use super::PrefixSet;

    /// Elements crowded into few homes, with duplicates and the prefix 0, inserted through
    /// several rebuilds and removed in an odd order: each is held exactly as many times as
    /// it was inserted and not yet removed.
    #[test]
    fn a_multiset_through_rebuilds_and_removals() {
        let mut set = PrefixSet::default();
        // Homes crowded: the low 6 bits vary little; every value twice.
        let value = |i: u64| (i % 3_000) << 20 | (i % 64);
        let mut held = std::collections::HashMap::<u64, usize>::new();
        for i in 0..6_000 {
            set.insert(value(i));
            *held.entry(value(i)).or_default() += 1;
        }
        set.insert(0);
        assert!(set.contains(0) && set.contains(1), "0 is kept as 1");
        set.remove(0);
        assert_eq!(set.len(), 6_000);
        for k in 0..6_000_u64 {
            let v = value(k.wrapping_mul(7919) % 6_000);
            set.remove(v);
            let left = held.get_mut(&v).expect("inserted");
            *left -= 1;
            if k % 500 == 0 {
                for (&v, &n) in &held {
                    assert_eq!(set.contains(v), n > 0, "{v:#x} after {k}");
                }
            }
        }
        assert_eq!(set.len(), 0);
        assert!(!set.contains(value(1)));
        set.remove(value(1)); // absent: nothing
        assert_eq!(set.len(), 0);
    }
}
