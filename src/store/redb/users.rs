//! Accounts: the `users` table, its unique index of email keys, and changes of credentials.

use std::time::SystemTime;

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{
    records::{StoredUser, millis, time},
    schema::{EMAILS, META, NEXT_USER_ID_KEY, RESETS, SESSIONS, USERS},
    sessions, writer,
};
use crate::{
    error::StoreError,
    store::{EndSessions, ImportedUser, ListedUser, UserQuery, UserUpdate},
    user::{User, UserId, email_key},
};

/// The user `id` of `users`, if there is one.
pub(super) fn by_id(
    users: &impl ReadableTable<u64, StoredUser>,
    id: u64,
) -> Result<Option<User>, StoreError> {
    Ok(users.get(id)?.map(|v| {
        let stored = v.value();
        User {
            email_confirmed: true,
            id: UserId(id),
            email: stored.email,
            hashed_password: stored.hashed_password,
            generation: stored.generation,
        }
    }))
}

/// Adds an account (email trimmed, case kept); [`StoreError::EmailTaken`] if its key is.
pub(super) fn add(
    txn: &WriteTransaction,
    email: String,
    hashed_password: String,
) -> Result<User, StoreError> {
    insert(
        txn,
        StoredUser {
            email,
            hashed_password,
            created_ms: millis(SystemTime::now()),
            generation: 0,
        },
    )
}

/// Inserts an exported account under a new id, keeping its hash, generation and creation
/// time; [`StoreError::EmailTaken`] if its key is.
pub(super) fn import(txn: &WriteTransaction, user: ImportedUser) -> Result<User, StoreError> {
    insert(
        txn,
        StoredUser {
            email: user.email.trim().to_owned(),
            hashed_password: user.hashed_password,
            created_ms: millis(user.created),
            generation: user.generation,
        },
    )
}

/// Stores `stored` under the next id, its email key indexed; [`StoreError::EmailTaken`] if
/// the key is.
fn insert(txn: &WriteTransaction, stored: StoredUser) -> Result<User, StoreError> {
    let key = email_key(&stored.email);
    let mut emails = txn.open_table(EMAILS)?;
    if emails.get(key.as_str())?.is_some() {
        return Err(StoreError::EmailTaken);
    }
    let mut meta = txn.open_table(META)?;
    let id = meta.get(NEXT_USER_ID_KEY)?.map_or(1, |v| v.value());
    meta.insert(NEXT_USER_ID_KEY, id + 1)?;
    emails.insert(key.as_str(), id)?;
    txn.open_table(USERS)?.insert(id, &stored)?;
    Ok(User {
        email_confirmed: true,

        id: UserId(id),
        email: stored.email,
        hashed_password: stored.hashed_password,
        generation: stored.generation,
    })
}

