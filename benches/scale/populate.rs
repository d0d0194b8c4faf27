//! Populating the store: N users with one session each, written through the `Store`
//! (group-committed, many writes in flight) with one precomputed bcrypt hash: the only shortcut the harness
//! takes, as its users' passwords are never checked.

use std::time::{Duration, SystemTime};

use futures_util::future::join_all;
use tower_user_auth::{
    store::{SessionRecord, prelude::*},
    token::SessionToken,
    user::UserId,
};

/// Writes in flight at once: under the redb writer's queue (4096 by default).
pub const IN_FLIGHT: usize = 2048;

/// A user of the population: what a new session of theirs needs.
#[derive(Clone, Copy)]
pub struct PopulatedUser {
    pub id: UserId,
    pub generation: u64,
}

/// A session record for `user` starting now, ending in a day.
pub fn session_of(user: PopulatedUser) -> SessionRecord {
    let now = SystemTime::now();
    SessionRecord {
        user_id: user.id,
        created: now,
        last_seen: now,
        expires: now + Duration::from_secs(24 * 3600),
        generation: user.generation,
    }
}

/// Users `user{from}@example.com` to `user{to - 1}@example.com`, one session each: the
/// sessions' tokens and the users, in order.
pub async fn populate<S: Store>(
    store: &S,
    from: usize,
    to: usize,
    hash: &str,
) -> (Vec<SessionToken>, Vec<PopulatedUser>) {
    let mut tokens = Vec::with_capacity(to - from);
    let mut populated = Vec::with_capacity(to - from);
    let mut start = from;
    while start < to {
        let end = (start + IN_FLIGHT).min(to);
        let users =
            join_all((start..end).map(|i| async move {
                store.add_user(&format!("user{i}@example.com"), hash).await
            }))
            .await;
        let chunk: Vec<(SessionToken, PopulatedUser)> = users
            .into_iter()
            .map(|u| {
                let user = u.expect("populating: a user");
                let user = PopulatedUser {
                    id: user.id,
                    generation: user.generation,
                };
                (SessionToken::generate(), user)
            })
            .collect();
        join_all(
            chunk
                .iter()
                .map(|(t, u)| store.insert_session(t.digest(), session_of(*u), None)),
        )
        .await
        .into_iter()
        .for_each(|r| r.expect("populating: a session"));
        for (token, user) in chunk {
            tokens.push(token);
            populated.push(user);
        }
        start = end;
    }
    (tokens, populated)
}
