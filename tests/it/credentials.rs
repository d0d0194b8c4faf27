//! Credential changes under concurrency: a password change, a reset and the re-hash at login
//! each compare-and-set against what the request verified, advance the credential generation
//! that sessions are checked against, and revoke outstanding reset tokens, all in one write
//! transaction (issue 9, properties 1 to 3).
//!
//! The races run over real sockets against a real redb file, many bounded rounds each, so
//! that they are hit on a 2-core machine.

use crate::support;

use std::future::Future;

use http::Method;
use tower_user_auth::{
    Auth, AuthConfig,
    compat::SeedApi,
    store::{RedbStore, UserUpdate, prelude::*},
};

use support::{
    Answer, Body, GOOD_PW, Harness, OTHER_PW, Server, cookie_header, hardened_config, seed_config,
    serve_echo, unthrottled,
};

/// `POST /sessions` over the socket.
async fn login(server: &Server, email: &str, password: &str) -> Answer {
    let body = Body::Form(&[("email", email), ("password", password)]);
    server.http.post("/sessions", body).await
}

/// `PUT /reset_password` over the socket.
async fn reset(server: &Server, email: &str, token: &str, password: &str) -> Answer {
    let fields = [
        ("email", email),
        ("reset_token", token),
        ("new_password", password),
    ];
    server
        .http
        .put("/reset_password", Body::Form(&fields))
        .await
}

/// `PUT /profile/password` over the socket with the session cookie.
async fn change(server: &Server, cookie: &str, current: &str, new: &str) -> Answer {
    let fields = [("current_password", current), ("new_password", new)];
    let headers = cookie_header(cookie);
    server
        .http
        .send(
            Method::PUT,
            "/profile/password",
            &headers,
            Body::Form(&fields),
        )
        .await
}

/// The `Cookie` header (`session_id=...`) of a login's answer, if it logged in.
fn cookie(login: &Answer) -> Option<String> {
    login.session_cookie().map(|v| format!("session_id={v}"))
}

/// The `Cookie` headers of the logins that answered 200.
fn cookies(answers: &[Answer]) -> Vec<String> {
    answers.iter().filter_map(cookie).collect()
}

/// Eight logins to `email` with `password` racing `rival` (a reset or a password change):
/// the `Cookie` headers of the logins that succeeded, and the rival's answer.
async fn logins_racing(
    server: &Server,
    email: &str,
    password: &str,
    rival: impl Future<Output = Answer>,
) -> (Vec<String>, Answer) {
    let logins = futures_util::future::join_all((0..8).map(|_| login(server, email, password)));
    let (logins, rival) = tokio::join!(logins, rival);
    (cookies(&logins), rival)
}

/// How many of `cookies` still name a live session.
async fn live(server: &Server, cookies: &[String]) -> usize {
    let mut live = 0;
    for cookie in cookies {
        if server.http.get("/profile", cookie).await.status == 200 {
            live += 1;
        }
    }
    live
}

/// Property 1: a login that re-hashes an old-cost hash must not put the old password back
/// after a concurrent reset. Accounts are made at cost 4 and logged into at cost 8, each
/// round racing the login's re-hash against a reset with a token issued beforehand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_rehash_racing_a_reset_never_puts_the_old_password_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path().join("auth.redb")).unwrap();
    let low = Auth::new(store.clone(), unthrottled(seed_config())).unwrap();
    let config = unthrottled(AuthConfig::compat().with_bcrypt_cost(8));
    let auth = Auth::new(store, config).unwrap();
    let server = serve_echo(&auth).await;
    let mut old_back = Vec::new();
    for round in 0..12 {
        let email = format!("rehash{round}@example.com");
        low.register_user(&email, "old-password").await.unwrap();
        let token = auth.get_reset_password_token(&email).await.unwrap();
        let (_, reset) = tokio::join!(
            login(&server, &email, "old-password"),
            reset(&server, &email, token.expose(), "new-password"),
        );
        assert_eq!(reset.status, 200, "round {round}: {}", reset.text());
        let new_works = auth.valid_login(&email, "new-password").await.unwrap();
        let old_works = auth.valid_login(&email, "old-password").await.unwrap();
        if old_works || !new_works {
            old_back.push(round);
        }
    }
    assert!(
        old_back.is_empty(),
        "the reset was answered 200 but the old password is back in rounds {old_back:?}"
    );
}

