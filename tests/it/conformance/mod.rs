//! The conformance suite of the [`Store`] trait: one set of generic async tests that every
//! store must pass, instantiated for each store by [`conformance!`]:
//!
//! - `redb::CONCERN::NAME`: [`RedbStore`] on a real file in a temp dir;
//! - `postgres::CONCERN::NAME` (feature `postgres`): `PgStore` on a fresh database of a real
//!   PostgreSQL server (see `tests/it/support/postgres.rs`: `TEST_DATABASE_URL`, or a
//!   throwaway cluster; without a server each test prints `skipped: <reason>`, or fails under
//!   `REQUIRE_POSTGRES=1`);
//! - `cached_redb::CONCERN::NAME` and `cached_postgres::CONCERN::NAME`: the same stores behind
//!   the session cache that `Auth` puts in front of them (`CachedSessions`), which is a store
//!   too and must answer exactly what the store behind it would.
//!
//! One module per concern of the store, as in `src/store/`:
//!
//! - [`users`]: accounts (add, find, update, delete, list, import), credentials (the
//!   compare-and-sets on the hash and the generation), the credential generation and the
//!   tokens it kills, unconfirmed accounts against pre-hijacking, racing registrations and
//!   verified changes, `Auth` over the store;
//! - [`sessions`]: session records, and their races with changes of credentials, email and
//!   account;
//! - [`tokens`]: reset tokens, email tokens (confirmation and email change), device tokens,
//!   and their races;
//! - [`second_factor`]: the factor's compare-and-sets, recovery codes, their races;
//! - [`expired`]: the deletion of what has expired.
//!
//! `race_harness.rs` is what the race tests share. A new backend passes this suite by adding
//! one arm to the macro.
//!
//! Times are whole seconds: the stores keep milliseconds.

use crate::support;
use tower_user_auth::store::UnconfirmedUser;

pub use crate::support::records::{device, email_token, now, reset, session};

mod expired;
mod race_harness;
mod second_factor;
mod sessions;
mod tokens;
mod users;

use std::time::{SystemTime, UNIX_EPOCH};

use tower_user_auth::{
    User, UserId,
    store::{EmailTokenPurpose, prelude::*},
    token::TokenDigest,
};

/// Adds the unconfirmed account `email` with password hash `hash` and its confirmation token
/// `token` (issued at `at`, living `secs`), replacing no stale account.
pub async fn add_unconfirmed<S: Store>(
    store: &S,
    email: &str,
    hash: &str,
    token: TokenDigest,
    at: SystemTime,
    secs: u64,
) -> User {
    let record = email_token(UserId(0), EmailTokenPurpose::Confirm, at, secs);
    store
        .add_unconfirmed_user(UnconfirmedUser {
            email,
            hashed_password: hash,
            token,
            record,
            stale_before: UNIX_EPOCH,
        })
        .await
        .unwrap()
}

/// The stores the suite runs against, each with what must outlive it (its temp dir, its
/// database); `None` when the store's server is missing (the test then says `skipped`).
mod stores {
    use tower_user_auth::store::{CachedSessions, RedbStore};

    pub async fn redb() -> Option<(RedbStore, tempfile::TempDir)> {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = RedbStore::open(dir.path().join("auth.redb")).expect("open the redb store");
        Some((store, dir))
    }

    #[cfg(feature = "postgres")]
    pub async fn postgres() -> Option<(
        tower_user_auth::store::PgStore,
        crate::support::postgres::TestDatabase,
    )> {
        let db = crate::support::postgres::database().await?;
        Some((db.store().await, db))
    }

    /// The session cache in front of a store is a store too, and passes the same.
    pub async fn cached_redb() -> Option<(CachedSessions<RedbStore>, tempfile::TempDir)> {
        let (store, dir) = redb().await?;
        Some((CachedSessions::new(store), dir))
    }

    #[cfg(feature = "postgres")]
    pub async fn cached_postgres() -> Option<(
        CachedSessions<tower_user_auth::store::PgStore>,
        crate::support::postgres::TestDatabase,
    )> {
        let (store, db) = postgres().await?;
        Some((CachedSessions::new(store), db))
    }
}

