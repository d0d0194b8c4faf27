//! Tokens: [`TokenStore`] for [`PgStore`] over the transactions on each kind of token:
//! [`resets`], [`email_tokens`] (confirmation, email change) and [`devices`] (see each
//! operation's comment for its locks).

pub(super) mod devices;
pub(super) mod email_tokens;
pub(super) mod resets;

use std::time::SystemTime;

use deadpool_postgres::Transaction;

use crate::store::postgres::{PgStore, count, db_id, db_time, dirty_user};
use crate::{
    error::StoreError,
    store::{
        AccountVersion, DeviceRecord, EmailRedeemed, EmailTokenPurpose, EmailTokenRecord,
        PasswordReset, ResetRecord, TokenStore, cache::Dirty,
    },
    token::TokenDigest,
    user::User,
    user::UserId,
};

/// Removes the tokens of the token table `table` (each kind of token has one, with an
/// `expires` column) that expired at or before `now`; how many.
async fn purge_expired(
    tx: &Transaction<'_>,
    table: &'static str,
    now: SystemTime,
) -> Result<usize, StoreError> {
    let stmt = tx
        .prepare_cached(&format!("DELETE FROM {table} WHERE expires <= $1"))
        .await?;
    Ok(count(tx.execute(&stmt, &[&db_time(now)]).await?))
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
