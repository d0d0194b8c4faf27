//! The step that adds what unconfirmed accounts need against pre-hijacking (issue 21): the
//! set of contested accounts and the index of unconfirmed accounts by creation.
//!
//! It is the step from version 6 to 7, after the tokens' generation ([`super::v5::to_v6`]):
//! it reads and writes nothing that step changes, only the `users` and `unconfirmed_users`
//! tables (as version 5 made them and version 6 kept them), which it leaves as they are.

use redb::{ReadableTable, WriteTransaction};

use super::super::{
    schema::{self, UNCONFIRMED, UNCONFIRMED_BY_CREATED, USERS},
    time_index::UserTimeKey,
};
use crate::error::StoreError;

/// Creates the contested set (empty: no account of the previous version is contested) and
/// the index of unconfirmed accounts by creation, filled from the unconfirmed set with each
/// account's creation time. An id of the unconfirmed set with no account (which the previous
/// version never left behind) is dropped from the set.
pub(in super::super) fn step(txn: &WriteTransaction) -> Result<(), StoreError> {
    schema::create_unconfirmed_tables(txn)?;
    let users = txn.open_table(USERS)?;
    let mut unconfirmed = txn.open_table(UNCONFIRMED)?;
    let mut by_created = txn.open_table(UNCONFIRMED_BY_CREATED)?;
    let mut orphans = Vec::new();
    for entry in unconfirmed.iter()? {
        let id = entry?.0.value();
        match users.get(id)? {
            Some(user) => {
                by_created.insert(UserTimeKey::new(user.value().created_ms, id), ())?;
            }
            None => orphans.push(id),
        }
    }
    for id in orphans {
        unconfirmed.remove(id)?;
    }
    Ok(())
}
