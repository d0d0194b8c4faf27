//! Email confirmation: redeeming the token sent at registration (with a new password when
//! the account is contested), sending a new one, and the rules of unconfirmed accounts:
//! they enable nothing ([`Auth::require_confirmed`]) and expire with their tokens.
//!
//! # Pre-hijacking
//!
//! Whoever registers an address first chooses its password before anyone proved the address.
//! A registration attempt on the address of an unconfirmed account marks it contested
//! ([`UserStore::contest_unconfirmed`](crate::store::UserStore::contest_unconfirmed)); confirming a contested account needs a new password,
//! which replaces the old one in the confirming transaction
//! ([`Auth::confirm_email_with_password`]), so that the first registrant's password never
//! opens an account whose address someone else proved. A reset by mail proves the address
//! too, and confirms the account.

use std::{net::IpAddr, time::SystemTime};

use super::{
    Auth,
    audit::{Client, audit},
    delivery,
    email_tokens::Redeeming,
};
use crate::{
    error::{AuthError, StoreError},
    hook::Mail,
    store::{AccountVersion, EmailTokenPurpose, EmailTokenRecord, Store, UserQuery},
    token::EmailToken,
    user::{User, UserId, check_email},
};

/// What a request for a new confirmation token found (for the audit trail only: the client
/// is told the same whatever it is).
enum Resent {
    /// A new token was stored (the older one revoked) and handed to the mailer.
    Sent(UserId),
    /// The account's email is confirmed already: nothing sent.
    AlreadyConfirmed(UserId),
    /// No account has this email.
    NoAccount,
    /// The account has outlived its unconfirmed lifetime: nothing sent.
    Expired(UserId),
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
    /// use tower_user_auth::{Auth, AuthConfig, AuthError, BoxError, auth::Login, hook::Mail};
    ///
    /// let (sent, inbox) = mpsc::channel();
    /// let config = AuthConfig::hardened()
    ///     .with_bcrypt_cost(4)
    ///     .with_email_confirmation(true)
    ///     .with_mailer(move |_to: &str, message: &Mail| {
    ///         if let Mail::Confirmation(token) = message {
    ///             sent.send(token.expose().to_owned())?;
    ///         }
    ///         Ok::<(), BoxError>(())
    ///     });
    /// let dir = tempfile::tempdir()?;
    /// let auth = Auth::open(dir.path().join("auth.redb"), config)?;
    /// let password = "correct horse battery staple";
    /// auth.register("bob@example.com", password, None).await?;
    /// assert!(matches!(
    ///     auth.log_in(Login::new("bob@example.com", password)).await,
    ///     Err(AuthError::EmailNotConfirmed)
    /// ));
    /// let token = inbox.recv_timeout(std::time::Duration::from_secs(10))?;
    /// let user = auth.confirm_email(&token, None, None).await?;
    /// assert!(user.email_confirmed);
    /// assert!(auth.log_in(Login::new("bob@example.com", password)).await?.is_some());
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
    /// [`AuthError::InvalidToken`] for an unknown, used, superseded or expired token (also
    /// when its account has outlived its unconfirmed lifetime), an email-change token, or
    /// another account's token while logged in; [`AuthError::NewPasswordRequired`] for a
    /// contested account (see [`confirm_email_with_password`](Self::confirm_email_with_password));
    /// [`AuthError::Throttled`]; [`AuthError::Store`].
    pub async fn confirm_email(
        &self,
        token: &str,
        session_user: Option<UserId>,
        client: Option<IpAddr>,
    ) -> Result<User, AuthError> {
        self.confirm_email_with_password(token, None, session_user, client)
            .await
    }

    /// As [`confirm_email`](Self::confirm_email), with a new password for the account
    /// (`POST /confirm_email`'s `new_password`), checked by the password policy as at
    /// registration. A contested account (someone else tried to register its address:
    /// [`User::contested`]) is confirmed only with one; any account may choose one. It
    /// replaces the old password in the confirming transaction: the generation advances,
    /// every session ends, the reset token and other email tokens are revoked.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::mpsc;
    /// use tower_user_auth::{Auth, AuthConfig, AuthError, BoxError, auth::Login, hook::Mail};
    ///
    /// let (sent, inbox) = mpsc::channel();
    /// let config = AuthConfig::hardened()
    ///     .with_bcrypt_cost(4)
    ///     .with_email_confirmation(true)
    ///     .with_mailer(move |_to: &str, message: &Mail| {
    ///         if let Mail::Confirmation(token) = message {
    ///             sent.send(token.expose().to_owned())?;
    ///         }
    ///         Ok::<(), BoxError>(())
    ///     });
    /// let dir = tempfile::tempdir()?;
    /// let auth = Auth::open(dir.path().join("auth.redb"), config)?;
    /// // A squatter registers the owner's address; the owner's registration is refused.
    /// auth.register("bob@example.com", "the squatter's password", None).await?;
    /// let token = inbox.recv_timeout(std::time::Duration::from_secs(10))?;
    /// let owner = "correct horse battery staple";
    /// assert!(matches!(
    ///     auth.register("bob@example.com", owner, None).await,
    ///     Err(AuthError::EmailTaken(_))
    /// ));
    /// // Contested: the owner's confirmation needs a new password, which replaces the old.
    /// assert!(matches!(
    ///     auth.confirm_email(&token, None, None).await,
    ///     Err(AuthError::NewPasswordRequired)
    /// ));
    /// auth.confirm_email_with_password(&token, Some(owner), None, None).await?;
    /// assert!(auth.log_in(Login::new("bob@example.com", "the squatter's password")).await?.is_none());
    /// assert!(auth.log_in(Login::new("bob@example.com", owner)).await?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`confirm_email`](Self::confirm_email); [`AuthError::InvalidPassword`] when the
    /// policy refuses the new password (the token stays usable); [`AuthError::Overloaded`].
    pub async fn confirm_email_with_password(
        &self,
        token: &str,
        new_password: Option<&str>,
        session_user: Option<UserId>,
        client: Option<IpAddr>,
    ) -> Result<User, AuthError> {
        let redeemed = self
            .redeem_email_token(
                Redeeming::Confirmation { new_password },
                token,
                session_user,
                client,
            )
            .await?;
        let new_password = new_password.is_some();
        audit!(info, "email_confirmed", user_id = %redeemed.user.id, new_password = new_password, client = %Client(client));
        Ok(redeemed.user)
    }

