//! Fields: missing, empty, duplicated or wrongly named (400) on every route and encoding; a
//! blank email; bad reset tokens (403 whatever the password); refused passwords (400, the
//! token kept).

use std::time::Duration;
use tower_user_auth::compat::SeedApi;

use http::{Method, StatusCode};
use serde_json::json;
use tower_user_auth::{Auth, ManualClock, token::SessionToken};

use super::{
    bob_with_reset_token, form_request, forms, oneshot, send,
    support::{self, Answer, Body, Encoding, assert_error, counts},
};

/// `PUT path` (a reset route) with the three fields as a form.
async fn reset(auth: &Auth, path: &str, email: &str, token: &str, new_password: &str) -> Answer {
    let fields = [
        ("email", email),
        ("reset_token", token),
        ("new_password", new_password),
    ];
    send(auth, Method::PUT, path, "", Body::Form(&fields)).await
}

/// `POST /users` with the two fields as a form.
async fn register(auth: &Auth, email: &str, password: &str) -> Answer {
    let fields = [("email", email), ("password", password)];
    send(auth, Method::POST, "/users", "", Body::Form(&fields)).await
}

#[tokio::test]
async fn missing_empty_and_duplicated_fields_are_400_on_every_route_and_encoding() {
    let (auth, _dir, token, snapshot) = bob_with_reset_token(support::seed_config()).await;
    for (method, path, form) in forms(token.expose()) {
        for enc in Encoding::ALL {
            for (i, (name, value)) in form.iter().enumerate() {
                let others = || {
                    form.iter()
                        .enumerate()
                        .filter(move |(j, _)| *j != i)
                        .map(|(_, (k, v))| (*k, v.as_str()))
                };
                let missing: Vec<(&str, &str)> = others().collect();
                let empty: Vec<(&str, &str)> = others().chain([(*name, "")]).collect();
                let twice: Vec<(&str, &str)> = others()
                    .chain([(*name, value.as_str()), (*name, value.as_str())])
                    .collect();
                let renamed_upper = name.to_uppercase();
                let wrong_case: Vec<(&str, &str)> = others()
                    .chain([(renamed_upper.as_str(), value.as_str())])
                    .collect();
                for (what, fields) in [
                    ("missing", &missing),
                    ("empty", &empty),
                    ("duplicated", &twice),
                    ("wrongly cased name", &wrong_case),
                ] {
                    let a = oneshot(&auth, form_request(method.clone(), path, enc, fields)).await;
                    let label = format!("{method} {path} {enc:?}: {what} {name}");
                    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{label}: {}", a.body);
                    assert_error(&a, StatusCode::BAD_REQUEST);
                    assert!(a.cookie("session_id").is_none(), "{label}");
                    snapshot.check_counts(&auth, &label);
                }
            }
        }
        // No body at all.
        let a = send(&auth, method.clone(), path, "", Body::Empty).await;
        assert_error(&a, StatusCode::BAD_REQUEST);
    }
    snapshot
        .check_with_token(&auth, &token, "after all the refusals")
        .await;
}

#[tokio::test]
async fn an_email_that_is_blank_once_trimmed_is_400_on_every_route() {
    // Emails are trimmed, and an empty field is 400: a blank email is an empty field, on
    // every route alike (not a wrong credential, an unknown account or a bad token).
    let (auth, _dir, token, snapshot) = bob_with_reset_token(support::seed_config()).await;
    let mut wrong = Vec::new();
    for (method, path, form) in forms(token.expose()) {
        for blank in [" \t "] {
            let fields: Vec<(&str, &str)> = form
                .iter()
                .map(|(k, v)| (*k, if *k == "email" { blank } else { v.as_str() }))
                .collect();
            let a = oneshot(
                &auth,
                form_request(method.clone(), path, Encoding::Form, &fields),
            )
            .await;
            if a.status != StatusCode::BAD_REQUEST {
                wrong.push(format!(
                    "{method} {path} email={blank:?}: {} {}",
                    a.status, a.body
                ));
            }
            snapshot.check_counts(&auth, &format!("{method} {path}: blank email"));
        }
    }
    assert!(
        wrong.is_empty(),
        "a blank email must be 400:\n{}",
        wrong.join("\n")
    );
    // A string that is not an address is refused at registration.
    let a = register(&auth, "not-an-email", "pw").await;
    assert_error(&a, StatusCode::BAD_REQUEST);
    snapshot
        .check_with_token(&auth, &token, "after the blank emails")
        .await;
}

