//! Email tokens (confirming an address, moving an account to a new one): issuing them, and
//! redeeming one for the route of its purpose, throttled as a reset token is.

use std::net::IpAddr;

use super::{
    Auth,
    audit::{Client, audit},
};
use crate::{
    error::{AuthError, StoreError},
    store::{EmailRedeemed, EmailTokenPurpose, EmailTokenRecord, Store},
    token::EmailToken,
    user::UserId,
};

/// Which route redeems a token: each takes only tokens of its own purpose. `Debug` never
/// shows a new password.
#[derive(Clone, Copy)]
pub(super) enum Redeeming<'a> {
    /// `POST /confirm_email`: [`EmailTokenPurpose::Confirm`], with the new password if one
    /// was given (required for a contested account).
    Confirmation {
        /// The new password, unchecked yet.
        new_password: Option<&'a str>,
    },
    /// `POST /profile/email/confirm`: [`EmailTokenPurpose::ChangeEmail`].
    EmailChange,
}

impl Redeeming<'_> {
    fn takes(self, purpose: &EmailTokenPurpose) -> bool {
        matches!(
            (self, purpose),
            (Self::Confirmation { .. }, EmailTokenPurpose::Confirm)
                | (Self::EmailChange, EmailTokenPurpose::ChangeEmail { .. })
        )
    }

    fn throttled(self, client: Option<IpAddr>) {
        match self {
            Self::Confirmation { .. } => {
                audit!(warn, "email_confirm_throttled", client = %Client(client));
            }
            Self::EmailChange => audit!(warn, "email_change_throttled", client = %Client(client)),
        }
    }

    fn refused(self, reason: &'static str, user: Option<UserId>, client: Option<IpAddr>) {
        match self {
            Self::Confirmation { .. } => {
                audit!(info, "email_confirm_refused", reason = reason, user_id = user.map(display), client = %Client(client));
            }
            Self::EmailChange => {
                audit!(info, "email_change_refused", reason = reason, user_id = user.map(display), client = %Client(client));
            }
        }
    }
}

/// The pseudo-email that wrong email tokens from `client` are counted under: a token names
/// no account until it is found, so failures are counted per client (its backoff and the
/// hourly ceilings), never against an account that guessers could lock everyone out of.
fn token_guesses(client: Option<IpAddr>) -> String {
    format!("email token from {}", Client(client))
}

impl<S: Store> Auth<S> {
    /// A new email token of `purpose` for the account `user_id` at credential generation
    /// `generation` (the one it is redeemed at), and its record (expiring after the
    /// configured lifetime).
    pub(super) fn new_email_token(
        &self,
        user_id: UserId,
        generation: u64,
        purpose: EmailTokenPurpose,
    ) -> (EmailToken, EmailTokenRecord) {
        let now = self.now();
        let record = EmailTokenRecord {
            user_id,
            generation,
            purpose,
            created: now,
            expires: now + self.shared.config.account.email_token_lifetime,
        };
        (EmailToken::generate(), record)
    }