/// One `#[tokio::test]` per generic test, for each store of [`stores`]: `redb::AREA::NAME`,
/// `postgres::AREA::NAME`, `cached_redb::AREA::NAME` and `cached_postgres::AREA::NAME`.
/// Every test runs on a multi-thread runtime, so that the races race.
macro_rules! conformance {
    ($($area:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        conformance!(@store redb, $($area: [$($test),*]),*);
        #[cfg(feature = "postgres")]
        conformance!(@store postgres, $($area: [$($test),*]),*);
        conformance!(@store cached_redb, $($area: [$($test),*]),*);
        #[cfg(feature = "postgres")]
        conformance!(@store cached_postgres, $($area: [$($test),*]),*);
    };
    (@store $store:ident, $($area:ident: [$($test:ident),*]),*) => {
        mod $store {
            $(mod $area {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $test() {
                        let Some((store, _outlives)) = crate::conformance::stores::$store().await
                        else {
                            return;
                        };
                        crate::conformance::$area::$test(store).await;
                    }
                )*
            })*
        }
    };
}

conformance! {
    users: [
        add_find_and_trim,
        unknown_users_are_not_found,
        emails_are_unique_by_their_key,
        update_changes_email_and_ends_sessions,
        update_refuses_an_ended_requesting_session,
        delete_removes_everything_of_the_user,
        list_pages_in_id_order,
        import_keeps_hash_generation_and_creation,
        verified_changes_are_compare_and_sets_on_the_session_and_the_generation,
        a_new_hash_is_a_compare_and_set_that_advances_the_generation,
        sessions_are_inserted_only_at_the_current_generation,
        rehash_is_a_compare_and_set_on_the_hash,
        a_reset_keeping_sessions_moves_them,
        an_email_change_revokes_the_reset_token,
        every_change_of_credentials_advances_the_generation_and_kills_earlier_tokens,
        a_token_of_another_generation_redeems_nothing,
        a_registration_attempt_marks_an_unconfirmed_account_contested,
        confirming_with_a_new_password_is_one_transaction,
        a_reset_by_mail_confirms_and_ends_the_contest,
        the_purge_removes_expired_unconfirmed_accounts,
        a_registration_replaces_an_expired_unconfirmed_account,
        import_keeps_the_contest,
        a_contest_racing_a_confirmation_is_one_or_the_other,
        sixteen_racing_registrations_of_one_email_make_one_account,
        racing_password_changes_one_wins,
        a_verified_deletion_racing_a_reset_never_follows_it,
        a_verified_factor_removal_racing_a_reset_never_follows_it,
        auth_works_on_the_store,
    ],
    sessions: [
        insert_get_and_find_the_owner,
        cap_evicts_the_oldest,
        touch_moves_forward_only,
        delete_one_and_delete_of_user,
        insert_for_an_unknown_user_is_not_found,
        the_answer_without_waiting_is_the_answer_of_session,
        insert_session_racing_a_password_change_leaves_no_old_session,
        an_email_change_is_seen_by_every_later_session_look_up,
        delete_user_racing_insert_session_leaves_no_session,
        an_email_change_by_token_is_seen_by_every_later_session_look_up,
        step_ups_at_once_leave_one_fresh_session,
    ],
    tokens: [
        only_the_newest_token_lives,
        a_token_is_issued_only_for_the_account_as_read,
        a_refused_reset_changes_nothing,
        a_good_reset_is_one_transaction,
        unconfirmed_accounts_are_confirmed_by_their_token,
        email_tokens_are_one_per_kind_and_issued_for_the_account_as_read,
        an_email_change_token_moves_the_account,
        update_confirms_and_a_new_email_revokes_email_tokens,
        delete_removes_email_tokens_and_the_factor,
        purge_removes_expired_email_tokens,
        cap_evicts_the_oldest,
        failures_count_per_account_and_revoke_at_the_limit,
        they_survive_a_password_change_and_go_with_their_user,
        an_email_token_redeemed_at_once_is_redeemed_once,
        an_email_change_racing_a_registration_of_the_address_one_owns_it,
        delete_user_racing_token_and_factor_writes_leaves_no_token,
        racing_resets_with_one_token_one_wins,
        racing_device_failures_never_exceed_the_limit,
    ],
    second_factor: [
        second_factor_changes_are_compare_and_sets,
        import_keeps_confirmation_and_second_factor,
        racing_use_steps_accept_a_step_once,
        a_recovery_code_used_at_once_is_consumed_once,
        enable_racing_a_new_begin_one_applies,
    ],
    expired: [
        removes_what_is_expired_and_keeps_what_is_live,
    ],
}
