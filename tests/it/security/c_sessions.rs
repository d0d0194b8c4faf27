//! C. Sessions: items 9 to 12 (the cookie itself, items 13 to 16, is in `c_cookies`).

use http::Method;
use serde_json::Value;
use tower_user_auth::compat::SeedApi;
use tower_user_auth::{
    store::prelude::*,
    token::{SessionId, SessionToken, TokenDigest},
};

use crate::security::{
    HOUR, MIN, SEC,
    support::{
        GOOD_PW, Harness, OTHER_PW, clears, cookie_attributes, empty, form, get, hardened_config,
        http, seed_config, serve_echo, start_time, with_cookie,
    },
};

/// Item 9: every login issues a new session id; an id the server never issued is never
/// accepted; a session id planted before login is not adopted (no fixation).
#[tokio::test]
async fn item_09_new_session_id_at_every_login_unissued_ids_refused_no_fixation() {
    let h = Harness::seed();
    h.registered("bob@bob.com", "pw").await;
    let a = h.session("bob@bob.com", "pw").await;
    let b = h.session("bob@bob.com", "pw").await;
    assert_ne!(a, b);
    assert!(SessionToken::parse(&a).is_some() && SessionToken::parse(&b).is_some());
    assert_eq!(h.profile(&a).await.status, 200);
    assert_eq!(h.profile(&b).await.status, 200);

    // Well-formed ids never issued.
    for forged in [
        uuid::Uuid::new_v4().to_string(),
        "00000000-0000-4000-8000-000000000000".to_owned(),
        a.to_uppercase(),
    ] {
        let res = h.profile(&forged).await;
        assert_eq!(res.status, 403, "{forged}");
        assert!(h.app_get(&forged).await.app_user().is_none(), "{forged}");
    }

    // Fixation: the attacker plants a cookie, the victim logs in carrying it.
    let planted = uuid::Uuid::new_v4().to_string();
    let login = form(
        Method::POST,
        "/sessions",
        &[("email", "bob@bob.com"), ("password", "pw")],
    );
    let res = h.send(with_cookie(login, &planted)).await;
    assert_eq!(res.status, 200);
    let issued = res.session_cookie().unwrap();
    assert_ne!(issued, planted);
    assert_eq!(h.profile(&planted).await.status, 403);
    assert_eq!(h.profile(&issued).await.status, 200);
    assert!(!h.session_stored(&planted).await);
}

/// Item 10: one record per session: several devices (logging in at the same moment);
/// logging out one leaves the others; GET /sessions lists them (exactly one `current`, no
/// token); DELETE /sessions/all ends them all (302, cookie cleared); both need a session.
#[tokio::test]
async fn item_10_several_devices_logout_one_list_and_end_all() {
    let h = Harness::seed();
    let uid = h.registered("multi@example.com", "pw").await;
    let logins = (0..3).map(|_| h.session("multi@example.com", "pw"));
    let cookies = futures_util::future::join_all(logins).await;
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 3);

    let res = h.logout(&cookies[0]).await;
    assert_eq!(res.status, 302);
    assert_eq!(h.profile(&cookies[0]).await.status, 403);
    assert_eq!(h.profile(&cookies[1]).await.status, 200);
    assert_eq!(h.profile(&cookies[2]).await.status, 200);

    let res = h.send(with_cookie(get("/sessions"), &cookies[1])).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let list = res.json();
    let list = list.as_array().expect("a JSON array");
    assert_eq!(list.len(), 2);
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{list:?}");
    assert!(list.iter().all(|s| s["current"].is_boolean()));
    for s in list {
        let id = s["id"].as_str().unwrap();
        assert!(id.len() == 32 && SessionId::parse(id).is_some(), "{id}");
        for k in ["created", "last_seen", "expires"] {
            assert!(s[k].is_u64(), "{k} in {s}");
        }
    }
    // The current one is the session the request came with.
    let seen = h.app_get(&cookies[1]).await.app_user().unwrap();
    assert_eq!(current[0]["id"], seen["session"]);
    for c in &cookies {
        assert!(!res.text().contains(c.as_str()), "a token in the list");
        assert!(!res.text().contains(&c.replace('-', "")));
    }
    // Without a session: 403.
    assert_eq!(h.send(get("/sessions")).await.status, 403);

    let end_all = |c: &str| with_cookie(empty(Method::DELETE, "/sessions/all"), c);
    let res = h.send(end_all(&cookies[2])).await;
    assert_eq!(res.status, 302, "{}", res.text());
    assert_eq!(res.header("location"), Some("/"));
    assert!(clears(&res.set_cookie_line("session_id").unwrap()));
    for c in &cookies {
        assert_eq!(h.profile(c).await.status, 403);
    }
    assert!(h.store.sessions_of(uid).await.unwrap().is_empty());
    // With a dead session or none: 403.
    assert_eq!(h.send(end_all(&cookies[2])).await.status, 403);
    let res = h.send(empty(Method::DELETE, "/sessions/all")).await;
    assert_eq!(res.status, 403);
}

