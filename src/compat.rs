//! Compatibility with the Python service this crate re-creates (the "seed": a Flask user
//! authentication service whose `Auth` class had the methods below), for code ported from
//! it and for tests written against its contract.
//!
//! [`SeedApi`] gives [`Auth`] the seed's method names, with the seed's argument shapes and
//! results. Each is a thin call into the crate's own API; new code should call the
//! counterpart on [`Auth`], which takes the client address (for throttling and the audit
//! trail) and says more about what happened. Import the trait to use them:
//! `use tower_user_auth::compat::SeedApi;`.
//!
//! | `SeedApi` method | seed (`Auth.…` in Python) | counterpart on [`Auth`] | what the counterpart adds |
//! | --- | --- | --- | --- |
//! | [`register_user(email, pw)`](SeedApi::register_user) | `register_user(email, password) -> User`, `ValueError` if taken | [`register(email, pw, client)`](Auth::register) | the per-client registration quota |
//! | [`valid_login(email, pw)`](SeedApi::valid_login) | `valid_login(email, password) -> bool` | [`log_in(Login::new(email, pw).with_client(client))`](Auth::log_in) | throttling of failures, audit events, and the session it starts |
//! | [`create_session(email)`](SeedApi::create_session) | `create_session(email) -> str`, `None` for an unknown email | [`log_in(Login::new(email, pw).with_client(client))`](Auth::log_in) | it checks the password (`create_session` does not) |
//! | [`get_user_from_session_id(sid)`](SeedApi::get_user_from_session_id) | `get_user_from_session_id(session_id) -> User or None` | [`authenticate(&token)`](Auth::authenticate) | takes a parsed [`SessionToken`]; returns the session record too |
//! | [`destroy_session(user_id)`](SeedApi::destroy_session) | `destroy_session(user_id)` | [`end_all_sessions(user_id, client)`](Auth::end_all_sessions) | returns how many sessions ended; an audit event ([`log_out`](Auth::log_out) ends one) |
//! | [`get_reset_password_token(email)`](SeedApi::get_reset_password_token) | `get_reset_password_token(email) -> str`, `ValueError` for an unknown email | [`request_password_reset(email, client)`](Auth::request_password_reset) | quotas, audit events, and delivery through the mailer |
//! | [`update_password(token, pw)`](SeedApi::update_password) | `update_password(reset_token, password)`, `ValueError` for an unknown token | [`reset_password(email, token, pw, client)`](Auth::reset_password) | the token must belong to `email`; throttling of failures; audit events |
//!
//! The seed's `DB` class maps onto the [`Store`] trait: `add_user` is [`UserStore::add_user`](crate::store::UserStore::add_user),
//! `find_user_by(**kw)` is [`UserStore::find_user_by`](crate::store::UserStore::find_user_by) with a typed [`UserQuery`], and
//! `update_user(user_id, **kw)` is [`UserStore::update_user`](crate::store::UserStore::update_user) with a typed
//! [`UserUpdate`](crate::store::UserUpdate).
//!
//! Where the seed kept one plaintext session id and reset token on the user row, this crate
//! keeps several sessions per user and stores only digests of tokens; the methods here
//! behave as the seed's did otherwise. The seed's `ValueError`s are [`AuthError`]s
//! ([`AuthError::EmailTaken`], [`AuthError::UnknownEmail`], [`AuthError::InvalidToken`]).
//!
//! # Example
//!
//! The seed's end-to-end scenario, in its own terms:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_user_auth::{Auth, AuthConfig, compat::SeedApi};
//!
//! let dir = tempfile::tempdir()?;
//! let auth = Auth::open(dir.path().join("auth.redb"), AuthConfig::compat().with_bcrypt_cost(4))?;
//! let user = auth.register_user("bob@bob.com", "mySuperPwd").await?;
//! assert!(auth.valid_login("bob@bob.com", "mySuperPwd").await?);
//! assert!(!auth.valid_login("bob@bob.com", "wrong").await?);
//!
//! let session = auth.create_session("bob@bob.com").await?.expect("known email");
//! let found = auth.get_user_from_session_id(Some(session.expose())).await?;
//! assert_eq!(found.map(|u| u.email).as_deref(), Some("bob@bob.com"));
//! auth.destroy_session(user.id).await?;
//! assert!(auth.get_user_from_session_id(Some(session.expose())).await?.is_none());
//!
//! let token = auth.get_reset_password_token("bob@bob.com").await?;
//! auth.update_password(token.expose(), "newPwd").await?;
//! assert!(auth.valid_login("bob@bob.com", "newPwd").await?);
//! # Ok(())
//! # }
//! ```

use std::future::Future;

use crate::{
    auth::Auth,
    error::AuthError,
    store::{EndSessions, Store, UserQuery},
    token::{ResetToken, SessionToken},
    user::{User, UserId},
};

