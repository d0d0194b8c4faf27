//! Migrations of older files to the current schema, in place, inside the write transaction
//! that opens the file.
//!
//! [`STEPS`] is a chain: step `i` turns a file of version `FIRST_MIGRATABLE + i` into one of the
//! next version. [`run`] applies the steps from the file's version up to
//! [`SCHEMA_VERSION`]; the caller then records the new version and commits. Since redb
//! commits a write transaction atomically (and drops an uncommitted one without a trace), a
//! crash or an error anywhere in the chain leaves the file as it was: it is migrated again at
//! the next open.
//!
//! To change the schema: bump [`SCHEMA_VERSION`], keep the tables a step reads as they were
//! (like [`v1`], [`v2`], [`v3`] and [`v5`] here), and append one step.

pub(super) mod contested;
mod v2;
mod v3;
mod v5;

use redb::{Key, ReadableTable, Table, TableDefinition, TableHandle, Value, WriteTransaction};

use super::{
    records::{StoredSession, StoredUser},
    schema::{EMAILS, RESET_EXPIRY, SCHEMA_VERSION, SESSIONS, USERS},
    sessions,
    time_index::TimeIndexKey,
};
use crate::{error::StoreError, user::email_key};

/// One step: rewrites a file of one version as the next.
type Step = fn(&WriteTransaction) -> Result<(), StoreError>;

/// The oldest version a step starts from.
const FIRST_MIGRATABLE: u64 = 1;

/// The chain: `STEPS[i]` migrates version `FIRST_MIGRATABLE + i` to the next.
const STEPS: &[Step] = &[
    v1_to_v2,
    v2_to_v3,
    v3_to_v4,
    v4_to_v5,
    v5::to_v6,
    contested::step,
];

// Every version from the first migratable one up to the current one has its step.
const _: () = assert!(FIRST_MIGRATABLE + STEPS.len() as u64 == SCHEMA_VERSION);

/// Whether a file of `version` can be migrated to the current one.
pub(super) fn can_migrate(version: u64) -> bool {
    (FIRST_MIGRATABLE..SCHEMA_VERSION).contains(&version)
}

/// Migrates a file of `version` (one that [`can_migrate`]) to [`SCHEMA_VERSION`] within
/// `txn`; recording the new version is the caller's.
pub(super) fn run(txn: &WriteTransaction, version: u64) -> Result<(), StoreError> {
    for (from, step) in (FIRST_MIGRATABLE..).zip(STEPS) {
        if from >= version {
            step(txn)?;
            tracing::info!(from, to = from + 1, "migrated the store's schema");
        }
    }
    Ok(())
}

/// The tables of version 1 that version 2 changed, as version 1 defined them.
pub(super) mod v1 {
    use redb::TableDefinition;

    /// id → (email as registered, bcrypt hash, created ms).
    pub(in super::super) const USERS: TableDefinition<u64, (&str, &str, u64)> =
        TableDefinition::new("users");
    /// Token digest → (user id, created ms, last seen ms, expires ms).
    pub(super) const SESSIONS: TableDefinition<[u8; 32], (u64, u64, u64, u64)> =
        TableDefinition::new("sessions");
    /// (expires ms, digest) → ().
    pub(super) const SESSION_EXPIRY: TableDefinition<(u64, [u8; 32]), ()> =
        TableDefinition::new("sessions_by_expiry");
    /// (last seen ms, digest) → ().
    pub(super) const SESSION_IDLE: TableDefinition<(u64, [u8; 32]), ()> =
        TableDefinition::new("sessions_by_last_seen");
    /// Token digest → (user id, created ms, expires ms).
    pub(super) const RESETS: TableDefinition<[u8; 32], (u64, u64, u64)> =
        TableDefinition::new("reset_tokens");
    /// (expires ms, digest) → ().
    pub(super) const RESET_EXPIRY: TableDefinition<(u64, [u8; 32]), ()> =
        TableDefinition::new("reset_tokens_by_expiry");
}