/// Property 1: of a dozen concurrent password changes with the right current password,
/// exactly one is told "Password changed" and its password is the one that works; the
/// others get 409 (or 403 if they read the account after the winner changed it). A 409 is
/// not a failure for throttling (which is on here, as in the hardened profile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_password_changes_exactly_one_succeeds_and_holds() {
    let config = AuthConfig::hardened().with_bcrypt_cost(8);
    let (auth, _dir) = support::auth(config);
    let server = serve_echo(&auth).await;
    for round in 0..3 {
        let email = format!("changes{round}@example.com");
        auth.register_user(&email, GOOD_PW).await.unwrap();
        let cookie = cookie(&login(&server, &email, GOOD_PW).await).expect("logged in");
        let news: Vec<String> = (0..12)
            .map(|i| format!("new password number {i}"))
            .collect();
        let answers = futures_util::future::join_all(
            news.iter()
                .map(|new| change(&server, &cookie, GOOD_PW, new)),
        )
        .await;
        let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
        let winners: Vec<usize> = (0..12).filter(|&i| statuses[i] == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: statuses {statuses:?}");
        assert!(
            statuses.iter().all(|s| [200, 403, 409].contains(s)),
            "round {round}: statuses {statuses:?}"
        );
        assert!(statuses.contains(&409), "round {round}: {statuses:?}");
        for a in answers.iter().filter(|a| a.status == 409) {
            assert!(a.json()["message"].is_string(), "{}", a.text());
        }
        for (i, new) in news.iter().enumerate() {
            let works = auth.valid_login(&email, new).await.unwrap();
            assert_eq!(works, i == winners[0], "round {round}: password {i}");
        }
        // The changer's session survives its own change.
        assert_eq!(server.http.get("/profile", &cookie).await.status, 200);
        // Five failures start the backoff: the 403s are failures, the 409s are not, so
        // after enough wrong guesses to make four failures the winner's password works.
        let refused = statuses.iter().filter(|&&s| s == 403).count();
        for _ in refused..4 {
            assert_eq!(login(&server, &email, "wrong guess").await.status, 401);
        }
        let res = login(&server, &email, &news[winners[0]]).await;
        assert_eq!(res.status, 200, "round {round}: {}", res.text());
    }
}

/// Property 2: logins with the old password racing a reset that ends sessions (hardened)
/// leave no session behind, including the ones being created at that moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_racing_a_reset_leave_no_session_made_with_the_old_password() {
    let config = unthrottled(hardened_config().with_bcrypt_cost(6));
    let (auth, _dir) = support::auth(config);
    let server = serve_echo(&auth).await;
    let mut survivors = Vec::new();
    for round in 0..10 {
        let email = format!("reset-race{round}@example.com");
        auth.register_user(&email, GOOD_PW).await.unwrap();
        let token = auth.get_reset_password_token(&email).await.unwrap();
        let rival = reset(&server, &email, token.expose(), OTHER_PW);
        let (cookies, reset) = logins_racing(&server, &email, GOOD_PW, rival).await;
        assert_eq!(reset.status, 200, "{}", reset.text());
        if live(&server, &cookies).await > 0 {
            survivors.push(round);
        }
    }
    assert!(
        survivors.is_empty(),
        "sessions made with the old password survived the reset in rounds {survivors:?}"
    );
}

/// Property 2: logins with the old password racing a password change leave only the
/// changer's session, which keeps its id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_racing_a_password_change_leave_only_the_changers_session() {
    let config = unthrottled(hardened_config().with_bcrypt_cost(6));
    let (auth, _dir) = support::auth(config);
    let server = serve_echo(&auth).await;
    let mut survivors = Vec::new();
    for round in 0..16 {
        let email = format!("change-race{round}@example.com");
        auth.register_user(&email, GOOD_PW).await.unwrap();
        let mine = cookie(&login(&server, &email, GOOD_PW).await).expect("logged in");
        let rival = change(&server, &mine, GOOD_PW, OTHER_PW);
        let (cookies, changed) = logins_racing(&server, &email, GOOD_PW, rival).await;
        assert_eq!(changed.status, 200, "{}", changed.text());
        assert_eq!(live(&server, std::slice::from_ref(&mine)).await, 1);
        if live(&server, &cookies).await > 0 {
            survivors.push(round);
        }
    }
    assert!(
        survivors.is_empty(),
        "sessions made with the old password survived the change in rounds {survivors:?}"
    );
}

/// Property 3: a reset token requested before a password change no longer resets the
/// password afterwards, in both profiles.
#[tokio::test]
async fn a_password_change_revokes_outstanding_reset_tokens_in_both_profiles() {
    for h in [Harness::seed(), Harness::hardened()] {
        h.registered("owner@example.com", GOOD_PW).await;
        let token = h
            .auth
            .get_reset_password_token("owner@example.com")
            .await
            .unwrap();
        let cookie = h.session("owner@example.com", GOOD_PW).await;
        let changed = h.change_password(&cookie, GOOD_PW, OTHER_PW).await;
        assert_eq!(changed.status, 200, "{}", changed.text());
        let res = h
            .reset("owner@example.com", token.expose(), "attacker's password")
            .await;
        assert_eq!(
            res.status,
            403,
            "the stale token still reset: {}",
            res.text()
        );
        assert_eq!(h.login("owner@example.com", OTHER_PW).await.status, 200);
        assert_eq!(h.counts().2, 0, "the token is gone from the store");
    }
}

