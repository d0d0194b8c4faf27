//! Password reset: requesting a token and resetting with it.

use std::net::IpAddr;

use super::{
    Auth,
    audit::{Client, audit},
    delivery,
};
use crate::{
    error::{AuthError, StoreError},
    hook::{Mail, NoticeKind},
    password::check_hashable,
    store::{AccountVersion, PasswordReset, ResetRecord, Store, UserQuery},
    token::ResetToken,
    user::{User, check_email, email_key},
};

/// What `POST /reset_password` led to.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ResetRequested {
    /// The token, to put in the answer (when tokens go back in the answer, as in the
    /// compatibility profile).
    Token(ResetToken),
    /// Handed to a detached task that issues the token, if the email has an account, and
    /// gives it to the [mailer](crate::AuthConfig::with_mailer) (hardened profile): the answer reveals nothing.
    Dispatched,
}

impl<S: Store> Auth<S> {
    /// Handles a reset request for `email` from `client`, after the per-email and per-client
    /// quotas. When tokens go back in the answer (the compatibility profile), the token is
    /// issued now ([`AuthError::UnknownEmail`] if there is no account); otherwise everything
    /// that depends on the email (the look-up, the store write, the mailer) runs detached, so
    /// that the answer and its timing are the same whether the email has an account or not.
    ///
    /// # Errors
    /// [`AuthError::Throttled`]; when tokens go back in the answer, also
    /// [`AuthError::UnknownEmail`] and [`AuthError::Store`].
    pub async fn request_password_reset(
        &self,
        email: &str,
        client: Option<IpAddr>,
    ) -> Result<ResetRequested, AuthError> {
        if let Err(retry_after) = self
            .shared
            .throttle
            .reset_request(email, client, self.now())
            .await?
        {
            audit!(warn, "reset_request_throttled", client = %Client(client));
            return Err(AuthError::Throttled { retry_after });
        }
        if self.shared.config.reset_token_in_response {
            let (user, token) = self.issue_reset_token(email).await.inspect_err(|e| {
                if let AuthError::UnknownEmail = e {
                    audit!(info, "reset_requested", known = false, client = %Client(client));
                }
            })?;
            audit!(info, "reset_requested", user_id = %user.id, client = %Client(client));
            self.send_mail(user.email, Mail::PasswordReset(token.clone()));
            return Ok(ResetRequested::Token(token));
        }
        let auth = self.clone();
        let email = email.to_owned();
        let work = async move {
            match auth.issue_reset_token(&email).await {
                Ok((user, token)) => {
                    audit!(info, "reset_requested", user_id = %user.id, client = %Client(client));
                    auth.send_mail(user.email, Mail::PasswordReset(token));
                }
                Err(AuthError::UnknownEmail) => {
                    audit!(info, "reset_requested", known = false, client = %Client(client));
                }
                Err(e) => tracing::error!(error = %e, "issuing a reset token failed"),
            }
        };
        delivery::in_background(work).await;
        Ok(ResetRequested::Dispatched)
    }

    /// Resets the password of `email` with `reset_token`: the token must be live and belong
    /// to that email.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] for an unknown, expired, used or other email's token
    /// (whatever the password); [`AuthError::InvalidPassword`] if the policy refuses the
    /// password (the token stays usable); [`AuthError::Throttled`],
    /// [`AuthError::Overloaded`] or [`AuthError::Store`].
    pub async fn reset_password(
        &self,
        email: &str,
        reset_token: &str,
        new_password: &str,
        client: Option<IpAddr>,
    ) -> Result<User, AuthError> {
        let throttle = &self.shared.throttle;
        let attempt = match throttle.mailbox_attempt(email, client, self.now()).await? {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                audit!(warn, "reset_throttled", client = %Client(client));
                return Err(AuthError::Throttled { retry_after });
            }
        };
        match self.reset(Some(email), reset_token, new_password).await {
            Ok(user) => {
                throttle.succeeded(attempt).await;
                audit!(info, "password_reset", user_id = %user.id, client = %Client(client));
                self.notify(&user, NoticeKind::PasswordReset, client);
                Ok(user)
            }
            Err(AuthError::InvalidToken) => {
                throttle.failed(attempt, self.now());
                audit!(info, "password_reset_refused", reason = "invalid token", client = %Client(client));
                Err(AuthError::InvalidToken)
            }
            Err(e) => {
                throttle.released(attempt).await;
                Err(e)
            }
        }
    }

    pub(crate) async fn issue_reset_token(
        &self,
        email: &str,
    ) -> Result<(User, ResetToken), AuthError> {
        // The token is stored only if the account is still as read (same generation, same
        // email): a password, reset or email change landing in between would otherwise be
        // followed by a token for the account as it was, delivered to its old address. On
        // such a conflict the account is read again, a few times at most.
        for _ in 0..3 {
            let user = self
                .find(UserQuery::Email(email.to_owned()))
                .await?
                .ok_or(AuthError::UnknownEmail)?;
            let token = ResetToken::generate();
            let now = self.now();
            let record = ResetRecord {
                user_id: user.id,
                created: now,
                expires: now + self.shared.config.reset_token_lifetime,
                generation: user.generation,
            };
            let read = AccountVersion::of(&user);
            match self
                .store()
                .replace_reset_token(token.digest(), record, read)
                .await
            {
                Ok(()) => return Ok((user, token)),
                Err(StoreError::NotFound) => return Err(AuthError::UnknownEmail),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AuthError::CredentialsChanged)
    }

    pub(crate) async fn reset(
        &self,
        email: Option<&str>,
        token: &str,
        password: &str,
    ) -> Result<User, AuthError> {
        let token = ResetToken::parse(token).ok_or(AuthError::InvalidToken)?;
        let digest = token.digest();
        let now = self.now();
        let record = self
            .store()
            .reset_token(digest)
            .await?
            .filter(|r| r.expires > now)
            .ok_or(AuthError::InvalidToken)?;
        let user = self
            .find(UserQuery::Id(record.user_id))
            .await?
            .ok_or(AuthError::InvalidToken)?;
        if let Some(email) = email {
            let same = check_email(email).is_ok_and(|e| email_key(e) == email_key(&user.email));
            if !same {
                return Err(AuthError::InvalidToken);
            }
        }
        self.shared
            .config
            .password_policy
            .check(password, &user.email)?;
        check_hashable(password)?;
        let hashed_password = self.shared.hasher.hash(password.to_owned()).await?;
        let reset = PasswordReset {
            token: digest,
            user_id: user.id,
            now,
            hashed_password,
            end_sessions: self.shared.config.end_sessions_on_reset,
            // The token went by mail, to the address: it proves the address (not when it
            // went back in the answer).
            confirm_email: !self.shared.config.reset_token_in_response,
        };
        match self.store().reset_password(reset).await {
            Ok(user) => Ok(user),
            Err(StoreError::NotFound) => Err(AuthError::InvalidToken),
            Err(e) => Err(e.into()),
        }
    }
}