/// Version 1 → 2: the tuple records become typed records (same fields, same order); the tables
/// keep their names. The other tables did not change.
fn v1_to_v2(txn: &WriteTransaction) -> Result<(), StoreError> {
    rewrite(
        txn,
        v1::USERS,
        v2::USERS,
        |new, id, (email, hash, created)| {
            let user = v2::User {
                email: email.to_owned(),
                hashed_password: hash.to_owned(),
                created_ms: created,
            };
            new.insert(id, user)?;
            Ok(())
        },
    )?;
    rewrite(txn, v1::SESSIONS, v2::SESSIONS, |new, digest, fields| {
        let (user_id, created_ms, last_seen_ms, expires_ms) = fields;
        let session = v2::Session {
            user_id,
            created_ms,
            last_seen_ms,
            expires_ms,
        };
        new.insert(digest, session)?;
        Ok(())
    })?;
    rewrite(txn, v1::RESETS, v5::RESETS_V5, |new, digest, fields| {
        let (user_id, created_ms, expires_ms) = fields;
        let reset = v5::Reset {
            user_id,
            created_ms,
            expires_ms,
        };
        new.insert(digest, reset)?;
        Ok(())
    })?;
    for (old, current) in [
        (v1::SESSION_EXPIRY, v3::SESSION_EXPIRY),
        (v1::SESSION_IDLE, v3::SESSION_IDLE),
        (v1::RESET_EXPIRY, RESET_EXPIRY),
    ] {
        rewrite(txn, old, current, |new, (at_ms, digest), ()| {
            new.insert(TimeIndexKey::new(at_ms, digest), ())?;
            Ok(())
        })?;
    }
    Ok(())
}

/// Version 2 → 3: accounts and sessions gain the credential generation (0 for both, so every
/// session stays valid), the email index is rebuilt with the NFC-normalised keys of
/// [`email_key`], and the device-token tables are created, empty. Reset tokens and the time
/// indexes did not change.
///
/// Two version-2 accounts whose emails differ only in their Unicode normalisation would now
/// have one key, and one of them could no longer log in, reset or register again: the
/// migration is refused ([`StoreError::Migration`], naming both accounts) and the file left
/// as it was, so that an operator decides (delete or rename one with the previous release).
fn v2_to_v3(txn: &WriteTransaction) -> Result<(), StoreError> {
    rewrite(txn, v2::USERS, v3::USERS, |new, id, old| {
        let user = v3::User {
            email: old.email,
            hashed_password: old.hashed_password,
            created_ms: old.created_ms,
            generation: 0,
        };
        new.insert(id, user)?;
        Ok(())
    })?;
    rewrite(txn, v2::SESSIONS, v3::SESSIONS, |new, digest, old| {
        let session = v3::Session {
            user_id: old.user_id,
            created_ms: old.created_ms,
            last_seen_ms: old.last_seen_ms,
            expires_ms: old.expires_ms,
            generation: 0,
        };
        new.insert(digest, session)?;
        Ok(())
    })?;
    super::schema::create_device_tables(txn)?;
    txn.delete_table(EMAILS)?;
    let users = txn.open_table(v3::USERS)?;
    let mut emails = txn.open_table(EMAILS)?;
    for entry in users.iter()? {
        let (id, user) = entry?;
        let key = email_key(&user.value().email);
        if let Some(holder) = emails.get(key.as_str())?.map(|v| v.value()) {
            return Err(StoreError::Migration(format!(
                "accounts {holder} and {} have emails that are the same once Unicode-normalised \
                 and lowercased, which this version counts as one address; delete or change the \
                 email of one of them with the previous release, then open the file again",
                id.value()
            )));
        }
        emails.insert(key.as_str(), id.value())?;
    }
    Ok(())
}

/// Version 3 → 4: accounts keep the bcrypt hash in its packed form
/// ([`super::hash_form`]); each session carries its owner's email (as registered), read from
/// the `users` table in this transaction; the session indexes (by user, by expiry, by last
/// activity) hold digest prefixes instead of whole digests, so they are rebuilt from the
/// sessions. A session whose owner is gone (which version 3 never left behind: deleting an
/// account deleted its sessions) is dropped.
fn v3_to_v4(txn: &WriteTransaction) -> Result<(), StoreError> {
    rewrite(txn, v3::USERS, USERS, |new, id, old| {
        let user = StoredUser {
            email: old.email,
            hashed_password: old.hashed_password,
            created_ms: old.created_ms,
            generation: old.generation,
        };
        new.insert(id, user)?;
        Ok(())
    })?;
    {
        let users = txn.open_table(USERS)?;
        rewrite(txn, v3::SESSIONS, SESSIONS, |new, digest, old| {
            let Some(owner) = users.get(old.user_id)? else {
                return Ok(());
            };
            let session = StoredSession {
                user_id: old.user_id,
                created_ms: old.created_ms,
                last_seen_ms: old.last_seen_ms,
                expires_ms: old.expires_ms,
                generation: old.generation,
                email: owner.value().email.into(),
            };
            new.insert(digest, session)?;
            Ok(())
        })?;
    }
    txn.delete_multimap_table(v3::USER_SESSIONS)?;
    txn.delete_table(v3::SESSION_EXPIRY)?;
    txn.delete_table(v3::SESSION_IDLE)?;
    let sessions = txn.open_table(SESSIONS)?;
    for entry in sessions.iter()? {
        let (digest, stored) = entry?;
        sessions::index(txn, &digest.value(), &stored.value())?;
    }
    Ok(())
}

