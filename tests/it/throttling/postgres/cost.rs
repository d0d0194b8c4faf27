//! What the shared throttle costs a failed login (an `#[ignore]`d measurement).

use crate::support;
use std::time::Instant;
use tower_user_auth::{Auth, ThrottleConfig};

use super::ip;

/// What the shared throttle costs a failed login: medians of failed logins on one `PgStore`
/// with the throttle in memory and with the shared one (in PostgreSQL), interleaved, at bcrypt
/// cost 4 (the throttle's cost stands out) and 12 (in context). Prints the figures; asserts
/// nothing about time. Run it with
/// `cargo test --release --all-features --test it -- --ignored --nocapture failed_login_cost`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run on purpose (BENCHMARKS.md); .ci/run runs it short with FAILED_LOGIN_SAMPLES=20"]
async fn failed_login_cost() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some(db) = support::postgres::database().await else {
        return;
    };
    // `FAILED_LOGIN_SAMPLES` shortens the run (CI's smoke run of this measurement).
    let samples: usize = std::env::var("FAILED_LOGIN_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    for (cost, samples) in [(4, samples), (12, (samples / 10).max(2))] {
        // Generous ceilings so that no attempt is held back: every sample is a failed login.
        let throttle = ThrottleConfig::default()
            .with_free_failures(1_000_000)
            .with_failure_ceilings(1_000_000, 1_000_000);
        let config = support::hardened_config()
            .with_bcrypt_cost(cost)
            .with_throttle(throttle);
        let store = memory_throttle::MemoryThrottle(db.store().await);
        let memory = Auth::new(store, config.clone()).unwrap();
        let shared = Auth::new(db.store().await, config).unwrap();
        let email = format!("cost{cost}@example.com");
        memory
            .register(&email, support::GOOD_PW, None)
            .await
            .unwrap();
        let (mut m, mut p) = (Vec::new(), Vec::new());
        for i in 0..samples + 10 {
            let client = ip(&format!("10.{}.{}.1", i / 250, i % 250));
            let t = Instant::now();
            assert!(
                memory
                    .log_in(&email, "wrong guess", client)
                    .await
                    .unwrap()
                    .is_none()
            );
            let tm = t.elapsed();
            let t = Instant::now();
            assert!(
                shared
                    .log_in(&email, "wrong guess", client)
                    .await
                    .unwrap()
                    .is_none()
            );
            let tp = t.elapsed();
            if i >= 10 {
                m.push(tm);
                p.push(tp);
            }
        }
        let (m, p) = (support::median(m), support::median(p));
        println!(
            "figure: failed login p50 (bcrypt cost {cost}, {samples} samples) in-memory={:.3} ms pg={:.3} ms (+{:.3} ms)",
            m.as_secs_f64() * 1e3,
            p.as_secs_f64() * 1e3,
            (p.as_secs_f64() - m.as_secs_f64()) * 1e3,
        );
    }
}

/// `PgStore` without its shared throttle (the trait's default: limits in memory), for
/// [`failed_login_cost`]: the same store, the throttle in memory or shared.
mod memory_throttle {
    use std::time::SystemTime;

    use tower_user_auth::{
        StoreError, User, UserId,
        store::{
            AccountVersion, CachePolicy, CacheSubscriber, DeviceRecord, EmailRedeemed,
            EmailTokenRecord, EndSessions, ImportedUser, ListedUser, PasswordReset, PgStore,
            Purged, ResetRecord, SecondFactorChange, SecondFactorRecord, SessionEntry,
            SessionRecord, UserQuery, UserUpdate, VerifiedSession, prelude::*,
        },
        token::TokenDigest,
    };

    pub struct MemoryThrottle(pub PgStore);

    impl UserStore for MemoryThrottle {
        async fn add_user(&self, email: &str, hashed_password: &str) -> Result<User, StoreError> {
            self.0.add_user(email, hashed_password).await
        }

        async fn find_user_by(&self, query: UserQuery) -> Result<User, StoreError> {
            self.0.find_user_by(query).await
        }

        async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User, StoreError> {
            self.0.update_user(id, update).await
        }

        async fn list_users(
            &self,
            after: Option<UserId>,
            limit: usize,
        ) -> Result<Vec<ListedUser>, StoreError> {
            self.0.list_users(after, limit).await
        }

        async fn import_user(&self, user: ImportedUser) -> Result<User, StoreError> {
            self.0.import_user(user).await
        }

        async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
            self.0.delete_user(id).await
        }

        async fn delete_user_verified(
            &self,
            id: UserId,
            verified: VerifiedSession,
        ) -> Result<(), StoreError> {
            self.0.delete_user_verified(id, verified).await
        }

        async fn rehash_password(
            &self,
            id: UserId,
            verified_hash: String,
            new_hash: String,
        ) -> Result<bool, StoreError> {
            self.0.rehash_password(id, verified_hash, new_hash).await
        }

