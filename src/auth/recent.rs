//! Recent authentication ("sudo mode"): one notion of a fresh session. A login, or a step-up
//! with every factor of the account, starts a session whose `created` time is the
//! authentication; the session is fresh for the
//! [re-authentication window](crate::AuthConfig::with_reauth_window) after it. A step-up
//! replaces the session with a new one (a new token: the session id is renewed when the
//! privilege changes), so no stored format holds anything but the session's creation time.

use std::{fmt, net::IpAddr};

use super::{
    Auth,
    audit::{Client, audit},
    login::LoggedIn,
    reauth::{Fresh, Reauthenticated, Sensitive},
    second_factor::SecondFactorProof,
};
use crate::{
    error::AuthError, store::Store, token::SessionToken, user::AuthenticatedUser, user::User,
};

/// The factors a request gives to re-authenticate: the current password, and a one-time
/// code or a recovery code when the account has a second factor enabled (later issues add a
/// passkey and a provider login). `Debug` shows neither secret.
///
/// ```
/// use tower_user_auth::auth::{Reauthentication, SecondFactorProof};
///
/// let factors = Reauthentication::new("correct horse battery staple")
///     .with_second_factor(Some(SecondFactorProof::Otp("287082")));
/// assert_eq!(
///     format!("{factors:?}"),
///     "Reauthentication { current_password: \"<redacted>\", second_factor: Some(Otp(<redacted>)) }"
/// );
/// ```
#[derive(Clone, Copy)]
pub struct Reauthentication<'a> {
    current_password: &'a str,
    second_factor: Option<SecondFactorProof<'a>>,
}

impl<'a> Reauthentication<'a> {
    /// The current password, without a second factor.
    #[must_use]
    pub fn new(current_password: &'a str) -> Self {
        Self {
            current_password,
            second_factor: None,
        }
    }

    /// The second factor the client presented: needed when the account has one enabled.
    #[must_use]
    pub fn with_second_factor(mut self, proof: Option<SecondFactorProof<'a>>) -> Self {
        self.second_factor = proof;
        self
    }
}

impl fmt::Debug for Reauthentication<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reauthentication")
            .field("current_password", &"<redacted>")
            .field("second_factor", &self.second_factor)
            .finish()
    }
}

impl<S: Store> Auth<S> {
    /// Whether `user`'s session was authenticated (logged in, or stepped up) within the
    /// [re-authentication window](crate::AuthConfig::with_reauth_window), by this `Auth`'s
    /// clock: what [`RequireRecentAuth`](crate::RequireRecentAuth) checks.
    #[must_use]
    pub fn is_recently_authenticated(&self, user: &AuthenticatedUser) -> bool {
        user.authenticated_within(self.shared.config.reauth_window, self.now())
    }

    /// Steps up the session `token`: with every factor of its account (the current password,
    /// and a code or a recovery code when a second factor is enabled, consumed), however
    /// fresh the session already is, replaces it with a new session authenticated now. The
    /// old session ends first, and only one request can end it: of concurrent step-ups with
    /// one session, one gets the new session and the others [`AuthError::InvalidSession`],
    /// as any request of an ended session. Give the client the new token
    /// ([`LoggedIn::token`]) as its session cookie, as a login does: the layer's
    /// `POST /profile/reauth` does. Throttled and audited as a login is: a wrong password or
    /// a wrong code is a failure, a missing code is not, a step-up clears the backoff.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, SystemTime};
    /// use tower_user_auth::{Auth, AuthConfig, AuthError, ManualClock, auth::{Login, Reauthentication}};
    /// use tower_user_auth::store::RedbStore;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let clock = ManualClock::new(SystemTime::now());
    /// let store = RedbStore::open(dir.path().join("auth.redb"))?;
    /// let config = AuthConfig::hardened().with_bcrypt_cost(4);
    /// let auth = Auth::with_clock(store, config, clock.clone())?;
    /// let pw = "correct horse battery staple";
    /// auth.register("bob@example.com", pw, None).await?;
    /// let session = auth.log_in(Login::new("bob@example.com", pw)).await?.expect("logged in").token;
    ///
    /// clock.advance(Duration::from_secs(600));
    /// let (user, _) = auth.authenticate(&session).await?.expect("live");
    /// assert!(!auth.is_recently_authenticated(&user));
    ///
    /// let stepped_up = auth.step_up(&session, Reauthentication::new(pw), None).await?;
    /// assert!(auth.authenticate(&session).await?.is_none(), "the old session ended");
    /// let (user, _) = auth.authenticate(&stepped_up.token).await?.expect("the new one");
    /// assert!(auth.is_recently_authenticated(&user));
    /// assert!(matches!(
    ///     auth.step_up(&session, Reauthentication::new(pw), None).await,
    ///     Err(AuthError::InvalidSession)
    /// ));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AuthError::InvalidSession`] (no live session, or another step-up ended it),
    /// [`AuthError::WrongPassword`], [`AuthError::SecondFactorRequired`],
    /// [`AuthError::WrongSecondFactor`], [`AuthError::CredentialsChanged`] (the password
    /// changed meanwhile: the old session ended, no new one), [`AuthError::Throttled`],
    /// [`AuthError::Overloaded`], [`AuthError::Store`].
    pub async fn step_up(
        &self,
        token: &SessionToken,
        factors: Reauthentication<'_>,
        client: Option<IpAddr>,
    ) -> Result<LoggedIn, AuthError> {
        const WHAT: Sensitive = Sensitive::StepUp;
        let Reauthentication {
            current_password,
            second_factor,
        } = factors;
        let Reauthenticated { user, attempt } = self
            .reauthenticate_session_fully(
                token,
                current_password,
                second_factor,
                Fresh::Ignored,
                client,
                WHAT,
                |_| Ok(()),
            )
            .await?;
        let throttle = &self.shared.throttle;
        // Ending the old session first makes it the one compare-and-set of concurrent
        // step-ups (one of them ends it), and a new session never counts the old one
        // against the cap on sessions per user.
        match self.store().delete_session(token.digest()).await {
            Ok(true) => {}
            Ok(false) => {
                throttle.released(attempt).await;
                WHAT.refused("session ended meanwhile", &user, client);
                return Err(AuthError::InvalidSession);
            }
            Err(e) => {
                throttle.released(attempt).await;
                return Err(e.into());
            }
        }
        let user_id = user.id;
        match self.start_session(user).await {
            Ok(stepped_up) => {
                throttle.succeeded(attempt).await;
                audit!(info, "reauthenticated", user_id = %user_id, ended = %token.digest().session_id(), session = %stepped_up.token.digest().session_id(), client = %Client(client));
                Ok(stepped_up)
            }
            Err(e) => {
                throttle.released(attempt).await;
                audit!(info, "reauthentication_refused", reason = "credentials changed meanwhile", user_id = %user_id, client = %Client(client));
                Err(e)
            }
        }
    }