/// The seed's `Auth` methods, on [`Auth`]. See the [module docs](self) for each one's
/// counterpart in the crate's own API.
pub trait SeedApi {
    /// Registers a user (the seed's `register_user`), with no client address: as
    /// [`Auth::register`] with `None`.
    ///
    /// # Errors
    /// [`AuthError::EmailTaken`] if the email (compared by its
    /// [`email_key`](crate::user::email_key): without regard to case or Unicode
    /// normalisation) has an account; [`AuthError::InvalidEmail`] or
    /// [`AuthError::InvalidPassword`] when refused;
    /// [`AuthError::Overloaded`] or [`AuthError::Store`].
    fn register_user(
        &self,
        email: &str,
        password: &str,
    ) -> impl Future<Output = Result<User, AuthError>> + Send;

    /// Whether `password` is the password of the account `email` (the seed's
    /// `valid_login`), without throttling and without starting a session. An unknown email
    /// costs one bcrypt verify all the same; a hash of a lower cost than configured is
    /// re-hashed.
    ///
    /// # Errors
    /// [`AuthError::Overloaded`] or [`AuthError::Store`].
    fn valid_login(
        &self,
        email: &str,
        password: &str,
    ) -> impl Future<Output = Result<bool, AuthError>> + Send;

    /// Starts a new session for `email` without checking a password (the seed's
    /// `create_session`); `None` for an unknown email.
    ///
    /// # Errors
    /// [`AuthError::Store`].
    fn create_session(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<SessionToken>, AuthError>> + Send;

    /// The user of a live session (the seed's `get_user_from_session_id`); `None` for `None`,
    /// a malformed, unknown or expired id.
    ///
    /// # Errors
    /// [`AuthError::Store`].
    fn get_user_from_session_id(
        &self,
        session_id: Option<&str>,
    ) -> impl Future<Output = Result<Option<User>, AuthError>> + Send;

    /// Ends every session of the user (the seed's `destroy_session`: afterwards the user has
    /// no session), without an audit event.
    ///
    /// # Errors
    /// [`AuthError::Store`].
    fn destroy_session(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<(), AuthError>> + Send;

    /// Issues a reset token for `email` (the seed's `get_reset_password_token`), replacing any
    /// earlier one, without quotas or hook. It expires after the configured lifetime and
    /// works once.
    ///
    /// # Errors
    /// [`AuthError::UnknownEmail`]; [`AuthError::Store`].
    fn get_reset_password_token(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<ResetToken, AuthError>> + Send;

    /// Sets a new password with a reset token (the seed's `update_password`) and consumes the
    /// token, without throttling; ends the user's sessions if the configuration says so.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] for an unknown, expired or used token (whatever the
    /// password); [`AuthError::InvalidPassword`] if the policy refuses the password (the
    /// token stays usable); [`AuthError::Overloaded`] or [`AuthError::Store`].
    fn update_password(
        &self,
        reset_token: &str,
        password: &str,
    ) -> impl Future<Output = Result<User, AuthError>> + Send;
}

impl<S: Store> SeedApi for Auth<S> {
    async fn register_user(&self, email: &str, password: &str) -> Result<User, AuthError> {
        self.register(email, password, None).await
    }

    async fn valid_login(&self, email: &str, password: &str) -> Result<bool, AuthError> {
        Ok(self.check_credentials(email, password).await?.0.is_some())
    }

    async fn create_session(&self, email: &str) -> Result<Option<SessionToken>, AuthError> {
        // No password is checked, so a password changed between the read and the insert only
        // means reading the account again (at most a few times).
        let mut attempts = 0;
        loop {
            let Some(user) = self.find(UserQuery::Email(email.to_owned())).await? else {
                return Ok(None);
            };
            match self.start_session(user).await {
                Ok(logged_in) => return Ok(Some(logged_in.token)),
                Err(AuthError::CredentialsChanged) if attempts < 3 => attempts += 1,
                Err(e) => return Err(e),
            }
        }
    }

    async fn get_user_from_session_id(
        &self,
        session_id: Option<&str>,
    ) -> Result<Option<User>, AuthError> {
        let Some(token) = session_id.and_then(SessionToken::parse) else {
            return Ok(None);
        };
        Ok(self.live_session_user(&token).await?.map(|(_, user)| user))
    }

    async fn destroy_session(&self, user_id: UserId) -> Result<(), AuthError> {
        self.store()
            .delete_sessions_of(user_id, EndSessions::All)
            .await?;
        Ok(())
    }

    async fn get_reset_password_token(&self, email: &str) -> Result<ResetToken, AuthError> {
        Ok(self.issue_reset_token(email).await?.1)
    }

    async fn update_password(&self, reset_token: &str, password: &str) -> Result<User, AuthError> {
        self.reset(None, reset_token, password).await
    }
}
