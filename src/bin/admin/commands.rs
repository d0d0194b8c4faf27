//! The commands on users, sessions, the purge and the statistics.

use std::{
    io::Write,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::Serialize;
use tower_user_auth::{
    StoreError, User, UserId,
    hook::NoticeKind,
    store::{
        EndSessions, ListedUser, RedbStore, SecondFactorChange, UserQuery, UserUpdate, prelude::*,
    },
    token::SessionId,
};

use crate::AdminError;

/// How many users one read transaction of `users list` and `export` pages through.
pub(crate) const PAGE: usize = 500;

/// Emits an audit event of the command line: target `tower_user_auth::audit`, `actor =
/// "admin-cli"`.
macro_rules! audit {
    ($event:literal $(, $($field:tt)+)?) => {
        tracing::info!(target: "tower_user_auth::audit", event = $event, actor = "admin-cli" $(, $($field)+)?)
    };
}
pub(crate) use audit;

/// UNIX seconds of `t` (0 before the epoch).
pub(crate) fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Writes one line of output.
pub(crate) fn emit(out: &mut impl Write, line: &str) -> Result<(), AdminError> {
    writeln!(out, "{line}").map_err(|e| AdminError::Failed(format!("stdout: {e}")))
}

/// The user named by `who`: an id if it is a number, otherwise an email.
async fn find(store: &impl Store, who: &str) -> Result<User, AdminError> {
    let query = match who.trim().parse::<u64>() {
        Ok(id) => UserQuery::Id(UserId(id)),
        Err(_) => UserQuery::Email(who.to_owned()),
    };
    match store.find_user_by(query).await {
        Ok(user) => Ok(user),
        Err(StoreError::NotFound) => Err(AdminError::Failed(format!("no such user: {who}"))),
        Err(e) => Err(e.into()),
    }
}

/// A user as listed (never the hash): whether the email is confirmed and a second factor
/// enabled too.
#[derive(Serialize)]
struct UserLine<'a> {
    id: u64,
    email: &'a str,
    created: u64,
    generation: u64,
    email_confirmed: bool,
    second_factor: bool,
}

impl UserLine<'_> {
    fn text(&self) -> String {
        format!(
            "{}\t{}\tcreated={}\tgeneration={}\tconfirmed={}\tsecond_factor={}",
            self.id,
            self.email,
            self.created,
            self.generation,
            self.email_confirmed,
            self.second_factor
        )
    }
}

/// Calls `each` on every user in id order, reading [`PAGE`] users a transaction.
pub(crate) async fn for_each_user(
    store: &impl Store,
    mut each: impl FnMut(&ListedUser) -> Result<(), AdminError>,
) -> Result<(), AdminError> {
    let mut after = None;
    loop {
        let page = store.list_users(after, PAGE).await?;
        page.iter().try_for_each(&mut each)?;
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.user.id),
            _ => return Ok(()),
        }
    }
}

/// `users list`: every user in id order, as text or JSON lines.
pub(crate) async fn list_users(
    store: &impl Store,
    json: bool,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    for_each_user(store, |listed| {
        let line = UserLine {
            id: listed.user.id.0,
            email: &listed.user.email,
            created: secs(listed.created),
            generation: listed.user.generation,
            email_confirmed: listed.user.email_confirmed,
            second_factor: listed.second_factor,
        };
        let text = if json {
            serde_json::to_string(&line).map_err(|e| AdminError::Failed(e.to_string()))?
        } else {
            line.text()
        };
        emit(out, &text)
    })
    .await
}

/// `users show`: one user, when it was created, whether their email is confirmed, their
/// second factor (`on` with the recovery codes left, `pending`, `none`) and how many
/// sessions they have.
pub(crate) async fn show_user(
    store: &impl Store,
    who: &str,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    let user = find(store, who).await?;
    let sessions = store.sessions_of(user.id).await?.len();
    let factor = match store.second_factor(user.id).await? {
        Some(f) if f.enabled => format!("on ({} recovery codes left)", f.recovery_codes.len()),
        Some(_) => "pending".to_owned(),
        None => "none".to_owned(),
    };
    let before = user.id.0.checked_sub(1).map(UserId);
    let listed = store.list_users(before, 1).await?;
    emit(out, &format!("id: {}", user.id))?;
    emit(out, &format!("email: {}", user.email))?;
    if let Some(listed) = listed.first().filter(|l| l.user.id == user.id) {
        emit(out, &format!("created: {}", secs(listed.created)))?;
    }
    emit(out, &format!("generation: {}", user.generation))?;
    emit(out, &format!("email confirmed: {}", user.email_confirmed))?;
    emit(out, &format!("second factor: {factor}"))?;
    emit(out, &format!("sessions: {sessions}"))
}

/// `users confirm`: marks the user's email confirmed (support staff who checked it another
/// way), so that they can log in. Audited; confirming a confirmed account changes nothing and
/// says so.
pub(crate) async fn confirm_user(
    store: &impl Store,
    who: &str,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    let user = find(store, who).await?;
    if user.email_confirmed {
        return emit(out, &format!("user {} is already confirmed", user.id));
    }
    let user = store
        .update_user(user.id, UserUpdate::default().email_confirmed(true))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AdminError::Failed(format!("no such user: {who}")),
            e => e.into(),
        })?;
    audit!("email_confirmed", user_id = %user.id);
    emit(out, &format!("confirmed user {}", user.id))
}

