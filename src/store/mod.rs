//! Storage: the [`Store`] trait that `Auth` is written against, its embedded implementation,
//! [`RedbStore`], and (feature `postgres`) `PgStore` on PostgreSQL.
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
//! session records the generation it was made at ([`SessionRecord::generation`]), as does
//! every token issued for the account to act on it ([`ResetRecord::generation`],
//! [`EmailTokenRecord::generation`]): a token is redeemed only at the generation it was
//! issued at, checked in the redeeming transaction. A change of credentials advances the
//! generation by one: a change of password ([`Store::update_user`] with a new hash,
//! [`Store::reset_password`]), of email ([`Store::update_user`] with a new email, the
//! redemption of an [`EmailTokenPurpose::ChangeEmail`] token), and turning the second factor
//! on or off ([`SecondFactorChange`]). In the transaction that makes the change, it
//!
//! - removes the user's reset token and email tokens (so that a token issued before the
//!   change is dead, and gone);
//! - ends the sessions it is asked to end, and moves every other session of the user to the
//!   new generation, keeping its key (the changer's cookie stays valid);
//!
//! so that no session or token of the old generation is left (a confirmation, which proves
//! the address and changes no credential, leaves the generation as it is). [`Store::insert_session`] stores a
//! session only if its generation is still the user's, checked in the inserting
//! transaction: a login that verified the old password and inserts after the change fails
//! with [`StoreError::Conflict`]. Callers treat a session whose generation is not its user's
//! as invalid.
//!
//! # Unconfirmed accounts
//!
//! With email confirmation on, an account is unconfirmed until its owner redeems the token
//! mailed to its address. Whoever registered it chose its password before anyone proved the
//! address, so a password must never open the account after *someone else* proves it
//! (pre-hijacking): a registration attempt on the address of an unconfirmed account marks it
//! contested ([`Store::contest_unconfirmed`]), and a contested account is confirmed only with
//! a new password ([`Store::confirm_with_new_password`]; a token-only
//! [`Store::redeem_email_token`] is refused), which replaces the old one in the confirming
//! transaction. A reset whose token went by mail proves the address as well
//! ([`PasswordReset::confirm_email`]). Unconfirmed accounts live a limited time from their
//! creation: the purge removes them, and a registration of the address replaces one that has
//! expired ([`Store::add_unconfirmed_user`]).
//!
//! Writes made from a read of the credentials are compare-and-sets inside the write
//! transaction: a password change against the generation it verified
//! ([`UserUpdate::expected_generation`]), the re-hash at login against the hash it verified
//! ([`Store::rehash_password`]), a reset against its token still being stored, and a
//! deletion or a second-factor removal by the holder of a session against that session and
//! the generation it verified ([`VerifiedSession`]): such a change in flight when a reset
//! commits does not go through after the reset answered.

mod cache;
mod lifecycle;
mod linear_probing;
mod listing;
#[cfg(feature = "postgres")]
mod postgres;
mod records;
mod redb;

use std::{future::Future, time::SystemTime};

#[cfg(feature = "postgres")]
pub(crate) use self::postgres::throttle as postgres_throttle;
#[cfg(feature = "postgres")]
pub use self::postgres::{PgStore, PgStoreBuilder};
pub use self::{
    cache::{
        CachePolicy, CacheSubscriber, CachedSessions, ChangeNotifications, Coherence,
        SessionChanges,
    },
    lifecycle::{
        EmailRedeemed, EmailTokenPurpose, EmailTokenRecord, SecondFactorChange, SecondFactorRecord,
    },
    listing::{ImportedUser, ListedUser},
    records::{
        AccountVersion, DeviceRecord, EndSessions, PasswordReset, Purged, ResetRecord,
        SessionEntry, SessionRecord, UserQuery, UserUpdate, VerifiedSession,
    },
    redb::{RedbStore, RedbStoreBuilder, StoreStats},
};
#[cfg(doc)]
use crate::user::email_key;
use crate::{
    error::StoreError,
    throttle::SharedThrottle,
    token::TokenDigest,
    user::{User, UserId},
};

