//! Accounts: registration and deletion.

use std::net::IpAddr;

use super::{
    Auth,
    audit::{Client, audit},
};
use crate::{
    error::{AuthError, StoreError},
    store::{Store, UserQuery},
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
        let user = self.insert_user(email, password).await.inspect_err(|e| {
            if let AuthError::EmailTaken(_) = e {
                audit!(info, "register_refused", reason = "email taken", client = %Client(client));
            }
        })?;
        audit!(info, "register", user_id = %user.id, client = %Client(client));
        Ok(user)
    }

    async fn insert_user(&self, email: &str, password: &str) -> Result<User, AuthError> {
        self.shared.config.password_policy.check(password, email)?;
        match self
            .shared
            .store
            .find_user_by(UserQuery::Email(email.to_owned()))
            .await
        {
            Ok(_) => return Err(AuthError::EmailTaken(email.to_owned())),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        let hash = self.shared.hasher.hash(password.to_owned()).await?;
        match self.shared.store.add_user(email, &hash).await {
            Ok(user) => Ok(user),
            Err(StoreError::EmailTaken) => Err(AuthError::EmailTaken(email.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a user with their sessions and reset token, in one transaction.
    ///
    /// # Errors
    /// [`AuthError::Store`] (with [`StoreError::NotFound`] for an unknown id).
    pub async fn delete_user(&self, user_id: UserId) -> Result<(), AuthError> {
        self.shared.store.delete_user(user_id).await?;
        audit!(info, "user_deleted", user_id = %user_id, client = %Client(None));
        Ok(())
    }
}
