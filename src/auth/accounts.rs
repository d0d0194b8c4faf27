//! Accounts: registration and deletion.

use crate::store::UnconfirmedUser;
use std::net::IpAddr;

use super::{
    Auth, SecondFactorProof,
    audit::{Client, audit},
    reauth::{Reauthenticated, Sensitive},
};
use crate::{
    error::{AuthError, StoreError},
    hook::Mail,
    store::{Store, UserQuery, VerifiedSession},
    token::{EmailToken, SessionToken},
    user::{User, UserId, check_email},
};

impl<S: Store> Auth<S> {
    /// Registers a user, from `client` (for the per-client registration quota and the audit
    /// event).
    ///
    /// # Errors
    /// [`AuthError::EmailTaken`] if the email (compared by its
    /// [`email_key`](crate::user::email_key): without regard to case or Unicode
    /// normalisation) has an account; [`AuthError::InvalidEmail`] or
    /// [`AuthError::InvalidPassword`] when refused;
    /// [`AuthError::Throttled`], [`AuthError::Overloaded`] or [`AuthError::Store`].
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<User, AuthError> {
        let email = check_email(email)?;
        if let Err(retry_after) = self
            .shared
            .throttle
            .registration(client, self.now())
            .await?
        {
            audit!(warn, "register_throttled", client = %Client(client));
            return Err(AuthError::Throttled { retry_after });
        }
        let (user, confirmation) = self.insert_user(email, password).await.inspect_err(|e| {
            if let AuthError::EmailTaken(_) = e {
                audit!(info, "register_refused", reason = "email taken", client = %Client(client));
            }
        })?;
        audit!(info, "register", user_id = %user.id, client = %Client(client));
        if let Some(token) = confirmation {
            audit!(info, "confirmation_sent", user_id = %user.id, client = %Client(client));
            self.send_mail(user.email.clone(), Mail::Confirmation(token));
        }
        Ok(user)
    }

