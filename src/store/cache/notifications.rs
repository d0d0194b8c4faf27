//! What a store tells the session caches in front of it: the [`ChangeNotifications`]
//! capability, the [`SessionChanges`] of each commit, and the [`CacheSubscriber`] handle
//! through which it tells them.

use std::{
    collections::HashSet,
    sync::{PoisonError, RwLock, Weak},
    time::{Duration, Instant},
};

use super::core::SessionCache;
use crate::{token::TokenDigest, user::UserId};

/// How a session cache in front of a store may trust what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Coherence {
    /// Every change to the store's sessions and users is made by this process and reaches
    /// the cache after its commit, before the change is answered (one process owns the
    /// data, as with [`RedbStore`](crate::store::RedbStore)): the cache always answers.
    Exact,
    /// Changes also come from other processes, and reach the cache by notifications it can
    /// lose (as with `PgStore`'s `LISTEN`/`NOTIFY`): the cache answers only while the store
    /// keeps its lease fresh ([`CacheSubscriber::extend_lease`]), which vouches that every
    /// change committed before the lease was taken has been applied.
    Leased,
}

/// A session cache in front of a store: how it trusts what it holds and how much memory it
/// may use. What [`ChangeNotifications::cache_policy`] answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// How the cache trusts what it holds.
    pub coherence: Coherence,
    /// How much memory the cache may use, in bytes (0: no cache).
    pub budget_bytes: usize,
}

/// The capability of telling session caches what each commit changed, so that a cache in
/// front of the store ([`CachedSessions`](super::CachedSessions), which
/// [`Auth::new`](crate::Auth::new) puts in front of every store) answers exactly what the
/// store would. Optional: the default, no policy, means no cache, and every session look-up
/// asks the store.
///
/// A store that implements it promises, for every cache it was given through
/// [`subscribe`](Self::subscribe):
///
/// - every committed change to a session (created sessions aside: no cache holds them),
///   and every committed change to a user that their sessions carry (the email, the
///   credential generation, the deletion), reaches [`CacheSubscriber::invalidate`] after
///   its commit and before the write that made it is answered (local writes); a commit
///   whose outcome is unknown reaches [`CacheSubscriber::clear`];
/// - with [`Coherence::Leased`], changes committed elsewhere reach `invalidate` as they are
///   notified, and the lease ([`CacheSubscriber::extend_lease`]) is extended only up to what
///   the notifications vouch for, and ended ([`CacheSubscriber::end_lease`]) as soon as they
///   may have been lost.
pub trait ChangeNotifications: Send + Sync + 'static {
    /// How a cache in front of this store may work; `None` (the default): no cache.
    fn cache_policy(&self) -> Option<CachePolicy> {
        None
    }

    /// Tells `subscriber` every change from now on, as the [trait docs](Self) say, until the
    /// subscriber's cache is dropped. Called once per cache, only when
    /// [`cache_policy`](Self::cache_policy) gives one.
    fn subscribe(&self, subscriber: CacheSubscriber) {
        drop(subscriber);
    }
}

/// What a commit changed, for the caches: sessions by digest, every session of some users,
/// or everything; and (for the store's own bookkeeping, and for renewals a cache applies in
/// place) the sessions it created, removed or renewed.
#[derive(Debug, Default)]
pub struct SessionChanges {
    /// Sessions changed or removed: dropped from the cache.
    pub(crate) sessions: HashSet<[u8; 32]>,
    /// Users whose every session is dropped from the cache.
    pub(crate) users: HashSet<u64>,
    /// Drop everything.
    pub(crate) all: bool,
    /// Sessions created.
    pub(crate) created: Vec<[u8; 32]>,
    /// Sessions removed (also in `sessions`).
    pub(crate) removed: Vec<[u8; 32]>,
    /// Sessions whose last activity moved forward to the given time (ms since the epoch),
    /// nothing else changed.
    pub(crate) renewed: Vec<([u8; 32], u64)>,
}

impl SessionChanges {
    /// Nothing changed (yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// The session stored under `token` changed or was removed.
    pub fn session(&mut self, token: TokenDigest) -> &mut Self {
        self.sessions.insert(token.0);
        self
    }

