//! [`Store`] for [`PgStore`]: each method is one statement on a pooled connection, or one
//! transaction of [`users`], [`sessions`], [`resets`] or [`devices`] (see each operation's
//! comment for its locks). Those that change sessions or users notify the other instances'
//! caches from their transaction and invalidate this instance's after it (see [`notify`]);
//! the caches in front of the store read through [`session`](SessionStore::session).
//!
//! [`notify`]: super::notify

use std::time::SystemTime;

use super::{
    PgStore, db_id, devices, dirty_user, email_tokens, resets, second_factors, sessions, throttle,
    users::{self, NewAccount},
};
use crate::{
    error::StoreError,
    store::{
        AccountVersion, DeviceRecord, EmailRedeemed, EmailTokenPurpose, EmailTokenRecord,
        EndSessions, ImportedUser, ListedUser, PasswordReset, Purged, ResetRecord,
        SecondFactorChange, SecondFactorRecord, SessionEntry, SessionRecord, UserQuery, UserUpdate,
        VerifiedSession, cache::Dirty, prelude::*,
    },
    throttle::SharedThrottle,
    token::TokenDigest,
    user::{User, UserId},
};

impl UserStore for PgStore {
    async fn add_user(&self, email: &str, hashed_password: &str) -> Result<User, StoreError> {
        let account = || NewAccount {
            hashed_password: hashed_password.to_owned(),
            generation: 0,
            created: SystemTime::now(),
            email_confirmed: true,
            contested: false,
        };
        let email = email.to_owned();
        self.transaction(move |tx| {
            let (account, email) = (account(), email.clone());
            Box::pin(async move { users::insert(tx, &email, account).await })
        })
        .await
    }

    async fn find_user_by(&self, query: UserQuery) -> Result<User, StoreError> {
        users::find(&self.client().await?, query).await
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User, StoreError> {
        let Some(db) = db_id(id) else {
            return Err(StoreError::NotFound);
        };
        self.write(move |tx| {
            let update = update.clone();
            Box::pin(async move { Ok((users::update(tx, id, &update).await?, dirty_user(db))) })
        })
        .await
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<ListedUser>, StoreError> {
        users::list(&self.client().await?, after, limit).await
    }

    async fn import_user(&self, user: ImportedUser) -> Result<User, StoreError> {
        self.transaction(move |tx| {
            let user = user.clone();
            Box::pin(async move {
                let account = NewAccount {
                    hashed_password: user.hashed_password,
                    generation: user.generation,
                    created: user.created,
                    email_confirmed: user.email_confirmed,
                    contested: user.contested,
                };
                let inserted = users::insert(tx, &user.email, account).await?;
                if let Some(factor) = &user.second_factor {
                    let id = db_id(inserted.id).ok_or(StoreError::NotFound)?;
                    second_factors::insert(tx, id, factor).await?;
                }
                Ok(inserted)
            })
        })
        .await
    }

    async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        let Some(db) = db_id(id) else {
            return Err(StoreError::NotFound);
        };
        self.write(move |tx| {
            Box::pin(async move { Ok((users::delete(tx, id).await?, dirty_user(db))) })
        })
        .await
    }

    async fn delete_user_verified(
        &self,
        id: UserId,
        verified: VerifiedSession,
    ) -> Result<(), StoreError> {
        let Some(db) = db_id(id) else {
            return Err(StoreError::NotFound);
        };
        self.write(move |tx| {
            Box::pin(async move {
                let user = users::lock(tx, id).await?;
                users::check_verified(tx, &user, verified).await?;
                Ok((users::delete(tx, id).await?, dirty_user(db)))
            })
        })
        .await
    }

    async fn rehash_password(
        &self,
        id: UserId,
        verified_hash: String,
        new_hash: String,
    ) -> Result<bool, StoreError> {
        let rehashed = users::rehash(&self.client().await?, id, &verified_hash, &new_hash).await;
        if let Some(db) = db_id(id) {
            self.invalidate(&dirty_user(db));
        }
        rehashed
    }

    async fn add_unconfirmed_user(
        &self,
        email: &str,
        hashed_password: &str,
        token: TokenDigest,
        record: EmailTokenRecord,
        stale_before: SystemTime,
    ) -> Result<User, StoreError> {
        let created = record.created;
        let account = move || NewAccount {
            hashed_password: hashed_password.to_owned(),
            generation: 0,
            created,
            email_confirmed: false,
            contested: false,
        };
        let email = email.to_owned();
        self.write(move |tx| {
            let (account, email, record) = (account(), email.clone(), record.clone());
            Box::pin(async move {
                // A stale holder of the address goes first, in this transaction; its
                // sessions (the cascade's) leave every cache.
                let replaced = users::remove_stale(tx, &email, stale_before).await?;
                let user = users::insert(tx, &email, account).await?;
                let id = db_id(user.id).ok_or(StoreError::NotFound)?;
                let record = EmailTokenRecord {
                    generation: user.generation,
                    ..record
                };
                email_tokens::insert(tx, id, token, &record).await?;
                Ok((user, replaced.map(dirty_user).unwrap_or_default()))
            })
        })
        .await
    }

    async fn contest_unconfirmed(&self, email: &str) -> Result<bool, StoreError> {
        users::contest(&self.client().await?, email).await
    }
}

impl SessionStore for PgStore {
    async fn insert_session(
        &self,
        token: TokenDigest,
        session: SessionRecord,
        max_per_user: Option<usize>,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            Box::pin(async move {
                let changed = sessions::insert(tx, token, &session, max_per_user).await?;
                let mut dirty = Dirty::default();
                dirty.sessions.extend(changed);
                Ok(((), dirty))
            })
        })
        .await
    }

    async fn session(&self, token: TokenDigest) -> Result<Option<SessionEntry>, StoreError> {
        sessions::get(&self.client().await?, token).await
    }

    async fn touch_session(
        &self,
        token: TokenDigest,
        last_seen: SystemTime,
    ) -> Result<(), StoreError> {
        let touched = sessions::touch(&self.client().await?, token, last_seen).await;
        self.invalidate(&dirty_session(token));
        touched
    }

    async fn delete_session(&self, token: TokenDigest) -> Result<bool, StoreError> {
        let removed = sessions::remove(&self.client().await?, token).await;
        self.invalidate(&dirty_session(token));
        removed
    }

    async fn sessions_of(
        &self,
        id: UserId,
    ) -> Result<Vec<(TokenDigest, SessionRecord)>, StoreError> {
        sessions::of_user(&self.client().await?, id).await
    }

    async fn delete_sessions_of(
        &self,
        id: UserId,
        which: EndSessions,
    ) -> Result<usize, StoreError> {
        let Some(id) = super::db_id(id) else {
            return Ok(0);
        };
        self.write(move |tx| {
            Box::pin(async move {
                let ended = sessions::end(tx, id, which).await?;
                let dirty = if ended > 0 {
                    dirty_user(id)
                } else {
                    Dirty::default()
                };
                Ok((ended, dirty))
            })
        })
        .await
    }
}

