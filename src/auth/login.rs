//! Logging in: the credentials, a device token, the second factor; throttling and the audit
//! trail of every outcome.

use std::{fmt, net::IpAddr};

use super::{
    Auth,
    audit::{Client, audit},
    devices::{IssuedDevice, TrustedDevice},
    second_factor::SecondFactorProof,
};
use crate::{
    error::AuthError,
    store::{SessionRecord, Store, UserQuery},
    throttle::Attempt,
    token::{DeviceToken, SessionToken},
    user::User,
};

/// A successful login: the new session's token (for the cookie) and its record.
#[derive(Clone, Debug)]
pub struct LoggedIn {
    /// The account.
    pub user: User,
    /// The new session's token: give it to the client, then forget it.
    pub token: SessionToken,
    /// The new session.
    pub session: SessionRecord,
    /// The device token to set as the device cookie, when device tokens are on (see
    /// [`AuthConfig::with_device_cookie`](crate::AuthConfig::with_device_cookie)).
    pub device: Option<IssuedDevice>,
}

/// What a client presents to log in ([`Auth::log_in`]): an email and a password, and the
/// optional parts, set with the `with_*` methods: its address, its device token and its
/// second factor. A later factor is a new part here. `Debug` shows the email only.
///
/// ```
/// use tower_user_auth::auth::{Login, SecondFactorProof};
///
/// let login = Login::new("bob@example.com", "correct horse battery staple")
///     .with_client(Some("203.0.113.7".parse()?))
///     .with_second_factor(Some(SecondFactorProof::Otp("287082")));
/// assert_eq!(
///     format!("{login:?}"),
///     "Login { email: \"bob@example.com\", client: Some(203.0.113.7), device: false, second_factor: Some(Otp(<redacted>)) }"
/// );
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Login<'a> {
    email: &'a str,
    password: &'a str,
    client: Option<IpAddr>,
    device: Option<&'a DeviceToken>,
    second_factor: Option<SecondFactorProof<'a>>,
}

impl<'a> Login<'a> {
    /// A login with `email` and `password`, from no known address, without a device token
    /// or a second factor.
    #[must_use]
    pub fn new(email: &'a str, password: &'a str) -> Self {
        Self {
            email,
            password,
            client: None,
            device: None,
            second_factor: None,
        }
    }

    /// The client's address (throttling and the audit trail count by it).
    #[must_use]
    pub fn with_client(mut self, client: Option<IpAddr>) -> Self {
        self.client = client;
        self
    }

    /// The client's address.
    #[deprecated(since = "0.2.0", note = "renamed to `with_client`")]
    #[must_use]
    pub fn from_client(self, client: Option<IpAddr>) -> Self {
        self.with_client(client)
    }

    /// The device token the client presented (its device cookie): see [`Auth::log_in`].
    #[must_use]
    pub fn with_device(mut self, device: Option<&'a DeviceToken>) -> Self {
        self.device = device;
        self
    }

    /// The second factor the client presented: a one-time code or a recovery code, needed
    /// when the account has a second factor enabled.
    #[must_use]
    pub fn with_second_factor(mut self, proof: Option<SecondFactorProof<'a>>) -> Self {
        self.second_factor = proof;
        self
    }
}

impl fmt::Debug for Login<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("email", &self.email)
            .field("client", &self.client)
            .field("device", &self.device.is_some())
            .field("second_factor", &self.second_factor)
            .finish()
    }
}