    /// Something every session of `user` carries changed (their email, their credential
    /// generation), or the user is gone.
    pub fn user(&mut self, user: UserId) -> &mut Self {
        self.users.insert(user.0);
        self
    }

    /// Anything may have changed.
    pub fn everything(&mut self) -> &mut Self {
        self.all = true;
        self
    }

    /// Whether the commit changed nothing.
    pub fn is_empty(&self) -> bool {
        !self.touches_cached() && self.created.is_empty()
    }

    /// Whether the commit changed anything a cache may hold (created sessions were not
    /// cached: their digests had no session).
    pub(crate) fn touches_cached(&self) -> bool {
        self.all || !self.sessions.is_empty() || !self.users.is_empty() || !self.renewed.is_empty()
    }
}

/// A store's handle on one session cache in front of it, given by
/// [`ChangeNotifications::subscribe`]. It does not keep the cache alive: once the cache is
/// dropped, every call does nothing and [`is_gone`](Self::is_gone) says so.
#[derive(Clone, Debug)]
pub struct CacheSubscriber(pub(super) Weak<SessionCache>);

impl CacheSubscriber {
    /// Drops from the cache what `changes` names.
    pub fn invalidate(&self, changes: &SessionChanges) {
        if let Some(cache) = self.0.upgrade() {
            cache.invalidate(changes);
        }
    }

    /// Drops everything from the cache.
    pub fn clear(&self) {
        if let Some(cache) = self.0.upgrade() {
            cache.clear();
        }
    }

    /// For a [`Coherence::Leased`] cache: every change committed before `vouched_at` has
    /// been applied, so the cache may answer until `vouched_at + lease`.
    pub fn extend_lease(&self, vouched_at: Instant, lease: Duration) {
        if let Some(cache) = self.0.upgrade() {
            cache.extend_lease(vouched_at, lease);
        }
    }

    /// For a [`Coherence::Leased`] cache: the notifications may have been lost; the cache
    /// stops answering and forgets everything until the lease is extended again.
    pub fn end_lease(&self) {
        if let Some(cache) = self.0.upgrade() {
            cache.end_lease();
        }
    }

    /// Whether the cache has been dropped.
    pub fn is_gone(&self) -> bool {
        self.0.strong_count() == 0
    }

    /// How many sessions the cache holds and the memory it accounts for, in bytes.
    pub(crate) fn size(&self) -> (usize, usize) {
        self.0.upgrade().map_or((0, 0), |c| (c.len(), c.bytes()))
    }

    /// Whether the cache would answer `digest` now.
    #[cfg(feature = "postgres")]
    pub(crate) fn serves(&self, digest: &[u8; 32]) -> bool {
        self.0.upgrade().is_some_and(|c| c.serves(digest))
    }
}

/// The caches a store feeds, for the stores of this crate: every call reaches each cache
/// still alive, and dropped ones are forgotten.
#[derive(Debug, Default)]
pub(crate) struct Subscribers(RwLock<Vec<CacheSubscriber>>);

impl Subscribers {
    pub(crate) fn add(&self, subscriber: CacheSubscriber) {
        let mut list = self.0.write().unwrap_or_else(PoisonError::into_inner);
        list.retain(|s| !s.is_gone());
        list.push(subscriber);
    }

    /// Calls `f` with every cache still alive.
    pub(crate) fn each(&self, mut f: impl FnMut(&CacheSubscriber)) {
        for subscriber in self.0.read().unwrap_or_else(PoisonError::into_inner).iter() {
            f(subscriber);
        }
    }

    pub(crate) fn invalidate(&self, changes: &SessionChanges) {
        if changes.touches_cached() {
            self.each(|s| s.invalidate(changes));
        }
    }

    pub(crate) fn clear(&self) {
        self.each(CacheSubscriber::clear);
    }

    /// Sessions cached and memory used, summed over the caches fed.
    pub(crate) fn size(&self) -> (usize, usize) {
        let mut total = (0, 0);
        self.each(|s| {
            let (n, bytes) = s.size();
            total = (total.0 + n, total.1 + bytes);
        });
        total
    }

    /// Whether some cache fed would answer `digest` now.
    #[cfg(feature = "postgres")]
    pub(crate) fn serve(&self, digest: &[u8; 32]) -> bool {
        let mut served = false;
        self.each(|s| served |= s.serves(digest));
        served
    }
}
