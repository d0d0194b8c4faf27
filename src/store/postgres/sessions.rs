//! Sessions: [`SessionStore`] for [`PgStore`] (reading through the session cache, see
//! [`notify`](super::notify)) over the `sessions` table, by token digest, with its indexes by
//! user and by time.

use std::time::SystemTime;

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::Row;

use super::{count, db_generation, db_id, db_time, digest_of, notify::CHANNEL, unsigned, users};
use crate::{
    error::StoreError,
    store::{EndSessions, SessionEntry, SessionRecord},
    token::TokenDigest,
    user::UserId,
};

use crate::store::postgres::{PgStore, dirty_user};
use crate::store::{SessionStore, cache::Dirty};

impl SessionStore for PgStore {
    async fn insert_session(
        &self,
        token: TokenDigest,
        session: SessionRecord,
        max_per_user: Option<usize>,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            Box::pin(async move {
                let changed = insert(tx, token, &session, max_per_user).await?;
                let mut dirty = Dirty::default();
                dirty.sessions.extend(changed);
                Ok(((), dirty))
            })
        })
        .await
    }

    async fn session(&self, token: TokenDigest) -> Result<Option<SessionEntry>, StoreError> {
        get(&self.client().await?, token).await
    }

    async fn touch_session(
        &self,
        token: TokenDigest,
        last_seen: SystemTime,
    ) -> Result<(), StoreError> {
        let touched = touch(&self.client().await?, token, last_seen).await;
        self.invalidate(&dirty_session(token));
        touched
    }

    async fn delete_session(&self, token: TokenDigest) -> Result<bool, StoreError> {
        let removed = remove(&self.client().await?, token).await;
        self.invalidate(&dirty_session(token));
        removed
    }

    async fn sessions_of(
        &self,
        id: UserId,
    ) -> Result<Vec<(TokenDigest, SessionRecord)>, StoreError> {
        of_user(&self.client().await?, id).await
    }

    async fn delete_sessions_of(
        &self,
        id: UserId,
        which: EndSessions,
    ) -> Result<usize, StoreError> {
        let Some(id) = super::db_id(id) else {
            return Ok(0);
        };
        self.write(move |tx| {
            Box::pin(async move {
                let ended = end(tx, id, which).await?;
                let dirty = if ended > 0 {
                    dirty_user(id)
                } else {
                    Dirty::default()
                };
                Ok((ended, dirty))
            })
        })
        .await
    }
}

/// The columns [`record_of`] reads, from its first, in a `SELECT`.
const SESSION_COLUMNS: &str = "sessions.user_id, sessions.created, sessions.last_seen, \
                               sessions.expires, sessions.generation";

/// The session in a row of [`SESSION_COLUMNS`] from column `at`.
fn record_of(row: &Row, at: usize) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        user_id: UserId(unsigned(row.try_get(at)?)),
        created: row.try_get(at + 1)?,
        last_seen: row.try_get(at + 2)?,
        expires: row.try_get(at + 3)?,
        generation: unsigned(row.try_get(at + 4)?),
    })
}

/// Stores a session if its generation is its user's, checked under the lock of the user's
/// row (so that a password change commits entirely before or after it: a session inserted
/// first is moved to the new generation, one inserted after is refused); then, if
/// `max_per_user` is set, ends the user's oldest sessions beyond it, never the new one.
/// [`StoreError::NotFound`] if the user does not exist, [`StoreError::Conflict`] if the
/// generation is not current. Answers the digests of the sessions it changed for the caches:
/// those it evicted, and its own if it replaced one stored under the same digest.
pub(super) async fn insert(
    tx: &Transaction<'_>,
    token: TokenDigest,
    session: &SessionRecord,
    max_per_user: Option<usize>,
) -> Result<Vec<[u8; 32]>, StoreError> {
    let user = users::lock(tx, session.user_id).await?;
    if user.generation != session.generation {
        return Err(StoreError::Conflict);
    }
    let id = db_id(user.id).ok_or(StoreError::NotFound)?;
    let digest = &token.0[..];
    let stmt = tx
        .prepare_cached(
            "INSERT INTO sessions (digest, user_id, created, last_seen, expires, generation)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (digest) DO UPDATE SET user_id = excluded.user_id,
                 created = excluded.created, last_seen = excluded.last_seen,
                 expires = excluded.expires, generation = excluded.generation
             RETURNING xmax = 0",
        )
        .await?;
    let mut changed = Vec::new();
    // `xmax` is 0 on a row version an INSERT made, set on one ON CONFLICT DO UPDATE made.
    let inserted: bool = tx
        .query_one(
            &stmt,
            &[
                &digest,
                &id,
                &db_time(session.created),
                &db_time(session.last_seen),
                &db_time(session.expires),
                &db_generation(session.generation)?,
            ],
        )
        .await?
        .try_get(0)?;
    if !inserted {
        changed.push(token.0);
    }
    if let Some(max) = max_per_user {
        let stmt = tx
            .prepare_cached("SELECT count(*) FROM sessions WHERE user_id = $1")
            .await?;
        let held: i64 = tx.query_one(&stmt, &[&id]).await?.try_get(0)?;
        let excess = held.saturating_sub(i64::try_from(max).unwrap_or(i64::MAX));
        if excess > 0 {
            let stmt = tx
                .prepare_cached(
                    "DELETE FROM sessions WHERE digest IN (
                         SELECT digest FROM sessions WHERE user_id = $1 AND digest <> $2
                         ORDER BY created, digest LIMIT $3)
                     RETURNING digest",
                )
                .await?;
            for row in tx.query(&stmt, &[&id, &digest, &excess]).await? {
                changed.push(digest_of(row.try_get(0)?)?);
            }
        }
    }
    Ok(changed)
}

