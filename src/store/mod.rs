//! Storage: the [`Store`] trait that `Auth` is written against, and its embedded
//! implementation, [`RedbStore`].
//!
//! The trait is asynchronous so that a networked backend (PostgreSQL) can implement it; the redb
//! store answers reads inline (a read transaction is a few microseconds and never waits on
//! I/O it has not already cached) and sends every write to one writer thread that commits
//! them in groups, each with immediate durability, and answers each caller only after its
//! commit.
//!
//! Sessions and reset tokens are keyed by the SHA-256 [`TokenDigest`] of the token: a store
//! never sees a token itself.

mod redb;
mod session_cache;

use std::{future::Future, time::SystemTime};

pub use self::redb::{RedbStore, RedbStoreBuilder, StoreStats};
use crate::{
    error::StoreError,
    token::TokenDigest,
    user::{User, UserId},
};

/// How to find a user, as a type: an unknown column cannot be asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserQuery {
    /// By id.
    Id(UserId),
    /// By email, without regard to case or surrounding white space.
    Email(String),
    /// The owner of the session with this token digest.
    Session(TokenDigest),
    /// The owner of the reset token with this digest.
    ResetToken(TokenDigest),
}

/// What to change on a user, as a type: an unknown attribute cannot be set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserUpdate {
    /// A new email (must stay unique without regard to case).
    pub email: Option<String>,
    /// A new bcrypt hash.
    pub hashed_password: Option<String>,
    /// Sessions to end in the same transaction.
    pub end_sessions: EndSessions,
}

impl UserUpdate {
    /// An update that changes nothing yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a new email.
    #[must_use]
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets a new password hash.
    #[must_use]
    pub fn hashed_password(mut self, hash: impl Into<String>) -> Self {
        self.hashed_password = Some(hash.into());
        self
    }

    /// Ends sessions in the same transaction.
    #[must_use]
    pub fn end_sessions(mut self, which: EndSessions) -> Self {
        self.end_sessions = which;
        self
    }
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
}

/// A stored reset token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResetRecord {
    /// Whose password it resets.
    pub user_id: UserId,
    /// When it was issued.
    pub created: SystemTime,
    /// When it stops working.
    pub expires: SystemTime,
}

/// A password reset to apply, in one transaction, if the token is still good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordReset {
    /// The digest of the token the client sent.
    pub token: TokenDigest,
    /// The user the token must belong to.
    pub user_id: UserId,
    /// Tokens that expire at or before this moment are refused.
    pub now: SystemTime,
    /// The new bcrypt hash.
    pub hashed_password: String,
    /// Whether to end all the user's sessions too.
    pub end_sessions: bool,
}

/// How many expired records a purge removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Sessions removed.
    pub sessions: usize,
    /// Reset tokens removed.
    pub reset_tokens: usize,
}

/// Where accounts, sessions and reset tokens live.
///
/// Every method that changes more than one record does so in one transaction: either all of
/// it is stored or none. Methods return once the change is durable.
///
/// Implementations decide where the work runs; callers on an async runtime expect that no
/// method blocks a worker thread on disk or network I/O for long.
pub trait Store: Send + Sync + 'static {
    /// Inserts a user. Fails with [`StoreError::EmailTaken`] if an
    /// account has the same email without regard to case; the check and the insert are one
    /// transaction.
    fn add_user(
        &self,
        email: &str,
        hashed_password: &str,
    ) -> impl Future<Output = Result<User, StoreError>> + Send;

    /// The user matching the filter; [`StoreError::NotFound`] if none.
    fn find_user_by(
        &self,
        query: UserQuery,
    ) -> impl Future<Output = Result<User, StoreError>> + Send;

    /// Applies `update` to user `id` and returns the updated user.
    fn update_user(
        &self,
        id: UserId,
        update: UserUpdate,
    ) -> impl Future<Output = Result<User, StoreError>> + Send;

    /// Deletes a user with their sessions and reset token, in one transaction.
    fn delete_user(&self, id: UserId) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a new session. When the user then has more than `max_per_user` sessions, the
    /// oldest are removed in the same transaction.
    fn insert_session(
        &self,
        token: TokenDigest,
        session: SessionRecord,
        max_per_user: Option<usize>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session stored under `token` with its user, whatever its expiry: the caller decides.
    fn session(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<Option<(SessionRecord, User)>, StoreError>> + Send;

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

    /// Stores a reset token for a user, replacing (and so killing) any earlier one.
    fn replace_reset_token(
        &self,
        token: TokenDigest,
        record: ResetRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The reset token stored under `token`, whatever its expiry.
    fn reset_token(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<Option<ResetRecord>, StoreError>> + Send;

    /// In one transaction: checks that the token exists, belongs to `reset.user_id` and has
    /// not expired, then sets the hash, removes the token and, if asked, the user's sessions.
    /// [`StoreError::NotFound`] (and nothing changed) when the token is not good.
    fn reset_password(
        &self,
        reset: PasswordReset,
    ) -> impl Future<Output = Result<User, StoreError>> + Send;

    /// Removes sessions whose absolute lifetime has passed or that have been idle since
    /// `idle_before`, and reset tokens that have expired.
    fn purge_expired(
        &self,
        now: SystemTime,
        idle_before: SystemTime,
    ) -> impl Future<Output = Result<Purged, StoreError>> + Send;
}
