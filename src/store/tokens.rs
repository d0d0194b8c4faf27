//! Tokens issued for an account to act on it: password reset tokens ([`ResetRecord`],
//! [`PasswordReset`]), email tokens that confirm an address or change it
//! ([`EmailTokenRecord`], [`EmailTokenPurpose`], [`EmailRedeemed`]), and device tokens
//! ([`DeviceRecord`]); the [`TokenStore`] trait that keeps them, and the account version a
//! token is issued against ([`AccountVersion`]).

use std::{fmt, future::Future, time::SystemTime};

use super::users::REDACTED;
#[cfg(doc)]
use super::{UserStore, UserUpdate};
use crate::{
    error::StoreError,
    token::TokenDigest,
    user::{User, UserId, email_key},
};

/// Reset, confirmation, email-change and device tokens, keyed by the SHA-256
/// [`TokenDigest`] of the token (a store never sees a token itself): part of
/// [`Store`](super::Store).
///
/// - **One transaction per write**, serialisable with every other, durable when it returns;
///   errors returned before anything was written leave the store as it was.
/// - **Issued against a read** (compare-and-set): [`replace_reset_token`](Self::replace_reset_token)
///   and [`replace_email_token`](Self::replace_email_token) store a token only if the account
///   is still as the caller read it ([`AccountVersion`], else [`StoreError::Conflict`]).
/// - **Redeemed at one generation**: a reset or email token is redeemed only while the
///   generation it was issued at is the user's (see [`UserStore`]'s credentials), checked in
///   the redeeming transaction, which also removes it (single use); otherwise
///   [`StoreError::NotFound`], nothing changed.
///
/// # Device tokens
///
/// A device token ([`DeviceRecord`], OWASP's device cookies) is bound to one account, at most
/// a given number per account (the oldest evicted in the inserting transaction), and counts
/// its failures in a row: [`record_device_failure`](Self::record_device_failure) increments
/// or, at the limit, removes it in one transaction, so that concurrent attempts cannot exceed
/// the limit. A password change or reset leaves them (they prove a device that once knew a
/// password, not the password); deleting the user removes them in its transaction.
pub trait TokenStore: Send + Sync + 'static {
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
    ///   the account to it as [`UserStore::update_user`] with a new email does
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

    /// Whether `user` (as the store has it now) is still as read: [`StoreError::Conflict`]
    /// if its credential generation or email (compared by [`email_key`]) changed since.
    pub(crate) fn check(&self, user: &User) -> Result<(), StoreError> {
        if user.generation == self.generation && email_key(&user.email) == email_key(&self.email) {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }
}

/// A stored reset token, issued for the account at one credential generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResetRecord {
    /// Whose password it resets.
    pub user_id: UserId,
    /// When it was issued.
    pub created: SystemTime,
    /// When it stops working.
    pub expires: SystemTime,
    /// The user's credential generation when it was issued: it resets the password only
    /// while this is still the user's generation (a change of password, of second factor or
    /// of email since then killed it), checked in the reset's transaction.
    pub generation: u64,
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
    /// Whether the reset proves the address (its token went by mail, not back in an
    /// answer): the account is then marked confirmed, no longer contested, and its
    /// confirmation token revoked, in the reset's transaction.
    pub confirm_email: bool,
}

impl fmt::Debug for PasswordReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordReset")
            .field("token", &self.token)
            .field("user_id", &self.user_id)
            .field("now", &self.now)
            .field("hashed_password", &REDACTED)
            .field("end_sessions", &self.end_sessions)
            .field("confirm_email", &self.confirm_email)
            .finish()
    }
}

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

/// What an email token proves when it is redeemed ([`TokenStore::redeem_email_token`]).
#[derive(Clone, PartialEq, Eq)]
pub enum EmailTokenPurpose {
    /// The account's address receives mail: redeeming it marks the account confirmed.
    Confirm,
    /// The user can read mail at `new_email`: redeeming it moves the account to that address
    /// (and marks it confirmed).
    ChangeEmail {
        /// The address asked for, trimmed.
        new_email: String,
    },
}

impl EmailTokenPurpose {
    /// Whether two purposes are of one kind (a user has at most one token of each kind).
    #[must_use]
    pub fn same_kind(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl fmt::Debug for EmailTokenPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Confirm => f.write_str("Confirm"),
            Self::ChangeEmail { new_email } => f
                .debug_struct("ChangeEmail")
                .field("new_email", new_email)
                .finish(),
        }
    }
}

/// A stored email token (keyed by its [`TokenDigest`]): single-use, with an expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailTokenRecord {
    /// The account it was issued for.
    pub user_id: UserId,
    /// What redeeming it does.
    pub purpose: EmailTokenPurpose,
    /// When it was issued.
    pub created: SystemTime,
    /// When it stops working (and is purged).
    pub expires: SystemTime,
    /// The user's credential generation when it was issued: it is redeemed only while this
    /// is still the user's generation (a change of password, of second factor or of email
    /// since then killed it), checked in the redeeming transaction.
    pub generation: u64,
}

/// What [`TokenStore::redeem_email_token`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailRedeemed {
    /// The account after the change.
    pub user: User,
    /// Its email before the change (the same as `user.email` for a confirmation).
    pub previous_email: String,
    /// The purpose of the token that was redeemed.
    pub purpose: EmailTokenPurpose,
}
