//! Accounts: [`UserStore`] for [`PgStore`] over the `users` table, its unique index of email
//! keys, and changes of credentials; the accounts not confirmed yet in [`unconfirmed`].

mod deletion;
mod unconfirmed;

pub(super) use self::deletion::{check_verified, delete};

use crate::store::UnconfirmedUser;
use std::time::SystemTime;

pub(super) use self::unconfirmed::purge_unconfirmed;

use deadpool_postgres::{Client, Transaction};

use super::{
    USER_COLUMN_COUNT, USER_COLUMNS, db_generation, db_id, db_time, email_tokens,
    errors::email_taken, notify::CHANNEL, sessions, unsigned, user_of,
};
use crate::{
    error::StoreError,
    store::{AccountVersion, EndSessions, ListedUser, UserQuery, UserUpdate, VerifiedSession},
    user::{User, UserId, email_key},
};

use crate::store::postgres::{PgStore, dirty_user, second_factor};
use crate::store::{EmailTokenRecord, ImportedUser, UserStore};

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
            Box::pin(async move { insert(tx, &email, account).await })
        })
        .await
    }

    async fn find_user_by(&self, query: UserQuery) -> Result<User, StoreError> {
        find(&self.client().await?, query).await
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User, StoreError> {
        let Some(db) = db_id(id) else {
            return Err(StoreError::NotFound);
        };
        self.write(move |tx| {
            let update = update.clone();
            Box::pin(async move { Ok((self::update(tx, id, &update).await?, dirty_user(db))) })
        })
        .await
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<ListedUser>, StoreError> {
        list(&self.client().await?, after, limit).await
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
                let inserted = insert(tx, &user.email, account).await?;
                if let Some(factor) = &user.second_factor {
                    let id = db_id(inserted.id).ok_or(StoreError::NotFound)?;
                    second_factor::insert(tx, id, factor).await?;
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
        self.write(move |tx| Box::pin(async move { Ok((delete(tx, id).await?, dirty_user(db))) }))
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
                let user = lock(tx, id).await?;
                check_verified(tx, &user, verified).await?;
                Ok((delete(tx, id).await?, dirty_user(db)))
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
        let rehashed = rehash(&self.client().await?, id, &verified_hash, &new_hash).await;
        if let Some(db) = db_id(id) {
            self.invalidate(&dirty_user(db));
        }
        rehashed
    }

    async fn add_unconfirmed_user(&self, user: UnconfirmedUser<'_>) -> Result<User, StoreError> {
        let UnconfirmedUser {
            email,
            hashed_password,
            token,
            record,
            stale_before,
        } = user;
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
                let replaced = unconfirmed::remove_stale(tx, &email, stale_before).await?;
                let user = insert(tx, &email, account).await?;
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
        unconfirmed::contest(&self.client().await?, email).await
    }
}

/// What [`insert`] stores besides the email: the account's credentials, when it was made and
/// whether its email is confirmed.
pub(super) struct NewAccount {
    /// The bcrypt hash.
    pub(super) hashed_password: String,
    /// The credential generation.
    pub(super) generation: u64,
    /// When the account was made.
    pub(super) created: SystemTime,
    /// Whether the email is confirmed.
    pub(super) email_confirmed: bool,
    /// Whether the unconfirmed account is contested.
    pub(super) contested: bool,
}

/// Inserts an account (email trimmed, case kept) in one statement of `tx`; the unique index
/// of email keys makes a taken key [`StoreError::EmailTaken`], also between racing inserts.
pub(super) async fn insert(
    tx: &Transaction<'_>,
    email: &str,
    account: NewAccount,
) -> Result<User, StoreError> {
    let email = email.trim().to_owned();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO users (email, email_key, hashed_password, generation, created,
                 email_confirmed, contested)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .await?;
    let row = tx
        .query_one(
            &stmt,
            &[
                &email,
                &email_key(&email),
                &account.hashed_password,
                &db_generation(account.generation)?,
                &db_time(account.created),
                &account.email_confirmed,
                &(account.contested && !account.email_confirmed),
            ],
        )
        .await
        .map_err(email_taken)?;
    Ok(User {
        id: UserId(unsigned(row.try_get(0)?)),
        email,
        hashed_password: account.hashed_password,
        generation: account.generation,
        email_confirmed: account.email_confirmed,
        contested: account.contested && !account.email_confirmed,
        created: db_time(account.created),
    })
}

/// The user `query` finds, in one statement; [`StoreError::NotFound`] if none.
pub(super) async fn find(client: &Client, query: UserQuery) -> Result<User, StoreError> {
    let row = match query {
        UserQuery::Id(id) => {
            let Some(id) = db_id(id) else {
                return Err(StoreError::NotFound);
            };
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
            let stmt = client.prepare_cached(&sql).await?;
            client.query_opt(&stmt, &[&id]).await?
        }
        UserQuery::Email(email) => {
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_key = $1");
            let stmt = client.prepare_cached(&sql).await?;
            client.query_opt(&stmt, &[&email_key(&email)]).await?
        }
        UserQuery::Session(digest) => {
            let sql = format!(
                "SELECT {USER_COLUMNS} FROM sessions JOIN users ON users.id = sessions.user_id
                 WHERE sessions.digest = $1"
            );
            let stmt = client.prepare_cached(&sql).await?;
            client.query_opt(&stmt, &[&&digest.0[..]]).await?
        }
        UserQuery::ResetToken(digest) => {
            let sql = format!(
                "SELECT {USER_COLUMNS} FROM reset_tokens
                 JOIN users ON users.id = reset_tokens.user_id WHERE reset_tokens.digest = $1"
            );
            let stmt = client.prepare_cached(&sql).await?;
            client.query_opt(&stmt, &[&&digest.0[..]]).await?
        }
    };
    row.as_ref().map_or(Err(StoreError::NotFound), user_of)
}

/// Up to `limit` users in id order after `after`, in one statement (one snapshot).
pub(super) async fn list(
    client: &Client,
    after: Option<UserId>,
    limit: usize,
) -> Result<Vec<ListedUser>, StoreError> {
    let Some(after) = after.map_or(Some(0), db_id) else {
        return Ok(Vec::new());
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {USER_COLUMNS}, users.created, EXISTS (
             SELECT 1 FROM second_factors
             WHERE second_factors.user_id = users.id AND second_factors.enabled)
         FROM users WHERE id > $1 ORDER BY id LIMIT $2"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client.query(&stmt, &[&after, &limit]).await?;
    rows.iter()
        .map(|row| {
            Ok(ListedUser {
                user: user_of(row)?,
                created: row.try_get(USER_COLUMN_COUNT)?,
                second_factor: row.try_get(USER_COLUMN_COUNT + 1)?,
            })
        })
        .collect()
}

/// Locks user `id`'s row (`SELECT … FOR UPDATE`) for the rest of the transaction and reads
/// it: every change that depends on the account's state takes this lock first, so that the
/// changes of one account are serialised and their checks hold until they commit.
pub(super) async fn lock(tx: &Transaction<'_>, id: UserId) -> Result<User, StoreError> {
    let Some(id) = db_id(id) else {
        return Err(StoreError::NotFound);
    };
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE");
    let stmt = tx.prepare_cached(&sql).await?;
    let row = tx.query_opt(&stmt, &[&id]).await?;
    row.as_ref().map_or(Err(StoreError::NotFound), user_of)
}

/// Locks user `id`'s row ([`lock`]) and checks that the account is still as `read`
/// ([`AccountVersion::check`]): the user's database id. [`StoreError::NotFound`] if the user
/// does not exist, [`StoreError::Conflict`] if its generation or email changed.
pub(super) async fn lock_as_read(
    tx: &Transaction<'_>,
    id: UserId,
    read: &AccountVersion,
) -> Result<i64, StoreError> {
    let user = lock(tx, id).await?;
    read.check(&user)?;
    db_id(user.id).ok_or(StoreError::NotFound)
}

/// Sets a new password on `user` (locked): the hash, then [`new_generation`].
pub(super) async fn set_password(
    tx: &Transaction<'_>,
    user: &mut User,
    hash: String,
    end: EndSessions,
) -> Result<(), StoreError> {
    let id = db_id(user.id).ok_or(StoreError::NotFound)?;
    let stmt = tx
        .prepare_cached("UPDATE users SET hashed_password = $2 WHERE id = $1")
        .await?;
    tx.execute(&stmt, &[&id, &hash]).await?;
    user.hashed_password = hash;
    new_generation(tx, user, end).await
}

/// A change of credentials on `user` (locked; its new hash, email or second factor already
/// stored): advances the generation, revokes the reset token and email tokens, ends the
/// sessions `end` names and moves the others to the new generation. The caller notifies the
/// caches of the user ([`dirty_user`](super::dirty_user)).
pub(super) async fn new_generation(
    tx: &Transaction<'_>,
    user: &mut User,
    end: EndSessions,
) -> Result<(), StoreError> {
    let id = db_id(user.id).ok_or(StoreError::NotFound)?;
    let stmt = tx
        .prepare_cached(
            "UPDATE users SET generation = generation + 1 WHERE id = $1 RETURNING generation",
        )
        .await?;
    let row = tx.query_one(&stmt, &[&id]).await?;
    let generation: i64 = row.try_get(0)?;
    user.generation = unsigned(generation);
    revoke_tokens(tx, id).await?;
    sessions::end(tx, id, end).await?;
    sessions::move_to_generation(tx, id, generation).await
}

/// Removes user `id`'s reset token and email tokens: every token issued for the account to
/// act on it.
async fn revoke_tokens(tx: &Transaction<'_>, id: i64) -> Result<(), StoreError> {
    remove_reset_token(tx, id).await?;
    email_tokens::remove_all_of(tx, id).await
}

/// Removes user `id`'s reset token, if any.
pub(super) async fn remove_reset_token(tx: &Transaction<'_>, id: i64) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached("DELETE FROM reset_tokens WHERE user_id = $1")
        .await?;
    tx.execute(&stmt, &[&id]).await?;
    Ok(())
}

/// Applies `update` to user `id`, under the lock of the user's row: the compare-and-set on
/// the generation, the session that asked for the change still the user's (its row locked
/// too), a new email ([`set_email`]), the confirmation state, a new password, then one
/// [`new_generation`] if the email or the password changed, sessions ended.
pub(super) async fn update(
    tx: &Transaction<'_>,
    id: UserId,
    update: &UserUpdate,
) -> Result<User, StoreError> {
    let mut user = lock(tx, id).await?;
    let db_id = db_id(id).ok_or(StoreError::NotFound)?;
    if update
        .expected_generation
        .is_some_and(|g| g != user.generation)
    {
        return Err(StoreError::Conflict);
    }
    // The session a change keeps is the one that asked for it: if it has ended meanwhile
    // (logout, "end all sessions" elsewhere), the change is no longer authorised. Its row
    // stays locked, so that a logout cannot end it before this commits.
    if let EndSessions::AllExcept(kept) = update.end_sessions
        && !sessions::lock_of_user(tx, kept, db_id).await?
    {
        return Err(StoreError::NotFound);
    }
    let mut credentials_changed = false;
    if let Some(email) = &update.email {
        credentials_changed |= set_email(tx, &mut user, email).await?;
    }
    if let Some(confirmed) = update.email_confirmed {
        set_confirmed(tx, &mut user, confirmed).await?;
    }
    match &update.hashed_password {
        Some(hash) => set_password(tx, &mut user, hash.clone(), update.end_sessions).await?,
        None if credentials_changed => new_generation(tx, &mut user, update.end_sessions).await?,
        None => {
            sessions::end(tx, db_id, update.end_sessions).await?;
        }
    }
    Ok(user)
}

/// Moves `user` (locked) to `email` (trimmed): [`StoreError::EmailTaken`] if another
/// account has its key (the unique index decides); revokes the user's reset token and email
/// tokens of both kinds (each was issued for the account at its old address). Whether the
/// email changed (then the caller advances the generation, [`new_generation`]).
pub(super) async fn set_email(
    tx: &Transaction<'_>,
    user: &mut User,
    email: &str,
) -> Result<bool, StoreError> {
    let id = db_id(user.id).ok_or(StoreError::NotFound)?;
    let email = email.trim();
    let stmt = tx
        .prepare_cached("UPDATE users SET email = $2, email_key = $3 WHERE id = $1")
        .await?;
    tx.execute(&stmt, &[&id, &email, &email_key(email)])
        .await
        .map_err(email_taken)?;
    let changed = email != user.email;
    email.clone_into(&mut user.email);
    revoke_tokens(tx, id).await?;
    Ok(changed)
}

/// Sets whether `user`'s (locked) email is confirmed; a confirmed account is no longer
/// contested.
pub(super) async fn set_confirmed(
    tx: &Transaction<'_>,
    user: &mut User,
    confirmed: bool,
) -> Result<(), StoreError> {
    let id = db_id(user.id).ok_or(StoreError::NotFound)?;
    let stmt = tx
        .prepare_cached(
            "UPDATE users SET email_confirmed = $2, contested = contested AND NOT $2
             WHERE id = $1",
        )
        .await?;
    tx.execute(&stmt, &[&id, &confirmed]).await?;
    user.email_confirmed = confirmed;
    user.contested &= !confirmed;
    Ok(())
}

/// Replaces user `id`'s hash by `new_hash` if it is still `verified_hash`: one conditional
/// `UPDATE`, which re-checks the hash on the row it may have waited for, and notifies the
/// caches of the user (a cached session carries its user's hash). `false` otherwise or if
/// the user is gone. The generation stays: same password.
pub(super) async fn rehash(
    client: &Client,
    id: UserId,
    verified_hash: &str,
    new_hash: &str,
) -> Result<bool, StoreError> {
    let Some(id) = db_id(id) else {
        return Ok(false);
    };
    let stmt = client
        .prepare_cached(
            "WITH changed AS (
                 UPDATE users SET hashed_password = $3 WHERE id = $1 AND hashed_password = $2
                 RETURNING id)
             SELECT pg_notify($4, 'user:' || id) FROM changed",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&id, &verified_hash, &new_hash, &CHANNEL])
        .await?
        .len()
        == 1)
}
