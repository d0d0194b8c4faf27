//! The quotas of an email change (issue 21, section 5): the tokens it sends to the address
//! it names are bounded per address, whatever the spelling, the account and the client; the
//! taken-or-free answer is bounded per client by registration's quota.

use std::time::Duration;

use tower_user_auth::{AuthError, auth::Login};

use crate::{
    email::{
        Site, assert_4xx, assert_refused,
        email_change::{account, change},
        mail::Mail,
    },
    support::{GOOD_PW, hardened_config},
};

/// How many email-change tokens reached the mailbox (waiting until nothing more comes).
async fn change_tokens_sent(site: &mut Site) -> usize {
    let mut sent = 0;
    while let Ok(mail) =
        tokio::time::timeout(Duration::from_millis(300), site.mail.next_or_closed()).await
    {
        match mail {
            Some(Mail::EmailChange { .. }) => sent += 1,
            Some(_) => {}
            None => break,
        }
    }
    sent
}

/// One account asking 30 changes to one address it does not own, spelled in several ways:
/// at most 5 tokens go there (the per-address quota of reset requests), every further
/// request is 429 with `Retry-After` and sends nothing; an hour later the address gets mail
/// again.
#[tokio::test]
async fn change_tokens_to_one_address_are_bounded_whatever_the_spelling() {
    let mut site = Site::confirming().await;
    site.account("bob@example.com").await;
    let bob = site.session("bob@example.com").await;
    let spellings = [
        "victim@example.org",
        "Victim@Example.org",
        " VICTIM@EXAMPLE.ORG ",
    ];
    let mut answered = Vec::new();
    for i in 0..30 {
        let res = change(&site, &bob, GOOD_PW, spellings[i % spellings.len()]).await;
        if res.status == 429 {
            assert!(res.retry_after().is_some_and(|s| s > 0), "{res:?}");
        }
        answered.push(res.status.as_u16());
    }
    let sent = change_tokens_sent(&mut site).await;
    assert!(sent <= 5, "{sent} tokens went to one address: {answered:?}");
    assert_eq!(answered[..5], [200; 5], "{answered:?}");
    assert!(answered[5..].iter().all(|s| *s == 429), "{answered:?}");
    site.harness.advance(Duration::from_secs(3600));
    // The session idled out meanwhile.
    let bob = site.session("bob@example.com").await;
    assert_eq!(
        change(&site, &bob, GOOD_PW, "victim@example.org")
            .await
            .status,
        200
    );
    assert_eq!(change_tokens_sent(&mut site).await, 1);
}

/// The per-address quota holds across accounts and client addresses: five accounts, each
/// from its own address, share the address's 5 an hour.
#[tokio::test]
async fn change_tokens_to_one_address_are_bounded_across_accounts_and_clients() {
    let mut site = Site::confirming().await;
    let auth = site.harness.auth.clone();
    let mut sessions = Vec::new();
    for i in 0..5 {
        let email = format!("user{i}@example.com");
        site.account(&email).await;
        let login = auth.log_in(Login::new(&email, GOOD_PW)).await;
        sessions.push(login.expect("no error").expect("logged in").token);
    }
    let mut answers = Vec::new();
    for (i, session) in (0u8..).zip(&sessions) {
        for round in 0..2u8 {
            let client = Some(std::net::IpAddr::from([198, 51, 100, 10 * i + round]));
            let to = if round == 0 {
                "victim@example.org"
            } else {
                "VICTIM@example.org"
            };
            let answer = auth.change_email(session, GOOD_PW, to, None, client).await;
            answers.push(match answer {
                Ok(_) => "sent",
                Err(AuthError::Throttled { .. }) => "throttled",
                Err(e) => panic!("change from {client:?}: {e}"),
            });
        }
    }
    let sent = change_tokens_sent(&mut site).await;
    assert_eq!(sent, 5, "{answers:?}");
    assert_eq!(answers.iter().filter(|a| **a == "sent").count(), 5);
}

/// Whether an address is taken (409) or free is told to one client no more often than
/// registration's quota allows (here 3 an hour); past it, 429 with `Retry-After`, taken or
/// free alike. Another client still gets its answers; an hour later this one does again.
#[tokio::test]
async fn the_taken_or_free_answer_is_bounded_per_client_by_the_registration_quota() {
    use tower_user_auth::ThrottleConfig;

    let throttle = ThrottleConfig::default().with_registrations_per_hour(3);
    let mut site = Site::new(hardened_config().with_throttle(throttle)).await;
    let auth = site.harness.auth.clone();
    for email in ["bob@example.com", "ann@example.com"] {
        auth.register(email, GOOD_PW, None)
            .await
            .expect("registered");
    }
    let bob = site.session("bob@example.com").await;
    for taken in ["ann@example.com", "ANN@example.com", "bob@example.com"] {
        assert_refused(
            &change(&site, &bob, GOOD_PW, taken).await,
            409,
            "email already registered",
        );
    }
    for probe in ["ann@example.com", "free@example.com"] {
        let res = change(&site, &bob, GOOD_PW, probe).await;
        assert_4xx(&res, 429);
        assert!(res.retry_after().is_some_and(|s| s > 0), "{res:?}");
    }
    assert_eq!(
        account(&site, "bob@example.com").await.map(|u| u.email),
        Some("bob@example.com".to_owned())
    );
    // Another client is counted apart.
    let session = auth
        .log_in(Login::new("bob@example.com", GOOD_PW))
        .await
        .expect("no error")
        .expect("logged in")
        .token;
    let elsewhere = Some(std::net::IpAddr::from([203, 0, 113, 7]));
    let taken = auth
        .change_email(&session, GOOD_PW, "ann@example.com", None, elsewhere)
        .await;
    assert!(matches!(taken, Err(AuthError::EmailTaken(_))), "{taken:?}");
    site.harness.advance(Duration::from_secs(3600));
    let bob = site.session("bob@example.com").await;
    assert_refused(
        &change(&site, &bob, GOOD_PW, "ann@example.com").await,
        409,
        "email already registered",
    );
    site.mail.drain().await;
}
