//! Accounts: [`UserStore`] for [`RedbStore`] over the `users` table, its unique index of
//! email keys, and changes of credentials and of email; the accounts not confirmed yet in
//! [`unconfirmed`].

mod deletion;
mod unconfirmed;

pub(super) use self::deletion::{check_verified, delete, delete_verified};

use crate::store::UnconfirmedUser;
use std::time::SystemTime;

pub(super) use self::unconfirmed::purge_unconfirmed;

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{
    RedbStore, email_tokens,
    records::{StoredUser, millis, time},
    schema::{
        CONTESTED, EMAILS, META, NEXT_USER_ID_KEY, RESETS, SECOND_FACTORS, SESSIONS, UNCONFIRMED,
        UNCONFIRMED_BY_CREATED, USERS,
    },
    second_factor, sessions,
    time_index::UserTimeKey,
    writer,
};
use crate::{
    error::StoreError,
    store::{
        EmailTokenRecord, EndSessions, ImportedUser, ListedUser, UserQuery, UserStore, UserUpdate,
        VerifiedSession,
    },
    user::{User, UserId, email_key},
};

impl UserStore for RedbStore {
    async fn add_user(&self, email: &str, hashed_password: &str) -> Result<User, StoreError> {
        let email = email.trim().to_owned();
        let hash = hashed_password.to_owned();
        self.write(move |txn| add(txn, email, hash)).await
    }

