//! Accounts as an administrator lists, exports and imports them: [`ListedUser`] and
//! [`ImportedUser`], for [`Store::list_users`] and [`Store::import_user`].

use std::{fmt, time::SystemTime};

#[cfg(doc)]
use super::Store;
use super::{lifecycle::SecondFactorRecord, records::REDACTED};
use crate::user::User;

/// A user as [`Store::list_users`] lists it: the account and when it was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedUser {
    /// The account (its `Debug` redacts the hash).
    pub user: User,
    /// When the account was created.
    pub created: SystemTime,
    /// Whether a second factor is enabled (a pending one does not count).
    pub second_factor: bool,
}

/// An account exported from another store, to insert as it was: its email, hash, credential
/// generation, creation time, confirmation state (and contest) and second factor (its secret still sealed
/// under the application's key). Its id is not carried: [`Store::import_user`] assigns a new
/// one. `Debug` redacts the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportedUser {
    /// The email (trimmed on insert; its key must be free).
    pub email: String,
    /// The bcrypt hash, kept as is: the user logs in with the same password.
    pub hashed_password: String,
    /// The credential generation to keep.
    pub generation: u64,
    /// When the account was created.
    pub created: SystemTime,
    /// Whether the email is confirmed.
    pub email_confirmed: bool,
    /// Whether the unconfirmed account is contested ([`User::contested`]); ignored for a
    /// confirmed one.
    pub contested: bool,
    /// The second factor, pending or enabled, with its unused recovery code digests.
    pub second_factor: Option<SecondFactorRecord>,
}

impl fmt::Debug for ImportedUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportedUser")
            .field("email", &self.email)
            .field("hashed_password", &REDACTED)
            .field("generation", &self.generation)
            .field("created", &self.created)
            .field("email_confirmed", &self.email_confirmed)
            .field("contested", &self.contested)
            .field("second_factor", &self.second_factor)
            .finish()
    }
}
