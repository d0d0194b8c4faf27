//! Removal from an open-addressed table of `u64` buckets with linear probing (0: empty), as
//! both the session cache's index and the redb store's filter of live digests keep them:
//! find the bucket, then shift the following entries back (no tombstones), so that every
//! entry stays reachable from its home bucket and look-ups stay short whatever the churn.

/// An empty bucket.
pub(crate) const EMPTY: u64 = 0;

/// Removes one bucket equal to `wanted`, probing from `start`; `home(bucket)` is where a
/// held bucket's probe starts. `buckets.len()` is a power of two. `false` if none was held.
pub(crate) fn remove(
    buckets: &mut [u64],
    wanted: u64,
    start: usize,
    home: impl Fn(u64) -> usize,
) -> bool {
    let mask = buckets.len() - 1;
    let mut hole = start;
    loop {
        match buckets[hole] {
            EMPTY => return false,
            b if b == wanted => break,
            _ => hole = (hole + 1) & mask,
        }
    }
    // Backward shift: move up each following entry whose home is not between the hole and
    // it (cyclically).
    let mut next = hole;
    loop {
        next = (next + 1) & mask;
        let bucket = buckets[next];
        if bucket == EMPTY {
            break;
        }
        let own = home(bucket);
        let reachable_without = if hole <= next {
            hole < own && own <= next
        } else {
            hole < own || own <= next
        };
        if !reachable_without {
            buckets[hole] = bucket;
            hole = next;
        }
    }
    buckets[hole] = EMPTY;
    true
}
