//! Sessions: the [`SessionStore`] trait, the stored [`SessionRecord`], what a look-up
//! returns ([`SessionEntry`]), which sessions a change ends ([`EndSessions`]) and what a
//! request verified from its session ([`VerifiedSession`]).

use std::{future::Future, time::SystemTime};

#[cfg(doc)]
use super::{SecondFactorChange, UserStore, UserUpdate};
#[cfg(doc)]
use crate::user::User;
use crate::{error::StoreError, token::TokenDigest, user::UserId};

/// Sessions, keyed by the SHA-256 [`TokenDigest`] of their token (a store never sees a
/// token itself): part of [`Store`](super::Store).
///
/// - **One transaction per write**, serialisable with every other, durable when it returns.
/// - **Compare-and-set on insert**: [`insert_session`](Self::insert_session) stores a session
///   only at its user's current credential generation ([`User::generation`]), checked in the
///   inserting transaction, so that a login that verified a password changed meanwhile fails
///   with [`StoreError::Conflict`] (see [`UserStore`]'s credentials). The eviction beyond
///   the per-user cap is in the same transaction.
/// - **Reads agree with every committed write**: [`session`](Self::session) (and
///   [`session_without_waiting`](Self::session_without_waiting), which must agree with it)
///   never answers a session that a committed change ended or moved, on this instance, and
///   on another instance within the store's bound.
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session if `session.generation` is its user's current generation
    /// ([`StoreError::Conflict`] otherwise; [`StoreError::NotFound`] for an unknown user),
    /// checked in the inserting transaction. When the user then has more than
    /// `max_per_user` sessions, the oldest are removed in the same transaction.
    fn insert_session(
        &self,
        token: TokenDigest,
        session: SessionRecord,
        max_per_user: Option<usize>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session stored under `token` with its owner's email, whatever its expiry: the
    /// caller decides. This is the look-up behind every authenticated request.
    fn session(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<Option<SessionEntry>, StoreError>> + Send;

    /// The answer [`session`](Self::session) would give for `token` right now, when this store
    /// can give it without waiting (from memory: a cached session, or a digest the store
    /// knows is absent); `None` when it cannot, and the caller then awaits
    /// [`session`](Self::session).
    ///
    /// - `None`: "cannot answer without waiting", the default, always correct: a store that
    ///   does not override this is asked through [`session`](Self::session) as before.
    /// - `Some(Some(entry))`: the session is stored under `token`, as `session` would return it.
    /// - `Some(None)`: no session is stored under `token`.
    ///
    /// An override must agree exactly with [`session`](Self::session): whatever it answers is
    /// what `session` would have answered at the same moment (same entry, same invalidation
    /// by every committed write), so that a request answered by it is treated as if `session`
    /// had been awaited. It must not block, do I/O or take a lock held across I/O. The layer
    /// calls it first on every request that carries a session cookie: with an answer it calls
    /// the wrapped service at once, without boxing a future.
    fn session_without_waiting(&self, token: TokenDigest) -> Option<Option<SessionEntry>> {
        let _ = token;
        None
    }

    /// Records activity on a session. Does nothing if it no longer exists.
    fn touch_session(
        &self,
        token: TokenDigest,
        last_seen: SystemTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes a session; `false` if there was none.
    fn delete_session(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A user's sessions, oldest first.
    fn sessions_of(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Vec<(TokenDigest, SessionRecord)>, StoreError>> + Send;

    /// Removes sessions of a user; returns how many.
    fn delete_sessions_of(
        &self,
        id: UserId,
        which: EndSessions,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// A stored session. Its key, the token's digest, is kept beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The session's owner.
    pub user_id: UserId,
    /// When it was created (at login).
    pub created: SystemTime,
    /// When it was last seen, to the renewal interval.
    pub last_seen: SystemTime,
    /// When it ends whatever its activity (absolute lifetime).
    pub expires: SystemTime,
    /// The user's credential generation the session belongs to: the one its login verified.
    /// The session is valid only while this is the user's current generation.
    pub generation: u64,
}

/// A stored session with what validating a request needs of its owner: what
/// [`SessionStore::session`] returns. The owner's email is kept with the
/// session (a change of email updates the user's sessions in its transaction), so that a
/// request is validated by one look-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionEntry {
    /// The session.
    pub record: SessionRecord,
    /// The owner's email, as registered.
    pub email: String,
}

/// Which of a user's sessions a change ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EndSessions {
    /// None.
    #[default]
    None,
    /// All of them.
    All,
    /// All but the one with this digest (the session making the change).
    AllExcept(TokenDigest),
}

/// What a request made from a session verified before a change it asks for (its password,
/// and its second factor when the account has one): the session, and the credential
/// generation the check was made at. A change that carries it
/// ([`UserStore::delete_user_verified`], [`SecondFactorChange::RemoveVerified`])
/// is a compare-and-set, checked in its transaction: [`StoreError::NotFound`] if the session
/// is no longer stored for the user (it ended: a logout, a reset that ended every session),
/// [`StoreError::Conflict`] if the user's generation moved (a change of password, of second
/// factor or of email came first); nothing changed in either case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedSession {
    /// The digest of the session that asked for the change.
    pub session: TokenDigest,
    /// The user's credential generation that was verified.
    pub generation: u64,
}
