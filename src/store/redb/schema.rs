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
//! | version | written by | change |
//! |---|---|---|
//! | 1 | 0.1 up to the typed records | values and index keys were redb tuples |
//! | 2 | since | typed records with explicit encodings (see [`super::records`]) |

use redb::{
    Database, MultimapTableDefinition, ReadableTable, ReadableTableMetadata, TableDefinition,
    TableHandle, WriteTransaction,
};

use super::{
    migrate,
    records::{StoredReset, StoredSession, StoredUser},
    time_index::TimeIndexKey,
};
use crate::error::StoreError;

/// The schema this build reads and writes. An older file is migrated when opened; a newer one
/// is refused.
pub(super) const SCHEMA_VERSION: u64 = 2;

/// `schema_version` → the file's schema version; `next_user_id` → the id the next account gets.
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The `meta` key of the schema version.
pub(super) const SCHEMA_VERSION_KEY: &str = "schema_version";
/// The `meta` key of the next user id.
pub(super) const NEXT_USER_ID_KEY: &str = "next_user_id";
/// User id → the account.
pub(super) const USERS: TableDefinition<u64, StoredUser> = TableDefinition::new("users");
/// Lowercased email → user id: the unique index.
pub(super) const EMAILS: TableDefinition<&str, u64> = TableDefinition::new("users_by_email");
/// Token digest → the session.
pub(super) const SESSIONS: TableDefinition<[u8; 32], StoredSession> =
    TableDefinition::new("sessions");
/// User id → digests of their sessions.
pub(super) const USER_SESSIONS: MultimapTableDefinition<u64, [u8; 32]> =
    MultimapTableDefinition::new("sessions_by_user");
/// Sessions by absolute expiry, for purging.
pub(super) const SESSION_EXPIRY: TableDefinition<TimeIndexKey, ()> =
    TableDefinition::new("sessions_by_expiry");
/// Sessions by last activity, for purging idle ones.
pub(super) const SESSION_IDLE: TableDefinition<TimeIndexKey, ()> =
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
    Ok(())
}