    /// Stores a new account; with email confirmation on, unconfirmed and with the
    /// confirmation token to send, in the same transaction, replacing an unconfirmed account
    /// of the address past its lifetime. A refusal because the address has an unconfirmed
    /// account marks that account contested ([`Self::refuse_taken`]).
    async fn insert_user(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(User, Option<EmailToken>), AuthError> {
        self.shared.config.password_policy.check(password, email)?;
        let confirming = self.shared.config.email_confirmation();
        match self.find(UserQuery::Email(email.to_owned())).await? {
            // Past its lifetime: replaced by this registration, in the store's transaction.
            Some(user) if confirming && self.unconfirmed_expired(&user) => {}
            Some(_) => return Err(self.refuse_taken(email).await),
            None => {}
        }
        let hash = self.shared.hasher.hash(password.to_owned()).await?;
        let store = &self.store();
        let inserted = if confirming {
            // The record's user id and generation are the new account's, set by the store.
            let (token, record) = self.new_confirmation_token(UserId(0), 0, self.now());
            let stale_before = self.unconfirmed_stale_before();
            store
                .add_unconfirmed_user(UnconfirmedUser {
                    email,
                    hashed_password: &hash,
                    token: token.digest(),
                    record,
                    stale_before,
                })
                .await
                .map(|user| (user, Some(token)))
        } else {
            store.add_user(email, &hash).await.map(|user| (user, None))
        };
        match inserted {
            Ok(inserted) => Ok(inserted),
            Err(StoreError::EmailTaken) => Err(self.refuse_taken(email).await),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a user with everything that is theirs (sessions, reset, email and device
    /// tokens, second factor), in one transaction, without asking for their password: for
    /// administrators. Users delete their own account with
    /// [`delete_account`](Self::delete_account).
    ///
    /// # Errors
    /// [`AuthError::Store`] (with [`StoreError::NotFound`] for an unknown id).
    pub async fn delete_user(&self, user_id: UserId) -> Result<(), AuthError> {
        self.store().delete_user(user_id).await?;
        audit!(info, "user_deleted", user_id = %user_id, client = %Client(None));
        Ok(())
    }

    /// Deletes the account of the user of the session `token`, who proves it with the
    /// current password and, when their second factor is on, `second_factor` (a one-time
    /// code or a recovery code). The user, every session (this one included), token, device
    /// token and the second factor go in one transaction, if this session is still stored
    /// and the account's credentials are still those verified (a reset or a change of
    /// password, email or second factor that commits first refuses it); the session's
    /// cookie is refused from then on, and the email can be registered again. From `client`, for the throttle
    /// (a wrong password or second factor is a failed attempt, a deletion clears the
    /// backoff) and the audit event.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_user_auth::{Auth, AuthConfig, AuthError, auth::Login};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let auth = Auth::open(dir.path().join("auth.redb"), AuthConfig::hardened().with_bcrypt_cost(4))?;
    /// let password = "correct horse battery staple";
    /// auth.register("bob@example.com", password, None).await?;
    /// let session = auth.log_in(Login::new("bob@example.com", password)).await?.expect("logged in").token;
    /// assert!(matches!(
    ///     auth.delete_account(&session, "not my password", None, None).await,
    ///     Err(AuthError::WrongPassword)
    /// ));
    /// auth.delete_account(&session, password, None, None).await?;
    /// assert!(auth.authenticate(&session).await?.is_none());
    /// auth.register("bob@example.com", password, None).await?; // the email is free again
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AuthError::InvalidSession`] (no live session, or the account is already gone, or
    /// the session ended before the deletion committed), [`AuthError::CredentialsChanged`]
    /// (the credentials changed after this request verified them: nothing deleted),
    /// [`AuthError::WrongPassword`], [`AuthError::SecondFactorRequired`] (the right password
    /// without the second factor: not a failed attempt),
    /// [`AuthError::WrongSecondFactor`], [`AuthError::Throttled`],
    /// [`AuthError::Overloaded`], [`AuthError::Store`].
    pub async fn delete_account(
        &self,
        token: &SessionToken,
        current_password: &str,
        second_factor: Option<SecondFactorProof<'_>>,
        client: Option<IpAddr>,
    ) -> Result<UserId, AuthError> {
        const WHAT: Sensitive = Sensitive::Deletion;
        let Reauthenticated { user, attempt } = self
            .reauthenticate_session(token, current_password, client, WHAT)
            .await?;
        let throttle = &self.shared.throttle;
        match self.check_second_factor(&user, second_factor, client).await {
            Ok(()) => {}
            Err(e @ AuthError::WrongSecondFactor) => {
                throttle.failed(attempt, self.now());
                WHAT.refused("wrong second factor", &user, client);
                return Err(e);
            }
            Err(e) => {
                throttle.released(attempt).await;
                return Err(match e {
                    AuthError::SecondFactorRequired => {
                        WHAT.refused("second factor required", &user, client);
                        e
                    }
                    // The account is gone (deleted by a concurrent request), and this
                    // session with it.
                    AuthError::CredentialsChanged => AuthError::InvalidSession,
                    e => e,
                });
            }
        }
        // A compare-and-set against what was verified: a reset (or any change of
        // credentials) that commits first, or the end of this session, refuses it.
        let verified = VerifiedSession {
            session: token.digest(),
            generation: user.generation,
        };
        match self.store().delete_user_verified(user.id, verified).await {
            Ok(()) => {}
            Err(e) => {
                throttle.released(attempt).await;
                return Err(match e {
                    // Deleted by a concurrent request, or this session ended: it is gone.
                    StoreError::NotFound => {
                        WHAT.refused("session ended meanwhile", &user, client);
                        AuthError::InvalidSession
                    }
                    StoreError::Conflict => {
                        WHAT.refused("credentials changed meanwhile", &user, client);
                        AuthError::CredentialsChanged
                    }
                    e => e.into(),
                });
            }
        }
        throttle.succeeded(attempt).await;
        audit!(info, "account_deleted", user_id = %user.id, client = %Client(client));
        Ok(user.id)
    }
}
