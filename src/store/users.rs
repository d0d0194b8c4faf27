//! Users and their credentials: the [`UserStore`] trait, how to find a user ([`UserQuery`]),
//! what to change on one ([`UserUpdate`]), and accounts as an administrator lists, exports
//! and imports them ([`ListedUser`], [`ImportedUser`]).

use std::{fmt, future::Future, time::SystemTime};

#[cfg(doc)]
use super::{EmailTokenPurpose, PasswordReset, SecondFactorChange, TokenStore};
use super::{EmailTokenRecord, EndSessions, SecondFactorRecord, VerifiedSession};
use crate::{
    error::StoreError,
    token::TokenDigest,
    user::{User, UserId},
};
#[cfg(doc)]
use crate::{store::SessionRecord, user::email_key};

/// Users and their credentials: accounts, their passwords and emails, and unconfirmed
/// accounts (part of [`Store`](super::Store)).
///
/// - **One transaction per method**, serialisable with every other; every check a method
///   makes (an email free, a generation or hash still current) is made inside it; a method
///   returns once its change is durable. Errors returned before anything was written
///   (`NotFound`, `EmailTaken`, `Conflict`) leave the store as it was.
/// - **Emails** are unique by their [`email_key`] (trimmed, NFC, lowercased); the email is
///   stored as given (trimmed).
///
/// # Credentials
///
/// Every user has a credential generation ([`User::generation`], a security stamp), and every
/// session records the generation it was made at ([`SessionRecord::generation`]), as does
/// every token issued for the account to act on it ([`ResetRecord::generation`](super::ResetRecord::generation),
/// [`EmailTokenRecord::generation`]): a token is redeemed only at the generation it was
/// issued at, checked in the redeeming transaction. A change of credentials advances the
/// generation by one: a change of password ([`update_user`](Self::update_user) with a new
/// hash, [`TokenStore::reset_password`]), of email ([`update_user`](Self::update_user) with a
/// new email, the redemption of an [`EmailTokenPurpose::ChangeEmail`] token), and turning the
/// second factor on or off ([`SecondFactorChange`]). In the transaction that makes the change, it
///
/// - removes the user's reset token and email tokens (so that a token issued before the
///   change is dead, and gone);
/// - ends the sessions it is asked to end, and moves every other session of the user to the
///   new generation, keeping its key (the changer's cookie stays valid);
///
/// so that no session or token of the old generation is left (a confirmation, which proves
/// the address and changes no credential, leaves the generation as it is).
/// [`SessionStore::insert_session`](super::SessionStore::insert_session) stores a session only
/// if its generation is still the user's, checked in the inserting transaction: a login that
/// verified the old password and inserts after the change fails with
/// [`StoreError::Conflict`]. Callers treat a session whose generation is not its user's as
/// invalid.
///
/// **Compare-and-sets.** Writes made from a read of the credentials are compare-and-sets
/// inside the write transaction, failing with [`StoreError::Conflict`] (or
/// [`StoreError::NotFound`] for a session that ended) and changing nothing: a password change
/// against the generation it verified ([`UserUpdate::expected_generation`]), the re-hash at
/// login against the hash it verified ([`rehash_password`](Self::rehash_password), which
/// answers `false`), a reset against its token still being stored, and a deletion or a
/// second-factor removal by the holder of a session against that session and the generation
/// it verified ([`VerifiedSession`]): such a change in flight when a reset commits does not go
/// through after the reset answered.
///
/// # Unconfirmed accounts
///
/// With email confirmation on, an account is unconfirmed until its owner redeems the token
/// mailed to its address. Whoever registered it chose its password before anyone proved the
/// address, so a password must never open the account after *someone else* proves it
/// (pre-hijacking): a registration attempt on the address of an unconfirmed account marks it
/// contested ([`contest_unconfirmed`](Self::contest_unconfirmed)), and a contested account is
/// confirmed only with a new password ([`TokenStore::confirm_with_new_password`]; a
/// token-only [`TokenStore::redeem_email_token`] is refused), which replaces the old one in
/// the confirming transaction. A reset whose token went by mail proves the address as well
/// ([`PasswordReset::confirm_email`]). Unconfirmed accounts live a limited time from their
/// creation: the purge removes them, and a registration of the address replaces one that has
/// expired ([`add_unconfirmed_user`](Self::add_unconfirmed_user)).
pub trait UserStore: Send + Sync + 'static {
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
    /// created at `user.record.created`, with the confirmation token `user.token`
    /// (`user.record.purpose` is [`EmailTokenPurpose::Confirm`], `record.user_id` and
    /// `record.generation` are ignored: the new id and generation 0 are used), in one
    /// transaction.
    /// [`StoreError::EmailTaken`] as [`add_user`](Self::add_user), except
    /// that an account whose email is not confirmed and that was created at or before
    /// `user.stale_before` (past its unconfirmed lifetime) is deleted with everything of theirs
    /// (as [`delete_user`](Self::delete_user) does) and replaced, in the same transaction.
    fn add_unconfirmed_user(
        &self,
        user: UnconfirmedUser<'_>,
    ) -> impl Future<Output = Result<User, StoreError>> + Send;

    /// Marks the account of `email` (by its [`email_key`]) contested ([`User::contested`])
    /// if its email is not confirmed, checked in the marking transaction: a registration
    /// attempt on its address. `Ok(true)` if it is contested now (also when it already
    /// was); `Ok(false)`, nothing changed, for a confirmed account or none.
    fn contest_unconfirmed(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

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
/// A new email removes the user's reset token and email tokens; a new hash removes the reset
/// token; a new hash also advances the
/// credential generation and moves the sessions not ended to it (see [`UserStore`]'s
/// credentials).
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
    /// `Some(true)`: mark the email confirmed (an administrator confirming an account).
    pub email_confirmed: Option<bool>,
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
            .field("email_confirmed", &self.email_confirmed)
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

    /// Marks the email confirmed (or not).
    #[must_use]
    pub fn email_confirmed(mut self, confirmed: bool) -> Self {
        self.email_confirmed = Some(confirmed);
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

/// What `Debug` shows in place of a password hash.
pub(super) const REDACTED: &str = "<redacted>";

/// A user as [`UserStore::list_users`] lists it: the account and when it was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedUser {
    /// The account (its `Debug` redacts the hash).
    pub user: User,
    /// When the account was created.
    pub created: SystemTime,
    /// Whether a second factor is enabled (a pending one does not count).
    pub second_factor: bool,
}

/// An account exported from another store, to insert as it was: its email, hash, credential
/// generation, creation time, confirmation state (and contest) and second factor (its secret still sealed
/// under the application's key). Its id is not carried: [`UserStore::import_user`] assigns a new
/// one. `Debug` redacts the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportedUser {
    /// The email (trimmed on insert; its key must be free).
    pub email: String,
    /// The bcrypt hash, kept as is: the user logs in with the same password.
    pub hashed_password: String,
    /// The credential generation to keep.
    pub generation: u64,
    /// When the account was created.
    pub created: SystemTime,
    /// Whether the email is confirmed.
    pub email_confirmed: bool,
    /// Whether the unconfirmed account is contested ([`User::contested`]); ignored for a
    /// confirmed one.
    pub contested: bool,
    /// The second factor, pending or enabled, with its unused recovery code digests.
    pub second_factor: Option<SecondFactorRecord>,
}

