//! The in-memory throttle's tables: maps of bounded size, and the hourly windows they count
//! in.

use std::{
    collections::HashMap,
    hash::Hash,
    time::{Duration, SystemTime},
};

pub(super) const HOUR: Duration = Duration::from_secs(3600);

/// A table of bounded size: when full, expired entries are dropped, then arbitrary ones,
/// but never one that attempts in flight hold (so that at most as many entries as attempts
/// in flight exceed the bound).
#[derive(Debug)]
pub(super) struct Table<K, V> {
    pub(super) map: HashMap<K, V>,
}

/// An entry that attempts in flight may hold.
pub(super) trait Held {
    /// Attempts in flight hold it.
    fn held(&self) -> bool;
}

impl<K: Hash + Eq + Copy, V: Copy + Held> Table<K, V> {
    pub(super) fn new() -> Self {
        Self {
            map: HashMap::new(),
        }
    }

    pub(super) fn make_room(&mut self, max: usize, expired: impl Fn(&V) -> bool) {
        if self.map.len() < max {
            return;
        }
        self.map.retain(|_, v| v.held() || !expired(v));
        if self.map.len() >= max {
            // Still full of live entries: drop a tenth, so the sweep is amortised.
            let excess = self.map.len() + 1 - max * 9 / 10;
            let doomed: Vec<K> = self
                .map
                .iter()
                .filter(|(_, v)| !v.held())
                .map(|(k, _)| *k)
                .take(excess)
                .collect();
            for k in doomed {
                self.map.remove(&k);
            }
        }
    }
}

/// A count in an hour's window, and the attempts in flight that may add to it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Window {
    pub(super) start: SystemTime,
    pub(super) count: u32,
    pub(super) in_flight: u32,
}

impl Held for Window {
    fn held(&self) -> bool {
        self.in_flight > 0
    }
}

pub(super) fn remaining(until: SystemTime, now: SystemTime) -> Duration {
    until.duration_since(now).unwrap_or(Duration::ZERO)
}

pub(super) fn window_expired(w: &Window, now: SystemTime) -> bool {
    now >= w.start + HOUR
}

/// The wait until `w`'s window ends if its count has reached `limit`.
pub(super) fn window_blocks(w: Option<&Window>, limit: u32, now: SystemTime) -> Option<Duration> {
    let w = w?;
    let end = w.start + HOUR;
    (now < end && w.count >= limit).then(|| remaining(end, now))
}

/// `key`'s window in `table`, made if absent and started again if expired (its attempts
/// in flight kept).
pub(super) fn window<K: Hash + Eq + Copy>(
    table: &mut Table<K, Window>,
    key: K,
    now: SystemTime,
    max: usize,
) -> &mut Window {
    table.make_room(max, |w| window_expired(w, now));
    let w = table.map.entry(key).or_insert(Window {
        start: now,
        count: 0,
        in_flight: 0,
    });
    if window_expired(w, now) {
        w.start = now;
        w.count = 0;
    }
    w
}

/// Counts one in `key`'s window.
pub(super) fn bump<K: Hash + Eq + Copy>(
    table: &mut Table<K, Window>,
    key: K,
    now: SystemTime,
    max: usize,
) {
    let w = window(table, key, now, max);
    w.count = w.count.saturating_add(1);
}
