//! Email confirmation: redeeming the token sent at registration, and sending a new one.

use std::net::IpAddr;

use super::{
    Auth,
    audit::{Client, audit},
    delivery,
    email_tokens::Redeeming,
};
use crate::{
    error::{AuthError, StoreError},
    hook::AccountEmail,
    store::{AccountVersion, EmailTokenPurpose, Store, UserQuery},
    user::{User, UserId, check_email},
};

/// What a request for a new confirmation token found (for the audit trail only: the client
/// is told the same whatever it is).
enum Resent {
    /// A new token was stored (the older one revoked) and handed to the hook.
    Sent(UserId),
    /// The account's email is confirmed already: nothing sent.
    AlreadyConfirmed(UserId),
    /// No account has this email.
    NoAccount,
}

impl<S: Store> Auth<S> {
    /// Confirms an account's email with the `token` sent to it (at registration, or by
    /// [`resend_confirmation`](Self::resend_confirmation)), from `client`. `session_user` is
    /// the user of the request's live session, if it came with one: a token of another
    /// account is then refused. The token is single-use; the account can log in afterwards.
    ///
    /// A wrong token counts as a failed attempt for the throttle (per client address); a
    /// confirmation clears the client's backoff.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::mpsc;
    /// use tower_user_auth::{Auth, AuthConfig, AuthError, BoxError, hook::AccountEmail};
    ///
    /// let (sent, inbox) = mpsc::channel();
    /// let config = AuthConfig::hardened()
    ///     .with_bcrypt_cost(4)
    ///     .with_email_confirmation(true)
    ///     .with_account_email_hook(move |_to: &str, message: &AccountEmail| {
    ///         if let AccountEmail::Confirmation(token) = message {
    ///             sent.send(token.expose().to_owned())?;
    ///         }
    ///         Ok::<(), BoxError>(())
    ///     });
    /// let dir = tempfile::tempdir()?;
    /// let auth = Auth::open(dir.path().join("auth.redb"), config)?;
    /// let password = "correct horse battery staple";
    /// auth.register("bob@example.com", password, None).await?;
    /// assert!(matches!(
    ///     auth.log_in("bob@example.com", password, None).await,
    ///     Err(AuthError::EmailNotConfirmed)
    /// ));
    /// let token = inbox.recv_timeout(std::time::Duration::from_secs(10))?;
    /// let user = auth.confirm_email(&token, None, None).await?;
    /// assert!(user.email_confirmed);
    /// assert!(auth.log_in("bob@example.com", password, None).await?.is_some());
    /// // Single-use.
    /// assert!(matches!(
    ///     auth.confirm_email(&token, None, None).await,
    ///     Err(AuthError::InvalidToken)
    /// ));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] for an unknown, used, superseded or expired token, an
    /// email-change token, or another account's token while logged in;
    /// [`AuthError::Throttled`]; [`AuthError::Store`].
    pub async fn confirm_email(
        &self,
        token: &str,
        session_user: Option<UserId>,
        client: Option<IpAddr>,
    ) -> Result<User, AuthError> {
        let redeemed = self
            .redeem_email_token(Redeeming::Confirmation, token, session_user, client)
            .await?;
        audit!(info, "email_confirmed", user_id = %redeemed.user.id, client = %Client(client));
        Ok(redeemed.user)
    }

    /// Sends a new confirmation token to `email` if an account with an unconfirmed email has
    /// it, revoking its earlier token, after the per-email and per-client quotas (the reset
    /// requests' limits, counted apart). Everything that depends on the email (the look-up,
    /// the store write, the hook) runs detached, so that neither the result nor its timing
    /// says whether the email has an account, or whether it is confirmed.
    ///
    /// # Errors
    /// [`AuthError::InvalidEmail`] if it cannot be an address; [`AuthError::Throttled`];
    /// [`AuthError::Store`] if the shared throttle's database failed.
    pub async fn resend_confirmation(
        &self,
        email: &str,
        client: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let email = check_email(email)?;
        if let Err(retry_after) = self
            .shared
            .throttle
            .confirmation_resend(email, client, self.now())
            .await?
        {
            audit!(warn, "confirmation_resend_throttled", client = %Client(client));
            return Err(AuthError::Throttled { retry_after });
        }
        let auth = self.clone();
        let email = email.to_owned();
        delivery::in_background(async move {
            match auth.reissue_confirmation(&email).await {
                Ok(Resent::Sent(user_id)) => {
                    audit!(info, "confirmation_resent", user_id = %user_id, client = %Client(client));
                }
                Ok(Resent::AlreadyConfirmed(user_id)) => {
                    audit!(info, "confirmation_resend_skipped", reason = "already confirmed", user_id = %user_id, client = %Client(client));
                }
                Ok(Resent::NoAccount) => {
                    audit!(info, "confirmation_resend_skipped", reason = "no account", client = %Client(client));
                }
                Err(e) => tracing::error!(error = %e, "issuing a confirmation token failed"),
            }
        })
        .await;
        Ok(())
    }

    /// Issues a new confirmation token for the account of `email` and hands it to the hook.
    async fn reissue_confirmation(&self, email: &str) -> Result<Resent, AuthError> {
        // Stored only if the account is still as read (an email change in between would
        // otherwise send the token for the account as it was to its old address); read again
        // on such a conflict, a few times at most.
        for _ in 0..3 {
            let Some(user) = self.find(UserQuery::Email(email.to_owned())).await? else {
                return Ok(Resent::NoAccount);
            };
            if user.email_confirmed {
                return Ok(Resent::AlreadyConfirmed(user.id));
            }
            let (token, record) =
                self.new_email_token(user.id, user.generation, EmailTokenPurpose::Confirm);
            let stored = self
                .shared
                .store
                .replace_email_token(token.digest(), record, AccountVersion::of(&user))
                .await;
            match stored {
                Ok(()) => {
                    self.send_account_email(user.email, AccountEmail::Confirmation(token));
                    return Ok(Resent::Sent(user.id));
                }
                Err(StoreError::NotFound) => return Ok(Resent::NoAccount),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AuthError::CredentialsChanged)
    }
}
