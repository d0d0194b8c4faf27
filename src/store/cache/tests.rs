use std::{
    sync::{Arc, Barrier},
    thread,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use super::{Dirty, core::SessionCache, slot::SLOT_BYTES};
use crate::{
    store::{SessionEntry, SessionRecord},
    user::UserId,
};

fn digest(n: u64) -> [u8; 32] {
    // Spread like a SHA-256 digest: the index hashes by the first 8 bytes.
    let mut d = [0; 32];
    d[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
    d[8..16].copy_from_slice(&n.to_le_bytes());
    d
}

fn entry(user: u64) -> SessionEntry {
    let t = UNIX_EPOCH + Duration::from_millis(1_767_225_600_123);
    SessionEntry {
        record: SessionRecord {
            user_id: UserId(user),
            created: t,
            last_seen: t,
            expires: t + Duration::from_secs(3600),
            generation: 7,
        },
        email: format!("user{user}@example.com"),
    }
}

fn fill(cache: &SessionCache, n: u64) {
    for i in 0..n {
        cache.insert(cache.epoch(), digest(i), entry(i));
    }
}

#[test]
fn a_hit_returns_what_was_inserted_long_emails_included() {
    let cache = SessionCache::with_budget(1 << 20, false);
    let mut long = entry(3);
    long.email = format!("{}@example.com", "x".repeat(300));
    let precise = SessionEntry {
        record: SessionRecord {
            created: UNIX_EPOCH + Duration::new(1_767_225_600, 123_456_789),
            ..entry(4).record
        },
        ..entry(4)
    };
    for (i, e) in [entry(1), long, precise].into_iter().enumerate() {
        cache.insert(cache.epoch(), digest(i as u64), e.clone());
        assert_eq!(cache.get(&digest(i as u64)), Some(e));
    }
    assert_eq!(cache.get(&digest(99)), None);
}

#[test]
fn the_budget_bounds_the_entries_and_the_accounting() {
    for budget in [0, 100, 64 << 10, 1 << 20] {
        let cache = SessionCache::with_budget(budget, false);
        fill(&cache, 20_000);
        assert!(cache.bytes() <= budget, "{} > {budget}", cache.bytes());
        assert!(cache.len() * SLOT_BYTES <= budget);
        if budget >= 64 << 10 {
            // Most of the budget holds sessions: 128 bytes a slot plus the index.
            assert!(cache.len() >= budget / 150, "{} at {budget}", cache.len());
        }
    }
    let cache = SessionCache::with_budget(64 << 10, false);
    let mut long = entry(1);
    long.email = "x".repeat(10_000);
    for i in 0..100 {
        cache.insert(cache.epoch(), digest(i), long.clone());
    }
    assert!(cache.bytes() <= 64 << 10, "{}", cache.bytes());
}

/// A budget far larger than what is cached costs what is cached: the index grows with the
/// entries (every one of them still found), it is not allocated for the budget.
#[test]
fn the_index_grows_with_the_entries_not_with_the_budget() {
    let cache = SessionCache::with_budget(1 << 30, false);
    fill(&cache, 50_000);
    assert_eq!(cache.len(), 50_000);
    for i in 0..50_000 {
        assert!(cache.serves(&digest(i)), "{i}");
    }
    // 128-byte slots plus at most 21.3 bytes of index a session.
    assert!(cache.bytes() <= 50_000 * 150, "{}", cache.bytes());
    cache.clear();
    assert!(
        cache.bytes() <= 16 << 10,
        "back to the first index: {}",
        cache.bytes()
    );
}

#[test]
fn clock_keeps_a_hot_set_under_a_scan() {
    let cache = SessionCache::with_budget(256 << 10, false);
    fill(&cache, 10_000);
    let capacity = cache.len() as u64;
    let hot: Vec<u64> = (0..capacity / 4).map(|i| 1_000_000 + i).collect();
    for &h in &hot {
        cache.insert(cache.epoch(), digest(h), entry(h));
    }
    // A scan of cold sessions, each seen once, ten times the capacity; the hot set is hit
    // between every few inserts, as a busy site's active users are.
    for i in 0..10 * capacity {
        cache.insert(cache.epoch(), digest(2_000_000 + i), entry(i));
        if i % (capacity / 8) == 0 {
            for &h in &hot {
                assert!(cache.get(&digest(h)).is_some(), "hot {h} evicted at {i}");
            }
        }
    }
    assert!(hot.iter().all(|&h| cache.serves(&digest(h))));
}

#[test]
fn renewal_updates_the_entry_in_place() {
    let cache = SessionCache::with_budget(1 << 20, false);
    cache.insert(cache.epoch(), digest(1), entry(1));
    let later = millis_of(entry(1).record.last_seen) + 60_000;
    cache.invalidate(&Dirty {
        renewed: vec![(digest(1), later)],
        ..Dirty::default()
    });
    let renewed = cache.get(&digest(1)).expect("still cached");
    assert_eq!(
        renewed.record.last_seen,
        UNIX_EPOCH + Duration::from_millis(later)
    );
    assert_eq!(
        SessionEntry {
            record: SessionRecord {
                last_seen: entry(1).record.last_seen,
                ..renewed.record
            },
            ..renewed
        },
        entry(1)
    );
}

fn millis_of(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())).unwrap_or(0)
}

