//! [`Store`] for [`RedbStore`]: each method runs one operation of [`users`], [`sessions`],
//! [`resets`] or [`devices`], reads on the caller's thread, writes on the writer thread.

use std::time::SystemTime;

use super::{RedbStore, devices, records::millis, resets, sessions, users};
use crate::{
    error::StoreError,
    store::{
        AccountVersion, DeviceRecord, EndSessions, ImportedUser, ListedUser, PasswordReset, Purged,
        ResetRecord, SessionEntry, SessionRecord, Store, UserQuery, UserUpdate,
    },
    token::TokenDigest,
    user::{User, UserId},
};

impl Store for RedbStore {
    // SKELETON: the store engineer replaces these.
    async fn add_unconfirmed_user(
        &self,
        email: &str,
        hashed_password: &str,
        token: TokenDigest,
        record: crate::store::EmailTokenRecord,
    ) -> Result<User, StoreError> {
        let _ = (email, hashed_password, token, record);
        unimplemented!("SKELETON")
    }

    async fn replace_email_token(
        &self,
        token: TokenDigest,
        record: crate::store::EmailTokenRecord,
        read: crate::store::AccountVersion,
    ) -> Result<(), StoreError> {
        let _ = (token, record, read);
        unimplemented!("SKELETON")
    }

    async fn email_token(
        &self,
        token: TokenDigest,
    ) -> Result<Option<crate::store::EmailTokenRecord>, StoreError> {
        let _ = token;
        unimplemented!("SKELETON")
    }

    async fn redeem_email_token(
        &self,
        token: TokenDigest,
        now: std::time::SystemTime,
    ) -> Result<crate::store::EmailRedeemed, StoreError> {
        let _ = (token, now);
        unimplemented!("SKELETON")
    }

    async fn second_factor(
        &self,
        id: crate::user::UserId,
    ) -> Result<Option<crate::store::SecondFactorRecord>, StoreError> {
        let _ = id;
        unimplemented!("SKELETON")
    }

    async fn update_second_factor(
        &self,
        id: crate::user::UserId,
        change: crate::store::SecondFactorChange,
    ) -> Result<bool, StoreError> {
        let _ = (id, change);
        unimplemented!("SKELETON")
    }

    async fn add_user(&self, email: &str, hashed_password: &str) -> Result<User, StoreError> {
        let email = email.trim().to_owned();
        let hash = hashed_password.to_owned();
        self.write(move |txn| users::add(txn, email, hash)).await
    }