impl<S: Store> Auth<S> {
    /// Logs in with everything the client presented ([`Login`]): the credentials, and the
    /// optional parts, each set on the [`Login`] when the client gave it (its address, its
    /// device token, its second factor). Later factors are new parts of [`Login`], not new
    /// methods.
    ///
    /// The credentials first: `None` for wrong credentials (unknown email or wrong password
    /// alike, in the same time), and for a password changed or reset between the check and
    /// the session's insert (the session is stored only at the credential generation the
    /// check verified). A hash of a lower cost than configured is re-hashed.
    ///
    /// Then, for an account with a second factor enabled, a one-time code (accepted once: a
    /// code used already is refused, even in the next time step) or a recovery code (each
    /// works once). Throttling counts a wrong password and a wrong or replayed code or
    /// recovery code as failures, a missing second factor not, and a full success clears the
    /// backoff of the account and client.
    ///
    /// With a device token ([`Login::with_device`], the client's device cookie): when device
    /// tokens are on and it is a live token of this account, the login is not held back by
    /// the per-account lockout nor the per-client limits, only by the token's own failures
    /// (the 5th in a row revokes it); otherwise it is throttled as any login. A successful
    /// login returns the device token to set ([`LoggedIn::device`]): the layer sets it as a
    /// cookie that lives 90 days, `HttpOnly; SameSite=Strict; Path=/`, `Secure` as the
    /// session cookie is; at most 10 are kept per account (the oldest dropped).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_user_auth::{Auth, AuthConfig, auth::Login};
    ///
    /// let auth = Auth::new(
    ///     tower_user_auth::store::RedbStore::in_memory()?,
    ///     AuthConfig::compat().with_bcrypt_cost(4),
    /// )?;
    /// auth.register("bob@example.com", "hunter2", None).await?;
    /// let client = Some("203.0.113.7".parse()?);
    /// let wrong = Login::new("bob@example.com", "hunter3").with_client(client);
    /// assert!(auth.log_in(wrong).await?.is_none());
    /// let right = Login::new("bob@example.com", "hunter2").with_client(client);
    /// let logged_in = auth.log_in(right).await?.expect("right credentials");
    /// assert_eq!(logged_in.user.email, "bob@example.com");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AuthError::SecondFactorRequired`] (the right password, the account has a factor, no
    /// proof given: no session), [`AuthError::WrongSecondFactor`] (the right password, a
    /// wrong or replayed code: no session), [`AuthError::EmailNotConfirmed`] (the right
    /// password, an unconfirmed email while
    /// [email confirmation](crate::AuthConfig::with_email_confirmation) is on: no session),
    /// [`AuthError::Overloaded`], [`AuthError::Throttled`] or [`AuthError::Store`].
    pub async fn log_in(&self, login: Login<'_>) -> Result<Option<LoggedIn>, AuthError> {
        let Login {
            email,
            password,
            client,
            device,
            second_factor,
        } = login;
        let throttle = &self.shared.throttle;
        let trusted = self.trusted_device(email, device).await?;
        let held_back = match trusted {
            Some(_) => Ok(throttle.exempt(email, client)),
            None => throttle.attempt(email, client, self.now()).await?,
        };
        let attempt = match held_back {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                // A read, no bcrypt: the audit trail names the account when there is one.
                let user_id = self
                    .find(UserQuery::Email(email.to_owned()))
                    .await
                    .ok()
                    .flatten()
                    .map(|u| u.id);
                audit!(warn, "login_throttled", user_id = user_id.map(display), client = %Client(client), retry_after = retry_after.as_secs());
                return Err(AuthError::Throttled { retry_after });
            }
        };
        let (user, known) = match self.check_credentials(email, password).await {
            Ok(checked) => checked,
            Err(e) => {
                throttle.released(attempt).await;
                return Err(e);
            }
        };
        let Some(user) = user else {
            self.login_failed(attempt, trusted.as_ref()).await?;
            audit!(info, "login_failed", user_id = known.map(display), client = %Client(client), device_token = trusted.is_some());
            return Ok(None);
        };
        // The right password: refusals from here on are not failed guesses, but for a wrong
        // second factor.
        if self.shared.config.email_confirmation() && !user.email_confirmed {
            throttle.released(attempt).await;
            audit!(info, "login_refused", reason = "email not confirmed", user_id = %user.id, client = %Client(client));
            return Err(AuthError::EmailNotConfirmed);
        }
        match self.check_second_factor(&user, second_factor, client).await {
            Ok(()) => {}
            Err(AuthError::WrongSecondFactor) => {
                self.login_failed(attempt, trusted.as_ref()).await?;
                audit!(info, "login_failed", reason = "wrong second factor", user_id = %user.id, client = %Client(client), device_token = trusted.is_some());
                return Err(AuthError::WrongSecondFactor);
            }
            Err(e) => {
                throttle.released(attempt).await;
                return match e {
                    AuthError::SecondFactorRequired => {
                        audit!(info, "login_refused", reason = "second factor required", user_id = %user.id, client = %Client(client));
                        Err(e)
                    }
                    AuthError::CredentialsChanged => {
                        audit!(info, "login_failed", reason = "account changed meanwhile", user_id = %user.id, client = %Client(client));
                        Ok(None)
                    }
                    e => Err(e),
                };
            }
        }
        let mut logged_in = match self.start_session(user).await {
            Ok(logged_in) => logged_in,
            Err(AuthError::CredentialsChanged) => {
                throttle.released(attempt).await;
                audit!(info, "login_failed", reason = "credentials changed meanwhile", user_id = known.map(display), client = %Client(client));
                return Ok(None);
            }
            Err(e) => {
                throttle.released(attempt).await;
                return Err(e);
            }
        };
        throttle.succeeded(attempt).await;
        logged_in.device = self.device_after_login(&logged_in.user, trusted).await;
        let session = logged_in.token.digest().session_id();
        audit!(info, "login", user_id = %logged_in.user.id, session = %session, client = %Client(client));
        Ok(Some(logged_in))
    }

    /// Logs in with `email`, `password` and a device token.
    ///
    /// # Errors
    /// As [`log_in`](Self::log_in).
    #[deprecated(
        since = "0.2.0",
        note = "use `log_in(Login::new(email, password).with_client(client).with_device(device))`"
    )]
    pub async fn log_in_with_device(
        &self,
        email: &str,
        password: &str,
        client: Option<IpAddr>,
        device: Option<&DeviceToken>,
    ) -> Result<Option<LoggedIn>, AuthError> {
        let login = Login::new(email, password)
            .with_client(client)
            .with_device(device);
        self.log_in(login).await
    }

    /// Logs in with everything the client presented.
    ///
    /// # Errors
    /// As [`log_in`](Self::log_in).
    #[deprecated(since = "0.2.0", note = "renamed to `log_in`, which takes the `Login`")]
    pub async fn log_in_with(&self, login: Login<'_>) -> Result<Option<LoggedIn>, AuthError> {
        self.log_in(login).await
    }

    /// Counts a failed login: against the trusted device token when there is one, otherwise
    /// against the account and client.
    async fn login_failed(
        &self,
        attempt: Attempt,
        trusted: Option<&TrustedDevice>,
    ) -> Result<(), AuthError> {
        match trusted {
            Some(device) => {
                // Not counted by the limits (exempt): nothing to release.
                drop(attempt);
                self.device_failed(device).await
            }
            None => {
                self.shared.throttle.failed(attempt, self.now());
                Ok(())
            }
        }
    }
}