/// Item 10: the Rust API: end one session by its public id, or all of them.
#[tokio::test]
async fn item_10_end_one_session_by_id_or_all_through_the_api() {
    let h = Harness::seed();
    let uid = h.registered("api@example.com", "pw").await;
    let a = h.session("api@example.com", "pw").await;
    let b = h.session("api@example.com", "pw").await;
    let id_a = TokenDigest::of(&a).session_id();
    assert!(h.auth.end_session(uid, id_a).await.unwrap());
    assert!(!h.auth.end_session(uid, id_a).await.unwrap());
    assert_eq!(h.profile(&a).await.status, 403);
    assert_eq!(h.profile(&b).await.status, 200);
    // Another user's session cannot be ended by naming it.
    let other = h.registered("other@example.com", "pw").await;
    let id_b = TokenDigest::of(&b).session_id();
    assert!(!h.auth.end_session(other, id_b).await.unwrap());
    assert_eq!(h.profile(&b).await.status, 200);
    let sessions = h.auth.sessions_of(uid).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id, id_b);
    assert_eq!(h.auth.end_all_sessions(uid, None).await.unwrap(), 1);
    assert_eq!(h.profile(&b).await.status, 403);
    let c = h.session("api@example.com", "pw").await;
    h.auth.destroy_session(uid).await.unwrap();
    assert_eq!(h.profile(&c).await.status, 403);
}

/// Item 10: at most N sessions per user: a login beyond it ends the oldest.
#[tokio::test]
async fn item_10_max_sessions_per_user_evicts_the_oldest() {
    let h = Harness::new(hardened_config().with_max_sessions_per_user(Some(3)));
    let uid = h.registered("cap@example.com", GOOD_PW).await;
    let mut cookies = Vec::new();
    for _ in 0..5 {
        cookies.push(h.session("cap@example.com", GOOD_PW).await);
        h.advance(SEC);
    }
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 3);
    for (i, c) in cookies.iter().enumerate() {
        let expected = if i < 2 { 403 } else { 200 };
        assert_eq!(h.profile(c).await.status, expected, "session {i}");
    }
}

/// Item 10, PUT /profile/password: 200 `{"email","message":"Password changed"}`; the other
/// sessions end, the current one is kept; a wrong current password 403 (nothing changed); a
/// refused new one 400; no session 403.
#[tokio::test]
async fn item_10_change_password_ends_other_sessions_keeps_current() {
    let h = Harness::hardened();
    let email = "changer@example.com";
    let uid = h.registered(email, GOOD_PW).await;
    let current = h.session(email, GOOD_PW).await;
    let other = h.session(email, GOOD_PW).await;

    let res = h
        .change_password(&current, "not my password", OTHER_PW)
        .await;
    assert_eq!(res.status, 403, "{}", res.text());
    assert_eq!(h.profile(&other).await.status, 200);
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 2);
    let res = h.change_password(&current, GOOD_PW, "tooshort").await;
    assert_eq!(res.status, 400);
    let fields = [("current_password", GOOD_PW), ("new_password", OTHER_PW)];
    let res = h
        .send(form(Method::PUT, "/profile/password", &fields))
        .await;
    assert_eq!(res.status, 403);
    let forged = uuid::Uuid::new_v4().to_string();
    let res = h.change_password(&forged, GOOD_PW, OTHER_PW).await;
    assert_eq!(res.status, 403);
    assert_eq!(h.login(email, GOOD_PW).await.status, 200);

    let res = h.change_password(&current, GOOD_PW, OTHER_PW).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.json(),
        serde_json::json!({"email": email, "message": "Password changed"})
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(h.profile(&current).await.status, 200);
    assert_eq!(h.profile(&other).await.status, 403);
    assert_eq!(h.login(email, GOOD_PW).await.status, 401);
    assert_eq!(h.login(email, OTHER_PW).await.status, 200);
    // current + the login just above
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 2);
}

