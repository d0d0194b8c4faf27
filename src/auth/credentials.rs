//! Credentials: checking a password (and re-hashing it at the configured cost), and
//! changing it, each write a compare-and-set against what was verified.

use std::net::IpAddr;

use super::{
    Auth,
    audit::{Client, audit},
    reauth::{Fresh, Reauthenticated, Sensitive},
    second_factor::SecondFactorProof,
};
use crate::{
    error::{AuthError, StoreError},
    hook::NoticeKind,
    store::{EndSessions, Store, UserQuery, UserUpdate},
    token::SessionToken,
    user::{User, UserId},
};

impl<S: Store> Auth<S> {
    /// The user if the credentials are right, and the id of the account the email names.
    /// The user's generation is the one the password was verified at. A hash of a lower cost
    /// than configured is replaced by one at the configured cost if it is still the hash
    /// that was verified; the re-hash is dropped silently if the password changed meanwhile.
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
            let verified_hash = user.hashed_password.clone();
            match self
                .store()
                .rehash_password(user.id, verified_hash, rehash.clone())
                .await
            {
                Ok(true) => user.hashed_password = rehash,
                Ok(false) => {
                    tracing::debug!(user_id = %user.id, "the password changed meanwhile; re-hash dropped");
                }
                Err(e) => {
                    tracing::warn!(user_id = %user.id, error = %e, "re-hashing a password at the configured cost failed");
                }
            }
        }
        Ok((Some(user), known))
    }

    /// Changes the password of the user of the session `token`, who proves it with the
    /// current password and, when their account has a second factor enabled and the session
    /// is not fresh (authenticated within the
    /// [re-authentication window](crate::AuthConfig::with_reauth_window)), `proof` (a code
    /// or a recovery code, consumed). In one transaction, and only if the password verified is still the
    /// current one (the credential generation is unchanged): sets the new hash, advances the
    /// generation, revokes the reset token, ends the user's other sessions and keeps this one
    /// (same id, new generation).
    ///
    /// # Errors
    /// [`AuthError::InvalidSession`], [`AuthError::InvalidPassword`] (the new one),
    /// [`AuthError::WrongPassword`] (the current one), [`AuthError::SecondFactorRequired`]
    /// (no proof: not a failure for throttling), [`AuthError::WrongSecondFactor`] (a
    /// failure), [`AuthError::CredentialsChanged`]
    /// (another change or reset came first: nothing changed, and throttling counts neither a
    /// failure nor a success), [`AuthError::Throttled`], [`AuthError::Overloaded`],
    /// [`AuthError::Store`].
    pub async fn change_password(
        &self,
        token: &SessionToken,
        current_password: &str,
        new_password: &str,
        proof: Option<SecondFactorProof<'_>>,
        client: Option<IpAddr>,
    ) -> Result<User, AuthError> {
        let policy = &self.shared.config.password_policy;
        let Reauthenticated { user, attempt } = self
            .reauthenticate_session_fully(
                token,
                current_password,
                proof,
                Fresh::SparesTheFactor,
                client,
                Sensitive::PasswordChange,
                |user| policy.check(new_password, &user.email).map_err(Into::into),
            )
            .await?;
        let throttle = &self.shared.throttle;
        let hash = match self.shared.hasher.hash(new_password.to_owned()).await {
            Ok(hash) => hash,
            Err(e) => {
                throttle.released(attempt).await;
                return Err(e);
            }
        };
        let update = UserUpdate::new()
            .hashed_password(hash)
            .end_sessions(EndSessions::AllExcept(token.digest()))
            .expected_generation(user.generation);
        let changed = match self.store().update_user(user.id, update).await {
            Ok(changed) => changed,
            Err(e) => {
                throttle.released(attempt).await;
                return Err(match e {
                    StoreError::NotFound => AuthError::InvalidSession,
                    StoreError::Conflict => {
                        audit!(info, "password_change_refused", reason = "credentials changed meanwhile", user_id = %user.id, client = %Client(client));
                        AuthError::CredentialsChanged
                    }
                    e => e.into(),
                });
            }
        };
        throttle.succeeded(attempt).await;
        audit!(info, "password_changed", user_id = %changed.id, client = %Client(client));
        self.notify(&changed, NoticeKind::PasswordChanged, client);
        Ok(changed)
    }
}