/// Where accounts, sessions and reset tokens live: the contract every store implements
/// (the embedded [`RedbStore`]; `PgStore` on PostgreSQL with the feature `postgres`). The
/// conformance suite, `tests/conformance/`, is what an implementation must pass.
///
/// - **One transaction per method.** Every method that changes anything does all of it in
///   one transaction, serialisable with every other: either all of it is stored or none,
///   and a concurrent reader sees all or none. Every check a method makes (an email free, a
///   token live, a generation or hash still current) is made inside that transaction.
///   Methods return once the change is durable.
/// - **Emails** are unique by their [`email_key`] (trimmed, NFC, lowercased); the email is
///   stored as given (trimmed).
/// - **Credentials** (see the [module docs](self)): a new hash, a new email and a second
///   factor turned on or off advance the user's generation, remove their reset token and
///   email tokens and move the sessions they do not end to the new generation, in their
///   transaction; a session is inserted, and a token redeemed, only at the user's current
///   generation; compare-and-sets fail with [`StoreError::Conflict`] (or
///   [`StoreError::NotFound`] for a token, or a session that ended) and change nothing.
/// - Errors returned before anything was written (`NotFound`, `EmailTaken`, `Conflict`)
///   leave the store as it was.
/// - **Unconfirmed accounts** (see the [module docs](self)): a registration attempt marks
///   one contested, a contested one is confirmed only with a new password, and one past
///   its lifetime is purged or replaced by a new registration of its address.
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
pub trait Store: ChangeNotifications + Send + Sync + 'static {
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
    ///    its key; the index moves to the new key; the user's reset token and email tokens
    ///    are removed;
    /// 3. a new hash: stored, the reset token and email tokens removed;
    /// 4. with a new hash or an email that differs from the stored one, the generation is
    ///    advanced by one (once, whatever changed);
    /// 5. the sessions `update.end_sessions` names are removed; when the generation
    ///    advanced, every other session of the user is moved to it (same key, same times).
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

    /// Deletes a user with everything that is theirs (sessions, reset token, device tokens,
    /// email tokens, second factor and recovery codes), in one transaction; a cached session
    /// of theirs is invalid once it returns (on every instance, within the store's bound for
    /// other instances). The email can then be registered again.
    fn delete_user(&self, id: UserId) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// As [`delete_user`](Self::delete_user), asked by the holder of a session (a
    /// self-deletion), as a compare-and-set against what it verified: in the deleting
    /// transaction, [`StoreError::NotFound`] if the user is gone or `verified.session` is no
    /// longer stored for them, [`StoreError::Conflict`] if their generation is no longer
    /// `verified.generation`; nothing changed in either case.
    fn delete_user_verified(
        &self,
        id: UserId,
        verified: VerifiedSession,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

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

    /// Stores a reset token for a user, replacing (and so killing) any earlier one, in one
    /// transaction that first checks that the account is still as the caller read it
    /// (`read`; `record.generation` is what the token is then redeemed against):
    /// [`StoreError::Conflict`] if its generation or email changed meanwhile (a
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

    /// In one transaction: checks that the token exists, belongs to `reset.user_id`, has
    /// not expired and was issued at the user's current generation, then sets the hash,
    /// advances the generation, removes the token and the user's email tokens and either
    /// removes the user's sessions (`reset.end_sessions`) or moves them all to the new
    /// generation; with `reset.confirm_email`, also marks the account confirmed and no
    /// longer contested (its confirmation token is among the email tokens removed).
    /// [`StoreError::NotFound`] (and nothing changed) when the token is not good (including
    /// one consumed or revoked since the caller read it, and one issued before a change of
    /// credentials).
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

    /// Inserts a user whose email is not confirmed yet ([`User::email_confirmed`] `false`),
    /// created at `record.created`, with the confirmation token `token` (`record.purpose` is
    /// [`EmailTokenPurpose::Confirm`], `record.user_id` and `record.generation` are ignored:
    /// the new id and generation 0 are used), in one transaction.
    /// [`StoreError::EmailTaken`] as [`add_user`](Self::add_user), except
    /// that an account whose email is not confirmed and that was created at or before
    /// `stale_before` (past its unconfirmed lifetime) is deleted with everything of theirs
    /// (as [`delete_user`](Self::delete_user) does) and replaced, in the same transaction.
    fn add_unconfirmed_user(
        &self,
        email: &str,
        hashed_password: &str,
        token: TokenDigest,
        record: EmailTokenRecord,
        stale_before: SystemTime,
    ) -> impl Future<Output = Result<User, StoreError>> + Send;

    /// Marks the account of `email` (by its [`email_key`]) contested ([`User::contested`])
    /// if its email is not confirmed, checked in the marking transaction: a registration
    /// attempt on its address. `Ok(true)` if it is contested now (also when it already
    /// was); `Ok(false)`, nothing changed, for a confirmed account or none.
    fn contest_unconfirmed(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores an email token for `record.user_id`, replacing (and so revoking) the user's
    /// earlier token of the same kind ([`EmailTokenPurpose::same_kind`]), in one transaction
    /// that first checks the account is still as read (`read`): [`StoreError::Conflict`] if
    /// its generation or email changed, [`StoreError::NotFound`] if it is gone; nothing
    /// changes in either case.
    fn replace_email_token(
        &self,
        token: TokenDigest,
        record: EmailTokenRecord,
        read: AccountVersion,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The email token stored under `token`, whatever its expiry.
    fn email_token(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<Option<EmailTokenRecord>, StoreError>> + Send;

    /// Redeems an email token in one transaction: checks that it is stored, expires after
    /// `now` and was issued at its user's current generation ([`StoreError::NotFound`] and
    /// nothing changed otherwise), removes it, and
    ///
    /// - [`EmailTokenPurpose::Confirm`]: marks the account confirmed (the generation stays);
    ///   for a contested account ([`User::contested`]) [`StoreError::Conflict`] instead,
    ///   nothing changed and the token kept: its password was chosen before the address was
    ///   proven, and only [`confirm_with_new_password`](Self::confirm_with_new_password)
    ///   confirms it;
    /// - [`EmailTokenPurpose::ChangeEmail`]: [`StoreError::EmailTaken`] (nothing changed, the
    ///   token kept) if another account has the new address's [`email_key`]; otherwise moves
    ///   the account to it as [`update_user`](Self::update_user) with a new email does
    ///   (index, sessions' email, the generation advanced and every session moved to it,
    ///   reset token and other email tokens revoked) and marks it confirmed.
    fn redeem_email_token(
        &self,
        token: TokenDigest,
        now: SystemTime,
    ) -> impl Future<Output = Result<EmailRedeemed, StoreError>> + Send;

    /// Redeems a confirmation token ([`EmailTokenPurpose::Confirm`]) with a new password,
    /// in one transaction: checks that it is stored, expires after `now` and was issued at
    /// its user's current generation ([`StoreError::NotFound`], nothing changed, otherwise,
    /// and for a token of another purpose), removes it, sets `hashed_password` as a password change does (the
    /// generation advanced, every session of the user ended, the reset token removed), revokes
    /// the user's other email tokens, marks the account confirmed and no longer contested.
    /// Contested or not: an owner may choose a new password when confirming.
    fn confirm_with_new_password(
        &self,
        token: TokenDigest,
        now: SystemTime,
        hashed_password: String,
    ) -> impl Future<Output = Result<User, StoreError>> + Send;

    /// The second factor of user `id`, pending or enabled; `None` if they have none.
    /// [`StoreError::NotFound`] for an unknown user.
    fn second_factor(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Option<SecondFactorRecord>, StoreError>> + Send;

    /// Applies `change` to the second factor of user `id` in one transaction, as a
    /// compare-and-set (see [`SecondFactorChange`]): `Ok(false)` and nothing changed when
    /// the factor is not in the state the change requires. [`StoreError::NotFound`] for an
    /// unknown user. Turning the factor on or off is a change of credentials (the generation
    /// advanced, every session moved to it, reset and email tokens revoked, in the same
    /// transaction; a cached session of the user is refreshed on every instance).
    fn update_second_factor(
        &self,
        id: UserId,
        change: SecondFactorChange,
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
    /// `idle_before`, reset tokens, device tokens and email tokens that have expired, and the
    /// accounts whose email is not confirmed that were created at or before
    /// `unconfirmed_before` (each with everything of theirs, as
    /// [`delete_user`](Self::delete_user)).
    fn purge_expired(
        &self,
        now: SystemTime,
        idle_before: SystemTime,
        unconfirmed_before: SystemTime,
    ) -> impl Future<Output = Result<Purged, StoreError>> + Send;

    /// The throttle counters this store shares between the instances of an app on its
    /// database, if it does: [`Auth::new`](crate::Auth::new) then counts failed attempts and
    /// request quotas there, so that every instance enforces the same limits. `None` (the
    /// default, and [`RedbStore`]'s: its file belongs to one process) keeps them in the
    /// process's memory. `PgStore` shares them.
    fn shared_throttle(&self) -> Option<SharedThrottle> {
        None
    }
}