/// The statement of [`get`], built once: it runs on every validation the cache does not
/// answer, which should not format its text each time.
static GET: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {SESSION_COLUMNS}, users.email FROM sessions
         JOIN users ON users.id = sessions.user_id AND users.generation = sessions.generation
         WHERE sessions.digest = $1"
    )
});

/// The session of `token` with its owner's email, in one statement that reads only what a
/// [`SessionEntry`] holds (not the password hash). A session whose credential generation is
/// not its user's is not answered: the statement refuses it, as the redb store does by
/// construction (a change of password moves or ends the sessions in its transaction).
pub(super) async fn get(
    client: &Client,
    token: TokenDigest,
) -> Result<Option<SessionEntry>, StoreError> {
    let stmt = client.prepare_cached(&GET).await?;
    let Some(row) = client.query_opt(&stmt, &[&&token.0[..]]).await? else {
        return Ok(None);
    };
    Ok(Some(SessionEntry {
        record: record_of(&row, 0)?,
        email: row.try_get(5)?,
    }))
}

/// Whether the session of `token` exists and is user `user`'s; if so its row is locked for
/// the rest of the transaction.
pub(super) async fn lock_of_user(
    tx: &Transaction<'_>,
    token: TokenDigest,
    user: i64,
) -> Result<bool, StoreError> {
    let stmt = tx
        .prepare_cached("SELECT 1 FROM sessions WHERE digest = $1 AND user_id = $2 FOR UPDATE")
        .await?;
    Ok(tx
        .query_opt(&stmt, &[&&token.0[..], &user])
        .await?
        .is_some())
}

/// Moves the session's last activity forward to `last_seen` (never back), in one statement
/// that also notifies the caches of its digest (the cached record carries `last_seen`);
/// nothing if the session is gone.
pub(super) async fn touch(
    client: &Client,
    token: TokenDigest,
    last_seen: SystemTime,
) -> Result<(), StoreError> {
    let stmt = client
        .prepare_cached(
            "WITH touched AS (
                 UPDATE sessions SET last_seen = greatest(last_seen, $2) WHERE digest = $1
                 RETURNING digest)
             SELECT pg_notify($3, encode(digest, 'hex')) FROM touched",
        )
        .await?;
    client
        .query(&stmt, &[&&token.0[..], &db_time(last_seen), &CHANNEL])
        .await?;
    Ok(())
}

/// Removes the session of `token`, in one statement that also notifies the caches of its
/// digest; `false` if there was none.
pub(super) async fn remove(client: &Client, token: TokenDigest) -> Result<bool, StoreError> {
    let stmt = client
        .prepare_cached(
            "WITH gone AS (DELETE FROM sessions WHERE digest = $1 RETURNING digest)
             SELECT pg_notify($2, encode(digest, 'hex')) FROM gone",
        )
        .await?;
    Ok(!client
        .query(&stmt, &[&&token.0[..], &CHANNEL])
        .await?
        .is_empty())
}

/// The sessions of user `id`, oldest first, in one statement.
pub(super) async fn of_user(
    client: &Client,
    id: UserId,
) -> Result<Vec<(TokenDigest, SessionRecord)>, StoreError> {
    let Some(id) = db_id(id) else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT {SESSION_COLUMNS}, sessions.digest FROM sessions WHERE user_id = $1
         ORDER BY created, digest"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client.query(&stmt, &[&id]).await?;
    rows.iter()
        .map(|row| {
            let digest: &[u8] = row.try_get(5)?;
            Ok((TokenDigest(digest_of(digest)?), record_of(row, 0)?))
        })
        .collect()
}

/// Removes the sessions of user `id` that `which` names, in one statement; how many.
pub(super) async fn end(
    tx: &Transaction<'_>,
    id: i64,
    which: EndSessions,
) -> Result<usize, StoreError> {
    let removed = match which {
        EndSessions::None => 0,
        EndSessions::All => {
            let stmt = tx
                .prepare_cached("DELETE FROM sessions WHERE user_id = $1")
                .await?;
            tx.execute(&stmt, &[&id]).await?
        }
        EndSessions::AllExcept(kept) => {
            let stmt = tx
                .prepare_cached("DELETE FROM sessions WHERE user_id = $1 AND digest <> $2")
                .await?;
            tx.execute(&stmt, &[&id, &&kept.0[..]]).await?
        }
    };
    Ok(count(removed))
}

/// Moves every session of user `id` to credential generation `generation`, keeping keys and
/// times.
pub(super) async fn move_to_generation(
    tx: &Transaction<'_>,
    id: i64,
    generation: i64,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached("UPDATE sessions SET generation = $2 WHERE user_id = $1")
        .await?;
    tx.execute(&stmt, &[&id, &generation]).await?;
    Ok(())
}

/// Removes the sessions that expired at or before `now` or were last seen before
/// `idle_before`; how many.
pub(super) async fn purge(
    tx: &Transaction<'_>,
    now: SystemTime,
    idle_before: SystemTime,
) -> Result<usize, StoreError> {
    let stmt = tx
        .prepare_cached("DELETE FROM sessions WHERE expires <= $1 OR last_seen < $2")
        .await?;
    let removed = tx
        .execute(&stmt, &[&db_time(now), &db_time(idle_before)])
        .await?;
    Ok(count(removed))
}

/// What changed one session.
fn dirty_session(token: TokenDigest) -> Dirty {
    let mut dirty = Dirty::default();
    dirty.sessions.insert(token.0);
    dirty
}
