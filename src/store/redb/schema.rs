//! The tables of the current schema, its version, and what opening a file does with them.
//!
//! The `meta` table records `schema_version` (and `next_user_id`). Opening a file:
//!
//! - a new file (no `meta` version and no `users` table) gets the current tables and version;
//! - a file of the current version is used as it is;
//! - a file of an older version is migrated in place (see [`super::migrate`]), in the
//!   same write transaction that then records the current version, so the file on disk is
//!   either entirely the old version or entirely the new one;
//! - a file of a newer version, or with accounts but no version, is refused with
//!   [`StoreError::SchemaVersion`], untouched.
//!
//! | version | layout |
//! |---|---|
//! | 1 | values and time-index keys are redb tuples (`tests/fixtures/v1.redb` is such a file) |
//! | 2 | typed records and keys with explicit encodings ([`super::records`], [`super::time_index`]) (`tests/fixtures/v2.redb`) |
//! | 3 | accounts and sessions carry the credential generation; the email index is keyed by the NFC-normalised, lowercased email; device tokens (a new table, with its index by user and by expiry) (`tests/fixtures/v3.redb`) |
//! | 4 | each session carries its owner's email, so that validating a request reads the `sessions` table alone; the session indexes hold digest prefixes; the bcrypt hash is packed (`tests/fixtures/v4.redb`) |
//! | 5 | the account lifecycle: email tokens (confirmation, change of email), second factors, and the set of unconfirmed accounts (new tables; version-4 accounts are confirmed, with no factor, without a rewrite) (`tests/fixtures/v5.redb`) |
//! | 6 | reset tokens and email tokens carry the credential generation they were issued at (a version-5 token is stamped with its user's generation) |
//! | 7 | unconfirmed accounts against pre-hijacking: the set of contested ones, and the index of unconfirmed accounts by creation that the purge ranges over (new tables; version-6 unconfirmed accounts are indexed, none contested; see [`super::migrate::contested`]) |
//!
//! Each version is migrated to from the one before by [`super::migrate`]; a file with no
//! recorded version but an empty `users` table is taken as version 1.
//!
//! # Tables and the queries they serve
//!
//! | table | key → value | serves |
//! |---|---|---|
//! | `meta` | name → u64 | the schema version, the next user id |
//! | `users` | id → account | every look-up by id, `list_users` (id order) |
//! | `users_by_email` | email key → id | login, registration's uniqueness, `UserQuery::Email` |
//! | `sessions` | digest → session with its owner's email | validation (one B-tree walk, see [`super::snapshot`]), logout, renewal |
//! | `sessions_by_user` (multimap) | user id → digest prefixes | `sessions_of`, ending a user's sessions, the per-user cap, moving them to a new generation or email |
//! | `sessions_by_expiry` | (expiry, digest prefix) → () | the purge of sessions past their absolute lifetime |
//! | `sessions_by_last_seen` | (last activity, digest prefix) → () | the purge of idle sessions |
//! | `reset_tokens` | digest → reset token (user, times, generation) | the reset |
//! | `reset_tokens_by_user` | user id → digest | one live token per user (replace, revoke) |
//! | `reset_tokens_by_expiry` | (expiry, digest) → () | the purge |
//! | `device_tokens` (+ `_by_user` multimap, `_by_expiry`) | as for sessions | device cookies, their cap, the purge |
//! | `email_tokens` | digest → email token (user, times, kind, generation, new address) | confirmation, change of email |
//! | `email_tokens_by_user` | (user id BE, kind) → digest | one live token per user and kind (replace, revoke) |
//! | `email_tokens_by_expiry` | (expiry, digest) → () | the purge |
//! | `second_factors` | user id → sealed TOTP secret, enabled, last step, recovery code digests | the second factor and its compare-and-sets |
//! | `unconfirmed_users` | user id → () | [`User::email_confirmed`](crate::User::email_confirmed): an account not listed is confirmed |
//! | `unconfirmed_users_by_created` | (creation, user id) → () | the purge of unconfirmed accounts past their lifetime |
//! | `contested_users` | user id → () | [`User::contested`](crate::User::contested): an unconfirmed account whose address a registration attempt tried (never a confirmed one) |
//!
//! # Space: the trades made (version 4)
//!
//! - The owner's email is kept with each session (about 20 bytes a session) so that
//!   validation reads one table; an email change rewrites the user's sessions.
//! - The three session indexes hold the digest's first 8 bytes instead of all 32 (a range of
//!   `sessions` finds the sessions with a prefix; the candidates' fields say which entry is
//!   whose).
//! - Both session time indexes are kept. A session is purged when its absolute expiry has
//!   passed *or* it has been idle since `idle_before`; the store learns the idle timeout
//!   only at purge time ([`ExpiredDeletion::purge_expired`](crate::store::ExpiredDeletion::purge_expired)), so
//!   no single key orders sessions by "whichever comes first". With the last-activity index
//!   alone, a session past its absolute expiry but recently used would be found only by
//!   scanning every recently used session, in the writer thread, at every purge; with the
//!   expiry index alone, idle sessions likewise. (Validation refuses such sessions either
//!   way: the indexes only bound how long dead sessions take space.)
//! - The bcrypt hash is kept packed, 42 bytes instead of 60 ([`super::hash_form`]: exact, any
//!   variant, any cost, non-canonical last characters kept; other text is kept as text).
//!
//! Measured (`SCALE_KEEP=DIR cargo bench --bench scale -- 200000`, then redb's
//! `Database::compact` on `DIR/scale.redb`; one user with one session each): version 3, 452
//! bytes a user; version 4 with the email in sessions alone, 490; with prefix indexes, 396;
//! with the packed hash too, 375 (at 1,000,000: version 3, 455; version 4, 377). What remains is mostly the B-trees' half-filled pages under
//! random keys (digests, emails): about a third of `sessions` and of `users_by_email`.