/// Item 11: idle timeout enforced by the server (hardened default 30 minutes), activity
/// keeps a session alive.
#[tokio::test]
async fn item_11_idle_timeout_enforced_activity_keeps_alive() {
    let h = Harness::hardened();
    h.registered("idle@example.com", GOOD_PW).await;
    let c = h.session("idle@example.com", GOOD_PW).await;
    h.advance(29 * MIN);
    assert_eq!(h.profile(&c).await.status, 200);
    h.drain().await;
    h.advance(29 * MIN);
    assert_eq!(h.profile(&c).await.status, 200, "activity did not renew");
    h.drain().await;
    h.advance(30 * MIN + SEC);
    let res = h.profile(&c).await;
    assert_eq!(res.status, 403);
    assert!(clears(&res.set_cookie_line("session_id").unwrap()));
    assert!(h.app_get(&c).await.app_user().is_none());
}

/// The `Max-Age` of the session cookie a login on `h` sets.
async fn login_max_age(h: &Harness, email: &str, pw: &str) -> Vec<String> {
    let res = h.login(email, pw).await;
    cookie_attributes(&res.set_cookie_line("session_id").unwrap())
        .into_iter()
        .filter(|a| a.starts_with("max-age="))
        .collect()
}

/// Item 11: absolute lifetime enforced whatever the activity (hardened default 12 hours);
/// the cookie's Max-Age is the remaining absolute lifetime.
#[tokio::test]
async fn item_11_absolute_lifetime_enforced_despite_activity() {
    let h = Harness::hardened();
    h.registered("abs@example.com", GOOD_PW).await;
    assert_eq!(
        login_max_age(&h, "abs@example.com", GOOD_PW).await,
        ["max-age=43200"]
    );
    let c = h.session("abs@example.com", GOOD_PW).await;
    let mut t = std::time::Duration::ZERO;
    while t + 20 * MIN < 12 * HOUR {
        h.advance(20 * MIN);
        t += 20 * MIN;
        assert_eq!(h.profile(&c).await.status, 200, "at {t:?}");
        h.drain().await;
    }
    h.advance(12 * HOUR - t - SEC);
    assert_eq!(h.profile(&c).await.status, 200);
    h.advance(SEC);
    assert_eq!(h.profile(&c).await.status, 403);

    let seed = Harness::seed();
    seed.registered("abs@example.com", "pw").await;
    assert_eq!(
        login_max_age(&seed, "abs@example.com", "pw").await,
        ["max-age=2592000"]
    );
}

/// Item 11: both limits are configurable.
#[tokio::test]
async fn item_11_idle_timeout_and_lifetime_configurable() {
    let config = seed_config()
        .with_session_idle_timeout(5 * MIN)
        .with_session_lifetime(HOUR);
    let h = Harness::new(config);
    h.registered("conf@example.com", "pw").await;
    let idle = h.session("conf@example.com", "pw").await;
    let active = h.session("conf@example.com", "pw").await;
    assert_eq!(
        login_max_age(&h, "conf@example.com", "pw").await,
        ["max-age=3600"]
    );
    for _ in 0..14 {
        h.advance(4 * MIN);
        assert_eq!(h.profile(&active).await.status, 200);
        h.drain().await;
    }
    assert_eq!(h.profile(&idle).await.status, 403);
    h.advance(4 * MIN); // 60 minutes after login, 4 minutes idle
    assert_eq!(h.profile(&active).await.status, 403);
}