    /// Redeems `token` for `route` ([`TokenStore::redeem_email_token`](crate::store::TokenStore::redeem_email_token)), from `client`, by the
    /// user `session_user` when the request came with a live session: only a live token of
    /// the route's purpose, and of that user's account when there is one. A wrong token is
    /// a failure for the throttle (per client), a success clears the client's backoff.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] (unknown, used, expired, of another purpose or of another
    /// account than the session's), [`AuthError::EmailTaken`] (an email change whose address
    /// was taken meanwhile: the token stays), [`AuthError::Throttled`],
    /// [`AuthError::Store`].
    pub(super) async fn redeem_email_token(
        &self,
        route: Redeeming<'_>,
        token: &str,
        session_user: Option<UserId>,
        client: Option<IpAddr>,
    ) -> Result<EmailRedeemed, AuthError> {
        let throttle = &self.shared.throttle;
        let guesses = token_guesses(client);
        let attempt = match throttle
            .mailbox_attempt(&guesses, client, self.now())
            .await?
        {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                route.throttled(client);
                return Err(AuthError::Throttled { retry_after });
            }
        };
        match self.redeem_checked(route, token, session_user).await {
            Ok(redeemed) => {
                throttle.succeeded(attempt).await;
                Ok(redeemed)
            }
            Err(AuthError::InvalidToken) => {
                throttle.failed(attempt, self.now());
                route.refused("invalid token", session_user, client);
                Err(AuthError::InvalidToken)
            }
            Err(e) => {
                throttle.released(attempt).await;
                match e {
                    AuthError::EmailTaken(_) => {
                        route.refused("address taken", session_user, client)
                    }
                    AuthError::NewPasswordRequired => {
                        route.refused("new password required", session_user, client);
                    }
                    _ => {}
                }
                Err(e)
            }
        }
    }

    async fn redeem_checked(
        &self,
        route: Redeeming<'_>,
        token: &str,
        session_user: Option<UserId>,
    ) -> Result<EmailRedeemed, AuthError> {
        let digest = EmailToken::parse(token)
            .ok_or(AuthError::InvalidToken)?
            .digest();
        let now = self.now();
        let record = self
            .store()
            .email_token(digest)
            .await?
            .filter(|r| r.expires > now && route.takes(&r.purpose))
            .filter(|r| session_user.is_none_or(|id| id == r.user_id))
            .ok_or(AuthError::InvalidToken)?;
        if let Redeeming::Confirmation { new_password } = route {
            return self.confirm_checked(digest, &record, new_password).await;
        }
        match self.store().redeem_email_token(digest, now).await {
            Ok(redeemed) => Ok(redeemed),
            // Used, or revoked, since it was read.
            Err(StoreError::NotFound) => Err(AuthError::InvalidToken),
            Err(StoreError::EmailTaken) => Err(AuthError::EmailTaken(match record.purpose {
                EmailTokenPurpose::ChangeEmail { new_email } => new_email,
                EmailTokenPurpose::Confirm => String::new(),
            })),
            Err(e) => Err(e.into()),
        }
    }

    /// Redeems the live confirmation token `digest` (`record`): token-only, or with
    /// `new_password` (checked by the policy, then set in the confirming transaction). A
    /// contested account needs one; an account past its unconfirmed lifetime is refused as
    /// its token is.
    async fn confirm_checked(
        &self,
        digest: crate::token::TokenDigest,
        record: &EmailTokenRecord,
        new_password: Option<&str>,
    ) -> Result<EmailRedeemed, AuthError> {
        let user = self
            .find(crate::store::UserQuery::Id(record.user_id))
            .await?
            .filter(|user| !self.unconfirmed_expired(user))
            .ok_or(AuthError::InvalidToken)?;
        let store = &self.store();
        let Some(password) = new_password else {
            if user.contested {
                return Err(AuthError::NewPasswordRequired);
            }
            return match store.redeem_email_token(digest, self.now()).await {
                Ok(redeemed) => Ok(redeemed),
                Err(StoreError::NotFound) => Err(AuthError::InvalidToken),
                // Contested since it was read.
                Err(StoreError::Conflict) => Err(AuthError::NewPasswordRequired),
                Err(e) => Err(e.into()),
            };
        };
        self.shared
            .config
            .password_policy
            .check(password, &user.email)?;
        crate::password::check_hashable(password)?;
        let hash = self.shared.hasher.hash(password.to_owned()).await?;
        match store
            .confirm_with_new_password(digest, self.now(), hash)
            .await
        {
            Ok(user) => Ok(EmailRedeemed {
                previous_email: user.email.clone(),
                user,
                purpose: EmailTokenPurpose::Confirm,
            }),
            Err(StoreError::NotFound) => Err(AuthError::InvalidToken),
            Err(e) => Err(e.into()),
        }
    }
}