/// Property 3: a change of email through the store revokes the reset token too.
#[tokio::test]
async fn an_email_change_revokes_outstanding_reset_tokens() {
    let h = Harness::seed();
    let id = h.registered("old@example.com", GOOD_PW).await;
    let token = h
        .auth
        .get_reset_password_token("old@example.com")
        .await
        .unwrap();
    h.store
        .update_user(id, UserUpdate::new().email("new@example.com"))
        .await
        .unwrap();
    let res = h
        .reset("new@example.com", token.expose(), "attacker's password")
        .await;
    assert_eq!(res.status, 403, "{}", res.text());
    assert_eq!(h.counts().2, 0);
}

/// Property 3, a reset request in flight: a request that read the account before an email
/// change and stores its token after it must not leave a working token (it would reach the
/// old address). Either the request fails (the old email names no account any more) or its
/// token does not reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_request_racing_an_email_change_leaves_no_working_token() {
    let h = Harness::new(unthrottled(seed_config()));
    let mut working = Vec::new();
    for round in 0..40 {
        let old = format!("old{round}@example.com");
        let new = format!("new{round}@example.com");
        let id = h.registered(&old, GOOD_PW).await;
        let barrier = tokio::sync::Barrier::new(2);
        let (token, changed) = tokio::join!(
            async {
                barrier.wait().await;
                h.auth.get_reset_password_token(&old).await
            },
            async {
                barrier.wait().await;
                h.store
                    .update_user(id, UserUpdate::new().email(new.as_str()))
                    .await
            },
        );
        changed.expect("the email change");
        if let Ok(token) = token {
            let res = h.reset(&new, token.expose(), "attacker's password").await;
            if res.status == 200 {
                working.push(round);
            }
        }
    }
    assert!(
        working.is_empty(),
        "a token requested for the old email still reset the account in rounds {working:?}"
    );
}

/// Property 2, the session that authorises a password change: a change whose session was
/// ended (logout, "end all sessions" from another device) while its passwords were being
/// checked changes nothing, so a revoked session cannot take the account over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_whose_session_ended_meanwhile_changes_nothing() {
    // Each change verifies and hashes at cost 8 before it writes: a window of several
    // milliseconds in which every session of the user is ended.
    let h = Harness::new(unthrottled(AuthConfig::hardened().with_bcrypt_cost(8)));
    let id = h.registered("owner@example.com", GOOD_PW).await;
    let mut changed = Vec::new();
    for round in 0..8 {
        let cookie = h.session("owner@example.com", GOOD_PW).await;
        let started = std::time::Instant::now();
        let (change, ended_at) =
            tokio::join!(h.change_password(&cookie, GOOD_PW, OTHER_PW), async {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                h.auth.end_all_sessions(id, None).await.expect("end all");
                started.elapsed()
            },);
        let took = started.elapsed();
        // Only rounds where the sessions were surely ended before the change wrote count:
        // the change still had at least half of its work to do.
        if change.status == 200 && ended_at < took / 2 {
            changed.push((round, ended_at, took));
            // Put the password back for the next round.
            let cookie = h.session("owner@example.com", OTHER_PW).await;
            assert_eq!(
                h.change_password(&cookie, OTHER_PW, GOOD_PW).await.status,
                200
            );
        }
    }
    assert!(
        changed.is_empty(),
        "a session ended before the change wrote still changed the password: {changed:?}"
    );
}

/// A login racing the deletion of its account answers 200 (it won: its session then ends
/// with the account) or 401, never a 500, and leaves no session behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_racing_the_deletion_of_its_account_is_200_or_401() {
    let h = Harness::new(unthrottled(seed_config()));
    let mut wrong = Vec::new();
    for round in 0..40 {
        let email = format!("gone{round}@example.com");
        let id = h.registered(&email, GOOD_PW).await;
        let barrier = tokio::sync::Barrier::new(2);
        let (login, deleted) = tokio::join!(
            async {
                barrier.wait().await;
                h.login(&email, GOOD_PW).await
            },
            async {
                barrier.wait().await;
                h.auth.delete_user(id).await
            },
        );
        deleted.expect("the deletion");
        if ![200, 401].contains(&login.status.as_u16()) {
            wrong.push((round, login.status, login.text()));
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
    assert_eq!(h.counts().1, 0, "no session outlives its account");
}