#[test]
fn invalidation_by_digest_and_by_user_drops_exactly_those() {
    let cache = SessionCache::with_budget(1 << 20, false);
    fill(&cache, 100);
    let mut dirty = Dirty::default();
    dirty.sessions.insert(digest(5));
    dirty.users.insert(7);
    dirty.users.insert(70);
    cache.invalidate(&dirty);
    for i in 0..100 {
        assert_eq!(cache.serves(&digest(i)), ![5, 7, 70].contains(&i), "{i}");
    }
    assert_eq!(cache.len(), 97);
    cache.clear();
    assert_eq!((cache.len(), cache.get(&digest(1))), (0, None));
}

/// The epoch race: a reader that read the database before a commit, and inserts after the
/// writer invalidated that commit's sessions, must not insert.
#[test]
fn a_read_from_before_a_commit_is_not_cached_after_its_invalidation() {
    for round in 0..500 {
        let cache = Arc::new(SessionCache::with_budget(1 << 20, false));
        let barrier = Arc::new(Barrier::new(2));
        let reader = {
            let (cache, barrier) = (Arc::clone(&cache), Arc::clone(&barrier));
            thread::spawn(move || {
                let epoch = cache.epoch(); // then "reads the database": the old record
                barrier.wait();
                cache.insert(epoch, digest(1), entry(1));
            })
        };
        barrier.wait();
        let mut dirty = Dirty::default();
        dirty.sessions.insert(digest(1)); // the commit removed it
        cache.invalidate(&dirty);
        reader.join().expect("reader");
        assert!(!cache.serves(&digest(1)), "round {round}: stale entry");
    }
}

/// Resident memory of this process in bytes (Linux), `None` elsewhere.
fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// A measurement, not a check: resident-memory growth per cached session while filling a
/// cache with `CACHE_FILL` (default 1,000,000) sessions of `user123456@example.com`-like
/// emails, beside the cache's own accounting.
/// `CACHE_FILL=1000000 cargo test --lib resident_memory -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, run on purpose (BENCHMARKS.md); .ci/run runs it short with CACHE_FILL=20000"]
fn resident_memory_per_cached_session() {
    let n: u64 = std::env::var("CACHE_FILL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let template = entry(0);
    let before = resident_bytes().unwrap_or(0);
    let cache = SessionCache::with_budget(usize::try_from(n).unwrap_or(usize::MAX) * 200, false);
    let mut email = String::with_capacity(64);
    for i in 0..n {
        use std::fmt::Write as _;
        email.clear();
        let _ = write!(email, "user{}@example.com", 100_000 + i % 900_000);
        let value = SessionEntry {
            record: SessionRecord {
                user_id: UserId(i),
                ..template.record
            },
            email: email.clone(),
        };
        cache.insert(cache.epoch(), digest(i), value);
    }
    let after = resident_bytes().unwrap_or(0);
    assert_eq!(cache.len() as u64, n);
    println!(
        "{n} cached sessions: resident growth {:.1} bytes/session, own accounting {:.1} bytes/session",
        (after - before) as f64 / n as f64,
        cache.bytes() as f64 / n as f64
    );
}