impl TokenStore for PgStore {
    async fn replace_reset_token(
        &self,
        token: TokenDigest,
        record: ResetRecord,
        read: AccountVersion,
    ) -> Result<(), StoreError> {
        self.transaction(move |tx| {
            let read = read.clone();
            Box::pin(async move { resets::replace(tx, token, &record, &read).await })
        })
        .await
    }

    async fn reset_token(&self, token: TokenDigest) -> Result<Option<ResetRecord>, StoreError> {
        resets::get(&self.client().await?, token).await
    }

    async fn reset_password(&self, reset: PasswordReset) -> Result<User, StoreError> {
        let Some(db) = db_id(reset.user_id) else {
            return Err(StoreError::NotFound);
        };
        self.write(move |tx| {
            let reset = reset.clone();
            Box::pin(async move { Ok((resets::reset_password(tx, &reset).await?, dirty_user(db))) })
        })
        .await
    }

    async fn replace_email_token(
        &self,
        token: TokenDigest,
        record: EmailTokenRecord,
        read: AccountVersion,
    ) -> Result<(), StoreError> {
        self.transaction(move |tx| {
            let (record, read) = (record.clone(), read.clone());
            Box::pin(async move { email_tokens::replace(tx, token, &record, &read).await })
        })
        .await
    }

    async fn email_token(
        &self,
        token: TokenDigest,
    ) -> Result<Option<EmailTokenRecord>, StoreError> {
        email_tokens::get(&self.client().await?, token).await
    }

    async fn redeem_email_token(
        &self,
        token: TokenDigest,
        now: SystemTime,
    ) -> Result<EmailRedeemed, StoreError> {
        self.write(move |tx| {
            Box::pin(async move {
                let redeemed = email_tokens::redeem(tx, token, now).await?;
                // A new email reaches every cached session of the user (an entry carries its
                // user's email); a confirmation changes nothing a session entry holds.
                let dirty = match (&redeemed.purpose, db_id(redeemed.user.id)) {
                    (EmailTokenPurpose::ChangeEmail { .. }, Some(id)) => dirty_user(id),
                    _ => Dirty::default(),
                };
                Ok((redeemed, dirty))
            })
        })
        .await
    }

