//! Accounts: the `users` table and its unique index of lowercased emails.

use std::time::SystemTime;

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{
    records::{StoredUser, millis},
    schema::{EMAILS, META, NEXT_USER_ID_KEY, RESETS, SESSIONS, USERS},
    sessions, writer,
};
use crate::{
    error::StoreError,
    store::{EndSessions, UserQuery, UserUpdate},
    user::{User, UserId},
};

/// The key of the email index: trimmed and lowercased, so that emails are unique without
/// regard to case.
fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The user `id` of `users`, if there is one.
pub(super) fn by_id(
    users: &impl ReadableTable<u64, StoredUser>,
    id: u64,
) -> Result<Option<User>, StoreError> {
    Ok(users.get(id)?.map(|v| {
        let stored = v.value();
        User {
            id: UserId(id),
            email: stored.email,
            hashed_password: stored.hashed_password,
        }
    }))
}

/// Whether an account `id` exists.
pub(super) fn exists(txn: &WriteTransaction, id: u64) -> Result<bool, StoreError> {
    Ok(txn.open_table(USERS)?.get(id)?.is_some())
}

/// Adds an account (email trimmed, case kept); [`StoreError::EmailTaken`] if its key is.
pub(super) fn add(
    txn: &WriteTransaction,
    email: String,
    hashed_password: String,
) -> Result<User, StoreError> {
    let key = email_key(&email);
    let mut emails = txn.open_table(EMAILS)?;
    if emails.get(key.as_str())?.is_some() {
        return Err(StoreError::EmailTaken);
    }
    let mut meta = txn.open_table(META)?;
    let id = meta.get(NEXT_USER_ID_KEY)?.map_or(1, |v| v.value());
    meta.insert(NEXT_USER_ID_KEY, id + 1)?;
    emails.insert(key.as_str(), id)?;
    let stored = StoredUser {
        email,
        hashed_password,
        created_ms: millis(SystemTime::now()),
    };
    txn.open_table(USERS)?.insert(id, &stored)?;
    Ok(User {
        id: UserId(id),
        email: stored.email,
        hashed_password: stored.hashed_password,
    })
}

/// The user `query` finds; [`StoreError::NotFound`] if none.
pub(super) fn find(txn: &ReadTransaction, query: UserQuery) -> Result<User, StoreError> {
    let id = match query {
        UserQuery::Id(id) => Some(id.0),
        UserQuery::Email(email) => txn
            .open_table(EMAILS)?
            .get(email_key(&email).as_str())?
            .map(|v| v.value()),
        UserQuery::Session(d) => txn
            .open_table(SESSIONS)?
            .get(d.0)?
            .map(|v| v.value().user_id),
        UserQuery::ResetToken(d) => txn.open_table(RESETS)?.get(d.0)?.map(|v| v.value().user_id),
    };
    let Some(id) = id else {
        return Err(StoreError::NotFound);
    };
    by_id(&txn.open_table(USERS)?, id)?.ok_or(StoreError::NotFound)
}

/// The user `id`, for a change; [`StoreError::NotFound`] if none.
pub(super) fn get(txn: &WriteTransaction, id: u64) -> Result<User, StoreError> {
    by_id(&txn.open_table(USERS)?, id)?.ok_or(StoreError::NotFound)
}

/// Stores `user`'s email and hash, keeping its creation time.
pub(super) fn save(txn: &WriteTransaction, user: &User) -> Result<(), StoreError> {
    writer::dirty_user(user.id.0);
    let mut users = txn.open_table(USERS)?;
    let created_ms = users.get(user.id.0)?.map_or(0, |v| v.value().created_ms);
    let stored = StoredUser {
        email: user.email.clone(),
        hashed_password: user.hashed_password.clone(),
        created_ms,
    };
    users.insert(user.id.0, &stored)?;
    Ok(())
}

/// Applies `update` to user `id`: a new email (unique), a new hash, sessions ended.
pub(super) fn update(
    txn: &WriteTransaction,
    id: UserId,
    update: UserUpdate,
) -> Result<User, StoreError> {
    let mut user = get(txn, id.0)?;
    if let Some(email) = &update.email {
        let email = email.trim();
        let (old_key, new_key) = (email_key(&user.email), email_key(email));
        if old_key != new_key {
            let mut emails = txn.open_table(EMAILS)?;
            if emails.get(new_key.as_str())?.is_some() {
                return Err(StoreError::EmailTaken);
            }
            emails.remove(old_key.as_str())?;
            emails.insert(new_key.as_str(), id.0)?;
        }
        email.clone_into(&mut user.email);
    }
    if let Some(hash) = update.hashed_password {
        user.hashed_password = hash;
    }
    save(txn, &user)?;
    sessions::remove_all_of(txn, id.0, update.end_sessions)?;
    Ok(user)
}

/// Deletes user `id` with their sessions and reset token.
pub(super) fn delete(txn: &WriteTransaction, id: UserId) -> Result<(), StoreError> {
    let user = get(txn, id.0)?;
    sessions::remove_all_of(txn, id.0, EndSessions::All)?;
    super::resets::remove_of(txn, id.0)?;
    writer::dirty_user(id.0);
    txn.open_table(EMAILS)?
        .remove(email_key(&user.email).as_str())?;
    txn.open_table(USERS)?.remove(id.0)?;
    Ok(())
}
