//! Sessions: [`SessionStore`] for [`RedbStore`] over the `sessions` table (each session with its owner's email), its index by user,
//! and its two time indexes (absolute expiry and last activity) that the purge ranges over.
//!
//! The indexes hold the digest's 8-byte [`prefix`](time_index::prefix), not the digest: a
//! prefix leads to the sessions that have it by a range of the `sessions` table
//! ([`with_prefix`]), whose fields then say which one an index entry is for. An index entry
//! is removed only when no session with its prefix still needs it.

use std::time::SystemTime;

use redb::{ReadTransaction, ReadableMultimapTable, ReadableTable, WriteTransaction};

use super::{
    RedbStore,
    records::{StoredSession, millis},
    schema::{SESSION_EXPIRY, SESSION_IDLE, SESSIONS, USER_SESSIONS},
    time_index::{self, SessionTimeKey},
    users, writer,
};
use crate::{
    error::StoreError,
    store::{EndSessions, SessionEntry, SessionRecord, SessionStore},
    token::TokenDigest,
    user::UserId,
};

impl SessionStore for RedbStore {
    async fn insert_session(
        &self,
        token: TokenDigest,
        session: SessionRecord,
        max_per_user: Option<usize>,
    ) -> Result<(), StoreError> {
        self.write(move |txn| insert(txn, token, &session, max_per_user))
            .await
    }

    async fn session(&self, token: TokenDigest) -> Result<Option<SessionEntry>, StoreError> {
        if !self.shared.live.digests().maybe_present(&token.0) {
            return Ok(None);
        }
        self.read_session(token)
    }

    /// No session, when the live-digest filter proves the digest is not stored (the filter
    /// never misses a stored session: see the `live_digests` module); otherwise `None`, and the
    /// caller awaits [`session`](SessionStore::session). A cached session is answered by the
    /// cache in front of the store ([`CachedSessions`](crate::store::CachedSessions)), before
    /// this.
    fn session_without_waiting(&self, token: TokenDigest) -> Option<Option<SessionEntry>> {
        (!self.shared.live.digests().maybe_present(&token.0)).then_some(None)
    }

    async fn touch_session(
        &self,
        token: TokenDigest,
        last_seen: SystemTime,
    ) -> Result<(), StoreError> {
        self.write(move |txn| touch(txn, token, last_seen)).await
    }

    async fn delete_session(&self, token: TokenDigest) -> Result<bool, StoreError> {
        self.write(move |txn| remove(txn, token.0)).await
    }

    async fn sessions_of(
        &self,
        id: UserId,
    ) -> Result<Vec<(TokenDigest, SessionRecord)>, StoreError> {
        self.read(|txn| of_user(txn, id.0))
    }

    async fn delete_sessions_of(
        &self,
        id: UserId,
        which: EndSessions,
    ) -> Result<usize, StoreError> {
        self.write(move |txn| remove_all_of(txn, id.0, which)).await
    }
}

/// The sessions whose digest starts with `prefix`, with their digests.
fn with_prefix(
    table: &impl ReadableTable<[u8; 32], StoredSession<'static>>,
    prefix: [u8; 8],
) -> Result<Vec<([u8; 32], StoredSession<'static>)>, StoreError> {
    let (first, last) = time_index::prefix_range(prefix);
    let mut found = Vec::new();
    for entry in table.range(first..=last)? {
        let (digest, stored) = entry?;
        found.push((digest.value(), stored.value().into_owned()));
    }
    Ok(found)
}

/// The sessions of user `user`, with their digests, in index order.
fn stored_of(
    txn: &WriteTransaction,
    user: u64,
) -> Result<Vec<([u8; 32], StoredSession<'static>)>, StoreError> {
    stored_of_in(
        &txn.open_multimap_table(USER_SESSIONS)?,
        &txn.open_table(SESSIONS)?,
        user,
    )
}

/// [`stored_of`] over the tables given.
fn stored_of_in(
    index: &impl ReadableMultimapTable<u64, [u8; 8]>,
    table: &impl ReadableTable<[u8; 32], StoredSession<'static>>,
    user: u64,
) -> Result<Vec<([u8; 32], StoredSession<'static>)>, StoreError> {
    let mut all = Vec::new();
    for prefix in index.get(user)? {
        let found = with_prefix(table, prefix?.value())?;
        all.extend(found.into_iter().filter(|(_, s)| s.user_id == user));
    }
    Ok(all)
}

