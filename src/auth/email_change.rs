//! Email change: asking for it with the current password, and (with email confirmation on)
//! making it with the token sent to the new address. The old address is told.

use std::net::IpAddr;

use super::{
    Auth,
    audit::{Client, audit},
    email_tokens::Redeeming,
    reauth::{Fresh, Reauthenticated, Sensitive},
    second_factor::SecondFactorProof,
};
use crate::{
    error::{AuthError, StoreError},
    hook::Mail,
    store::{AccountVersion, EmailRedeemed, EmailTokenPurpose, Store, UserQuery, UserUpdate},
    token::SessionToken,
    user::{User, UserId, check_email},
};

/// What [`Auth::change_email`] did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum EmailChange {
    /// The account uses the new address now (email confirmation off); its old address was
    /// told.
    Changed(User),
    /// A token that makes the change went to the new address (email confirmation on):
    /// [`Auth::confirm_email_change`] redeems it. The account is unchanged until then.
    TokenSent {
        /// The address asked for, trimmed.
        new_email: String,
    },
}

impl<S: Store> Auth<S> {
    /// Moves the account of the user of the session `token`, who proves it with the current
    /// password (and, when the account has a second factor enabled and the session is not
    /// fresh, with `proof`, as [`change_password`](Self::change_password) does), to
    /// `new_email`, from `client`. With email confirmation on
    /// ([`AuthConfig::with_email_confirmation`](crate::AuthConfig::with_email_confirmation)),
    /// a token goes to the new address ([`Mail::EmailChange`]) and
    /// [`confirm_email_change`](Self::confirm_email_change) makes the change; otherwise it
    /// is made now, in one transaction (the address unique, the reset token and email tokens
    /// revoked) and only if the password verified is still the current one. Either way the
    /// old address is told once the change is made ([`Mail::EmailChanged`]), the
    /// sessions stay valid, and the next request of each carries the new email.
    ///
    /// A wrong password or code counts as a failed attempt for the throttle, a change clears
    /// the backoff. Each request that gets past the password learns whether `new_email` is
    /// taken, so it counts against `client`'s registration quota
    /// ([`ThrottleConfig::with_registrations_per_hour`](crate::ThrottleConfig::with_registrations_per_hour));
    /// and the tokens sent to one address, whatever its spelling and whoever asks, are
    /// bounded as reset requests for one email are
    /// ([`ThrottleConfig::with_reset_requests_per_hour`](crate::ThrottleConfig::with_reset_requests_per_hour)).
    /// Past either: [`AuthError::Throttled`], and nothing is sent.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_user_auth::{Auth, AuthConfig, AuthError, auth::{EmailChange, Login}};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let auth = Auth::open(dir.path().join("auth.redb"), AuthConfig::hardened().with_bcrypt_cost(4))?;
    /// let password = "correct horse battery staple";
    /// auth.register("bob@example.com", password, None).await?;
    /// auth.register("ann@example.com", password, None).await?;
    /// let session = auth.log_in(Login::new("bob@example.com", password)).await?.expect("logged in").token;
    /// assert!(matches!(
    ///     auth.change_email(&session, password, "ann@example.com", None, None).await,
    ///     Err(AuthError::EmailTaken(_))
    /// ));
    /// let EmailChange::Changed(user) =
    ///     auth.change_email(&session, password, "robert@example.com", None, None).await?
    /// else {
    ///     unreachable!("email confirmation is off")
    /// };
    /// assert_eq!(user.email, "robert@example.com");
    /// let (who, _) = auth.authenticate(&session).await?.expect("the session stays valid");
    /// assert_eq!(who.email, "robert@example.com");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AuthError::InvalidEmail`] (`new_email` cannot be an address),
    /// [`AuthError::InvalidSession`], [`AuthError::WrongPassword`],
    /// [`AuthError::SecondFactorRequired`], [`AuthError::WrongSecondFactor`],
    /// [`AuthError::EmailTaken`] (an account has the address, this one included),
    /// [`AuthError::CredentialsChanged`] (the password or email changed after this request
    /// verified it: nothing changed), [`AuthError::Throttled`], [`AuthError::Overloaded`],
    /// [`AuthError::Store`].
    pub async fn change_email(
        &self,
        token: &SessionToken,
        current_password: &str,
        new_email: &str,
        proof: Option<SecondFactorProof<'_>>,
        client: Option<IpAddr>,
    ) -> Result<EmailChange, AuthError> {
        const WHAT: Sensitive = Sensitive::EmailChange;
        let new_email = check_email(new_email)?;
        let fresh = Fresh::SparesTheFactor;
        let Reauthenticated { user, attempt } = self
            .reauthenticate_session_fully(
                token,
                current_password,
                proof,
                fresh,
                client,
                WHAT,
                |_| Ok(()),
            )
            .await?;
        let throttle = &self.shared.throttle;
        // The password was right: from here on no refusal is a failed attempt.
        let changed = self.move_or_send_token(&user, new_email, client).await;
        match &changed {
            Ok(_) => throttle.succeeded(attempt).await,
            Err(_) => throttle.released(attempt).await,
        }
        match changed {
            Ok(EmailChange::Changed(changed)) => {
                audit!(info, "email_changed", user_id = %user.id, client = %Client(client));
                self.tell_old_address(user.email, &changed);
                Ok(EmailChange::Changed(changed))
            }
            Ok(sent) => {
                audit!(info, "email_change_requested", user_id = %user.id, client = %Client(client));
                Ok(sent)
            }
            Err(e) => {
                let reason = match e {
                    AuthError::EmailTaken(_) => "address taken",
                    AuthError::CredentialsChanged => "credentials changed meanwhile",
                    AuthError::InvalidSession => "account gone",
                    AuthError::Throttled { .. } => "quota",
                    _ => "error",
                };
                WHAT.refused(reason, &user, client);
                Err(e)
            }
        }
    }

