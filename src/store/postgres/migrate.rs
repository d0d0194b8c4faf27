//! Versioned migrations, applied at start-up: each version's SQL once, in order, in one
//! transaction that first takes a transaction-level advisory lock, so that instances starting
//! together on an empty database apply them exactly once (the others wait for the lock, then
//! find the work done). A database of a newer version is refused, unchanged.
//!
//! `schema_version` holds one row per version applied, with when.

use tokio_postgres::Client;

use crate::error::StoreError;

/// The key of the advisory lock that migrations hold (`pg_advisory_xact_lock`): the bytes of
/// "tua:migr", constant across versions so that every version of the crate takes the same
/// lock.
const MIGRATION_LOCK: i64 = 0x7475_613a_6d69_6772;

/// Each schema version and the SQL that brings the previous one to it.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_throttle.sql")),
    (3, include_str!("migrations/0003_lifecycle.sql")),
    (4, include_str!("migrations/0004_token_generation.sql")),
    (5, include_str!("migrations/0005_unconfirmed.sql")),
];

/// The schema version this build reads and writes: the last of [`MIGRATIONS`].
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Brings the database to [`SCHEMA_VERSION`]; [`StoreError::SchemaVersion`] (and nothing
/// changed) if it has a newer one.
pub(super) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version bigint PRIMARY KEY,
             applied timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let found: i64 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await?
        .get(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaVersion {
            found: found.unsigned_abs(),
            expected: SCHEMA_VERSION.unsigned_abs(),
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_version_is_the_last_migration() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        let expected: Vec<i64> = (1..=SCHEMA_VERSION).collect();
        assert_eq!(versions, expected);
    }
}
