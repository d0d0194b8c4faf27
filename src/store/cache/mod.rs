//! The session cache in front of any store, [`CachedSessions`] (its docs say how it stays
//! exact), and what a store tells it, [`ChangeNotifications`].

mod core;
mod delegate;
mod index;
mod notifications;
mod slot;
mod table;
#[cfg(test)]
mod tests;

use std::{fmt, sync::Arc};

pub(crate) use self::core::DEFAULT_SESSION_CACHE_BYTES;
use self::core::SessionCache;
pub use self::notifications::{
    CachePolicy, CacheSubscriber, ChangeNotifications, Coherence, SessionChanges,
};
pub(crate) use self::notifications::{SessionChanges as Dirty, Subscribers};
use super::{SessionEntry, Store};
use crate::{error::StoreError, token::TokenDigest};

/// One exact in-process cache of sessions in front of any store:
/// validating a session cookie costs a hash-map look-up instead of a read of the store.
/// [`Auth::new`](crate::Auth::new) puts one in front of every store that can feed it
/// ([`ChangeNotifications`]); the store's writes go to the store as before, and the store
/// tells the cache what each of them changed.
///
/// Exact because every committed change to a session or a user reaches the cache before the
/// write is answered ([`ChangeNotifications`]'s promise):
///
/// - the store commits, then the cache bumps `epoch`, then removes the touched entries;
/// - a reader that misses loads `epoch`, reads the store, and inserts what it read only if
///   `epoch` is unchanged, checked under the same lock the removal takes.
///
/// A reader whose read predates a commit therefore either inserts before the removal (and
/// is removed) or sees the bumped epoch (and does not insert). A renewal (only the last
/// activity moved forward) updates the entry in place instead of dropping it, under the same
/// protocol. A store whose changes also come from other processes ([`Coherence::Leased`],
/// `PgStore`) keeps the cache's lease fresh while its notifications are vouched for; without
/// a fresh lease the cache neither answers nor fills, and every look-up reads the store.
///
/// Layout (`table`, `slot`): a slab of 128-byte slots (the digest, user id, times,
/// credential generation, a CLOCK reference bit and the email inline up to 46 bytes) and an
/// index keyed by the digest's first 4 bytes (linear probing over 8-byte buckets: one cache
/// line for most look-ups). A hit takes the read lock, sets the slot's
/// reference bit (an atomic, no write lock) and copies the entry out, which allocates once
/// (the email). Eviction is CLOCK. Invalidation by digest is one index look-up; invalidation
/// by user ([`SessionChanges::user`], which `PgStore`'s notifications still send) scans every
/// slot.
///
/// Memory: the budget ([`CachePolicy::budget_bytes`], set on the store's builder) pays for
/// the index's allocation first, then fits as many slots as the rest holds, counting emails
/// longer than the slot's inline space at what the allocator takes for them: 128 bytes a slot
/// plus 10.7 to 21.3 of index (8-byte buckets, at most 3/4 used, a power of two of them), at
/// most about 150 bytes a session.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::{Duration, SystemTime};
/// use tower_user_auth::{
///     store::{CachedSessions, RedbStore, SessionRecord, prelude::*},
///     token::TokenDigest,
/// };
///
/// let store = RedbStore::in_memory()?;
/// let user = store.add_user("ann@example.com", "$2b$04$...").await?;
/// let token = TokenDigest([7; 32]);
/// let now = SystemTime::now();
/// let record = SessionRecord {
///     user_id: user.id,
///     created: now,
///     last_seen: now,
///     expires: now + Duration::from_secs(3600),
///     generation: user.generation,
/// };
/// store.insert_session(token, record, None).await?;
///
/// let sessions = CachedSessions::new(store.clone());
/// assert!(sessions.session(token).await?.is_some()); // read from the file, cached
/// assert!(sessions.is_cached(token));
/// store.delete_session(token).await?; // the store tells the cache before it answers
/// assert!(!sessions.is_cached(token));
/// assert_eq!(sessions.session_without_waiting(token), Some(None));
/// # Ok(())
/// # }
/// ```
pub struct CachedSessions<S> {
    store: S,
    cache: Arc<SessionCache>,
}

impl<S: Store> CachedSessions<S> {
    /// A cache in front of `store`, as its [`ChangeNotifications::cache_policy`] says (no
    /// policy, or a budget of 0: no cache, every look-up reads the store), subscribed to its
    /// changes.
    pub fn new(store: S) -> Self {
        let policy = store.cache_policy();
        let cache = Arc::new(match policy {
            Some(policy) => SessionCache::with_budget(
                policy.budget_bytes,
                policy.coherence == Coherence::Leased,
            ),
            None => SessionCache::with_budget(0, false),
        });
        if cache.is_on() {
            store.subscribe(CacheSubscriber(Arc::downgrade(&cache)));
        }
        Self { store, cache }
    }

    /// The store behind the cache.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The session stored under `token` with its owner's email, as
    /// [`SessionStore::session`](crate::store::SessionStore::session) answers it: from the cache when it holds it, otherwise from the
    /// store, caching what it read.
    ///
    /// # Errors
    /// The store's.
    pub async fn session(&self, token: TokenDigest) -> Result<Option<SessionEntry>, StoreError> {
        if let Some(hit) = self.cache.get(&token.0) {
            return Ok(Some(hit));
        }
        // Before the read: see the module docs.
        let epoch = self.cache.fill_epoch();
        let found = self.store.session(token).await?;
        if let (Some(epoch), Some(found)) = (epoch, &found) {
            self.cache.insert(epoch, token.0, found.clone());
        }
        Ok(found)
    }

    /// The answer [`session`](Self::session) would give right now when it can give it
    /// without waiting: a cached session, or what the store answers without waiting
    /// ([`SessionStore::session_without_waiting`](crate::store::SessionStore::session_without_waiting): for `RedbStore`, a digest its filter knows is
    /// absent); `None` when the caller must await [`session`](Self::session).
    pub fn session_without_waiting(&self, token: TokenDigest) -> Option<Option<SessionEntry>> {
        if let Some(hit) = self.cache.get(&token.0) {
            return Some(Some(hit));
        }
        self.store.session_without_waiting(token)
    }

    /// Whether [`session`](Self::session) would now answer `token` from the cache: it is on,
    /// may answer (a leased cache: its lease is fresh) and holds the session. For
    /// diagnostics and tests.
    pub fn is_cached(&self, token: TokenDigest) -> bool {
        self.cache.serves(&token.0)
    }

    /// How many sessions are cached.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether no session is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The memory the cache accounts for, in bytes (its slots in use, its index, and emails
    /// too long for their slot).
    pub fn bytes(&self) -> usize {
        self.cache.bytes()
    }
}

impl<S> fmt::Debug for CachedSessions<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedSessions")
            .field("on", &self.cache.is_on())
            .field("answers", &self.cache.answers())
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}