/// Item 11: renewal writes the session's `last_seen` at most once per renewal interval
/// (60 s by default, configurable), not on every request.
#[tokio::test]
async fn item_11_sliding_renewal_writes_at_most_once_per_interval() {
    let h = Harness::hardened();
    let uid = h.registered("slide@example.com", GOOD_PW).await;
    let c = h.session("slide@example.com", GOOD_PW).await;
    let t0 = start_time();
    let last_seen = || async { h.store.sessions_of(uid).await.unwrap()[0].1.last_seen };
    assert_eq!(last_seen().await, t0);

    for _ in 0..10 {
        h.advance(5 * SEC);
        assert!(h.app_get(&c).await.app_user().is_some());
    }
    h.drain().await;
    assert_eq!(last_seen().await, t0, "written within the renewal interval");

    h.advance(15 * SEC); // 65 s
    assert!(h.app_get(&c).await.app_user().is_some());
    h.drain().await;
    assert_eq!(last_seen().await, t0 + 65 * SEC);

    for _ in 0..5 {
        h.advance(10 * SEC); // up to 115 s: within 60 s of the last write
        assert_eq!(h.profile(&c).await.status, 200);
    }
    h.drain().await;
    assert_eq!(last_seen().await, t0 + 65 * SEC);

    h.advance(20 * SEC); // 135 s
    assert_eq!(h.profile(&c).await.status, 200);
    h.drain().await;
    assert_eq!(last_seen().await, t0 + 135 * SEC);

    // A configured interval of 10 s: written 10 s after the last write, not before.
    let h = Harness::new(seed_config().with_session_renewal(10 * SEC));
    let uid = h.registered("slide@example.com", "pw").await;
    let c = h.session("slide@example.com", "pw").await;
    let last_seen = || async { h.store.sessions_of(uid).await.unwrap()[0].1.last_seen };
    h.advance(9 * SEC);
    assert_eq!(h.profile(&c).await.status, 200);
    h.drain().await;
    assert_eq!(last_seen().await, t0);
    h.advance(2 * SEC);
    assert_eq!(h.profile(&c).await.status, 200);
    h.drain().await;
    assert_eq!(last_seen().await, t0 + 11 * SEC);
}

/// Item 12: logout deletes the record and expires the cookie (`Max-Age=0`); the old cookie is
/// refused afterwards and cleared on a pass-through answer.
#[tokio::test]
async fn item_12_logout_deletes_the_record_and_expires_the_cookie() {
    for h in [Harness::seed(), Harness::hardened()] {
        h.registered("out@example.com", GOOD_PW).await;
        let c = h.session("out@example.com", GOOD_PW).await;
        assert!(h.session_stored(&c).await);
        let res = h.logout(&c).await;
        assert_eq!(res.status, 302);
        assert_eq!(res.header("location"), Some("/"));
        let line = res.set_cookie_line("session_id").expect("a Set-Cookie");
        assert!(clears(&line), "{line}");
        let attrs = cookie_attributes(&line);
        assert!(attrs.contains(&"path=/".to_owned()) && attrs.contains(&"httponly".to_owned()));
        assert!(!h.session_stored(&c).await);
        assert_eq!(h.counts().1, 0, "the record is gone");
        assert_eq!(h.profile(&c).await.status, 403);
        assert_eq!(h.logout(&c).await.status, 403);
        assert_eq!(h.send(empty(Method::DELETE, "/sessions")).await.status, 403);

        // A dead session cookie on the wrapped app's routes: passes without a user, and the
        // answer clears it.
        let calls = h.app_calls();
        let res = h.app_get(&c).await;
        assert_eq!(res.status, 200);
        assert_eq!(h.app_calls(), calls + 1);
        assert!(res.app_user().is_none());
        assert!(clears(&res.set_cookie_line("session_id").expect("cleared")));
        assert_eq!(res.header("cache-control"), Some("no-store"));
    }
}

