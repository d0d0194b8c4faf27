//! Re-authentication: a logged-in user proving their current password again (and, where
//! the operation asks for it, their second factor) before a password change, an email
//! change, the deletion of their account, a change to their second factor or a step-up,
//! throttled as a login is. The one path every re-authentication takes.

use std::net::IpAddr;

use super::{
    Auth,
    audit::{Client, audit},
    second_factor::SecondFactorProof,
};
use crate::{
    error::AuthError,
    store::{SessionRecord, Store},
    throttle::Attempt,
    token::SessionToken,
    user::{User, is_within},
};

/// The operations that ask for the current password again: what their audit events are
/// called.
#[derive(Clone, Copy, Debug)]
pub(super) enum Sensitive {
    /// `PUT /profile/password`.
    PasswordChange,
    /// `PUT /profile/email`.
    EmailChange,
    /// `DELETE /profile`.
    Deletion,
    /// A change to the second factor: `begin` (`POST /profile/totp`) or `disable`
    /// (`DELETE /profile/totp`).
    SecondFactor(&'static str),
    /// A step-up (`POST /profile/reauth`), or the factors given to an operation that needs
    /// a recent authentication.
    StepUp,
}

impl Sensitive {
    /// The audit event of an attempt the throttle held back.
    fn throttled(self, user: &User, client: Option<IpAddr>) {
        match self {
            Self::PasswordChange => {
                audit!(warn, "password_change_throttled", user_id = %user.id, client = %Client(client));
            }
            Self::EmailChange => {
                audit!(warn, "email_change_throttled", user_id = %user.id, client = %Client(client));
            }
            Self::Deletion => {
                audit!(warn, "account_deletion_throttled", user_id = %user.id, client = %Client(client));
            }
            Self::SecondFactor(action) => {
                audit!(warn, "second_factor_throttled", action = action, user_id = %user.id, client = %Client(client));
            }
            Self::StepUp => {
                audit!(warn, "reauthentication_throttled", user_id = %user.id, client = %Client(client));
            }
        }
    }

    /// The audit event of an attempt refused for `reason` (never a secret).
    pub(super) fn refused(self, reason: &'static str, user: &User, client: Option<IpAddr>) {
        match self {
            Self::PasswordChange => {
                audit!(info, "password_change_refused", reason = reason, user_id = %user.id, client = %Client(client));
            }
            Self::EmailChange => {
                audit!(info, "email_change_refused", reason = reason, user_id = %user.id, client = %Client(client));
            }
            Self::Deletion => {
                audit!(info, "account_deletion_refused", reason = reason, user_id = %user.id, client = %Client(client));
            }
            Self::SecondFactor(action) => {
                audit!(info, "second_factor_refused", action = action, reason = reason, user_id = %user.id, client = %Client(client));
            }
            Self::StepUp => {
                audit!(info, "reauthentication_refused", reason = reason, user_id = %user.id, client = %Client(client));
            }
        }
    }
}

/// A logged-in user who gave the right current password: the account as read when it was
/// verified (its generation is the verified one), and the throttled attempt, whose outcome
/// the caller reports to the throttle: `succeeded` once the whole operation succeeded,
/// `failed` for a wrong second factor, `released` when it ended otherwise.
pub(super) struct Reauthenticated {
    pub(super) user: User,
    pub(super) attempt: Attempt,
}

/// Whether a fresh session spares the second factor: yes for the operations that took the
/// password alone before a factor could be on (a password or email change), no for a
/// step-up, which proves every factor whatever the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fresh {
    /// A session within the re-authentication window needs no second factor.
    SparesTheFactor,
    /// Every factor, however fresh the session.
    Ignored,
}

impl<S: Store> Auth<S> {
    /// Whether the session `record` was authenticated (logged in, or stepped up) within the
    /// re-authentication window.
    pub(super) fn is_fresh(&self, record: &SessionRecord) -> bool {
        is_within(record.created, self.shared.config.reauth_window, self.now())
    }

