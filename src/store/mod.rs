//! Storage: the [`Store`] trait that `Auth` is written against, and its embedded
//! implementation, [`RedbStore`].
//!
//! The trait is asynchronous so that a networked backend (PostgreSQL) can implement it; the redb
//! store answers reads inline (a read transaction is a few microseconds and never waits on
//! I/O it has not already cached) and sends every write to one writer thread that commits
//! them in groups, each with immediate durability, and answers each caller only after its
//! commit.
//!
//! Sessions, reset tokens and device tokens are keyed by the SHA-256 [`TokenDigest`] of the
//! token: a store never sees a token itself.
//!
//! # Device tokens
//!
//! A device token ([`DeviceRecord`], OWASP's device cookies) is bound to one account, at most
//! a given number per account (the oldest evicted in the inserting transaction), and counts
//! its failures in a row: [`Store::record_device_failure`] increments or, at the limit,
//! removes it in one transaction, so that concurrent attempts cannot exceed the limit. A
//! password change or reset leaves them (they prove a device that once knew a password, not
//! the password); deleting the user removes them in its transaction.
//!
//! # Credentials
//!
//! Every user has a credential generation ([`User::generation`], a security stamp), and every
//! session records the generation it was made at ([`SessionRecord::generation`]). A change
//! of password ([`Store::update_user`] with a new hash, [`Store::reset_password`]) advances
//! the generation by one, in the transaction that sets the hash, and in that same
//! transaction:
//!
//! - removes the user's reset token (so a token issued before the change is dead);
//! - ends the sessions it is asked to end, and moves every other session of the user to the
//!   new generation, keeping its key (the changer's cookie stays valid);
//!
//! so that no session of the old generation is left. [`Store::insert_session`] stores a
//! session only if its generation is still the user's, checked in the inserting
//! transaction: a login that verified the old password and inserts after the change fails
//! with [`StoreError::Conflict`]. Callers treat a session whose generation is not its user's
//! as invalid.
//!
//! Writes made from a read of the credentials are compare-and-sets inside the write
//! transaction: a password change against the generation it verified
//! ([`UserUpdate::expected_generation`]), the re-hash at login against the hash it verified
//! ([`Store::rehash_password`]), a reset against its token still being stored.

mod listing;
mod redb;
mod session_cache;

use std::{fmt, future::Future, time::SystemTime};

pub use self::{
    listing::{ImportedUser, ListedUser},
    redb::{RedbStore, RedbStoreBuilder, StoreStats},
};
#[cfg(doc)]
use crate::user::email_key;
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
    /// By email: by its [`email_key`] (without regard to surrounding white space, case or
    /// Unicode normalisation).
    Email(String),
    /// The owner of the session with this token digest.
    Session(TokenDigest),
    /// The owner of the reset token with this digest.
    ResetToken(TokenDigest),
}

/// What to change on a user, as a type: an unknown attribute cannot be set.
///
/// A new email or a new hash removes the user's reset token; a new hash also advances the
/// credential generation and moves the sessions not ended to it (see the [module
/// docs](self)).
///
/// `Debug` redacts the new hash.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserUpdate {
    /// A new email (its [`email_key`] must stay unique).
    pub email: Option<String>,
    /// A new bcrypt hash: a new password.
    pub hashed_password: Option<String>,
    /// Sessions to end in the same transaction.
    pub end_sessions: EndSessions,
    /// Compare-and-set: apply the update only if the user's credential generation is still
    /// this one; otherwise [`StoreError::Conflict`] and nothing changes.
    pub expected_generation: Option<u64>,
}

impl fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserUpdate")
            .field("email", &self.email)
            .field(
                "hashed_password",
                &self.hashed_password.as_ref().map(|_| REDACTED),
            )
            .field("end_sessions", &self.end_sessions)
            .field("expected_generation", &self.expected_generation)
            .finish()
    }
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

    /// Applies the update only if the user's credential generation is still `generation`
    /// (the one the caller verified the password at).
    #[must_use]
    pub fn expected_generation(mut self, generation: u64) -> Self {
        self.expected_generation = Some(generation);
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
    /// The user's credential generation the session belongs to: the one its login verified.
    /// The session is valid only while this is the user's current generation.
    pub generation: u64,
}

/// The account as a caller read it before a write that depends on it. The store refuses
/// the write with [`StoreError::Conflict`], changing nothing, if the account's credential
/// generation or email (compared by [`email_key`]) changed since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountVersion {
    /// The credential generation that was read.
    pub generation: u64,
    /// The email that was read.
    pub email: String,
}

