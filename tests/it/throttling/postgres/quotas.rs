//! Shared quotas: registrations, reset requests, email-change mail and the taken-or-free
//! answer, counted over every instance.

use crate::support;
use std::{sync::Arc, time::Duration};
use tower_user_auth::auth::Login;
use tower_user_auth::{
    Auth, AuthError, ThrottleConfig,
    store::{PgStore, UserQuery, UserUpdate, prelude::*},
};

use super::{ip, two_instances};

/// The registration quota per client and the reset-request quotas per email and per client
/// count requests on both instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_registration_and_reset_request_quotas() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let throttle = ThrottleConfig::default()
        .with_registrations_per_hour(3)
        .with_reset_requests_per_hour(2, 3);
    let (a, b, clock) =
        two_instances(&db, support::hardened_config().with_throttle(throttle)).await;
    let pw = support::GOOD_PW;
    let c1 = ip("192.0.2.1");
    a.register("r1@example.com", pw, c1).await.unwrap();
    b.register("r2@example.com", pw, c1).await.unwrap();
    a.register("r3@example.com", pw, c1).await.unwrap();
    for on in [&a, &b] {
        let refused = on.register("r4@example.com", pw, c1).await;
        assert!(
            matches!(refused, Err(AuthError::Throttled { .. })),
            "{refused:?}"
        );
    }
    // Refused requests were not counted: another address registers, and an hour later
    // the first one can again, three times.
    b.register("r4@example.com", pw, ip("192.0.2.2"))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(3600));
    for (i, on) in [&a, &b, &a].into_iter().enumerate() {
        on.register(&format!("later{i}@example.com"), pw, c1)
            .await
            .unwrap();
    }

    let reset = |on: &Auth<PgStore>, email: &'static str, client: &'static str| {
        let on = on.clone();
        async move {
            match on.request_password_reset(email, ip(client)).await {
                Ok(_) => true,
                Err(AuthError::Throttled { .. }) => false,
                Err(e) => panic!("reset request: {e}"),
            }
        }
    };
    // Per email: 2 an hour, from any address, through either instance.
    assert!(reset(&a, "r1@example.com", "192.0.2.1").await);
    assert!(reset(&b, "r1@example.com", "192.0.2.2").await);
    assert!(!reset(&a, "r1@example.com", "192.0.2.3").await);
    assert!(!reset(&b, "R1@Example.com", "192.0.2.4").await);
    // Per client: 3 an hour (r1's two from 192.0.2.1 and .2 count one each).
    assert!(reset(&b, "r2@example.com", "192.0.2.1").await);
    assert!(reset(&a, "r3@example.com", "192.0.2.1").await);
    assert!(!reset(&b, "r4@example.com", "192.0.2.1").await);
    assert!(!reset(&a, "nobody@example.com", "192.0.2.1").await);
}

/// The email-change quotas count on both instances: the tokens sent to one address (2 an
/// hour here, whatever the spelling) and the taken-or-free answers to one client
/// (registration's quota, 4 an hour here); past either, 429 and nothing sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_email_change_mail_and_oracle_quotas() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hook = {
        let sent = Arc::clone(&sent);
        move |_: &str, message: &tower_user_auth::hook::Mail| {
            if let tower_user_auth::hook::Mail::EmailChange(_) = message {
                sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            Ok::<(), tower_user_auth::BoxError>(())
        }
    };
    let throttle = ThrottleConfig::default()
        .with_registrations_per_hour(4)
        .with_reset_requests_per_hour(2, 20);
    let config = support::hardened_config()
        .with_throttle(throttle)
        .with_email_confirmation(true)
        .with_mailer(hook)
        // The session outlives the hour the test waits.
        .with_session_idle_timeout(Duration::from_secs(2 * 3600));
    let (a, b, clock) = two_instances(&db, config).await;
    let pw = support::GOOD_PW;
    for email in ["bob@example.com", "ann@example.com"] {
        a.register(email, pw, None).await.unwrap();
        let id = a
            .store()
            .find_user_by(UserQuery::Email(email.into()))
            .await
            .unwrap()
            .id;
        a.store()
            .update_user(id, UserUpdate::default().email_confirmed(true))
            .await
            .unwrap();
    }
    let session = a
        .log_in(Login::new("bob@example.com", pw))
        .await
        .unwrap()
        .unwrap()
        .token;
    let change = |on: &Auth<PgStore>, to: &'static str, client: &'static str| {
        let (on, session) = (on.clone(), session.clone());
        async move {
            match on.change_email(&session, pw, to, None, ip(client)).await {
                Ok(_) => "sent",
                Err(AuthError::EmailTaken(_)) => "taken",
                Err(AuthError::Throttled { .. }) => "throttled",
                Err(e) => panic!("change to {to}: {e}"),
            }
        }
    };
    assert_eq!(change(&a, "t@example.org", "192.0.2.1").await, "sent");
    assert_eq!(change(&b, " T@Example.org", "192.0.2.2").await, "sent");
    assert_eq!(change(&a, "t@EXAMPLE.ORG", "192.0.2.3").await, "throttled");
    assert_eq!(change(&b, "t@example.org", "192.0.2.4").await, "throttled");
    // Per client: 4 answers an hour, taken or free, through either instance.
    let c = "198.51.100.9";
    assert_eq!(change(&a, "ann@example.com", c).await, "taken");
    assert_eq!(change(&b, "ANN@example.com", c).await, "taken");
    assert_eq!(change(&a, "free1@example.org", c).await, "sent");
    assert_eq!(change(&b, "free2@example.org", c).await, "sent");
    assert_eq!(change(&a, "ann@example.com", c).await, "throttled");
    assert_eq!(change(&b, "free3@example.org", c).await, "throttled");
    assert_eq!(
        change(&b, "ann@example.com", "198.51.100.10").await,
        "taken"
    );
    clock.advance(Duration::from_secs(3600));
    assert_eq!(change(&b, "t@example.org", c).await, "sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 5);
}