    /// The account of the session `token` if it may do a sensitive operation now: the
    /// session is fresh (authenticated within the
    /// [re-authentication window](crate::AuthConfig::with_reauth_window)), or the request
    /// gave `factors`, every factor of the account (checked, throttled and audited as a
    /// [step-up](Self::step_up) is, a code consumed; the session stays as it is). The one
    /// check of the operations that need a recent authentication (linking a provider, a
    /// passkey, an access token); the returned account is as verified, for their
    /// compare-and-set.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, SystemTime};
    /// use tower_user_auth::{Auth, AuthConfig, AuthError, ManualClock, auth::{Login, Reauthentication}};
    /// use tower_user_auth::store::RedbStore;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let clock = ManualClock::new(SystemTime::now());
    /// let store = RedbStore::open(dir.path().join("auth.redb"))?;
    /// let config = AuthConfig::hardened()
    ///     .with_bcrypt_cost(4)
    ///     .with_reauth_window(Duration::from_secs(300));
    /// let auth = Auth::with_clock(store, config, clock.clone())?;
    /// let pw = "correct horse battery staple";
    /// auth.register("bob@example.com", pw, None).await?;
    /// let session = auth.log_in(Login::new("bob@example.com", pw)).await?.expect("logged in").token;
    ///
    /// // Just logged in: fresh.
    /// assert_eq!(auth.require_recent_authentication(&session, None, None).await?.email, "bob@example.com");
    /// clock.advance(Duration::from_secs(300));
    /// assert!(matches!(
    ///     auth.require_recent_authentication(&session, None, None).await,
    ///     Err(AuthError::ReauthenticationRequired)
    /// ));
    /// let wrong = Reauthentication::new("not my password");
    /// assert!(matches!(
    ///     auth.require_recent_authentication(&session, Some(wrong), None).await,
    ///     Err(AuthError::WrongPassword)
    /// ));
    /// let right = Reauthentication::new(pw);
    /// assert!(auth.require_recent_authentication(&session, Some(right), None).await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AuthError::ReauthenticationRequired`] (not fresh, no factors given: not a failure
    /// for throttling), [`AuthError::InvalidSession`], and for the factors given
    /// [`AuthError::WrongPassword`], [`AuthError::SecondFactorRequired`],
    /// [`AuthError::WrongSecondFactor`], [`AuthError::CredentialsChanged`],
    /// [`AuthError::Throttled`], [`AuthError::Overloaded`], [`AuthError::Store`].
    pub async fn require_recent_authentication(
        &self,
        token: &SessionToken,
        factors: Option<Reauthentication<'_>>,
        client: Option<IpAddr>,
    ) -> Result<User, AuthError> {
        let Some((record, user)) = self.live_session_user(token).await? else {
            return Err(AuthError::InvalidSession);
        };
        if self.is_fresh(&record) {
            return Ok(user);
        }
        let Some(factors) = factors else {
            return Err(AuthError::ReauthenticationRequired);
        };
        const WHAT: Sensitive = Sensitive::StepUp;
        let verified = self
            .reauthenticate(user, factors.current_password, client, WHAT)
            .await?;
        let Reauthenticated { user, attempt } = self
            .second_factor_of(verified, factors.second_factor, client, WHAT)
            .await?;
        self.shared.throttle.succeeded(attempt).await;
        Ok(user)
    }
}
