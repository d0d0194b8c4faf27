//! The cache's storage: a slab of [`Slot`]s, an index from digest to slot, and a CLOCK hand.
//!
//! The [`Index`] maps a digest to its slot number by the digest's first 4 bytes: SHA-256
//! digests are uniformly random, so they are not hashed again. A vacant slot's number waits
//! in `free`. When the budget is spent, the CLOCK hand sweeps the
//! slots: a slot whose reference bit is set (a hit since the hand last passed) loses the bit
//! and stays; the first one without it is evicted.
//!
//! The budget is divided once, at creation, between the index at its largest and the slots;
//! the index starts small and doubles as entries arrive (a rebuild from the live slots), so
//! that a cache holding fewer sessions than its budget allows has an index its size, not
//! the budget's.

use super::{
    index::{Index, tag},
    slot::{SLOT_BYTES, Slot, heap_cost},
};
use crate::store::SessionEntry;

/// The entries the index holds before its first doubling.
const INITIAL_INDEX_ENTRIES: usize = 1024;

#[derive(Debug)]
pub(super) struct Table {
    slots: Vec<Slot>,
    index: Index,
    /// The entries the index may grow to hold: its capacity at the largest size the budget
    /// allows.
    index_limit: usize,
    free: Vec<u32>,
    hand: usize,
    live: usize,
    /// Heap bytes of the emails too long for their slot.
    heap: usize,
    /// Bytes the slots and the long emails may use (the index's allocation is taken off the
    /// budget up front).
    budget: usize,
}

impl Table {
    /// A table within `budget` bytes: slots, index and long emails together.
    pub(super) fn with_budget(budget: usize) -> Self {
        // The index takes 8 bytes a bucket, 4 buckets for at most 3 entries, rounded up to
        // a power of two: 128 + 10.7 to 21.3 bytes an entry.
        let estimate = budget / (SLOT_BYTES + 11);
        let fits = |index: &Index| {
            (budget.saturating_sub(index.bytes()) / SLOT_BYTES).min(index.capacity())
        };
        let mut index = Index::with_capacity(estimate);
        if index.bytes() + estimate * SLOT_BYTES > budget {
            // Rounded up past the budget: the next smaller power of two may hold more.
            let smaller = Index::with_capacity((index.capacity() / 2).saturating_sub(1));
            if fits(&smaller) > fits(&index) {
                index = smaller;
            }
        }
        let budget = budget.saturating_sub(index.bytes());
        let index_limit = index.capacity();
        index.reset_for(index_limit.min(INITIAL_INDEX_ENTRIES));
        Self {
            slots: Vec::with_capacity(budget / SLOT_BYTES),
            index,
            index_limit,
            free: Vec::new(),
            hand: 0,
            live: 0,
            heap: 0,
            budget,
        }
    }

    /// How many sessions fit (with emails that fit their slot).
    pub(super) fn capacity(&self) -> usize {
        (self.budget / SLOT_BYTES).min(self.index_limit)
    }

    pub(super) fn len(&self) -> usize {
        self.live
    }

    /// The cache's own accounting of its memory: slots in use, the index, long emails.
    pub(super) fn bytes(&self) -> usize {
        self.slots.len() * SLOT_BYTES + self.index.bytes() + self.heap
    }

    fn find(&self, digest: &[u8; 32]) -> Option<usize> {
        let slots = &self.slots;
        self.index
            .find(tag(digest), |i| slots[i as usize].digest == *digest)
            .map(|i| i as usize)
    }

    pub(super) fn get(&self, digest: &[u8; 32]) -> Option<SessionEntry> {
        self.slots[self.find(digest)?].hit()
    }

    pub(super) fn contains(&self, digest: &[u8; 32]) -> bool {
        self.find(digest).is_some()
    }

    /// Caches `entry`, replacing what `digest` held, evicting by CLOCK to stay in budget.
    pub(super) fn insert(&mut self, digest: [u8; 32], entry: &SessionEntry) {
        let Some(slot) = Slot::new(digest, entry) else {
            return;
        };
        let cost = heap_cost(entry.email.len());
        self.remove(&digest);
        if cost + SLOT_BYTES > self.budget || self.index_limit == 0 {
            return;
        }
        while self.live >= self.capacity() || self.used() + cost + SLOT_BYTES > self.budget {
            if !self.evict_one() {
                return;
            }
        }
        let at = match self.free.pop() {
            Some(at) => at as usize,
            None => {
                self.slots.push(Slot::vacant());
                self.slots.len() - 1
            }
        };
        let Ok(number) = u32::try_from(at) else {
            self.slots[at] = Slot::vacant();
            return;
        };
        if self.live + 1 > self.index.capacity() {
            self.grow_index(self.live + 1);
        }
        self.heap += slot.heap_bytes();
        self.slots[at] = slot;
        self.live += 1;
        self.index.insert(tag(&digest), number);
    }

    /// Rebuilds the index from the live slots, at twice its size (at least `entries`, at
    /// most `index_limit`).
    fn grow_index(&mut self, entries: usize) {
        let wanted = entries.max(self.index.capacity() * 2).min(self.index_limit);
        self.index.reset_for(wanted);
        for (at, slot) in self.slots.iter().enumerate() {
            if slot.live {
                self.index
                    .insert(tag(&slot.digest), u32::try_from(at).unwrap_or(u32::MAX));
            }
        }
    }

    /// Bytes of live slots and long emails, against `budget`.
    fn used(&self) -> usize {
        self.live * SLOT_BYTES + self.heap
    }

    /// Drops the session of `digest`, if cached (no scan: one index look-up).
    pub(super) fn remove(&mut self, digest: &[u8; 32]) {
        if let Some(at) = self.find(digest) {
            self.index
                .remove(tag(digest), u32::try_from(at).unwrap_or(u32::MAX));
            self.vacate(at);
        }
    }

    fn vacate(&mut self, at: usize) {
        let old = std::mem::replace(&mut self.slots[at], Slot::vacant());
        self.heap -= old.heap_bytes();
        self.live -= 1;
        self.free.push(u32::try_from(at).unwrap_or(u32::MAX));
    }

    /// Renews the session of `digest` in place, if cached.
    pub(super) fn renew(&mut self, digest: &[u8; 32], last_seen_ms: u64) {
        if let Some(at) = self.find(digest) {
            self.slots[at].renew(last_seen_ms);
        }
    }

    /// Drops every session of the users `wanted` says: a scan of every slot.
    pub(super) fn remove_users(&mut self, mut wanted: impl FnMut(u64) -> bool) {
        for at in 0..self.slots.len() {
            if self.slots[at].live && wanted(self.slots[at].user_id()) {
                let digest = self.slots[at].digest;
                self.remove(&digest);
            }
        }
    }

    pub(super) fn clear(&mut self) {
        self.index
            .reset_for(self.index_limit.min(INITIAL_INDEX_ENTRIES));
        self.slots.clear();
        self.free.clear();
        self.hand = 0;
        self.live = 0;
        self.heap = 0;
    }

    /// CLOCK: advances the hand past referenced slots (clearing their bit) to the first one
    /// not referenced, and evicts it. `false` if nothing is cached.
    fn evict_one(&mut self) -> bool {
        if self.live == 0 {
            return false;
        }
        // Two sweeps at most: the first clears every bit it passes.
        for _ in 0..=2 * self.slots.len() {
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let at = self.hand;
            self.hand += 1;
            let slot = &mut self.slots[at];
            if slot.live && !slot.second_chance() {
                let digest = slot.digest;
                self.remove(&digest);
                return true;
            }
        }
        false
    }
}