impl AccountVersion {
    /// The version of `user` as read.
    #[must_use]
    pub fn of(user: &User) -> Self {
        Self {
            generation: user.generation,
            email: user.email.clone(),
        }
    }
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

/// A password reset to apply, in one transaction, if the token is still good. `Debug`
/// redacts the new hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordReset {
    /// The digest of the token the client sent.
    pub token: TokenDigest,
    /// The user the token must belong to.
    pub user_id: UserId,
    /// Tokens that expire at or before this moment are refused.
    pub now: SystemTime,
    /// The new bcrypt hash.
    pub hashed_password: String,
    /// Whether to end all the user's sessions too (otherwise they are moved to the new
    /// credential generation).
    pub end_sessions: bool,
}

impl fmt::Debug for PasswordReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordReset")
            .field("token", &self.token)
            .field("user_id", &self.user_id)
            .field("now", &self.now)
            .field("hashed_password", &REDACTED)
            .field("end_sessions", &self.end_sessions)
            .finish()
    }
}

/// What `Debug` shows in place of a password hash.
const REDACTED: &str = "<redacted>";

/// A stored device token (OWASP's device cookies): proof that a browser once logged in to the
/// account, which spares its holder the per-account lockout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The account it was issued for; it counts for no other.
    pub user_id: UserId,
    /// When it was issued (the oldest are evicted beyond the per-account cap).
    pub created: SystemTime,
    /// When it stops counting (and is purged).
    pub expires: SystemTime,
    /// Failed logins in a row that presented it.
    pub failures: u32,
}

/// How many expired records a purge removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Sessions removed.
    pub sessions: usize,
    /// Reset tokens removed.
    pub reset_tokens: usize,
    /// Device tokens removed.
    pub device_tokens: usize,
}

