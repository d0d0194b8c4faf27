//! PostgreSQL's errors as [`StoreError`]s: every error of the driver and of the pool becomes
//! one (never a panic), keeping the server's code and message for the log.
//!
//! - a unique violation of the email index is [`StoreError::EmailTaken`] (see
//!   [`email_taken`]);
//! - the pool's wait for a free connection timing out (every connection busy) is
//!   [`StoreError::Busy`], which the layer sheds with 503;
//! - anything else (a lost connection, a server that cannot be reached, a failed statement)
//!   is [`StoreError::Backend`], a 500 with a JSON body at the HTTP layer.

use std::fmt;

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use crate::error::{BackendError, StoreError};

/// The unique index of `users.email_key` (see `migrations/0001_initial.sql`).
const EMAIL_KEY_INDEX: &str = "users_email_key";

/// A PostgreSQL failure, described for the log: the server's SQLSTATE, severity and message
/// when it answered, the driver's error otherwise.
#[derive(Debug)]
pub(super) struct PgError {
    message: String,
    code: Option<SqlState>,
    source: Option<tokio_postgres::Error>,
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgreSQL: {}", self.message)
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl PgError {
    /// An error of this crate's own about the database (a value out of range, a bad URL).
    pub(super) fn other(message: impl Into<String>) -> StoreError {
        StoreError::Backend(BackendError::new(Self {
            message: message.into(),
            code: None,
            source: None,
        }))
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let (message, code) = match e.as_db_error() {
            Some(db) => (
                format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
                Some(db.code().clone()),
            ),
            None => match std::error::Error::source(&e) {
                Some(cause) => (format!("{e}: {cause}"), None),
                None => (e.to_string(), None),
            },
        };
        Self::Backend(BackendError::new(PgError {
            message,
            code,
            source: Some(e),
        }))
    }
}

impl From<PoolError> for StoreError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(e) => e.into(),
            PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => Self::Busy,
            PoolError::Closed => Self::Closed,
            other => PgError::other(format!("connection pool: {other}")),
        }
    }
}

/// Whether `e` is a PostgreSQL error with this SQLSTATE.
fn has_code(e: &StoreError, code: &SqlState) -> bool {
    match e {
        StoreError::Backend(BackendError(inner)) => inner
            .downcast_ref::<PgError>()
            .is_some_and(|pg| pg.code.as_ref() == Some(code)),
        _ => false,
    }
}

/// Whether the transaction that failed with `e` may simply be run again: PostgreSQL aborted
/// it to break a deadlock, or as a serialisation failure.
pub(super) fn retryable(e: &StoreError) -> bool {
    has_code(e, &SqlState::T_R_DEADLOCK_DETECTED)
        || has_code(e, &SqlState::T_R_SERIALIZATION_FAILURE)
}

/// `e`, with a unique violation of the email index turned into [`StoreError::EmailTaken`]:
/// the index, not a check before the insert, decides which of racing registrations wins.
pub(super) fn email_taken(e: tokio_postgres::Error) -> StoreError {
    let taken = e.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::UNIQUE_VIOLATION && db.constraint() == Some(EMAIL_KEY_INDEX)
    });
    if taken {
        StoreError::EmailTaken
    } else {
        e.into()
    }
}
