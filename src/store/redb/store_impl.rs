//! [`Store`] for [`RedbStore`]: each method runs one operation of [`users`], [`sessions`],
//! [`resets`], [`devices`], [`email_tokens`] or [`second_factors`], reads on the caller's thread, writes on the writer thread.

use std::time::SystemTime;

use super::{
    RedbStore, devices, email_tokens, records::millis, resets, second_factors, sessions, users,
};
use crate::{
    error::StoreError,
    store::{
        AccountVersion, DeviceRecord, EmailRedeemed, EmailTokenRecord, EndSessions, ImportedUser,
        ListedUser, PasswordReset, Purged, ResetRecord, SecondFactorChange, SecondFactorRecord,
        SessionEntry, SessionRecord, UserQuery, UserUpdate, VerifiedSession, prelude::*,
    },
    token::TokenDigest,
    user::{User, UserId},
};

impl UserStore for RedbStore {
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

    async fn delete_user_verified(
        &self,
        id: UserId,
        verified: VerifiedSession,
    ) -> Result<(), StoreError> {
        self.write(move |txn| users::delete_verified(txn, id, verified))
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

    async fn add_unconfirmed_user(
        &self,
        email: &str,
        hashed_password: &str,
        token: TokenDigest,
        record: EmailTokenRecord,
        stale_before: SystemTime,
    ) -> Result<User, StoreError> {
        let email = email.trim().to_owned();
        let hash = hashed_password.to_owned();
        self.write(move |txn| {
            let user = users::add_unconfirmed(txn, email, hash, record.created, stale_before)?;
            let record = EmailTokenRecord {
                user_id: user.id,
                generation: user.generation,
                ..record
            };
            email_tokens::insert(txn, token, &record)?;
            Ok(user)
        })
        .await
    }

    async fn contest_unconfirmed(&self, email: &str) -> Result<bool, StoreError> {
        let email = email.to_owned();
        self.write(move |txn| users::contest(txn, &email)).await
    }
}

impl SessionStore for RedbStore {
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
        if !self.shared.live.digests().maybe_present(&token.0) {
            return Ok(None);
        }
        self.read_session(token)
    }

    /// No session, when the live-digest filter proves the digest is not stored (the filter
    /// never misses a stored session: see [`super::live_digests`]); otherwise `None`, and the
    /// caller awaits [`session`](SessionStore::session). A cached session is answered by the
    /// cache in front of the store ([`CachedSessions`](crate::store::CachedSessions)), before
    /// this.
    fn session_without_waiting(&self, token: TokenDigest) -> Option<Option<SessionEntry>> {
        (!self.shared.live.digests().maybe_present(&token.0)).then_some(None)
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
}

impl TokenStore for RedbStore {
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

    async fn replace_email_token(
        &self,
        token: TokenDigest,
        record: EmailTokenRecord,
        read: AccountVersion,
    ) -> Result<(), StoreError> {
        self.write(move |txn| email_tokens::replace(txn, token, &record, &read))
            .await
    }

    async fn email_token(
        &self,
        token: TokenDigest,
    ) -> Result<Option<EmailTokenRecord>, StoreError> {
        self.read(|txn| email_tokens::get(txn, token))
    }

    async fn redeem_email_token(
        &self,
        token: TokenDigest,
        now: SystemTime,
    ) -> Result<EmailRedeemed, StoreError> {
        self.write(move |txn| email_tokens::redeem(txn, token, now))
            .await
    }

    async fn confirm_with_new_password(
        &self,
        token: TokenDigest,
        now: SystemTime,
        hashed_password: String,
    ) -> Result<User, StoreError> {
        self.write(move |txn| email_tokens::confirm_with_password(txn, token, now, hashed_password))
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
}

impl SecondFactorStore for RedbStore {
    async fn second_factor(&self, id: UserId) -> Result<Option<SecondFactorRecord>, StoreError> {
        self.read(|txn| second_factors::get(txn, id))
    }

    async fn update_second_factor(
        &self,
        id: UserId,
        change: SecondFactorChange,
    ) -> Result<bool, StoreError> {
        self.write(move |txn| second_factors::update(txn, id, change))
            .await
    }
}

impl ExpiredDeletion for RedbStore {
    async fn purge_expired(
        &self,
        now: SystemTime,
        idle_before: SystemTime,
        unconfirmed_before: SystemTime,
    ) -> Result<Purged, StoreError> {
        self.write(move |txn| {
            let (now, idle_before) = (millis(now), millis(idle_before));
            Ok(Purged {
                email_tokens: email_tokens::purge(txn, now)?,
                sessions: sessions::purge(txn, now, idle_before)?,
                reset_tokens: resets::purge(txn, now)?,
                device_tokens: devices::purge(txn, now)?,
                // Last: what has expired of theirs is counted above, the rest goes with them.
                unconfirmed_users: users::purge_unconfirmed(txn, millis(unconfirmed_before))?,
            })
        })
        .await
    }
}

impl SharedThrottling for RedbStore {}
