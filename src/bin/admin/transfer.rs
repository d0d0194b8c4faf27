//! `export` and `import`: users as JSON lines, the migration path between stores (a redb
//! file and, with the feature `postgres`, a PostgreSQL database, either way).
//!
//! A line carries a user's email, bcrypt hash, credential generation and creation time
//! (milliseconds since the UNIX epoch), whether the email is confirmed, the second factor
//! (its secret still sealed under the application's key, in standard base64; whether it is
//! enabled; the last time step a code was accepted at; the SHA-256 digests of the unused
//! recovery codes, in hex), and its id in the source for reference. Lines of an older export
//! (without the new fields) import as confirmed accounts without a second factor. Ids are not
//! kept: an imported user gets the next id of the target store. Sessions are not exported:
//! they are keyed by token digests bound to this store and its cookies, so users log in again
//! after a migration. Reset tokens, email tokens and device tokens are not exported either.
//!
//! The sealed secret opens only with the key it was sealed under: the target must run with
//! the same `AUTH_SECRET_KEY` for the factors to keep working.
//!
//! Import inserts each line in its own transaction: a line that fails (not JSON, an email
//! already taken) is reported at the end and the others are imported.

use std::{
    io::{BufRead, Write},
    time::{Duration, UNIX_EPOCH},
};

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use serde::{Deserialize, Serialize};
use tower_user_auth::{
    StoreError,
    store::{ImportedUser, ListedUser, SecondFactorRecord, prelude::*},
    token::TokenDigest,
};

use crate::{
    AdminError,
    commands::{PAGE, audit, emit},
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
    /// Absent from older exports, whose accounts all count as confirmed.
    #[serde(default = "confirmed")]
    email_confirmed: bool,
    /// Whether the unconfirmed account is contested; absent when not (and from older
    /// exports, which had no contest).
    #[serde(default, skip_serializing_if = "is_false")]
    contested: bool,
    /// Absent (or `null`) without a second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    second_factor: Option<ExportedFactor>,
}

/// The default of [`ExportLine::email_confirmed`]: accounts from before confirmation existed
/// count as confirmed.
fn confirmed() -> bool {
    true
}

/// Whether `b` is `false`: [`ExportLine::contested`] is written only when set.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
fn is_false(b: &bool) -> bool {
    !*b
}

/// A second factor as exported: nothing in it opens without the application's key.
#[derive(Serialize, Deserialize)]
struct ExportedFactor {
    /// The sealed secret (nonce and AEAD ciphertext), standard base64 with padding.
    sealed_secret: String,
    enabled: bool,
    last_step: u64,
    /// The SHA-256 digests of the unused recovery codes, 64 lowercase hex digits each.
    recovery_codes: Vec<String>,
}

impl ExportedFactor {
    fn of(record: &SecondFactorRecord) -> Self {
        Self {
            sealed_secret: BASE64.encode(&record.sealed_secret),
            enabled: record.enabled,
            last_step: record.last_step,
            recovery_codes: record.recovery_codes.iter().map(hex).collect(),
        }
    }

    /// The record, or why the line cannot be imported.
    fn record(&self) -> Result<SecondFactorRecord, String> {
        let sealed_secret = BASE64
            .decode(&self.sealed_secret)
            .map_err(|_| "the sealed secret is not standard base64".to_owned())?;
        let recovery_codes = self
            .recovery_codes
            .iter()
            .map(|h| unhex(h).ok_or_else(|| format!("not a recovery code digest: {h:?}")))
            .collect::<Result<_, _>>()?;
        Ok(SecondFactorRecord {
            sealed_secret,
            enabled: self.enabled,
            last_step: self.last_step,
            recovery_codes,
        })
    }
}

/// A digest as 64 lowercase hex digits.
fn hex(digest: &TokenDigest) -> String {
    digest.0.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest written as 64 hex digits; `None` for anything else.
fn unhex(digits: &str) -> Option<TokenDigest> {
    if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(TokenDigest(digest))
}

/// The export line of `listed`, with its `factor`.
fn line_of(listed: &ListedUser, factor: Option<&SecondFactorRecord>) -> ExportLine {
    ExportLine {
        id: listed.user.id.0,
        email: listed.user.email.clone(),
        hashed_password: listed.user.hashed_password.clone(),
        generation: listed.user.generation,
        created_ms: listed
            .created
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        email_confirmed: listed.user.email_confirmed,
        contested: listed.user.contested,
        second_factor: factor.map(ExportedFactor::of),
    }
}

/// `export`: every user, in id order, as JSON lines; a page of [`PAGE`] users a read, then
/// each one's second factor (a user deleted in between is left out).
pub(crate) async fn export(store: &impl Store, out: &mut impl Write) -> Result<(), AdminError> {
    let mut count = 0_usize;
    let mut after = None;
    loop {
        let page = store.list_users(after, PAGE).await?;
        for listed in &page {
            let factor = match store.second_factor(listed.user.id).await {
                Ok(factor) => factor,
                Err(StoreError::NotFound) => continue,
                Err(e) => return Err(e.into()),
            };
            let line = line_of(listed, factor.as_ref());
            let json =
                serde_json::to_string(&line).map_err(|e| AdminError::Failed(e.to_string()))?;
            count += 1;
            emit(out, &json)?;
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.user.id),
            _ => break,
        }
    }
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
        let second_factor = match parsed.second_factor.as_ref().map(ExportedFactor::record) {
            None => None,
            Some(Ok(record)) => Some(record),
            Some(Err(e)) => {
                failures.push(format!("line {number}: {e}"));
                continue;
            }
        };
        let user = ImportedUser {
            email_confirmed: parsed.email_confirmed,
            contested: parsed.contested,
            second_factor,
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