use redb::{
    Database, MultimapTableDefinition, ReadableTable, ReadableTableMetadata, TableDefinition,
    TableHandle, WriteTransaction,
};

use super::{
    migrate,
    records::{
        StoredDevice, StoredEmailToken, StoredReset, StoredSecondFactor, StoredSession, StoredUser,
    },
    time_index::{SessionTimeKey, TimeIndexKey, UserTimeKey},
};
use crate::error::StoreError;

/// The schema this build reads and writes. An older file is migrated when opened; a newer one
/// is refused.
pub(super) const SCHEMA_VERSION: u64 = 7;

/// `schema_version` → the file's schema version; `next_user_id` → the id the next account gets.
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The `meta` key of the schema version.
pub(super) const SCHEMA_VERSION_KEY: &str = "schema_version";
/// The `meta` key of the next user id.
pub(super) const NEXT_USER_ID_KEY: &str = "next_user_id";
/// User id → the account.
pub(super) const USERS: TableDefinition<u64, StoredUser> = TableDefinition::new("users");
/// The email's key ([`email_key`](crate::user::email_key): NFC, lowercased) → user id: the
/// unique index.
pub(super) const EMAILS: TableDefinition<&str, u64> = TableDefinition::new("users_by_email");
/// Token digest → the session, with its owner's email.
pub(super) const SESSIONS: TableDefinition<[u8; 32], StoredSession<'static>> =
    TableDefinition::new("sessions");
/// User id → the [prefixes](super::time_index::prefix) of their sessions' digests.
pub(super) const USER_SESSIONS: MultimapTableDefinition<u64, [u8; 8]> =
    MultimapTableDefinition::new("sessions_by_user");
/// Sessions by absolute expiry (digest prefixes), for purging.
pub(super) const SESSION_EXPIRY: TableDefinition<SessionTimeKey, ()> =
    TableDefinition::new("sessions_by_expiry");
/// Sessions by last activity (digest prefixes), for purging idle ones.
pub(super) const SESSION_IDLE: TableDefinition<SessionTimeKey, ()> =
    TableDefinition::new("sessions_by_last_seen");
/// Token digest → the reset token.
pub(super) const RESETS: TableDefinition<[u8; 32], StoredReset> =
    TableDefinition::new("reset_tokens");
/// User id → digest of their one live reset token.
pub(super) const USER_RESET: TableDefinition<u64, [u8; 32]> =
    TableDefinition::new("reset_tokens_by_user");