/// Version 4 → 5: the tables of the account lifecycle (email tokens, second factors, the
/// set of unconfirmed accounts) are created, empty. No record is rewritten: every account of
/// version 4 is confirmed (it is not in the unconfirmed set) and has no second factor, and
/// its sessions, reset token and device tokens stay as they were.
fn v4_to_v5(txn: &WriteTransaction) -> Result<(), StoreError> {
    v5::create_added_tables(txn)
}

/// Rewrites table `old` as `new` (same name, other types): `copy` inserts each old entry into
/// a new table under a temporary name, then the old table is deleted and the new one takes
/// its name. Streams: the table is never held in memory whole.
fn rewrite<OK, OV, NK, NV>(
    txn: &WriteTransaction,
    old: TableDefinition<'_, OK, OV>,
    new: TableDefinition<'_, NK, NV>,
    mut copy: impl FnMut(
        &mut Table<'_, NK, NV>,
        OK::SelfType<'_>,
        OV::SelfType<'_>,
    ) -> Result<(), StoreError>,
) -> Result<(), StoreError>
where
    OK: Key + 'static,
    OV: Value + 'static,
    NK: Key + 'static,
    NV: Value + 'static,
{
    let temporary = format!("{}.migrating", new.name());
    let temporary: TableDefinition<'_, NK, NV> = TableDefinition::new(&temporary);
    {
        let source = txn.open_table(old)?;
        let mut target = txn.open_table(temporary)?;
        for entry in source.iter()? {
            let (key, value) = entry?;
            copy(&mut target, key.value(), value.value())?;
        }
    }
    txn.delete_table(old)?;
    txn.rename_table(temporary, new)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use redb::{Database, ReadableDatabase, ReadableTableMetadata, backends::InMemoryBackend};

    use super::*;
    use crate::store::redb::schema::{META, SCHEMA_VERSION_KEY, open_schema};

    #[test]
    fn two_version_2_emails_equal_once_normalised_refuse_the_migration_untouched() {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .expect("in-memory database");
        let txn = db.begin_write().expect("write");
        {
            txn.open_table(META)
                .expect("meta")
                .insert(SCHEMA_VERSION_KEY, 2)
                .expect("version");
            let mut users = txn.open_table(v2::USERS).expect("users");
            let mut emails = txn.open_table(EMAILS).expect("emails");
            for (id, email) in [(1, "Zo\u{eb}@x.io"), (2, "zoe\u{308}@x.io"), (3, "a@x.io")] {
                let user = v2::User {
                    email: email.into(),
                    hashed_password: "h".into(),
                    created_ms: 0,
                };
                users.insert(id, user).expect("user");
                emails
                    .insert(email.to_lowercase().as_str(), id)
                    .expect("email");
            }
        }
        txn.commit().expect("commit");
        let refused = open_schema(&db).expect_err("refused");
        let StoreError::Migration(message) = &refused else {
            panic!("{refused:?}");
        };
        assert!(message.contains("accounts 1 and 2"), "{message}");
        // Untouched: still version 2, with version 2's accounts and index.
        let txn = db.begin_read().expect("read");
        let version = txn.open_table(META).expect("meta").get(SCHEMA_VERSION_KEY);
        assert_eq!(version.expect("get").map(|v| v.value()), Some(2));
        let users = txn.open_table(v2::USERS).expect("version 2 users");
        assert_eq!(users.len().expect("len"), 3);
        assert_eq!(
            txn.open_table(EMAILS).expect("emails").len().expect("len"),
            3
        );
    }

    #[test]
    fn every_older_version_since_the_first_migrates_and_no_other() {
        assert!(!can_migrate(0));
        for version in FIRST_MIGRATABLE..SCHEMA_VERSION {
            assert!(can_migrate(version));
        }
        assert!(!can_migrate(SCHEMA_VERSION));
        assert!(!can_migrate(SCHEMA_VERSION + 1));
    }
}
