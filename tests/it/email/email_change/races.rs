//! Email changes under concurrency and recovery: a change racing a registration of the address
//! leaves one owner, a token presented concurrently changes once, a pending token dies when the
//! owner recovers the account.

use super::*;

/// An email change and a registration of the new address, started together, many rounds,
/// with confirmation off (the change made at once) and on (the token redeemed racing the
/// registration): never two accounts with one address; the loser is refused (409 for the
/// change, 400 for the registration) and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_change_racing_a_registration_of_the_address_leaves_one_owner() {
    for confirming in [false, true] {
        let config = unthrottled(hardened_config()).with_email_confirmation(confirming);
        let mut site = Site::new(config).await;
        let (mut changes, mut registrations) = (0, 0);
        for round in 0..16u32 {
            let email = format!("bob{round}@example.com");
            let wanted = format!("wanted{round}@example.com");
            site.account(&email).await;
            let bob = site.session(&email).await;
            let token = if confirming {
                let res = change(&site, &bob, GOOD_PW, &wanted).await;
                assert_eq!(res.status, 200, "{}", res.text());
                Some(site.mail.change_token_for(&wanted).await)
            } else {
                None
            };
            let barrier = Arc::new(Barrier::new(2));
            // Redeeming a token is one store write, registering hashes a password first:
            // the redemption starts from 0 to 3.5 ms later, so that either can win.
            let stagger = Duration::from_micros(500 * u64::from(round % 8));
            let change_it = async {
                barrier.wait().await;
                match &token {
                    Some(token) => {
                        tokio::time::sleep(stagger).await;
                        confirm_change(&site, token, &bob).await
                    }
                    None => change(&site, &bob, GOOD_PW, &wanted).await,
                }
            };
            let register_it = async {
                barrier.wait().await;
                site.register(&wanted, OTHER_PW).await
            };
            let (changed, registered) = tokio::join!(change_it, register_it);
            let owner = account(&site, &wanted).await.expect("one of them has it");
            let bob_now = account(&site, &email).await;
            match (changed.status.as_u16(), registered.status.as_u16()) {
                (200, 400) => {
                    changes += 1;
                    assert!(bob_now.is_none(), "round {round}: bob kept his old address");
                    assert_eq!(site.app_user(&bob).await["id"], owner.id.0);
                    assert_eq!(registered.json()["message"], "email already registered");
                }
                (409, 200) => {
                    registrations += 1;
                    let bob_now = bob_now.expect("bob unchanged");
                    assert_ne!(bob_now.id, owner.id, "round {round}");
                    assert_eq!(site.app_user(&bob).await["email"], email);
                }
                other => panic!(
                    "round {round} (confirming: {confirming}): {other:?}: {} / {}",
                    changed.text(),
                    registered.text()
                ),
            }
            // Drain what the round sent: the confirmation of a registration that won, the
            // notice of a change that won.
            site.mail.drain().await;
        }
        eprintln!(
            "confirming: {confirming}: {changes} changes and {registrations} registrations won"
        );
    }
}

/// One change token presented by eight requests at once, many rounds: exactly one makes the
/// change, and the old address is told once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_token_presented_concurrently_changes_once() {
    let mut site = Site::new(unthrottled(hardened_config()).with_email_confirmation(true)).await;
    for round in 0..10 {
        let email = format!("bob{round}@example.com");
        let wanted = format!("robert{round}@example.com");
        site.account(&email).await;
        let bob = site.session(&email).await;
        assert_eq!(change(&site, &bob, GOOD_PW, &wanted).await.status, 200);
        let token = site.mail.change_token_for(&wanted).await;
        let answers = at_once(8, || async {
            confirm_change(&site, &token, "").await.status.as_u16()
        })
        .await;
        let changed = answers.iter().filter(|&&s| s == 200).count();
        assert_eq!(changed, 1, "round {round}: {answers:?}");
        assert!(
            answers.iter().all(|s| [200, 403].contains(s)),
            "{answers:?}"
        );
        assert_eq!(
            site.mail.next().await,
            Mail::EmailChanged {
                to: email.clone(),
                new_email: wanted.clone()
            }
        );
        site.mail.assert_nothing_more().await;
        assert_eq!(site.app_user(&bob).await["email"], wanted.as_str());
    }
}

/// Issue 21, section 1: a pending email-change token, asked for by a thief who held a
/// session and the password, no longer moves the account once the owner changes the
/// password, resets it, or turns the second factor on or off: each is a change of
/// credentials that kills every token issued before it. The account keeps the owner's
/// address and the thief's address gets no account.
#[tokio::test]
async fn a_pending_change_token_dies_when_the_owner_recovers_the_account() {
    let config = hardened_config()
        .with_email_confirmation(true)
        .with_secret_key(SecretKey::from_bytes([0x42; 32]));
    let mut site = Site::new(unthrottled(config)).await;
    let recoveries = [
        Recovery::PasswordChange,
        Recovery::Reset,
        Recovery::FactorOn,
        Recovery::FactorOff,
    ];
    for (n, recovery) in recoveries.into_iter().enumerate() {
        let email = format!("owner{n}@example.com");
        let thiefs = format!("thief{n}@evil.example");
        site.account(&email).await;
        let owner = site.session(&email).await;
        // The thief's session: the password, logged in (or a cookie taken).
        let thief = site.session(&email).await;
        let codes = match recovery {
            Recovery::FactorOff => {
                let codes = second_factor::enable(&site.server.http, &owner, step(&site))
                    .await
                    .1;
                site.mail.notice_for(&email, "second factor enabled").await;
                codes
            }
            _ => Vec::new(),
        };
        let res = change(&site, &thief, GOOD_PW, &thiefs).await;
        assert_ok(&res, &json!({"email": thiefs, "message": SENT}));
        let token = site.mail.change_token_for(&thiefs).await;

        let res = match recovery {
            Recovery::PasswordChange => site.change_password(&owner, OTHER_PW).await,
            Recovery::Reset => {
                let reset = site.reset_token(&email).await;
                site.reset(&email, &reset, OTHER_PW).await
            }
            Recovery::FactorOn => {
                site.harness.advance(Duration::from_secs(30));
                let secret = second_factor::begin(&site.server.http, &owner).await;
                let code = code_at(&secret, step(&site));
                second_factor::confirm(&site.server.http, &owner, &code).await
            }
            Recovery::FactorOff => site.remove_factor(&owner, &codes[0]).await,
        };
        assert_eq!(res.status, 200, "{recovery:?}: {}", res.text());

        assert_invalid_token(&confirm_change(&site, &token, "").await);
        assert_invalid_token(&confirm_change(&site, &token, &thief).await);
        let user = account(&site, &email).await;
        assert!(user.is_some(), "{recovery:?}: the account moved");
        assert!(
            account(&site, &thiefs).await.is_none(),
            "{recovery:?}: the thief's address has an account"
        );
        site.mail.drain().await;
    }
}
