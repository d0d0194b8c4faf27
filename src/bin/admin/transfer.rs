//! `export` and `import`: users as JSON lines, the migration path between stores (a redb
//! file and, with the feature `postgres`, a PostgreSQL database, either way).
//!
//! A line carries a user's email, bcrypt hash, credential generation and creation time
//! (milliseconds since the UNIX epoch), and its id in the source for reference. Ids are not
//! kept: an imported user gets the next id of the target store. Sessions are not exported:
//! they are keyed by token digests bound to this store and its cookies, so users log in again
//! after a migration. Reset tokens and device tokens are not exported either.
//!
//! Import inserts each line in its own transaction: a line that fails (not JSON, an email
//! already taken) is reported at the end and the others are imported.

use std::{
    io::{BufRead, Write},
    time::{Duration, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};
use tower_user_auth::{
    StoreError,
    store::{ImportedUser, Store},
};

use crate::{
    AdminError,
    commands::{audit, emit, for_each_user},
};

/// One exported user.
#[derive(Serialize, Deserialize)]
struct ExportLine {
    /// Its id in the source store (not kept by an import).
    id: u64,
    email: String,
    hashed_password: String,
    generation: u64,
    created_ms: u64,
}

/// `export`: every user, in id order, as JSON lines.
pub(crate) async fn export(store: &impl Store, out: &mut impl Write) -> Result<(), AdminError> {
    let mut count = 0_usize;
    for_each_user(store, |listed| {
        let line = ExportLine {
            id: listed.user.id.0,
            email: listed.user.email.clone(),
            hashed_password: listed.user.hashed_password.clone(),
            generation: listed.user.generation,
            created_ms: listed
                .created
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        };
        let json = serde_json::to_string(&line).map_err(|e| AdminError::Failed(e.to_string()))?;
        count += 1;
        emit(out, &json)
    })
    .await?;
    audit!("users_exported", count = count);
    Ok(())
}

/// `import`: each line of `input` inserted in its own transaction; the failed lines are
/// reported at the end (exit 1 if any).
pub(crate) async fn import(
    store: &impl Store,
    input: impl BufRead,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    let (mut imported, mut failures) = (0_usize, Vec::new());
    for (number, line) in input.lines().enumerate() {
        let number = number + 1;
        let line = line.map_err(|e| AdminError::Failed(format!("stdin: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: ExportLine = match serde_json::from_str(&line) {
            Ok(parsed) => parsed,
            Err(e) => {
                failures.push(format!("line {number}: not a user: {e}"));
                continue;
            }
        };
        let user = ImportedUser {
            email_confirmed: true,
            second_factor: None,
            email: parsed.email,
            hashed_password: parsed.hashed_password,
            generation: parsed.generation,
            created: UNIX_EPOCH + Duration::from_millis(parsed.created_ms),
        };
        match store.import_user(user).await {
            Ok(user) => {
                audit!("user_imported", user_id = %user.id, source_id = parsed.id);
                imported += 1;
            }
            Err(StoreError::EmailTaken) => {
                failures.push(format!("line {number}: email already taken"));
            }
            Err(e) => failures.push(format!("line {number}: {e}")),
        }
    }
    emit(out, &format!("imported {imported} users"))?;
    if failures.is_empty() {
        return Ok(());
    }
    for failure in &failures {
        eprintln!("{failure}");
    }
    Err(AdminError::Failed(format!(
        "{} lines not imported",
        failures.len()
    )))
}