impl fmt::Debug for ImportedUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportedUser")
            .field("email", &self.email)
            .field("hashed_password", &REDACTED)
            .field("generation", &self.generation)
            .field("created", &self.created)
            .field("email_confirmed", &self.email_confirmed)
            .field("contested", &self.contested)
            .field("second_factor", &self.second_factor)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PasswordReset;

    #[test]
    fn debug_output_redacts_new_hashes() {
        let update = UserUpdate::new().hashed_password("$2b$04$secret-hash");
        let reset = PasswordReset {
            token: TokenDigest([7; 32]),
            user_id: UserId(1),
            now: SystemTime::UNIX_EPOCH,
            hashed_password: "$2b$04$secret-hash".into(),
            end_sessions: true,
            confirm_email: false,
        };
        for shown in [format!("{update:?}"), format!("{reset:?}")] {
            assert!(!shown.contains("secret-hash"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
    }
}

/// An account to register before its email is confirmed, with its confirmation token: what
/// [`UserStore::add_unconfirmed_user`] inserts. Its `Debug` leaves out the hash and the token.
#[derive(Clone)]
pub struct UnconfirmedUser<'a> {
    /// The email, stored trimmed, unique by its [`email_key`].
    pub email: &'a str,
    /// The bcrypt hash of the password its registrant chose.
    pub hashed_password: &'a str,
    /// The digest of the confirmation token mailed to the address.
    pub token: TokenDigest,
    /// The confirmation token's record (purpose [`EmailTokenPurpose::Confirm`], its creation
    /// the account's, its expiry).
    pub record: EmailTokenRecord,
    /// An unconfirmed account of the same email created at or before this is past its
    /// lifetime: it is replaced.
    pub stale_before: SystemTime,
}

impl std::fmt::Debug for UnconfirmedUser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnconfirmedUser")
            .field("email", &self.email)
            .field("stale_before", &self.stale_before)
            .finish_non_exhaustive()
    }
}