/// `users remove-factor`: removes the user's second factor, pending or enabled, with its
/// recovery codes (a user who lost their authenticator and their codes). Audited; exit 1 if
/// they have none. The command has no mailer: a second line, `security notice for <email>:
/// second factor disabled` (the demo mailer's line for the notice the service sends when
/// the owner turns it off), is what to forward to the owner.
pub(crate) async fn remove_second_factor(
    store: &impl Store,
    who: &str,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    let user = find(store, who).await?;
    let removed = store
        .update_second_factor(user.id, SecondFactorChange::Remove)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AdminError::Failed(format!("no such user: {who}")),
            e => e.into(),
        })?;
    if !removed {
        return Err(AdminError::Failed(format!(
            "user {} has no second factor",
            user.id
        )));
    }
    audit!("second_factor_removed", user_id = %user.id);
    emit(
        out,
        &format!("removed the second factor of user {}", user.id),
    )?;
    let notice = NoticeKind::SecondFactorDisabled;
    emit(
        out,
        &format!("security notice for {}: {notice}", user.email),
    )
}

/// `users delete`: the user with everything that is theirs (sessions, tokens, second factor), one
/// transaction.
pub(crate) async fn delete_user(
    store: &impl Store,
    who: &str,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    let user = find(store, who).await?;
    store.delete_user(user.id).await?;
    audit!("user_deleted", user_id = %user.id);
    emit(out, &format!("deleted user {}", user.id))
}

/// `sessions list`: public id, created, last seen and expiry (UNIX seconds); never a token.
pub(crate) async fn list_sessions(
    store: &impl Store,
    who: &str,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    let user = find(store, who).await?;
    for (digest, record) in store.sessions_of(user.id).await? {
        emit(
            out,
            &format!(
                "{}\tcreated={}\tlast_seen={}\texpires={}",
                digest.session_id(),
                secs(record.created),
                secs(record.last_seen),
                secs(record.expires)
            ),
        )?;
    }
    Ok(())
}

/// `sessions end`: the session with the public id `session`, or all of the user's.
pub(crate) async fn end_sessions(
    store: &impl Store,
    who: &str,
    session: Option<&str>,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    let user = find(store, who).await?;
    let Some(public) = session else {
        let ended = store.delete_sessions_of(user.id, EndSessions::All).await?;
        audit!("sessions_ended", user_id = %user.id, count = ended);
        return emit(out, &format!("ended {ended} sessions"));
    };
    let wanted = SessionId::parse(public)
        .ok_or_else(|| AdminError::Failed(format!("not a session id: {public}")))?;
    let digest = store
        .sessions_of(user.id)
        .await?
        .into_iter()
        .map(|(digest, _)| digest)
        .find(|digest| digest.session_id() == wanted)
        .ok_or_else(|| AdminError::Failed(format!("user {} has no session {wanted}", user.id)))?;
    if !store.delete_session(digest).await? {
        return Err(AdminError::Failed(format!(
            "session {wanted} already ended"
        )));
    }
    audit!("session_ended", user_id = %user.id, session = %wanted);
    emit(out, &format!("ended session {wanted}"))
}

/// `purge`: expired records (and, with `idle_secs`, sessions idle that long), each kind
/// counted on one `key=value` line and in the audit event, then the unconfirmed accounts
/// older than `unconfirmed_secs`, counted on a line of their own.
pub(crate) async fn purge(
    store: &impl ExpiredDeletion,
    idle_secs: Option<u64>,
    unconfirmed_secs: u64,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    let now = SystemTime::now();
    let idle_before = idle_secs
        .and_then(|s| now.checked_sub(Duration::from_secs(s)))
        .unwrap_or(UNIX_EPOCH);
    let unconfirmed_before = now
        .checked_sub(Duration::from_secs(unconfirmed_secs))
        .unwrap_or(UNIX_EPOCH);
    let purged = store
        .purge_expired(now, idle_before, unconfirmed_before)
        .await?;
    audit!(
        "purged",
        sessions = purged.sessions,
        reset_tokens = purged.reset_tokens,
        device_tokens = purged.device_tokens,
        email_tokens = purged.email_tokens,
        unconfirmed_users = purged.unconfirmed_users
    );
    emit(
        out,
        &format!(
            "sessions={} reset_tokens={} device_tokens={} email_tokens={}",
            purged.sessions, purged.reset_tokens, purged.device_tokens, purged.email_tokens
        ),
    )?;
    emit(
        out,
        &format!("unconfirmed_users={}", purged.unconfirmed_users),
    )
}

/// `stats`: [`RedbStore::stats`].
pub(crate) async fn stats(store: &RedbStore, out: &mut impl Write) -> Result<(), AdminError> {
    let s = store.stats().await?;
    emit(out, &format!("users={}", s.users))?;
    emit(out, &format!("sessions={}", s.sessions))?;
    emit(out, &format!("reset_tokens={}", s.reset_tokens))?;
    emit(out, &format!("stored_bytes={}", s.stored_bytes))?;
    emit(out, &format!("allocated_bytes={}", s.allocated_bytes))?;
    emit(out, &format!("email_tokens={}", s.email_tokens))?;
    emit(out, &format!("unconfirmed_users={}", s.unconfirmed_users))
}