    async fn find_user_by(&self, query: UserQuery) -> Result<User, StoreError> {
        self.read(|txn| find(txn, query))
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User, StoreError> {
        self.write(move |txn| self::update(txn, id, update)).await
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<ListedUser>, StoreError> {
        self.read(|txn| list(txn, after, limit))
    }

    async fn import_user(&self, user: ImportedUser) -> Result<User, StoreError> {
        self.write(move |txn| import(txn, user)).await
    }

    async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        self.write(move |txn| delete(txn, id)).await
    }

    async fn delete_user_verified(
        &self,
        id: UserId,
        verified: VerifiedSession,
    ) -> Result<(), StoreError> {
        self.write(move |txn| delete_verified(txn, id, verified))
            .await
    }

    async fn rehash_password(
        &self,
        id: UserId,
        verified_hash: String,
        new_hash: String,
    ) -> Result<bool, StoreError> {
        self.write(move |txn| rehash(txn, id, &verified_hash, new_hash))
            .await
    }

    async fn add_unconfirmed_user(&self, user: UnconfirmedUser<'_>) -> Result<User, StoreError> {
        let UnconfirmedUser {
            email,
            hashed_password,
            token,
            record,
            stale_before,
        } = user;
        let email = email.trim().to_owned();
        let hash = hashed_password.to_owned();
        self.write(move |txn| {
            let user =
                unconfirmed::add_unconfirmed(txn, email, hash, record.created, stale_before)?;
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
        self.write(move |txn| unconfirmed::contest(txn, &email))
            .await
    }
}

/// Whether an account is confirmed, and if not whether it is contested.
#[derive(Clone, Copy)]
struct Confirmation {
    confirmed: bool,
    contested: bool,
}

impl Confirmation {
    const CONFIRMED: Self = Self {
        confirmed: true,
        contested: false,
    };

    /// The confirmation of account `id` in the sets `unconfirmed` and `contested`.
    fn of(
        unconfirmed: &impl ReadableTable<u64, ()>,
        contested: &impl ReadableTable<u64, ()>,
        id: u64,
    ) -> Result<Self, StoreError> {
        let confirmed = unconfirmed.get(id)?.is_none();
        Ok(Self {
            confirmed,
            contested: !confirmed && contested.get(id)?.is_some(),
        })
    }
}

/// The account of `stored`, under id `id`.
fn user_of(id: u64, stored: StoredUser, confirmation: Confirmation) -> User {
    User {
        id: UserId(id),
        email: stored.email,
        hashed_password: stored.hashed_password,
        generation: stored.generation,
        email_confirmed: confirmation.confirmed,
        contested: confirmation.contested,
        created: time(stored.created_ms),
    }
}

/// The user `id` of `users`, if there is one, confirmed unless `unconfirmed` lists it.
fn by_id(
    users: &impl ReadableTable<u64, StoredUser>,
    unconfirmed: &impl ReadableTable<u64, ()>,
    contested: &impl ReadableTable<u64, ()>,
    id: u64,
) -> Result<Option<User>, StoreError> {
    let Some(stored) = users.get(id)?.map(|v| v.value()) else {
        return Ok(None);
    };
    let confirmation = Confirmation::of(unconfirmed, contested, id)?;
    Ok(Some(user_of(id, stored, confirmation)))
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
        Confirmation::CONFIRMED,
    )
}

/// Inserts an exported account under a new id, keeping its hash, generation, creation time,
/// confirmation and second factor; [`StoreError::EmailTaken`] if its key is.
pub(super) fn import(txn: &WriteTransaction, user: ImportedUser) -> Result<User, StoreError> {
    let stored = StoredUser {
        email: user.email.trim().to_owned(),
        hashed_password: user.hashed_password,
        created_ms: millis(user.created),
        generation: user.generation,
    };
    let confirmation = Confirmation {
        confirmed: user.email_confirmed,
        contested: !user.email_confirmed && user.contested,
    };
    let inserted = insert(txn, stored, confirmation)?;
    if let Some(factor) = user.second_factor {
        second_factor::put(txn, inserted.id.0, factor)?;
    }
    Ok(inserted)
}

/// Stores `stored` under the next id, its email key indexed, listed as unconfirmed (and
/// contested) as `confirmation` says; [`StoreError::EmailTaken`] if the key is.
fn insert(
    txn: &WriteTransaction,
    stored: StoredUser,
    confirmation: Confirmation,
) -> Result<User, StoreError> {
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
    if !confirmation.confirmed {
        txn.open_table(UNCONFIRMED)?.insert(id, ())?;
        txn.open_table(UNCONFIRMED_BY_CREATED)?
            .insert(UserTimeKey::new(stored.created_ms, id), ())?;
        if confirmation.contested {
            txn.open_table(CONTESTED)?.insert(id, ())?;
        }
    }
    Ok(user_of(id, stored, confirmation))
}

/// Up to `limit` users in id order after `after` (from the first without).
pub(super) fn list(
    txn: &ReadTransaction,
    after: Option<UserId>,
    limit: usize,
) -> Result<Vec<ListedUser>, StoreError> {
    let users = txn.open_table(USERS)?;
    let unconfirmed = txn.open_table(UNCONFIRMED)?;
    let contested = txn.open_table(CONTESTED)?;
    let factors = txn.open_table(SECOND_FACTORS)?;
    let from = match after {
        None => 0,
        Some(UserId(u64::MAX)) => return Ok(Vec::new()),
        Some(UserId(id)) => id + 1,
    };
    let mut listed = Vec::new();
    for entry in users.range(from..)?.take(limit) {
        let (id, stored) = entry?;
        let (id, stored) = (id.value(), stored.value());
        let confirmation = Confirmation::of(&unconfirmed, &contested, id)?;
        listed.push(ListedUser {
            second_factor: second_factor::is_enabled(&factors, id)?,
            created: time(stored.created_ms),
            user: user_of(id, stored, confirmation),
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
    let (users, unconfirmed) = (txn.open_table(USERS)?, txn.open_table(UNCONFIRMED)?);
    by_id(&users, &unconfirmed, &txn.open_table(CONTESTED)?, id)?.ok_or(StoreError::NotFound)
}

/// Whether an account `id` exists.
pub(super) fn exists(txn: &WriteTransaction, id: u64) -> Result<bool, StoreError> {
    Ok(txn.open_table(USERS)?.get(id)?.is_some())
}

/// The user `id`, for a change; [`StoreError::NotFound`] if none.
pub(super) fn get(txn: &WriteTransaction, id: u64) -> Result<User, StoreError> {
    let (users, unconfirmed) = (txn.open_table(USERS)?, txn.open_table(UNCONFIRMED)?);
    by_id(&users, &unconfirmed, &txn.open_table(CONTESTED)?, id)?.ok_or(StoreError::NotFound)
}

/// Marks `user` confirmed (no longer contested) or not (the set of unconfirmed accounts and
/// its index by creation; the account record does not change).
pub(super) fn set_confirmed(
    txn: &WriteTransaction,
    user: &mut User,
    confirmed: bool,
) -> Result<(), StoreError> {
    let id = user.id.0;
    let key = UserTimeKey::new(millis(user.created), id);
    let mut unconfirmed = txn.open_table(UNCONFIRMED)?;
    let mut by_created = txn.open_table(UNCONFIRMED_BY_CREATED)?;
    if confirmed {
        unconfirmed.remove(id)?;
        by_created.remove(key)?;
        txn.open_table(CONTESTED)?.remove(id)?;
        user.contested = false;
    } else {
        unconfirmed.insert(id, ())?;
        by_created.insert(key, ())?;
    }
    user.email_confirmed = confirmed;
    Ok(())
}

/// Moves `user` to `email` (trimmed): [`StoreError::EmailTaken`] (nothing changed) if another
/// account has its key; otherwise the index moves to the new key, the user's sessions carry
/// the new email, and the reset token and email tokens (both kinds) are removed. Whether the
/// email changed (then the caller advances the generation, [`new_generation`]). The account
/// record itself is saved by the caller.
pub(super) fn change_email(
    txn: &WriteTransaction,
    user: &mut User,
    email: &str,
) -> Result<bool, StoreError> {
    let email = email.trim();
    let id = user.id.0;
    let (old_key, new_key) = (email_key(&user.email), email_key(email));
    if old_key != new_key {
        let mut emails = txn.open_table(EMAILS)?;
        if emails.get(new_key.as_str())?.is_some() {
            return Err(StoreError::EmailTaken);
        }
        emails.remove(old_key.as_str())?;
        emails.insert(new_key.as_str(), id)?;
    }
    let changed = email != user.email;
    if changed {
        // Each session keeps its owner's email: rewritten here, in the change's
        // transaction, so that no look-up after the answer sees the old one.
        sessions::set_email(txn, id, email)?;
        email.clone_into(&mut user.email);
        save(txn, user)?;
    }
    revoke_tokens(txn, id)?;
    Ok(changed)
}

/// Removes user `user`'s reset token and email tokens (both kinds): every token issued for
/// the account to act on it.
fn revoke_tokens(txn: &WriteTransaction, user: u64) -> Result<(), StoreError> {
    super::resets::remove_of(txn, user)?;
    email_tokens::remove_all_of(txn, user)
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

/// A change of credentials on `user` (its new hash, email or second factor already set in
/// `user` or in its tables): advances the generation and saves the account, revokes the
/// reset token and email tokens, ends the sessions `end` names and moves the others to the
/// new generation.
pub(super) fn new_generation(
    txn: &WriteTransaction,
    user: &mut User,
    end: EndSessions,
) -> Result<(), StoreError> {
    user.generation += 1;
    save(txn, user)?;
    revoke_tokens(txn, user.id.0)?;
    sessions::remove_all_of(txn, user.id.0, end)?;
    sessions::move_to_generation(txn, user.id.0, user.generation)
}

/// Sets a new password on `user`: the hash, then [`new_generation`].
pub(super) fn set_password(
    txn: &WriteTransaction,
    user: &mut User,
    hash: String,
    end: EndSessions,
) -> Result<(), StoreError> {
    user.hashed_password = hash;
    new_generation(txn, user, end)
}

/// Applies `update` to user `id`: compared against the expected generation, a new email
/// (unique; revokes the tokens), a new password, then one [`new_generation`] if either
/// changed, sessions ended.
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
    let mut credentials_changed = false;
    if let Some(email) = &update.email {
        credentials_changed |= change_email(txn, &mut user, email)?;
    }
    if let Some(confirmed) = update.email_confirmed {
        set_confirmed(txn, &mut user, confirmed)?;
    }
    if let Some(hash) = update.hashed_password {
        user.hashed_password = hash;
        credentials_changed = true;
    }
    if credentials_changed {
        new_generation(txn, &mut user, update.end_sessions)?;
    } else {
        save(txn, &user)?;
        sessions::remove_all_of(txn, id.0, update.end_sessions)?;
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