/// Reset tokens by expiry, for purging.
pub(super) const RESET_EXPIRY: TableDefinition<TimeIndexKey, ()> =
    TableDefinition::new("reset_tokens_by_expiry");
/// Device-token digest → the device token.
pub(super) const DEVICES: TableDefinition<[u8; 32], StoredDevice> =
    TableDefinition::new("device_tokens");
/// User id → digests of their device tokens.
pub(super) const USER_DEVICES: MultimapTableDefinition<u64, [u8; 32]> =
    MultimapTableDefinition::new("device_tokens_by_user");
/// Device tokens by expiry, for purging.
pub(super) const DEVICE_EXPIRY: TableDefinition<TimeIndexKey, ()> =
    TableDefinition::new("device_tokens_by_expiry");

/// Email-token digest → the email token (confirmation or change of email).
pub(super) const EMAIL_TOKENS: TableDefinition<[u8; 32], StoredEmailToken> =
    TableDefinition::new("email_tokens");
/// [User id and kind](super::records::user_kind_key) → digest of the user's one live email
/// token of that kind (replace, revoke).
pub(super) const USER_EMAIL_TOKENS: TableDefinition<[u8; 9], [u8; 32]> =
    TableDefinition::new("email_tokens_by_user");
/// Email tokens by expiry, for purging.
pub(super) const EMAIL_TOKEN_EXPIRY: TableDefinition<TimeIndexKey, ()> =
    TableDefinition::new("email_tokens_by_expiry");
/// User id → their second factor (pending or enabled) with its unused recovery codes.
pub(super) const SECOND_FACTORS: TableDefinition<u64, StoredSecondFactor> =
    TableDefinition::new("second_factors");
/// The ids of the accounts whose email is not confirmed yet. An account not listed is
/// confirmed: those created before version 5 count as confirmed with no rewrite.
pub(super) const UNCONFIRMED: TableDefinition<u64, ()> = TableDefinition::new("unconfirmed_users");
/// The unconfirmed accounts by creation time, for purging those past their lifetime: one
/// entry for each id of [`UNCONFIRMED`].
pub(super) const UNCONFIRMED_BY_CREATED: TableDefinition<UserTimeKey, ()> =
    TableDefinition::new("unconfirmed_users_by_created");
/// The ids of the unconfirmed accounts that are contested: a registration attempt tried
/// their address. Never a confirmed account.
pub(super) const CONTESTED: TableDefinition<u64, ()> = TableDefinition::new("contested_users");

/// Brings `db` to [`SCHEMA_VERSION`] in one write transaction: creates a new file's tables,
/// migrates an older file, refuses a newer one.
pub(super) fn open_schema(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    let recorded = txn
        .open_table(META)?
        .get(SCHEMA_VERSION_KEY)?
        .map(|v| v.value());
    let found = match recorded {
        Some(version) => Some(version),
        None if has_table(&txn, USERS.name())? => Some(unversioned_version(&txn)?),
        None => None,
    };
    match found {
        Some(SCHEMA_VERSION) => {}
        Some(found) if migrate::can_migrate(found) => migrate::run(&txn, found)?,
        Some(found) => {
            // Dropping the transaction aborts it: a refused file is left as it was.
            return Err(StoreError::SchemaVersion {
                found,
                expected: SCHEMA_VERSION,
            });
        }
        None => {
            txn.open_table(META)?.insert(NEXT_USER_ID_KEY, 1)?;
        }
    }
    create_tables(&txn)?;
    txn.open_table(META)?
        .insert(SCHEMA_VERSION_KEY, SCHEMA_VERSION)?;
    txn.commit()?;
    Ok(())
}

/// The version of a file that has a `users` table but records no version. Version 1 created
/// its tables and recorded its version in one transaction, so this is a file of a release
/// before versions (0, refused), unless it holds no account: then it is taken as version 1.
fn unversioned_version(txn: &WriteTransaction) -> Result<u64, StoreError> {
    let users = txn.open_table(migrate::v1::USERS)?;
    Ok(if users.is_empty()? { 1 } else { 0 })
}