    /// With confirmation on, stores a change token for `new_email` and sends it there;
    /// otherwise moves `user` (as verified) to `new_email`. Whether the address is taken is
    /// told within `client`'s registration quota, and a token sent there within the address's
    /// quota: [`AuthError::Throttled`] past either, with nothing sent.
    async fn move_or_send_token(
        &self,
        user: &User,
        new_email: &str,
        client: Option<IpAddr>,
    ) -> Result<EmailChange, AuthError> {
        let taken = || AuthError::EmailTaken(new_email.to_owned());
        let throttle = &self.shared.throttle;
        // Taken or free: what a registration tells, within its quota.
        if let Err(retry_after) = throttle.registration(client, self.now()).await? {
            return Err(AuthError::Throttled { retry_after });
        }
        if self
            .find(UserQuery::Email(new_email.to_owned()))
            .await?
            .is_some()
        {
            return Err(taken());
        }
        let store = &self.store();
        if !self.shared.config.email_confirmation() {
            let update = UserUpdate::new()
                .email(new_email)
                .expected_generation(user.generation);
            return match store.update_user(user.id, update).await {
                Ok(changed) => Ok(EmailChange::Changed(changed)),
                Err(StoreError::EmailTaken) => Err(taken()),
                Err(StoreError::Conflict) => Err(AuthError::CredentialsChanged),
                Err(StoreError::NotFound) => Err(AuthError::InvalidSession),
                Err(e) => Err(e.into()),
            };
        }
        // Mail to an address the requester names: bounded per address, as resets are.
        let quota = throttle.email_change_mail(new_email, client, self.now());
        if let Err(retry_after) = quota.await? {
            return Err(AuthError::Throttled { retry_after });
        }
        let purpose = EmailTokenPurpose::ChangeEmail {
            new_email: new_email.to_owned(),
        };
        let (token, record) = self.new_email_token(user.id, user.generation, purpose);
        match store
            .replace_email_token(token.digest(), record, AccountVersion::of(user))
            .await
        {
            Ok(()) => {
                let to = new_email.to_owned();
                self.send_mail(to, Mail::EmailChange(token));
                Ok(EmailChange::TokenSent {
                    new_email: new_email.to_owned(),
                })
            }
            Err(StoreError::Conflict) => Err(AuthError::CredentialsChanged),
            Err(StoreError::NotFound) => Err(AuthError::InvalidSession),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes the email change that `token` (sent to the new address by
    /// [`change_email`](Self::change_email)) stands for, from `client`, in one transaction:
    /// the account moves to the new address, now confirmed, if no other account took it
    /// meanwhile; the reset token and other email tokens are revoked; the old address is
    /// told. `session_user` is the user of the request's live session, if it came with one:
    /// a token of another account is then refused. Sessions stay valid.
    ///
    /// A wrong token counts as a failed attempt for the throttle (per client address).
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] (unknown, used, superseded or expired, a confirmation
    /// token, or another account's while logged in), [`AuthError::EmailTaken`] (the address
    /// was taken meanwhile: nothing changed), [`AuthError::Throttled`],
    /// [`AuthError::Store`].
    pub async fn confirm_email_change(
        &self,
        token: &str,
        session_user: Option<UserId>,
        client: Option<IpAddr>,
    ) -> Result<User, AuthError> {
        let EmailRedeemed {
            user,
            previous_email,
            ..
        } = self
            .redeem_email_token(Redeeming::EmailChange, token, session_user, client)
            .await?;
        audit!(info, "email_changed", user_id = %user.id, client = %Client(client));
        self.tell_old_address(previous_email, &user);
        Ok(user)
    }

    /// Tells `old_email` that its account now uses `user.email`.
    fn tell_old_address(&self, old_email: String, user: &User) {
        let message = Mail::EmailChanged {
            new_email: user.email.clone(),
        };
        self.send_mail(old_email, message);
    }
}