    async fn confirm_with_new_password(
        &self,
        token: TokenDigest,
        now: SystemTime,
        hashed_password: String,
    ) -> Result<User, StoreError> {
        self.write(move |tx| {
            let hash = hashed_password.clone();
            Box::pin(async move {
                let user = email_tokens::confirm_with_password(tx, token, now, hash).await?;
                let dirty = db_id(user.id).map(dirty_user).unwrap_or_default();
                Ok((user, dirty))
            })
        })
        .await
    }

    async fn insert_device_token(
        &self,
        token: TokenDigest,
        record: DeviceRecord,
        max_per_user: usize,
    ) -> Result<(), StoreError> {
        self.transaction(move |tx| {
            Box::pin(async move { devices::insert(tx, token, &record, max_per_user).await })
        })
        .await
    }

    async fn device_token(&self, token: TokenDigest) -> Result<Option<DeviceRecord>, StoreError> {
        devices::get(&self.client().await?, token).await
    }

    async fn record_device_failure(
        &self,
        token: TokenDigest,
        user: UserId,
        limit: u32,
    ) -> Result<Option<u32>, StoreError> {
        self.transaction(move |tx| {
            Box::pin(async move { devices::record_failure(tx, token, user, limit).await })
        })
        .await
    }

    async fn reset_device_failures(&self, token: TokenDigest) -> Result<bool, StoreError> {
        devices::reset_failures(&self.client().await?, token).await
    }

    async fn delete_device_tokens_of(&self, id: UserId) -> Result<usize, StoreError> {
        let Some(id) = super::db_id(id) else {
            return Ok(0);
        };
        self.transaction(move |tx| Box::pin(async move { devices::remove_all_of(tx, id).await }))
            .await
    }
}

impl SecondFactorStore for PgStore {
    async fn second_factor(&self, id: UserId) -> Result<Option<SecondFactorRecord>, StoreError> {
        second_factors::get(&self.client().await?, id).await
    }

    async fn update_second_factor(
        &self,
        id: UserId,
        change: SecondFactorChange,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let change = change.clone();
            Box::pin(async move {
                let (applied, turned) = second_factors::change(tx, id, &change).await?;
                // Turning the factor on or off moves every session of the user to a new
                // generation: every cache drops them.
                let dirty = match (turned, db_id(id)) {
                    (true, Some(db)) => dirty_user(db),
                    _ => Dirty::default(),
                };
                Ok((applied, dirty))
            })
        })
        .await
    }
}

impl ExpiredDeletion for PgStore {
    async fn purge_expired(
        &self,
        now: SystemTime,
        idle_before: SystemTime,
        unconfirmed_before: SystemTime,
    ) -> Result<Purged, StoreError> {
        self.write(move |tx| {
            Box::pin(async move {
                // Expired throttle counters too: they count as absent already.
                throttle::purge(tx, now, i64::MAX).await?;
                let mut purged = Purged {
                    email_tokens: email_tokens::purge(tx, now).await?,
                    sessions: sessions::purge(tx, now, idle_before).await?,
                    reset_tokens: resets::purge(tx, now).await?,
                    device_tokens: devices::purge(tx, now).await?,
                    unconfirmed_users: 0,
                };
                // Last: what has expired of theirs is counted above, the rest goes with them.
                let gone = users::purge_unconfirmed(tx, unconfirmed_before).await?;
                purged.unconfirmed_users = gone.len();
                let mut dirty = Dirty::default();
                dirty
                    .users
                    .extend(gone.iter().map(|&id| super::unsigned(id)));
                // Removed sessions are not listed (a purge may remove many): every cache
                // starts again.
                dirty.all = purged.sessions > 0;
                Ok((purged, dirty))
            })
        })
        .await
    }
}

impl SharedThrottling for PgStore {
    /// The `throttle` table's counters: every instance on this database enforces the same
    /// limits.
    fn shared_throttle(&self) -> Option<SharedThrottle> {
        Some(SharedThrottle::postgres(throttle::Counters::new(
            self.pool.clone(),
        )))
    }
}

/// What changed one session.
fn dirty_session(token: TokenDigest) -> Dirty {
    let mut dirty = Dirty::default();
    dirty.sessions.insert(token.0);
    dirty
}