/// Where accounts, sessions and reset tokens live: the contract every store implements
/// (the embedded [`RedbStore`], a networked one later).
///
/// - **One transaction per method.** Every method that changes anything does all of it in
///   one transaction, serialisable with every other: either all of it is stored or none,
///   and a concurrent reader sees all or none. Every check a method makes (an email free, a
///   token live, a generation or hash still current) is made inside that transaction.
///   Methods return once the change is durable.
/// - **Emails** are unique by their [`email_key`] (trimmed, NFC, lowercased); the email is
///   stored as given (trimmed).
/// - **Credentials** (see the [module docs](self)): a new hash advances the user's
///   generation, removes their reset token and moves the sessions it does not end to the new
///   generation, in its transaction; a session is inserted only at the user's current
///   generation; compare-and-sets fail with [`StoreError::Conflict`] (or
///   [`StoreError::NotFound`] for a reset token) and change nothing.
/// - Errors returned before anything was written (`NotFound`, `EmailTaken`, `Conflict`)
///   leave the store as it was.
///
/// Implementations decide where the work runs; callers on an async runtime expect that no
/// method blocks a worker thread on disk or network I/O for long.
///
/// [`Auth`](crate::Auth) runs over any store ([`Auth::new`](crate::Auth::new)); code written
/// against the trait works with each of them:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_user_auth::{
///     Auth, AuthConfig,
///     error::StoreError,
///     store::{RedbStore, Store},
/// };
///
/// /// Every account's email, a page at a time, in id order.
/// async fn emails<S: Store>(store: &S) -> Result<Vec<String>, StoreError> {
///     let (mut emails, mut after) = (Vec::new(), None);
///     loop {
///         let page = store.list_users(after, 100).await?;
///         let Some(last) = page.last() else { return Ok(emails) };
///         after = Some(last.user.id);
///         emails.extend(page.into_iter().map(|listed| listed.user.email));
///     }
/// }
///
/// let dir = tempfile::tempdir()?;
/// let store = RedbStore::open(dir.path().join("auth.redb"))?;
/// let auth = Auth::new(store, AuthConfig::hardened().with_bcrypt_cost(4))?;
/// auth.register("bob@example.com", "correct horse battery staple", None).await?;
/// assert_eq!(emails(auth.store()).await?, ["bob@example.com"]);
/// # Ok(())
/// # }
/// ```
pub trait Store: Send + Sync + 'static {
    /// Inserts a user at credential generation 0. Fails with [`StoreError::EmailTaken`] if an
    /// account has the same [`email_key`]; the check and the insert are one transaction.
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

    /// Applies `update` to user `id` in one transaction and returns the updated user:
    ///
    /// 1. if `update.expected_generation` is set and is not the user's generation,
    ///    [`StoreError::Conflict`], nothing changed;
    /// 2. a new email: [`StoreError::EmailTaken`] (nothing changed) if another account has
    ///    its key; the index moves to the new key; the user's reset token is removed;
    /// 3. a new hash: stored, the generation advanced by one, the reset token removed;
    /// 4. the sessions `update.end_sessions` names are removed; with a new hash, every other
    ///    session of the user is moved to the new generation (same key, same times).
    ///
    /// [`StoreError::NotFound`] for an unknown id, and when `update.end_sessions` is
    /// [`EndSessions::AllExcept`] a session that no longer exists or is not the user's (the
    /// session that asked for the change has ended: the change is not authorised any more).
    fn update_user(
        &self,
        id: UserId,
        update: UserUpdate,
    ) -> impl Future<Output = Result<User, StoreError>> + Send;

    /// Up to `limit` users in id order, after the id `after` (from the first without), read
    /// in one transaction: a page of the accounts for an administrator.
    fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ListedUser>, StoreError>> + Send;

    /// Inserts an exported account under a new id, keeping its hash, generation and creation
    /// time, in one transaction; [`StoreError::EmailTaken`] if its [`email_key`] is taken.
    fn import_user(
        &self,
        user: ImportedUser,
    ) -> impl Future<Output = Result<User, StoreError>> + Send;

    /// Deletes a user with their sessions, reset token and device tokens, in one transaction.
    fn delete_user(&self, id: UserId) -> impl Future<Output = Result<(), StoreError>> + Send;

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

    /// The session stored under `token` with its user, whatever its expiry and generation:
    /// the caller decides.
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

    /// Stores a reset token for a user, replacing (and so killing) any earlier one, in one
    /// transaction that first checks that the account is still as the caller read it
    /// (`read`): [`StoreError::Conflict`] if its generation or email changed meanwhile (a
    /// password change, a reset or an email change would otherwise be followed by a token
    /// issued for the account as it was, and delivered to its old address),
    /// [`StoreError::NotFound`] if it no longer exists; nothing changes in either case.
    fn replace_reset_token(
        &self,
        token: TokenDigest,
        record: ResetRecord,
        read: AccountVersion,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The reset token stored under `token`, whatever its expiry.
    fn reset_token(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<Option<ResetRecord>, StoreError>> + Send;

    /// In one transaction: checks that the token exists, belongs to `reset.user_id` and has
    /// not expired, then sets the hash, advances the generation, removes the token and either
    /// removes the user's sessions (`reset.end_sessions`) or moves them all to the new
    /// generation. [`StoreError::NotFound`] (and nothing changed) when the token is not good
    /// (including one consumed or revoked since the caller read it).
    fn reset_password(
        &self,
        reset: PasswordReset,
    ) -> impl Future<Output = Result<User, StoreError>> + Send;

    /// Replaces the hash of user `id` by `new_hash`, a hash of the same password at another
    /// cost (the upgrade at login), if the stored hash is still `verified_hash`: a
    /// compare-and-set in one transaction. Does not change the generation, the sessions or
    /// the reset token. `Ok(false)` (nothing changed) if the hash changed meanwhile or the
    /// user is gone.
    fn rehash_password(
        &self,
        id: UserId,
        verified_hash: String,
        new_hash: String,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a device token for `record.user_id` ([`StoreError::NotFound`] for an unknown
    /// user); when the user then has more than `max_per_user`, the oldest (by `created`) are
    /// removed in the same transaction, never the new one.
    fn insert_device_token(
        &self,
        token: TokenDigest,
        record: DeviceRecord,
        max_per_user: usize,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The device token stored under `token`, whatever its expiry: the caller decides.
    fn device_token(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<Option<DeviceRecord>, StoreError>> + Send;

    /// Counts one failure on the device token `token` if it is stored for `user`, in one
    /// transaction: a token that already has `limit` failures is removed (revoked) and the
    /// answer is `None`; otherwise its count goes up by one and the new count is returned.
    /// `None` (nothing changed) if no such token is stored for `user`.
    ///
    /// Callers count an attempt before verifying its password, so that concurrent attempts
    /// with one token cannot exceed `limit` between them; after a success they call
    /// [`reset_device_failures`](Self::reset_device_failures), after the failure that
    /// brought the count to `limit` they call this once more, which removes the token.
    fn record_device_failure(
        &self,
        token: TokenDigest,
        user: UserId,
        limit: u32,
    ) -> impl Future<Output = Result<Option<u32>, StoreError>> + Send;

    /// Sets the failure count of the device token `token` back to zero (a successful login
    /// presented it); `false` (nothing changed) if it no longer exists.
    fn reset_device_failures(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes every device token of a user; returns how many.
    fn delete_device_tokens_of(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Removes sessions whose absolute lifetime has passed or that have been idle since
    /// `idle_before`, and reset tokens and device tokens that have expired.
    fn purge_expired(
        &self,
        now: SystemTime,
        idle_before: SystemTime,
    ) -> impl Future<Output = Result<Purged, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_new_hashes() {
        let update = UserUpdate::new().hashed_password("$2b$04$secret-hash");
        let reset = PasswordReset {
            token: TokenDigest([7; 32]),
            user_id: UserId(1),
            now: SystemTime::UNIX_EPOCH,
            hashed_password: "$2b$04$secret-hash".into(),
            end_sessions: true,
        };
        for shown in [format!("{update:?}"), format!("{reset:?}")] {
            assert!(!shown.contains("secret-hash"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
    }
}