/// Adds the session `digest`'s entries to the index by user and the two time indexes.
pub(super) fn index(
    txn: &WriteTransaction,
    digest: &[u8; 32],
    stored: &StoredSession<'_>,
) -> Result<(), StoreError> {
    txn.open_multimap_table(USER_SESSIONS)?
        .insert(stored.user_id, time_index::prefix(digest))?;
    txn.open_table(SESSION_EXPIRY)?
        .insert(SessionTimeKey::new(stored.expires_ms, digest), ())?;
    txn.open_table(SESSION_IDLE)?
        .insert(SessionTimeKey::new(stored.last_seen_ms, digest), ())?;
    Ok(())
}

/// Stores a session if its generation is its user's; then, if `max_per_user` is set, ends
/// the user's oldest sessions beyond it (never the new one). [`StoreError::NotFound`] if the
/// user does not exist, [`StoreError::Conflict`] if the generation is not current.
pub(super) fn insert(
    txn: &WriteTransaction,
    token: TokenDigest,
    session: &SessionRecord,
    max_per_user: Option<usize>,
) -> Result<(), StoreError> {
    let user = session.user_id.0;
    let owner = users::get(txn, user)?;
    if owner.generation != session.generation {
        return Err(StoreError::Conflict);
    }
    let stored = StoredSession::new(session, owner.email);
    txn.open_table(SESSIONS)?.insert(token.0, &stored)?;
    writer::created_session(token.0);
    index(txn, &token.0, &stored)?;
    if let Some(max) = max_per_user {
        let mut sessions: Vec<(u64, [u8; 32])> = stored_of(txn, user)?
            .into_iter()
            .map(|(digest, s)| (s.created_ms, digest))
            .collect();
        if sessions.len() > max {
            sessions.sort_unstable();
            let excess = sessions.len() - max;
            for (_, d) in sessions
                .into_iter()
                .filter(|(_, d)| *d != token.0)
                .take(excess)
            {
                remove(txn, d)?;
            }
        }
    }
    Ok(())
}

/// The session of `token` with its owner's email, if it exists: one B-tree walk of `table`
/// (the `sessions` table of some snapshot), the email read from the stored bytes.
pub(super) fn get(
    table: &impl ReadableTable<[u8; 32], StoredSession<'static>>,
    token: TokenDigest,
) -> Result<Option<SessionEntry>, StoreError> {
    Ok(table.get(token.0)?.map(|v| v.value().into_entry()))
}

/// Whether the session of `token` exists and belongs to user `user`.
pub(super) fn belongs_to(
    txn: &WriteTransaction,
    token: TokenDigest,
    user: u64,
) -> Result<bool, StoreError> {
    Ok(txn
        .open_table(SESSIONS)?
        .get(token.0)?
        .is_some_and(|v| v.value().user_id == user))
}

/// Moves the session's last activity forward to `last_seen` (never back); nothing if the
/// session is gone.
pub(super) fn touch(
    txn: &WriteTransaction,
    token: TokenDigest,
    last_seen: std::time::SystemTime,
) -> Result<(), StoreError> {
    let mut sessions = txn.open_table(SESSIONS)?;
    let Some(mut stored) = sessions.get(token.0)?.map(|v| v.value().into_owned()) else {
        return Ok(());
    };
    let old_seen = stored.last_seen_ms;
    stored.last_seen_ms = millis(last_seen).max(old_seen);
    if stored.last_seen_ms == old_seen {
        return Ok(());
    }
    writer::renewed_session(token.0, stored.last_seen_ms);
    sessions.insert(token.0, &stored)?;
    let others = with_prefix(&sessions, time_index::prefix(&token.0))?;
    let mut idle = txn.open_table(SESSION_IDLE)?;
    if !others.iter().any(|(_, s)| s.last_seen_ms == old_seen) {
        idle.remove(SessionTimeKey::new(old_seen, &token.0))?;
    }
    idle.insert(SessionTimeKey::new(stored.last_seen_ms, &token.0), ())?;
    Ok(())
}

/// The sessions of user `user`, oldest first.
pub(super) fn of_user(
    txn: &ReadTransaction,
    user: u64,
) -> Result<Vec<(TokenDigest, SessionRecord)>, StoreError> {
    let mut all: Vec<_> = stored_of_in(
        &txn.open_multimap_table(USER_SESSIONS)?,
        &txn.open_table(SESSIONS)?,
        user,
    )?
    .into_iter()
    .map(|(digest, s)| (TokenDigest(digest), s.record()))
    .collect();
    all.sort_by_key(|(_, s)| s.created);
    Ok(all)
}