    /// Whether `token` is a live confirmation token of a contested account, whose
    /// confirmation needs a new password: what a confirmation page asks before it shows its
    /// form. `false` for any other token (the confirmation itself tells why it is refused).
    ///
    /// # Errors
    /// [`AuthError::Store`].
    pub async fn confirmation_needs_new_password(&self, token: &str) -> Result<bool, AuthError> {
        let Some(token) = EmailToken::parse(token) else {
            return Ok(false);
        };
        let now = self.now();
        let record = self.store().email_token(token.digest()).await?;
        let Some(record) =
            record.filter(|r| r.expires > now && r.purpose == EmailTokenPurpose::Confirm)
        else {
            return Ok(false);
        };
        let user = self.find(UserQuery::Id(record.user_id)).await?;
        Ok(user.is_some_and(|u| u.contested && !self.unconfirmed_expired(&u)))
    }

    /// Refuses what an account whose email is not confirmed may not do: with email
    /// confirmation on, an unconfirmed account enables nothing (no second factor, and none of
    /// the factors or tokens that later features add: each checks this first). Its password
    /// was chosen before anyone proved the address.
    ///
    /// # Errors
    /// [`AuthError::EmailNotConfirmed`] (403 `email not confirmed`).
    pub fn require_confirmed(&self, user: &User) -> Result<(), AuthError> {
        if self.shared.config.email_confirmation() && !user.email_confirmed {
            return Err(AuthError::EmailNotConfirmed);
        }
        Ok(())
    }

    /// Unconfirmed accounts created at or before this moment have outlived their lifetime.
    pub(super) fn unconfirmed_stale_before(&self) -> SystemTime {
        self.now()
            .checked_sub(self.shared.config.account.unconfirmed_lifetime)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// Whether `user` is unconfirmed and has outlived its lifetime (purged soon, replaced by
    /// a registration of its address; its tokens are dead).
    pub(super) fn unconfirmed_expired(&self, user: &User) -> bool {
        !user.email_confirmed && user.created <= self.unconfirmed_stale_before()
    }

    /// A new confirmation token for the account `user_id` at credential generation
    /// `generation`, created at `created`: it expires after the email token lifetime, and
    /// never after the account's unconfirmed lifetime.
    pub(super) fn new_confirmation_token(
        &self,
        user_id: UserId,
        generation: u64,
        created: SystemTime,
    ) -> (EmailToken, EmailTokenRecord) {
        let purpose = EmailTokenPurpose::Confirm;
        let (token, mut record) = self.new_email_token(user_id, generation, purpose);
        let account_ends = created + self.shared.config.account.unconfirmed_lifetime;
        record.expires = record.expires.min(account_ends);
        (token, record)
    }

    /// The refusal of a registration whose address has an account; with email confirmation
    /// on, that account is marked contested first if it is unconfirmed.
    pub(super) async fn refuse_taken(&self, email: &str) -> AuthError {
        if self.shared.config.email_confirmation()
            && let Err(e) = self.store().contest_unconfirmed(email).await
        {
            return e.into();
        }
        AuthError::EmailTaken(email.to_owned())
    }

    /// Sends a new confirmation token to `email` if an account with an unconfirmed email has
    /// it, revoking its earlier token, after the per-email and per-client quotas (the reset
    /// requests' limits, counted apart). Everything that depends on the email (the look-up,
    /// the store write, the mailer) runs detached, so that neither the result nor its timing
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
                Ok(Resent::Expired(user_id)) => {
                    audit!(info, "confirmation_resend_skipped", reason = "expired", user_id = %user_id, client = %Client(client));
                }
                Err(e) => tracing::error!(error = %e, "issuing a confirmation token failed"),
            }
        })
        .await;
        Ok(())
    }

    /// Issues a new confirmation token for the account of `email` and hands it to the mailer.
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
            if self.unconfirmed_expired(&user) {
                return Ok(Resent::Expired(user.id));
            }
            let (token, record) =
                self.new_confirmation_token(user.id, user.generation, user.created);
            let stored = self
                .store()
                .replace_email_token(token.digest(), record, AccountVersion::of(&user))
                .await;
            match stored {
                Ok(()) => {
                    self.send_mail(user.email, Mail::Confirmation(token));
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
