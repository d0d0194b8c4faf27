//! [`CachedSessions`] is a store too, as tower-sessions' `CachingSessionStore` is: session
//! look-ups through the cache, everything else passed to the store behind it, whose
//! notifications keep the cache exact.

use crate::store::UnconfirmedUser;
use std::{future::Future, time::SystemTime};

use super::CachedSessions;
use crate::{
    error::StoreError,
    store::{
        AccountVersion, DeviceRecord, EmailRedeemed, EmailTokenRecord, EndSessions, ImportedUser,
        ListedUser, PasswordReset, Purged, ResetRecord, SecondFactorChange, SecondFactorRecord,
        SessionEntry, SessionRecord, UserQuery, UserUpdate, VerifiedSession,
        cache::ChangeNotifications, prelude::*,
    },
    throttle::SharedThrottle,
    token::TokenDigest,
    user::{User, UserId},
};

/// A cache feeds nothing: a cache in front of a `CachedSessions` would never be told what
/// changed, so it stays off.
impl<S: Store> ChangeNotifications for CachedSessions<S> {}

impl<S: Store> UserStore for CachedSessions<S> {
    fn add_user(
        &self,
        email: &str,
        hashed_password: &str,
    ) -> impl Future<Output = Result<User, StoreError>> + Send {
        self.store.add_user(email, hashed_password)
    }

    fn find_user_by(
        &self,
        query: UserQuery,
    ) -> impl Future<Output = Result<User, StoreError>> + Send {
        self.store.find_user_by(query)
    }

    fn update_user(
        &self,
        id: UserId,
        update: UserUpdate,
    ) -> impl Future<Output = Result<User, StoreError>> + Send {
        self.store.update_user(id, update)
    }

    fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ListedUser>, StoreError>> + Send {
        self.store.list_users(after, limit)
    }

    fn import_user(
        &self,
        user: ImportedUser,
    ) -> impl Future<Output = Result<User, StoreError>> + Send {
        self.store.import_user(user)
    }

    fn delete_user(&self, id: UserId) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.store.delete_user(id)
    }

    fn delete_user_verified(
        &self,
        id: UserId,
        verified: VerifiedSession,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.store.delete_user_verified(id, verified)
    }

    fn rehash_password(
        &self,
        id: UserId,
        verified_hash: String,
        new_hash: String,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.store.rehash_password(id, verified_hash, new_hash)
    }

    fn add_unconfirmed_user(
        &self,
        user: UnconfirmedUser<'_>,
    ) -> impl Future<Output = Result<User, StoreError>> + Send {
        self.store.add_unconfirmed_user(user)
    }

    fn contest_unconfirmed(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.store.contest_unconfirmed(email)
    }
}

impl<S: Store> SessionStore for CachedSessions<S> {
    fn insert_session(
        &self,
        token: TokenDigest,
        session: SessionRecord,
        max_per_user: Option<usize>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.store.insert_session(token, session, max_per_user)
    }

    fn session(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<Option<SessionEntry>, StoreError>> + Send {
        CachedSessions::session(self, token)
    }

    fn session_without_waiting(&self, token: TokenDigest) -> Option<Option<SessionEntry>> {
        CachedSessions::session_without_waiting(self, token)
    }

    fn touch_session(
        &self,
        token: TokenDigest,
        last_seen: SystemTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.store.touch_session(token, last_seen)
    }

    fn delete_session(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.store.delete_session(token)
    }

    fn sessions_of(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Vec<(TokenDigest, SessionRecord)>, StoreError>> + Send {
        self.store.sessions_of(id)
    }

    fn delete_sessions_of(
        &self,
        id: UserId,
        which: EndSessions,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        self.store.delete_sessions_of(id, which)
    }
}

impl<S: Store> TokenStore for CachedSessions<S> {
    fn replace_reset_token(
        &self,
        token: TokenDigest,
        record: ResetRecord,
        read: AccountVersion,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.store.replace_reset_token(token, record, read)
    }

    fn reset_token(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<Option<ResetRecord>, StoreError>> + Send {
        self.store.reset_token(token)
    }

    fn reset_password(
        &self,
        reset: PasswordReset,
    ) -> impl Future<Output = Result<User, StoreError>> + Send {
        self.store.reset_password(reset)
    }

    fn replace_email_token(
        &self,
        token: TokenDigest,
        record: EmailTokenRecord,
        read: AccountVersion,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.store.replace_email_token(token, record, read)
    }

    fn email_token(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<Option<EmailTokenRecord>, StoreError>> + Send {
        self.store.email_token(token)
    }

    fn redeem_email_token(
        &self,
        token: TokenDigest,
        now: SystemTime,
    ) -> impl Future<Output = Result<EmailRedeemed, StoreError>> + Send {
        self.store.redeem_email_token(token, now)
    }

    fn confirm_with_new_password(
        &self,
        token: TokenDigest,
        now: SystemTime,
        hashed_password: String,
    ) -> impl Future<Output = Result<User, StoreError>> + Send {
        self.store
            .confirm_with_new_password(token, now, hashed_password)
    }

    fn insert_device_token(
        &self,
        token: TokenDigest,
        record: DeviceRecord,
        max_per_user: usize,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.store.insert_device_token(token, record, max_per_user)
    }

    fn device_token(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<Option<DeviceRecord>, StoreError>> + Send {
        self.store.device_token(token)
    }

    fn record_device_failure(
        &self,
        token: TokenDigest,
        user: UserId,
        limit: u32,
    ) -> impl Future<Output = Result<Option<u32>, StoreError>> + Send {
        self.store.record_device_failure(token, user, limit)
    }

    fn reset_device_failures(
        &self,
        token: TokenDigest,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.store.reset_device_failures(token)
    }

    fn delete_device_tokens_of(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        self.store.delete_device_tokens_of(id)
    }
}

impl<S: Store> SecondFactorStore for CachedSessions<S> {
    fn second_factor(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Option<SecondFactorRecord>, StoreError>> + Send {
        self.store.second_factor(id)
    }

    fn update_second_factor(
        &self,
        id: UserId,
        change: SecondFactorChange,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.store.update_second_factor(id, change)
    }
}

impl<S: Store> SharedThrottling for CachedSessions<S> {
    fn shared_throttle(&self) -> Option<SharedThrottle> {
        self.store.shared_throttle()
    }
}

impl<S: Store + ExpiredDeletion> ExpiredDeletion for CachedSessions<S> {
    fn purge_expired(
        &self,
        now: SystemTime,
        idle_before: SystemTime,
        unconfirmed_before: SystemTime,
    ) -> impl Future<Output = Result<Purged, StoreError>> + Send {
        self.store
            .purge_expired(now, idle_before, unconfirmed_before)
    }
}
