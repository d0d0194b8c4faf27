//! Credentials: checking a password (and re-hashing it at the configured cost), and
//! changing it.

use std::net::IpAddr;

use super::{
    Auth,
    audit::{Client, audit},
};
use crate::{
    error::{AuthError, StoreError},
    store::{EndSessions, Store, UserQuery, UserUpdate},
    token::SessionToken,
    user::{User, UserId},
};

impl<S: Store> Auth<S> {
    /// The user if the credentials are right, and the id of the account the email names.
    pub(crate) async fn check_credentials(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(Option<User>, Option<UserId>), AuthError> {
        let user = self.find(UserQuery::Email(email.to_owned())).await?;
        let known = user.as_ref().map(|u| u.id);
        let hash = user.as_ref().map(|u| u.hashed_password.clone());
        let verified = self.shared.hasher.verify(password.to_owned(), hash).await?;
        let Some(mut user) = user.filter(|_| verified.ok) else {
            return Ok((None, known));
        };
        if let Some(rehash) = verified.rehash {
            match self
                .shared
                .store
                .update_user(user.id, UserUpdate::new().hashed_password(rehash))
                .await
            {
                Ok(updated) => user = updated,
                Err(e) => {
                    tracing::warn!(user_id = %user.id, error = %e, "re-hashing a password at the configured cost failed");
                }
            }
        }
        Ok((Some(user), known))
    }

    /// Changes the password of the user of the session `token`, who proves it with the
    /// current password; ends the user's other sessions in the same transaction.
    ///
    /// # Errors
    /// [`AuthError::InvalidSession`], [`AuthError::InvalidPassword`] (the new one),
    /// [`AuthError::WrongPassword`] (the current one), [`AuthError::Throttled`],
    /// [`AuthError::Overloaded`], [`AuthError::Store`].
    pub async fn change_password(
        &self,
        token: &SessionToken,
        current_password: &str,
        new_password: &str,
        client: Option<IpAddr>,
    ) -> Result<User, AuthError> {
        let Some((_, user)) = self.live_session(token).await? else {
            return Err(AuthError::InvalidSession);
        };
        let throttle = &self.shared.throttle;
        if let Err(retry_after) = throttle.check_failures(&user.email, client, self.now()) {
            audit!(warn, "password_change_throttled", user_id = %user.id, client = %Client(client));
            return Err(AuthError::Throttled { retry_after });
        }
        self.shared
            .config
            .password_policy
            .check(new_password, &user.email)?;
        let verified = self
            .shared
            .hasher
            .verify(
                current_password.to_owned(),
                Some(user.hashed_password.clone()),
            )
            .await?;
        if !verified.ok {
            throttle.record_failure(&user.email, client, self.now());
            audit!(info, "password_change_refused", reason = "wrong password", user_id = %user.id, client = %Client(client));
            return Err(AuthError::WrongPassword);
        }
        throttle.record_success(&user.email, client);
        let hash = self.shared.hasher.hash(new_password.to_owned()).await?;
        let update = UserUpdate::new()
            .hashed_password(hash)
            .end_sessions(EndSessions::AllExcept(token.digest()));
        let user = match self.shared.store.update_user(user.id, update).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => return Err(AuthError::InvalidSession),
            Err(e) => return Err(e.into()),
        };
        audit!(info, "password_changed", user_id = %user.id, client = %Client(client));
        Ok(user)
    }
}
