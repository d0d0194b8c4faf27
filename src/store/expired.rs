//! Deleting expired records, an optional capability: [`ExpiredDeletion`] and what a purge
//! removed ([`Purged`]).

use std::{future::Future, time::SystemTime};

use super::Store;
#[cfg(doc)]
use super::UserStore;
use crate::error::StoreError;

/// A store that can delete what has expired, in the model of tower-sessions'
/// `ExpiredDeletion`: not part of [`Store`], a bound of its own on what purges
/// ([`Auth::purge_expired`](crate::Auth::purge_expired), the admin CLI's `purge`, a periodic
/// task). Both shipped stores implement it.
///
/// Expired records are never answered as valid whether or not they are purged (callers
/// check every expiry); the purge frees their space. One purge is one transaction,
/// serialisable with every other write.
pub trait ExpiredDeletion: Store {
    /// Removes sessions whose absolute lifetime has passed or that have been idle since
    /// `idle_before`, reset tokens, device tokens and email tokens that have expired, and the
    /// accounts whose email is not confirmed that were created at or before
    /// `unconfirmed_before` (each with everything of theirs, as
    /// [`UserStore::delete_user`]).
    fn purge_expired(
        &self,
        now: SystemTime,
        idle_before: SystemTime,
        unconfirmed_before: SystemTime,
    ) -> impl Future<Output = Result<Purged, StoreError>> + Send;
}

/// How many expired records a purge removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Sessions removed.
    pub sessions: usize,
    /// Reset tokens removed.
    pub reset_tokens: usize,
    /// Device tokens removed.
    pub device_tokens: usize,
    /// Email tokens (confirmation, email change) removed.
    pub email_tokens: usize,
    /// Unconfirmed accounts past their lifetime removed (with everything of theirs).
    pub unconfirmed_users: usize,
}