    /// The user of the live session `token` if they prove every factor of their account:
    /// `current_password`, then, when a second factor is enabled, `proof` (consumed), unless
    /// `fresh` spares it for a fresh session. `check` runs first, once the throttle has let
    /// the attempt through. A wrong password or a wrong code is a failed attempt; a missing
    /// code is not (the attempt is released).
    ///
    /// # Errors
    /// [`AuthError::InvalidSession`], [`AuthError::Throttled`],
    /// [`AuthError::WrongPassword`], [`AuthError::SecondFactorRequired`],
    /// [`AuthError::WrongSecondFactor`], [`AuthError::CredentialsChanged`] (the account
    /// went away), [`AuthError::Overloaded`], [`AuthError::Store`], or `check`'s error.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn reauthenticate_session_fully(
        &self,
        token: &SessionToken,
        current_password: &str,
        proof: Option<SecondFactorProof<'_>>,
        fresh: Fresh,
        client: Option<IpAddr>,
        what: Sensitive,
        check: impl FnOnce(&User) -> Result<(), AuthError>,
    ) -> Result<Reauthenticated, AuthError> {
        let Some((record, user)) = self.live_session_user(token).await? else {
            return Err(AuthError::InvalidSession);
        };
        let spared = fresh == Fresh::SparesTheFactor && self.is_fresh(&record);
        let verified = self
            .reauthenticate_checked(user, current_password, client, what, check)
            .await?;
        if spared {
            return Ok(verified);
        }
        self.second_factor_of(verified, proof, client, what).await
    }

    /// `verified` (the right password) if `proof` is the second factor of the account, or it
    /// has none enabled; the attempt failed for a wrong code, released otherwise.
    pub(super) async fn second_factor_of(
        &self,
        verified: Reauthenticated,
        proof: Option<SecondFactorProof<'_>>,
        client: Option<IpAddr>,
        what: Sensitive,
    ) -> Result<Reauthenticated, AuthError> {
        let Reauthenticated { user, attempt } = verified;
        let throttle = &self.shared.throttle;
        match self.check_second_factor(&user, proof, client).await {
            Ok(()) => Ok(Reauthenticated { user, attempt }),
            Err(AuthError::WrongSecondFactor) => {
                throttle.failed(attempt, self.now());
                what.refused("wrong code", &user, client);
                Err(AuthError::WrongSecondFactor)
            }
            Err(e) => {
                throttle.released(attempt).await;
                if matches!(e, AuthError::SecondFactorRequired) {
                    what.refused("second factor required", &user, client);
                }
                Err(e)
            }
        }
    }

    /// The user of the live session `token` if `current_password` is theirs, counted by the
    /// throttle as a login attempt on their account from `client`: a wrong password is a
    /// failure (and audited as `what` refused).
    ///
    /// # Errors
    /// [`AuthError::InvalidSession`], [`AuthError::Throttled`],
    /// [`AuthError::WrongPassword`], [`AuthError::Overloaded`] or [`AuthError::Store`].
    pub(super) async fn reauthenticate_session(
        &self,
        token: &SessionToken,
        current_password: &str,
        client: Option<IpAddr>,
        what: Sensitive,
    ) -> Result<Reauthenticated, AuthError> {
        let Some((_, user)) = self.live_session_user(token).await? else {
            return Err(AuthError::InvalidSession);
        };
        self.reauthenticate(user, current_password, client, what)
            .await
    }

    /// [`reauthenticate_session`](Self::reauthenticate_session) for a user already read from
    /// their live session.
    pub(super) async fn reauthenticate(
        &self,
        user: User,
        current_password: &str,
        client: Option<IpAddr>,
        what: Sensitive,
    ) -> Result<Reauthenticated, AuthError> {
        self.reauthenticate_checked(user, current_password, client, what, |_| Ok(()))
            .await
    }

    /// [`reauthenticate`](Self::reauthenticate), with `check` run first once the throttle
    /// has let the attempt through (its error releases the attempt and is returned as it is).
    pub(super) async fn reauthenticate_checked(
        &self,
        user: User,
        current_password: &str,
        client: Option<IpAddr>,
        what: Sensitive,
        check: impl FnOnce(&User) -> Result<(), AuthError>,
    ) -> Result<Reauthenticated, AuthError> {
        let throttle = &self.shared.throttle;
        let attempt = match throttle.attempt(&user.email, client, self.now()).await? {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                what.throttled(&user, client);
                return Err(AuthError::Throttled { retry_after });
            }
        };
        if let Err(e) = check(&user) {
            throttle.released(attempt).await;
            return Err(e);
        }
        let verified = self
            .shared
            .hasher
            .verify(
                current_password.to_owned(),
                Some(user.hashed_password.clone()),
            )
            .await;
        match verified {
            Ok(verified) if verified.ok => Ok(Reauthenticated { user, attempt }),
            Ok(_) => {
                throttle.failed(attempt, self.now());
                what.refused("wrong password", &user, client);
                Err(AuthError::WrongPassword)
            }
            Err(e) => {
                throttle.released(attempt).await;
                Err(e)
            }
        }
    }
}