    async fn find_user_by(&self, query: UserQuery) -> Result<User, StoreError> {
        self.read(|txn| users::find(txn, query))
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User, StoreError> {
        self.write(move |txn| users::update(txn, id, update)).await
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<ListedUser>, StoreError> {
        self.read(|txn| users::list(txn, after, limit))
    }

    async fn import_user(&self, user: ImportedUser) -> Result<User, StoreError> {
        self.write(move |txn| users::import(txn, user)).await
    }

    async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        self.write(move |txn| users::delete(txn, id)).await
    }

    async fn insert_session(
        &self,
        token: TokenDigest,
        session: SessionRecord,
        max_per_user: Option<usize>,
    ) -> Result<(), StoreError> {
        self.write(move |txn| sessions::insert(txn, token, &session, max_per_user))
            .await
    }

    async fn session(&self, token: TokenDigest) -> Result<Option<SessionEntry>, StoreError> {
        let cache = &self.shared.cache;
        if let Some(hit) = cache.get(&token.0) {
            return Ok(Some(hit));
        }
        // After the cache, so that a hit does not pay for it: a cached session exists.
        if !self.shared.live.digests().maybe_present(&token.0) {
            return Ok(None);
        }
        let epoch = cache.epoch();
        let found = self.read_session(token)?;
        if let Some(found) = &found {
            cache.insert(epoch, token.0, found.clone());
        }
        Ok(found)
    }

    async fn touch_session(
        &self,
        token: TokenDigest,
        last_seen: SystemTime,
    ) -> Result<(), StoreError> {
        self.write(move |txn| sessions::touch(txn, token, last_seen))
            .await
    }

    async fn delete_session(&self, token: TokenDigest) -> Result<bool, StoreError> {
        self.write(move |txn| sessions::remove(txn, token.0)).await
    }

    async fn sessions_of(
        &self,
        id: UserId,
    ) -> Result<Vec<(TokenDigest, SessionRecord)>, StoreError> {
        self.read(|txn| sessions::of_user(txn, id.0))
    }

    async fn delete_sessions_of(
        &self,
        id: UserId,
        which: EndSessions,
    ) -> Result<usize, StoreError> {
        self.write(move |txn| sessions::remove_all_of(txn, id.0, which))
            .await
    }

    async fn replace_reset_token(
        &self,
        token: TokenDigest,
        record: ResetRecord,
        read: AccountVersion,
    ) -> Result<(), StoreError> {
        self.write(move |txn| resets::replace(txn, token, &record, &read))
            .await
    }

    async fn reset_token(&self, token: TokenDigest) -> Result<Option<ResetRecord>, StoreError> {
        self.read(|txn| resets::get(txn, token))
    }

    async fn reset_password(&self, reset: PasswordReset) -> Result<User, StoreError> {
        self.write(move |txn| resets::reset_password(txn, reset))
            .await
    }

    async fn rehash_password(
        &self,
        id: UserId,
        verified_hash: String,
        new_hash: String,
    ) -> Result<bool, StoreError> {
        self.write(move |txn| users::rehash(txn, id, &verified_hash, new_hash))
            .await
    }

    async fn insert_device_token(
        &self,
        token: TokenDigest,
        record: DeviceRecord,
        max_per_user: usize,
    ) -> Result<(), StoreError> {
        self.write(move |txn| devices::insert(txn, token, &record, max_per_user))
            .await
    }

    async fn device_token(&self, token: TokenDigest) -> Result<Option<DeviceRecord>, StoreError> {
        self.read(|txn| devices::get(txn, token))
    }

    async fn record_device_failure(
        &self,
        token: TokenDigest,
        user: UserId,
        limit: u32,
    ) -> Result<Option<u32>, StoreError> {
        self.write(move |txn| devices::record_failure(txn, token, user, limit))
            .await
    }

    async fn reset_device_failures(&self, token: TokenDigest) -> Result<bool, StoreError> {
        self.write(move |txn| devices::reset_failures(txn, token))
            .await
    }

    async fn delete_device_tokens_of(&self, id: UserId) -> Result<usize, StoreError> {
        self.write(move |txn| devices::remove_all_of(txn, id.0))
            .await
    }

    async fn purge_expired(
        &self,
        now: SystemTime,
        idle_before: SystemTime,
    ) -> Result<Purged, StoreError> {
        self.write(move |txn| {
            let (now, idle_before) = (millis(now), millis(idle_before));
            Ok(Purged {
                email_tokens: 0,
                sessions: sessions::purge(txn, now, idle_before)?,
                reset_tokens: resets::purge(txn, now)?,
                device_tokens: devices::purge(txn, now)?,
            })
        })
        .await
    }

    /// What [`session`](Store::session) answers from memory, before it would read the file:
    /// a cached session, or no session when the live-digest filter proves the digest is not
    /// stored. Both are the same checks, in the same order, that `session` starts with (an
    /// entry is cached only as read from the file, and every commit that changes or removes
    /// it drops it before that write is answered; the filter never misses a stored session).
    /// Otherwise `None`: the caller awaits `session`, which reads the file.
    fn session_without_waiting(&self, token: TokenDigest) -> Option<Option<SessionEntry>> {
        if let Some(hit) = self.shared.cache.get(&token.0) {
            return Some(Some(hit));
        }
        (!self.shared.live.digests().maybe_present(&token.0)).then_some(None)
    }
}
