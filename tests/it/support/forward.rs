//! Test doubles around a real store: [`Forward`] says where a wrapper's store is and what it
//! checks before each read and each write, and [`forward_store!`] implements every concern of
//! the store for the wrapper by forwarding (`SharedThrottling` and `ChangeNotifications`, which
//! have defaults, are the wrapper's own).
//!
//! ```ignore
//! struct Wrapper(RedbStore);
//! impl Forward for Wrapper {
//!     type Inner = RedbStore;
//!     fn inner(&self) -> &RedbStore {
//!         &self.0
//!     }
//! }
//! forward_store!(Wrapper);
//! impl SharedThrottling for Wrapper {}
//! impl ChangeNotifications for Wrapper {}
//! ```

use tower_user_auth::{StoreError, store::prelude::*};

/// A wrapper around a store: the store, and the checks before its reads and writes (by
/// default none).
pub trait Forward: Send + Sync + 'static {
    /// The wrapped store.
    type Inner: Store;

    /// The wrapped store.
    fn inner(&self) -> &Self::Inner;

    /// Checked before every read (an error is the read's answer).
    fn before_read(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Checked before every write (an error is the write's answer).
    fn before_write(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// `UserStore`, `SessionStore`, `TokenStore`, `SecondFactorStore` and `ExpiredDeletion` for
/// `$ty: Forward`, each method checking [`Forward::before_read`] or [`Forward::before_write`]
/// and then forwarding to [`Forward::inner`].
macro_rules! forward_store {
    ($ty:ty) => {
        const _: () = {
            use std::time::SystemTime;

            use tower_user_auth::{
                StoreError, User, UserId,
                store::{
                    AccountVersion, DeviceRecord, EmailRedeemed, EmailTokenRecord, EndSessions,
                    ImportedUser, ListedUser, PasswordReset, Purged, ResetRecord,
                    SecondFactorChange, SecondFactorRecord, SessionEntry, SessionRecord, UserQuery,
                    UserUpdate, VerifiedSession, prelude::*,
                },
                token::TokenDigest,
            };

            use $crate::support::forward::Forward;

            impl UserStore for $ty {
                async fn add_user(&self, email: &str, hash: &str) -> Result<User, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).add_user(email, hash).await
                }

                async fn find_user_by(&self, q: UserQuery) -> Result<User, StoreError> {
                    Forward::before_read(self)?;
                    Forward::inner(self).find_user_by(q).await
                }

                async fn update_user(&self, id: UserId, u: UserUpdate) -> Result<User, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).update_user(id, u).await
                }

                async fn list_users(
                    &self,
                    after: Option<UserId>,
                    limit: usize,
                ) -> Result<Vec<ListedUser>, StoreError> {
                    Forward::before_read(self)?;
                    Forward::inner(self).list_users(after, limit).await
                }

                async fn import_user(&self, user: ImportedUser) -> Result<User, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).import_user(user).await
                }

                async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).delete_user(id).await
                }

                async fn delete_user_verified(
                    &self,
                    id: UserId,
                    verified: VerifiedSession,
                ) -> Result<(), StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self)
                        .delete_user_verified(id, verified)
                        .await
                }

                async fn rehash_password(
                    &self,
                    id: UserId,
                    old: String,
                    new: String,
                ) -> Result<bool, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).rehash_password(id, old, new).await
                }

                async fn add_unconfirmed_user(
                    &self,
                    user: tower_user_auth::store::UnconfirmedUser<'_>,
                ) -> Result<User, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).add_unconfirmed_user(user).await
                }

                async fn contest_unconfirmed(&self, email: &str) -> Result<bool, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).contest_unconfirmed(email).await
                }
            }

            impl SessionStore for $ty {
                async fn insert_session(
                    &self,
                    t: TokenDigest,
                    s: SessionRecord,
                    m: Option<usize>,
                ) -> Result<(), StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).insert_session(t, s, m).await
                }

                async fn session(
                    &self,
                    t: TokenDigest,
                ) -> Result<Option<SessionEntry>, StoreError> {
                    Forward::before_read(self)?;
                    Forward::inner(self).session(t).await
                }

                async fn touch_session(
                    &self,
                    t: TokenDigest,
                    at: SystemTime,
                ) -> Result<(), StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).touch_session(t, at).await
                }

                async fn delete_session(&self, t: TokenDigest) -> Result<bool, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).delete_session(t).await
                }

                async fn sessions_of(
                    &self,
                    id: UserId,
                ) -> Result<Vec<(TokenDigest, SessionRecord)>, StoreError> {
                    Forward::before_read(self)?;
                    Forward::inner(self).sessions_of(id).await
                }

                async fn delete_sessions_of(
                    &self,
                    id: UserId,
                    w: EndSessions,
                ) -> Result<usize, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).delete_sessions_of(id, w).await
                }
            }

            impl TokenStore for $ty {
                async fn replace_reset_token(
                    &self,
                    t: TokenDigest,
                    r: ResetRecord,
                    read: AccountVersion,
                ) -> Result<(), StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).replace_reset_token(t, r, read).await
                }

                async fn reset_token(
                    &self,
                    t: TokenDigest,
                ) -> Result<Option<ResetRecord>, StoreError> {
                    Forward::before_read(self)?;
                    Forward::inner(self).reset_token(t).await
                }

                async fn reset_password(&self, r: PasswordReset) -> Result<User, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).reset_password(r).await
                }

                async fn replace_email_token(
                    &self,
                    t: TokenDigest,
                    r: EmailTokenRecord,
                    read: AccountVersion,
                ) -> Result<(), StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).replace_email_token(t, r, read).await
                }

                async fn email_token(
                    &self,
                    t: TokenDigest,
                ) -> Result<Option<EmailTokenRecord>, StoreError> {
                    Forward::before_read(self)?;
                    Forward::inner(self).email_token(t).await
                }

                async fn redeem_email_token(
                    &self,
                    t: TokenDigest,
                    now: SystemTime,
                ) -> Result<EmailRedeemed, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).redeem_email_token(t, now).await
                }

                async fn confirm_with_new_password(
                    &self,
                    t: TokenDigest,
                    now: SystemTime,
                    hash: String,
                ) -> Result<User, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self)
                        .confirm_with_new_password(t, now, hash)
                        .await
                }

                async fn insert_device_token(
                    &self,
                    t: TokenDigest,
                    r: DeviceRecord,
                    max: usize,
                ) -> Result<(), StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).insert_device_token(t, r, max).await
                }

                async fn device_token(
                    &self,
                    t: TokenDigest,
                ) -> Result<Option<DeviceRecord>, StoreError> {
                    Forward::before_read(self)?;
                    Forward::inner(self).device_token(t).await
                }

                async fn record_device_failure(
                    &self,
                    t: TokenDigest,
                    id: UserId,
                    limit: u32,
                ) -> Result<Option<u32>, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self)
                        .record_device_failure(t, id, limit)
                        .await
                }

                async fn reset_device_failures(&self, t: TokenDigest) -> Result<bool, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).reset_device_failures(t).await
                }

                async fn delete_device_tokens_of(&self, id: UserId) -> Result<usize, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).delete_device_tokens_of(id).await
                }
            }

            impl SecondFactorStore for $ty {
                async fn second_factor(
                    &self,
                    id: UserId,
                ) -> Result<Option<SecondFactorRecord>, StoreError> {
                    Forward::before_read(self)?;
                    Forward::inner(self).second_factor(id).await
                }

                async fn update_second_factor(
                    &self,
                    id: UserId,
                    change: SecondFactorChange,
                ) -> Result<bool, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self).update_second_factor(id, change).await
                }
            }

            impl ExpiredDeletion for $ty {
                async fn purge_expired(
                    &self,
                    now: SystemTime,
                    idle: SystemTime,
                    unconfirmed: SystemTime,
                ) -> Result<Purged, StoreError> {
                    Forward::before_write(self)?;
                    Forward::inner(self)
                        .purge_expired(now, idle, unconfirmed)
                        .await
                }
            }
        };
    };
}

pub(crate) use forward_store;