/// Whether the file has a table called `name`.
fn has_table(txn: &WriteTransaction, name: &str) -> Result<bool, StoreError> {
    for table in txn.list_tables()? {
        if table.name() == name {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Opens every table of the current schema, creating those that are missing.
fn create_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(META)?;
    txn.open_table(USERS)?;
    txn.open_table(EMAILS)?;
    txn.open_table(SESSIONS)?;
    txn.open_multimap_table(USER_SESSIONS)?;
    txn.open_table(SESSION_EXPIRY)?;
    txn.open_table(SESSION_IDLE)?;
    txn.open_table(RESETS)?;
    txn.open_table(USER_RESET)?;
    txn.open_table(RESET_EXPIRY)?;
    create_device_tables(txn)?;
    create_email_token_second_factor_and_unconfirmed_tables(txn)?;
    create_unconfirmed_tables(txn)
}

/// Opens the tables of unconfirmed accounts against pre-hijacking (the index by creation,
/// the contested set), creating them (empty) if they are missing: version 7 added them.
pub(super) fn create_unconfirmed_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(UNCONFIRMED_BY_CREATED)?;
    txn.open_table(CONTESTED)?;
    Ok(())
}

/// Opens the tables of email tokens, second factors and unconfirmed accounts (version 5
/// added them), creating them (empty) if they are missing.
fn create_email_token_second_factor_and_unconfirmed_tables(
    txn: &WriteTransaction,
) -> Result<(), StoreError> {
    txn.open_table(EMAIL_TOKENS)?;
    txn.open_table(USER_EMAIL_TOKENS)?;
    txn.open_table(EMAIL_TOKEN_EXPIRY)?;
    txn.open_table(SECOND_FACTORS)?;
    txn.open_table(UNCONFIRMED)?;
    Ok(())
}

/// Opens the device-token tables, creating them (empty) if they are missing: version 3 added
/// them, so the step from version 2 calls this too.
pub(super) fn create_device_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(DEVICES)?;
    txn.open_multimap_table(USER_DEVICES)?;
    txn.open_table(DEVICE_EXPIRY)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use redb::{ReadableDatabase, backends::InMemoryBackend};

    use super::*;

    fn memory_db() -> Database {
        Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .expect("in-memory database")
    }

    fn recorded(db: &Database, key: &str) -> Option<u64> {
        let txn = db.begin_read().expect("read");
        let meta = txn.open_table(META).expect("meta");
        meta.get(key).expect("get").map(|v| v.value())
    }

    /// A file with version 1's `users` table (holding `accounts` accounts) and no version.
    fn unversioned(accounts: u64) -> Database {
        let db = memory_db();
        let txn = db.begin_write().expect("write");
        {
            let mut users = txn.open_table(migrate::v1::USERS).expect("users");
            for id in 1..=accounts {
                users.insert(id, ("a@b.io", "$2b$04$x", 0)).expect("insert");
            }
        }
        txn.commit().expect("commit");
        db
    }

    #[test]
    fn a_new_file_gets_the_current_version_and_tables() {
        let db = memory_db();
        open_schema(&db).expect("open");
        assert_eq!(recorded(&db, SCHEMA_VERSION_KEY), Some(SCHEMA_VERSION));
        assert_eq!(recorded(&db, NEXT_USER_ID_KEY), Some(1));
        let txn = db.begin_read().expect("read");
        assert!(
            txn.open_table(USERS)
                .expect("users")
                .is_empty()
                .expect("len")
        );
        drop(txn);
        open_schema(&db).expect("open again");
        assert_eq!(recorded(&db, SCHEMA_VERSION_KEY), Some(SCHEMA_VERSION));
    }

    #[test]
    fn a_file_with_accounts_but_no_version_is_refused() {
        let db = unversioned(1);
        match open_schema(&db) {
            Err(StoreError::SchemaVersion {
                found: 0,
                expected: SCHEMA_VERSION,
            }) => {}
            other => panic!("expected a schema version error, got {other:?}"),
        }
        // Untouched: not even the `meta` table was created.
        let txn = db.begin_read().expect("read");
        assert!(txn.open_table(META).is_err());
    }

    #[test]
    fn a_file_with_empty_tables_and_no_version_is_taken_as_version_1() {
        let db = unversioned(0);
        open_schema(&db).expect("open");
        assert_eq!(recorded(&db, SCHEMA_VERSION_KEY), Some(SCHEMA_VERSION));
    }
}