#[tokio::test]
async fn a_bad_reset_token_is_403_whatever_the_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(std::time::SystemTime::now());
    let store =
        tower_user_auth::store::RedbStore::open(dir.path().join("auth.redb")).expect("store");
    let auth = Auth::with_clock(store, support::seed_config(), clock.clone())
        .expect("valid configuration");
    // One account per kind of bad token, so that no account sees more than 3 failures.
    let emails = ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io", "f@x.io"];
    for email in emails {
        auth.register_user(email, "pwd").await.expect("register");
    }
    let expired = auth
        .get_reset_password_token("d@x.io")
        .await
        .expect("token");
    clock.advance(Duration::from_secs(2 * 60 * 60));
    let other = auth
        .get_reset_password_token("e@x.io")
        .await
        .expect("token");
    let used = auth
        .get_reset_password_token("c@x.io")
        .await
        .expect("token");
    auth.update_password(used.expose(), "pwd")
        .await
        .expect("reset");
    let live_b = auth
        .get_reset_password_token("b@x.io")
        .await
        .expect("token");
    let unknown = SessionToken::generate();
    let cases = [
        ("a@x.io", unknown.expose().to_owned(), "unknown"),
        ("f@x.io", "not-a-token".to_owned(), "malformed"),
        ("b@x.io", other.expose().to_owned(), "another account's"),
        ("c@x.io", used.expose().to_owned(), "used"),
        ("d@x.io", expired.expose().to_owned(), "expired"),
    ];
    let snapshot = counts(&auth);
    let passwords = ["fine", &"x".repeat(100), "nul\0byte"];
    for (email, token, what) in &cases {
        for pw in passwords {
            let a = reset(&auth, "/reset_password", email, token, pw).await;
            assert_eq!(
                a.status,
                StatusCode::FORBIDDEN,
                "{what} token, password {pw:?}: {}",
                a.body
            );
            assert_error(&a, StatusCode::FORBIDDEN);
        }
    }
    assert_eq!(counts(&auth), snapshot, "nothing changed");
    for email in emails {
        assert!(
            auth.valid_login(email, "pwd").await.expect("verify"),
            "{email}"
        );
    }
    // The live tokens still work for their own accounts.
    for (email, token) in [("e@x.io", &other), ("b@x.io", &live_b)] {
        let a = reset(&auth, "/reset_password/", email, token.expose(), "newpw").await;
        assert_eq!(
            a.json(),
            json!({"email": email, "message": "Password updated"}),
            "{email}"
        );
        assert!(auth.valid_login(email, "newpw").await.expect("verify"));
    }
}

#[tokio::test]
async fn a_valid_token_with_a_refused_password_is_400_and_stays_usable() {
    let (auth, _dir, token, snapshot) = bob_with_reset_token(support::seed_config()).await;
    let too_long = "x".repeat(100);
    let just_over = "y".repeat(73);
    let multibyte = "é".repeat(37); // 37 characters, 74 bytes
    for enc in Encoding::ALL {
        for pw in [
            too_long.as_str(),
            just_over.as_str(),
            multibyte.as_str(),
            "nul\0byte",
            "\0",
        ] {
            let a = oneshot(
                &auth,
                form_request(
                    Method::PUT,
                    "/reset_password",
                    enc,
                    &[
                        ("email", "bob@bob.com"),
                        ("reset_token", token.expose()),
                        ("new_password", pw),
                    ],
                ),
            )
            .await;
            assert_eq!(
                a.status,
                StatusCode::BAD_REQUEST,
                "{enc:?} {pw:?}: {}",
                a.body
            );
            assert_error(&a, StatusCode::BAD_REQUEST);
            let message = a.json()["message"].as_str().map(str::to_owned);
            assert!(
                message.as_deref().is_some_and(|m| m.contains("password")),
                "{enc:?} {pw:?}: the message names the password: {message:?}"
            );
            snapshot.check_counts(&auth, &format!("{enc:?} {pw:?}"));
        }
    }
    // The same passwords are refused at registration.
    for pw in [too_long.as_str(), just_over.as_str(), "nul\0byte"] {
        let a = register(&auth, "new@bob.com", pw).await;
        assert_error(&a, StatusCode::BAD_REQUEST);
    }
    snapshot.check(&auth, "after the refused passwords").await;
    // 72 bytes exactly is the longest accepted; the token was kept for it, and the email
    // matches whatever its case.
    let longest = "z".repeat(72);
    let a = reset(
        &auth,
        "/reset_password",
        "BOB@bob.com",
        token.expose(),
        &longest,
    )
    .await;
    assert_eq!(
        a.json(),
        json!({"email": "BOB@bob.com", "message": "Password updated"})
    );
    assert!(
        auth.valid_login("bob@bob.com", &longest)
            .await
            .expect("verify")
    );
    assert!(
        !auth
            .valid_login("bob@bob.com", "pwd")
            .await
            .expect("verify")
    );
    // And it works once.
    let a = reset(
        &auth,
        "/reset_password",
        "bob@bob.com",
        token.expose(),
        "again",
    )
    .await;
    assert_error(&a, StatusCode::FORBIDDEN);
}

/// Issue 9 P10: an email holding an invisible format character (Unicode category Cf: bidi
/// overrides and isolates, zero-width joiners and spaces, the soft hyphen, a byte-order mark)
/// is 400 on every route that takes an email, in every encoding, and changes nothing.
#[tokio::test]
async fn an_email_with_an_invisible_format_character_is_400_on_every_route() {
    let (auth, _dir, token, snapshot) = bob_with_reset_token(support::seed_config()).await;
    let mut wrong = Vec::new();
    for (method, path, form) in forms(token.expose()) {
        for invisible in [
            '\u{202e}', '\u{2066}', '\u{200d}', '\u{200b}', '\u{ad}', '\u{feff}',
        ] {
            for email in [
                format!("bob{invisible}@bob.com"),
                format!("{invisible}bob@bob.com"),
                format!("bob@bob.com{invisible}"),
            ] {
                let fields: Vec<(&str, &str)> = form
                    .iter()
                    .map(|(k, v)| (*k, if *k == "email" { &email } else { v.as_str() }))
                    .collect();
                for enc in Encoding::ALL {
                    let a = oneshot(&auth, form_request(method.clone(), path, enc, &fields)).await;
                    if a.status != StatusCode::BAD_REQUEST {
                        wrong.push(format!(
                            "{method} {path} {enc:?} email={email:?}: {} {}",
                            a.status, a.body
                        ));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} emails with a format character were not 400:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    snapshot
        .check_with_token(&auth, &token, "after the invisible emails")
        .await;
}