/// Item 12, over a real socket as the seed's client does it: DELETE /sessions redirects to
/// GET /, which answers without a user.
#[tokio::test]
async fn item_12_logout_redirect_followed_over_a_real_socket() {
    let h = Harness::seed();
    h.registered("sock@example.com", "pw").await;
    let server = serve_echo(&h.auth).await;
    let addr = server.addr;
    let fields = [("email", "sock@example.com"), ("password", "pw")];
    let res = http(addr, form(Method::POST, "/sessions", &fields)).await;
    assert_eq!(res.status, 200);
    let c = res.session_cookie().unwrap();
    let res = http(addr, with_cookie(empty(Method::DELETE, "/sessions"), &c)).await;
    assert_eq!(res.status, 302);
    let location = res.header("location").unwrap().to_owned();
    assert!(clears(&res.set_cookie_line("session_id").unwrap()));
    let res = http(addr, get(&location)).await;
    assert_eq!(res.status, 200);
    assert!(res.app_user().is_none());
    let res = http(addr, with_cookie(get("/profile"), &c)).await;
    assert_eq!(res.status, 403);
}

/// Item 10, ending one session by id over HTTP under concurrency: two of the user's other
/// sessions race to end the same session while it keeps making requests. Exactly one ender
/// gets 200 and the other 404; once the 200 has arrived, no request the ended session starts
/// is answered as logged in; the record is gone. Real sockets, many rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_10_ending_one_session_by_id_races_its_use_and_another_ender() {
    use std::time::Instant;

    let h = Harness::new(crate::support::unthrottled(seed_config()));
    h.registered("race@example.com", GOOD_PW).await;
    let server = serve_echo(&h.auth).await;
    let c = &server.http;
    let mut defects = Vec::new();
    for round in 0..30 {
        let a = h.session("race@example.com", GOOD_PW).await;
        let b = h.session("race@example.com", GOOD_PW).await;
        let victim = h.session("race@example.com", GOOD_PW).await;
        let path = format!("/sessions/{}", TokenDigest::of(&victim).session_id());
        let barrier = tokio::sync::Barrier::new(3);
        let end = |ender: String| {
            let path = path.clone();
            let barrier = &barrier;
            async move {
                barrier.wait().await;
                let res = c.delete(&path, &format!("session_id={ender}")).await;
                (res.status.as_u16(), Instant::now())
            }
        };
        let victim_cookie = format!("session_id={victim}");
        let (ended_a, ended_b, uses) = tokio::join!(end(a.clone()), end(b.clone()), async {
            barrier.wait().await;
            let mut uses = Vec::new();
            for _ in 0..200 {
                let started = Instant::now();
                let status = c.get("/profile", &victim_cookie).await.status.as_u16();
                uses.push((started, status));
                if status == 403 {
                    break;
                }
            }
            uses
        });
        let mut statuses = [ended_a.0, ended_b.0];
        statuses.sort_unstable();
        if statuses != [200, 404] {
            defects.push(format!("round {round}: enders got {statuses:?}"));
        }
        let ended_at = [ended_a, ended_b]
            .iter()
            .filter(|(status, _)| *status == 200)
            .map(|(_, at)| *at)
            .min();
        if let Some(ended_at) = ended_at {
            let late = uses
                .iter()
                .filter(|(started, status)| *started > ended_at && *status == 200)
                .count();
            if late > 0 {
                defects.push(format!(
                    "round {round}: {late} requests started after the 200 were logged in"
                ));
            }
        }
        if c.get("/profile", &victim_cookie).await.status != 403 || h.session_stored(&victim).await
        {
            defects.push(format!("round {round}: the ended session survived"));
        }
        for ender in [&a, &b] {
            assert_eq!(h.profile(ender).await.status, 200, "round {round}");
            h.logout(ender).await;
        }
    }
    assert!(defects.is_empty(), "{defects:#?}");
}
