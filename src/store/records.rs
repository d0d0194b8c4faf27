//! The records, queries and updates the [`Store`] trait reads and writes: how to find a user
//! ([`UserQuery`]), what to change on one ([`UserUpdate`], [`EndSessions`]), the stored
//! sessions, reset tokens and device tokens, and what a purge removed.

use std::{fmt, time::SystemTime};

#[cfg(doc)]
use super::Store;
#[cfg(doc)]
use crate::{error::StoreError, user::email_key};
use crate::{
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
/// A new email removes the user's reset token and email tokens; a new hash removes the reset
/// token; a new hash also advances the
/// credential generation and moves the sessions not ended to it (see the [module
/// docs](super)).
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
/// ([`Store::delete_user_verified`], [`SecondFactorChange::RemoveVerified`](super::SecondFactorChange::RemoveVerified))
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
/// [`Store::session`] returns. The owner's email is kept with the
/// session (a change of email updates the user's sessions in its transaction), so that a
/// request is validated by one look-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionEntry {
    /// The session.
    pub record: SessionRecord,
    /// The owner's email, as registered.
    pub email: String,
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

/// What `Debug` shows in place of a password hash.
pub(super) const REDACTED: &str = "<redacted>";

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
    /// Email tokens (confirmation, email change) removed.
    pub email_tokens: usize,
    /// Unconfirmed accounts past their lifetime removed (with everything of theirs).
    pub unconfirmed_users: usize,
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
            confirm_email: false,
        };
        for shown in [format!("{update:?}"), format!("{reset:?}")] {
            assert!(!shown.contains("secret-hash"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
    }
}