/// Up to `limit` users in id order after `after` (from the first without).
pub(super) fn list(
    txn: &ReadTransaction,
    after: Option<UserId>,
    limit: usize,
) -> Result<Vec<ListedUser>, StoreError> {
    let users = txn.open_table(USERS)?;
    let from = match after {
        None => 0,
        Some(UserId(u64::MAX)) => return Ok(Vec::new()),
        Some(UserId(id)) => id + 1,
    };
    let mut listed = Vec::new();
    for entry in users.range(from..)?.take(limit) {
        let (id, stored) = entry?;
        let stored = stored.value();
        listed.push(ListedUser {
            second_factor: false,
            created: time(stored.created_ms),
            user: User {
                email_confirmed: true,

                id: UserId(id.value()),
                email: stored.email,
                hashed_password: stored.hashed_password,
                generation: stored.generation,
            },
        });
    }
    Ok(listed)
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

/// Whether an account `id` exists.
pub(super) fn exists(txn: &WriteTransaction, id: u64) -> Result<bool, StoreError> {
    Ok(txn.open_table(USERS)?.get(id)?.is_some())
}

/// The user `id`, for a change; [`StoreError::NotFound`] if none.
pub(super) fn get(txn: &WriteTransaction, id: u64) -> Result<User, StoreError> {
    by_id(&txn.open_table(USERS)?, id)?.ok_or(StoreError::NotFound)
}

/// Stores `user`'s email, hash and generation, keeping its creation time.
fn save(txn: &WriteTransaction, user: &User) -> Result<(), StoreError> {
    writer::dirty_user(user.id.0);
    let mut users = txn.open_table(USERS)?;
    let created_ms = users.get(user.id.0)?.map_or(0, |v| v.value().created_ms);
    let stored = StoredUser {
        email: user.email.clone(),
        hashed_password: user.hashed_password.clone(),
        created_ms,
        generation: user.generation,
    };
    users.insert(user.id.0, &stored)?;
    Ok(())
}

/// Sets a new password on `user` (whose reset token was already removed or is removed here):
/// the hash, the next generation; ends the sessions `end` names and moves the others to the
/// new generation.
pub(super) fn set_password(
    txn: &WriteTransaction,
    user: &mut User,
    hash: String,
    end: EndSessions,
) -> Result<(), StoreError> {
    user.hashed_password = hash;
    user.generation += 1;
    save(txn, user)?;
    super::resets::remove_of(txn, user.id.0)?;
    sessions::remove_all_of(txn, user.id.0, end)?;
    sessions::move_to_generation(txn, user.id.0, user.generation)
}

/// Applies `update` to user `id`: compared against the expected generation, a new email
/// (unique; revokes the reset token), a new password ([`set_password`]), sessions ended.
pub(super) fn update(
    txn: &WriteTransaction,
    id: UserId,
    update: UserUpdate,
) -> Result<User, StoreError> {
    let mut user = get(txn, id.0)?;
    if update
        .expected_generation
        .is_some_and(|g| g != user.generation)
    {
        return Err(StoreError::Conflict);
    }
    // The session a change keeps is the one that asked for it: if it has ended meanwhile
    // (logout, "end all sessions" elsewhere), the change is no longer authorised.
    if let EndSessions::AllExcept(kept) = update.end_sessions
        && !sessions::belongs_to(txn, kept, id.0)?
    {
        return Err(StoreError::NotFound);
    }
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
        if email != user.email {
            // Each session keeps its owner's email: rewritten here, in the change's
            // transaction, so that no look-up after the answer sees the old one.
            sessions::set_email(txn, id.0, email)?;
        }
        email.clone_into(&mut user.email);
        super::resets::remove_of(txn, id.0)?;
    }
    match update.hashed_password {
        Some(hash) => set_password(txn, &mut user, hash, update.end_sessions)?,
        None => {
            save(txn, &user)?;
            sessions::remove_all_of(txn, id.0, update.end_sessions)?;
        }
    }
    Ok(user)
}

/// Replaces user `id`'s hash by `new_hash` if it is still `verified_hash`; `false` (nothing
/// changed) otherwise or if the user is gone. The generation stays: same password.
pub(super) fn rehash(
    txn: &WriteTransaction,
    id: UserId,
    verified_hash: &str,
    new_hash: String,
) -> Result<bool, StoreError> {
    let mut user = match get(txn, id.0) {
        Ok(user) => user,
        Err(StoreError::NotFound) => return Ok(false),
        Err(e) => return Err(e),
    };
    if user.hashed_password != verified_hash {
        return Ok(false);
    }
    user.hashed_password = new_hash;
    save(txn, &user)?;
    Ok(true)
}

/// Deletes user `id` with their sessions and reset token.
pub(super) fn delete(txn: &WriteTransaction, id: UserId) -> Result<(), StoreError> {
    let user = get(txn, id.0)?;
    sessions::remove_all_of(txn, id.0, EndSessions::All)?;
    super::resets::remove_of(txn, id.0)?;
    super::devices::remove_all_of(txn, id.0)?;
    writer::dirty_user(id.0);
    txn.open_table(EMAILS)?
        .remove(email_key(&user.email).as_str())?;
    txn.open_table(USERS)?.remove(id.0)?;
    Ok(())
}
