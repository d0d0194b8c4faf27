//! Re-authentication: a logged-in user proving their current password again before an email
//! change or the deletion of their account, throttled as a login is.

use std::net::IpAddr;

use super::{
    Auth,
    audit::{Client, audit},
};
use crate::{error::AuthError, store::Store, throttle::Attempt, token::SessionToken, user::User};

/// The operations that ask for the current password again: what their audit events are
/// called.
#[derive(Clone, Copy, Debug)]
pub(super) enum Sensitive {
    /// `PUT /profile/email`.
    EmailChange,
    /// `DELETE /profile`.
    Deletion,
}

impl Sensitive {
    /// The audit event of an attempt the throttle held back.
    fn throttled(self, user: &User, client: Option<IpAddr>) {
        match self {
            Self::EmailChange => {
                audit!(warn, "email_change_throttled", user_id = %user.id, client = %Client(client));
            }
            Self::Deletion => {
                audit!(warn, "account_deletion_throttled", user_id = %user.id, client = %Client(client));
            }
        }
    }

    /// The audit event of an attempt refused for `reason` (never a secret).
    pub(super) fn refused(self, reason: &'static str, user: &User, client: Option<IpAddr>) {
        match self {
            Self::EmailChange => {
                audit!(info, "email_change_refused", reason = reason, user_id = %user.id, client = %Client(client));
            }
            Self::Deletion => {
                audit!(info, "account_deletion_refused", reason = reason, user_id = %user.id, client = %Client(client));
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

impl<S: Store> Auth<S> {
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
        let throttle = &self.shared.throttle;
        let attempt = match throttle.attempt(&user.email, client, self.now()).await? {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                what.throttled(&user, client);
                return Err(AuthError::Throttled { retry_after });
            }
        };
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