        async fn add_unconfirmed_user(
            &self,
            email: &str,
            hash: &str,
            t: TokenDigest,
            r: EmailTokenRecord,
            stale: SystemTime,
        ) -> Result<User, StoreError> {
            self.0.add_unconfirmed_user(email, hash, t, r, stale).await
        }

        async fn contest_unconfirmed(&self, email: &str) -> Result<bool, StoreError> {
            self.0.contest_unconfirmed(email).await
        }
    }

    impl SessionStore for MemoryThrottle {
        async fn insert_session(
            &self,
            token: TokenDigest,
            session: SessionRecord,
            max_per_user: Option<usize>,
        ) -> Result<(), StoreError> {
            self.0.insert_session(token, session, max_per_user).await
        }

        async fn session(&self, token: TokenDigest) -> Result<Option<SessionEntry>, StoreError> {
            self.0.session(token).await
        }

        async fn touch_session(
            &self,
            token: TokenDigest,
            last_seen: SystemTime,
        ) -> Result<(), StoreError> {
            self.0.touch_session(token, last_seen).await
        }

        async fn delete_session(&self, token: TokenDigest) -> Result<bool, StoreError> {
            self.0.delete_session(token).await
        }

        async fn sessions_of(
            &self,
            id: UserId,
        ) -> Result<Vec<(TokenDigest, SessionRecord)>, StoreError> {
            self.0.sessions_of(id).await
        }

        async fn delete_sessions_of(
            &self,
            id: UserId,
            which: EndSessions,
        ) -> Result<usize, StoreError> {
            self.0.delete_sessions_of(id, which).await
        }
    }

    impl TokenStore for MemoryThrottle {
        async fn replace_reset_token(
            &self,
            token: TokenDigest,
            record: ResetRecord,
            read: AccountVersion,
        ) -> Result<(), StoreError> {
            self.0.replace_reset_token(token, record, read).await
        }

        async fn reset_token(&self, token: TokenDigest) -> Result<Option<ResetRecord>, StoreError> {
            self.0.reset_token(token).await
        }

        async fn reset_password(&self, reset: PasswordReset) -> Result<User, StoreError> {
            self.0.reset_password(reset).await
        }

        async fn replace_email_token(
            &self,
            t: TokenDigest,
            r: EmailTokenRecord,
            read: AccountVersion,
        ) -> Result<(), StoreError> {
            self.0.replace_email_token(t, r, read).await
        }

        async fn email_token(
            &self,
            t: TokenDigest,
        ) -> Result<Option<EmailTokenRecord>, StoreError> {
            self.0.email_token(t).await
        }

        async fn redeem_email_token(
            &self,
            t: TokenDigest,
            now: SystemTime,
        ) -> Result<EmailRedeemed, StoreError> {
            self.0.redeem_email_token(t, now).await
        }

        async fn confirm_with_new_password(
            &self,
            t: TokenDigest,
            now: SystemTime,
            hash: String,
        ) -> Result<User, StoreError> {
            self.0.confirm_with_new_password(t, now, hash).await
        }

        async fn insert_device_token(
            &self,
            token: TokenDigest,
            record: DeviceRecord,
            max_per_user: usize,
        ) -> Result<(), StoreError> {
            self.0
                .insert_device_token(token, record, max_per_user)
                .await
        }

        async fn device_token(
            &self,
            token: TokenDigest,
        ) -> Result<Option<DeviceRecord>, StoreError> {
            self.0.device_token(token).await
        }

        async fn record_device_failure(
            &self,
            token: TokenDigest,
            user: UserId,
            limit: u32,
        ) -> Result<Option<u32>, StoreError> {
            self.0.record_device_failure(token, user, limit).await
        }

        async fn reset_device_failures(&self, token: TokenDigest) -> Result<bool, StoreError> {
            self.0.reset_device_failures(token).await
        }

        async fn delete_device_tokens_of(&self, id: UserId) -> Result<usize, StoreError> {
            self.0.delete_device_tokens_of(id).await
        }
    }

    impl SecondFactorStore for MemoryThrottle {
        async fn second_factor(
            &self,
            id: UserId,
        ) -> Result<Option<SecondFactorRecord>, StoreError> {
            self.0.second_factor(id).await
        }

        async fn update_second_factor(
            &self,
            id: UserId,
            change: SecondFactorChange,
        ) -> Result<bool, StoreError> {
            self.0.update_second_factor(id, change).await
        }
    }

    impl ExpiredDeletion for MemoryThrottle {
        async fn purge_expired(
            &self,
            now: SystemTime,
            idle_before: SystemTime,
            unconfirmed_before: SystemTime,
        ) -> Result<Purged, StoreError> {
            self.0
                .purge_expired(now, idle_before, unconfirmed_before)
                .await
        }
    }

    impl SharedThrottling for MemoryThrottle {}

    /// The PostgreSQL store's own caches, fed by its notifications.
    impl ChangeNotifications for MemoryThrottle {
        fn cache_policy(&self) -> Option<CachePolicy> {
            self.0.cache_policy()
        }
        fn subscribe(&self, subscriber: CacheSubscriber) {
            self.0.subscribe(subscriber);
        }
    }
}