/// Removes the session `digest` and its index entries; `false` if there was none.
pub(super) fn remove(txn: &WriteTransaction, digest: [u8; 32]) -> Result<bool, StoreError> {
    let Some((user_id, expires_ms, last_seen_ms)) =
        txn.open_table(SESSIONS)?.remove(digest)?.map(|v| {
            let s = v.value();
            (s.user_id, s.expires_ms, s.last_seen_ms)
        })
    else {
        return Ok(false);
    };
    writer::removed_session(digest);
    // Another session with the same prefix may need an entry this one had.
    let others = with_prefix(&txn.open_table(SESSIONS)?, time_index::prefix(&digest))?;
    let needed = |f: &dyn Fn(&StoredSession<'_>) -> bool| others.iter().any(|(_, s)| f(s));
    if !needed(&|s| s.user_id == user_id) {
        txn.open_multimap_table(USER_SESSIONS)?
            .remove(user_id, time_index::prefix(&digest))?;
    }
    if !needed(&|s| s.expires_ms == expires_ms) {
        txn.open_table(SESSION_EXPIRY)?
            .remove(SessionTimeKey::new(expires_ms, &digest))?;
    }
    if !needed(&|s| s.last_seen_ms == last_seen_ms) {
        txn.open_table(SESSION_IDLE)?
            .remove(SessionTimeKey::new(last_seen_ms, &digest))?;
    }
    Ok(true)
}

/// Removes the sessions of user `user` that `which` names; how many there were.
pub(super) fn remove_all_of(
    txn: &WriteTransaction,
    user: u64,
    which: EndSessions,
) -> Result<usize, StoreError> {
    let keep = match which {
        EndSessions::None => return Ok(0),
        EndSessions::All => None,
        EndSessions::AllExcept(d) => Some(d.0),
    };
    let digests = stored_of(txn, user)?.into_iter().map(|(d, _)| d);
    let mut removed = 0;
    for digest in digests.filter(|d| Some(*d) != keep) {
        if remove(txn, digest)? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Moves every session of user `user` to credential generation `generation`, keeping keys
/// and times.
pub(super) fn move_to_generation(
    txn: &WriteTransaction,
    user: u64,
    generation: u64,
) -> Result<(), StoreError> {
    rewrite_all_of(txn, user, |stored| stored.generation = generation)
}

/// Sets the owner's email kept with every session of user `user` to `email` (a change of
/// email, in its transaction).
pub(super) fn set_email(txn: &WriteTransaction, user: u64, email: &str) -> Result<(), StoreError> {
    rewrite_all_of(txn, user, |stored| {
        if stored.email != email {
            stored.email = email.to_owned().into();
        }
    })
}

/// Applies `change` to every session of user `user` (keys and times kept), each noted dirty
/// for the session cache.
fn rewrite_all_of(
    txn: &WriteTransaction,
    user: u64,
    mut change: impl FnMut(&mut StoredSession<'static>),
) -> Result<(), StoreError> {
    let sessions = stored_of(txn, user)?;
    let mut table = txn.open_table(SESSIONS)?;
    for (digest, mut stored) in sessions {
        change(&mut stored);
        writer::dirty_session(digest);
        table.insert(digest, &stored)?;
    }
    Ok(())
}

/// Removes the sessions that expired at or before `now_ms` or were last seen before
/// `idle_before_ms`; how many.
pub(super) fn purge(
    txn: &WriteTransaction,
    now_ms: u64,
    idle_before_ms: u64,
) -> Result<usize, StoreError> {
    let mut prefixes = Vec::new();
    for entry in txn
        .open_table(SESSION_EXPIRY)?
        .range(..=SessionTimeKey::last_at(now_ms))?
    {
        prefixes.push(entry?.0.value().prefix);
    }
    for entry in txn
        .open_table(SESSION_IDLE)?
        .range(..SessionTimeKey::first_at(idle_before_ms))?
    {
        prefixes.push(entry?.0.value().prefix);
    }
    prefixes.sort_unstable();
    prefixes.dedup();
    let mut doomed = Vec::new();
    {
        let table = txn.open_table(SESSIONS)?;
        for prefix in prefixes {
            let found = with_prefix(&table, prefix)?;
            doomed.extend(
                found
                    .into_iter()
                    .filter(|(_, s)| s.expires_ms <= now_ms || s.last_seen_ms < idle_before_ms)
                    .map(|(d, _)| d),
            );
        }
    }
    time_index::remove_each(doomed, |digest| remove(txn, digest))
}
