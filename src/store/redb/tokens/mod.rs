//! Tokens: [`TokenStore`] for [`RedbStore`] over the operations on each kind of token,
//! inside a transaction: [`resets`], [`email_tokens`] (confirmation, email change) and
//! [`devices`].

pub(super) mod devices;
pub(super) mod email_tokens;
pub(super) mod resets;

use std::time::SystemTime;

use super::RedbStore;
use crate::{
    error::StoreError,
    store::{
        AccountVersion, DeviceRecord, EmailRedeemed, EmailTokenRecord, PasswordReset, ResetRecord,
        TokenStore,
    },
    token::TokenDigest,
    user::{User, UserId},
};

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
