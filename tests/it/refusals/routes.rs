//! Routes: paths that are not the layer's pass through untouched; a method a path does not
//! serve is 405 with `Allow`; configured routes and a route prefix move every path; closed
//! registration.

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use serde_json::{Value, json};
use tower_user_auth::compat::SeedApi;
use tower_user_auth::{AuthConfig, Routes};

use super::{
    Snapshot, echoed, form_request, log_in, oneshot, passed_without_user, seed_auth, send,
    support::{self, Body, Encoding, assert_error, counts},
};

#[tokio::test]
async fn without_a_cookie_requests_pass_through_untouched() {
    let (auth, _dir) = seed_auth();
    let before = counts(&auth);
    for (method, path) in [
        (Method::GET, "/"),
        (Method::POST, "/anything"),
        (Method::PUT, "/users/1"),
        (Method::GET, "/usersx"),
        (Method::GET, "/profiles"),
        (Method::DELETE, "/session"),
        (Method::GET, "/reset_password/abc"),
        (Method::GET, "/users//"),
    ] {
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("cookie", "theme=dark; lang=fr")
            .body(Full::new(Bytes::from_static(b"email=a%40b.c&password=pw")))
            .expect("request");
        let a = oneshot(&auth, req).await;
        let v = echoed(&a);
        assert_eq!(v["method"], json!(method.as_str()));
        assert_eq!(v["path"], json!(path));
        assert_eq!(v["user"], Value::Null);
        assert_eq!(v["body"], json!("email=a%40b.c&password=pw"), "body intact");
        assert!(
            a.headers.get(header::SET_COOKIE).is_none(),
            "{path}: nothing set: {:?}",
            a.headers
        );
    }
    assert_eq!(
        counts(&auth),
        before,
        "the app's routes never touch the store"
    );
}

/// Every auth path of the default routes and the methods it serves, as `Allow` says them.
const PATHS: [(&str, &str); 6] = [
    ("/users", "POST"),
    ("/sessions", "GET, HEAD, POST, DELETE"),
    ("/sessions/all", "DELETE"),
    ("/profile", "GET, HEAD"),
    ("/profile/password", "PUT"),
    ("/reset_password", "POST, PUT"),
];

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let (auth, _dir) = seed_auth();
    auth.register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = log_in(&auth, "bob@bob.com", "pwd").await;
    let cookie = format!("session_id={token}");
    let snapshot = Snapshot::take(&auth, "bob@bob.com", "pwd").await;
    let methods = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::TRACE,
        Method::from_bytes(b"PURGE").expect("method"),
    ];
    for (path, allow) in PATHS {
        let allowed: Vec<&str> = allow.split(", ").collect();
        for slash in ["", "/"] {
            let path = format!("{path}{slash}");
            for method in &methods {
                if allowed.contains(&method.as_str()) {
                    // Served: whatever the answer, not 405 (no body, so nothing is created).
                    let a = send(&auth, method.clone(), &path, &cookie, Body::Empty).await;
                    assert_ne!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                    assert!(a.headers.get(header::ALLOW).is_none(), "{method} {path}");
                    continue;
                }
                // Not served: 405 before anything is read, with a body that would otherwise
                // register, log in or ask for a token.
                let a = send(
                    &auth,
                    method.clone(),
                    &path,
                    &cookie,
                    Body::Form(&[("email", "new@bob.com"), ("password", "pwd")]),
                )
                .await;
                assert_eq!(
                    a.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: {}",
                    a.body
                );
                assert_eq!(a.header("allow"), Some(allow), "{method} {path}");
                assert_eq!(
                    a.header("content-type"),
                    Some("application/json"),
                    "{method} {path}"
                );
                if method != Method::HEAD {
                    assert_error(&a, StatusCode::METHOD_NOT_ALLOWED);
                }
                let (users, sessions, resets) = counts(&auth);
                assert_eq!(
                    (users, resets),
                    (snapshot.counts.0, snapshot.counts.2),
                    "{method} {path}"
                );
                assert!(
                    sessions <= snapshot.counts.1,
                    "{method} {path}: no session made"
                );
            }
        }
    }
    assert!(
        auth.valid_login("bob@bob.com", "pwd")
            .await
            .expect("verify")
    );
}

#[tokio::test]
async fn routes_are_configurable() {
    let routes = Routes {
        register: "/auth/register".into(),
        sessions: "/auth/session".into(),
        all_sessions: "/auth/session/everywhere".into(),
        profile: "/auth/me".into(),
        password: "/auth/me/password".into(),
        reset_password: "/auth/reset".into(),
        after_logout: "/goodbye".into(),
        ..Routes::default()
    };
    let config = support::seed_config()
        .with_routes(routes)
        .with_cookie_name("sid");
    let (auth, _dir) = support::auth(config);
    let creds = [("email", "r@r.io"), ("password", "pw")];

    // The default paths now belong to the app.
    for (method, path) in [
        (Method::POST, "/users"),
        (Method::POST, "/sessions"),
        (Method::GET, "/profile"),
        (Method::PUT, "/reset_password"),
    ] {
        let a = send(&auth, method, path, "", Body::Form(&creds)).await;
        passed_without_user(&a);
    }
    assert_eq!(counts(&auth).0, 0, "nobody registered on the old path");

    let a = send(
        &auth,
        Method::POST,
        "/auth/register/",
        "",
        Body::Form(&creds),
    )
    .await;
    assert_eq!(
        a.json(),
        json!({"email": "r@r.io", "message": "user created"})
    );
    let a = send(&auth, Method::POST, "/auth/session", "", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(
        a.cookie("session_id").is_none(),
        "the cookie has its configured name"
    );
    let sid = a.cookie("sid").expect("sid cookie");
    let cookie = format!("sid={sid}");
    let a = send(&auth, Method::GET, "/auth/me", &cookie, Body::Empty).await;
    assert_eq!(a.json(), json!({"email": "r@r.io"}));
    let a = send(&auth, Method::GET, "/", &cookie, Body::Empty).await;
    assert_eq!(echoed(&a)["user"]["email"], json!("r@r.io"));
    let a = send(
        &auth,
        Method::GET,
        "/",
        &format!("session_id={sid}"),
        Body::Empty,
    )
    .await;
    assert_eq!(
        echoed(&a)["user"],
        Value::Null,
        "the default name is just another cookie"
    );
    let a = send(&auth, Method::GET, "/auth/reset", "", Body::Empty).await;
    assert_error(&a, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.header("allow"), Some("POST, PUT"));
    let a = send(
        &auth,
        Method::POST,
        "/auth/session/everywhere",
        "",
        Body::Empty,
    )
    .await;
    assert_error(&a, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.header("allow"), Some("DELETE"));
    let a = send(
        &auth,
        Method::POST,
        "/auth/reset",
        "",
        Body::Form(&[("email", "r@r.io")]),
    )
    .await;
    let reset = a.json()["reset_token"].as_str().expect("token").to_owned();
    let a = send(
        &auth,
        Method::PUT,
        "/auth/reset",
        "",
        Body::Form(&[
            ("email", "r@r.io"),
            ("reset_token", &reset),
            ("new_password", "pw2"),
        ]),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = send(&auth, Method::DELETE, "/auth/session", &cookie, Body::Empty).await;
    assert_eq!(a.status, StatusCode::FOUND);
    assert_eq!(a.header("location"), Some("/goodbye"));
    assert!(
        a.set_cookie_line("sid")
            .is_some_and(|l| l.contains("Max-Age=0")),
        "{:?}",
        a.headers
    );
    let a = send(&auth, Method::GET, "/auth/me", &cookie, Body::Empty).await;
    assert_error(&a, StatusCode::FORBIDDEN);
}

/// Issue 10: with the prefix `/auth`, every auth route moves under it (with the per-route
/// settings relative to it), a trailing slash and `405` with `Allow` still work there, and the
/// paths outside it are the app's: its own `GET /profile` is no longer shadowed. Logout still
/// redirects to the unprefixed after-logout target.
#[tokio::test]
async fn a_route_prefix_mounts_every_route_and_gives_the_rest_back_to_the_app() {
    let config = support::seed_config().with_route_prefix("/auth");
    let (auth, _dir) = support::auth(config);
    let creds = [("email", "p@p.io"), ("password", "pw")];

    // The unprefixed paths are the app's, even with a body that would register or log in.
    for (method, path) in [
        (Method::POST, "/users"),
        (Method::POST, "/sessions"),
        (Method::GET, "/profile"),
        (Method::PUT, "/reset_password"),
        (Method::GET, "/auth"),
        (Method::GET, "/authprofile"),
    ] {
        let a = send(&auth, method, path, "", Body::Form(&creds)).await;
        passed_without_user(&a);
    }
    assert_eq!(counts(&auth).0, 0, "nobody registered outside the prefix");

    let a = send(&auth, Method::POST, "/auth/users/", "", Body::Form(&creds)).await;
    assert_eq!(
        a.json(),
        json!({"email": "p@p.io", "message": "user created"})
    );
    let a = send(
        &auth,
        Method::POST,
        "/auth/sessions",
        "",
        Body::Form(&creds),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let cookie = format!("session_id={}", a.cookie("session_id").expect("cookie"));

    // `GET /profile` reaches the echo app (with the user: the layer still says who it is);
    // `GET /auth/profile` is the layer's.
    let a = send(&auth, Method::GET, "/profile", &cookie, Body::Empty).await;
    let v = echoed(&a);
    assert_eq!(v["path"], json!("/profile"));
    assert_eq!(v["user"]["email"], json!("p@p.io"));
    for path in ["/auth/profile", "/auth/profile/"] {
        let a = send(&auth, Method::GET, path, &cookie, Body::Empty).await;
        assert_eq!(a.json(), json!({"email": "p@p.io"}), "{path}");
        assert!(a.header("x-echo").is_none(), "{path}");
    }
    for (path, allow) in PATHS {
        for slash in ["", "/"] {
            let path = format!("/auth{path}{slash}");
            let a = send(&auth, Method::PATCH, &path, &cookie, Body::Empty).await;
            assert_error(&a, StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(a.header("allow"), Some(allow), "{path}");
        }
    }
    let a = send(
        &auth,
        Method::DELETE,
        "/auth/sessions/",
        &cookie,
        Body::Empty,
    )
    .await;
    assert_eq!(a.status, StatusCode::FOUND, "{}", a.body);
    assert_eq!(
        a.header("location"),
        Some("/"),
        "the target is not prefixed"
    );
    let a = send(&auth, Method::GET, "/auth/profile", &cookie, Body::Empty).await;
    assert_error(&a, StatusCode::FORBIDDEN);

    // The per-route settings are relative to the prefix, whichever setter comes first.
    let routes = Routes {
        profile: "/me".into(),
        after_logout: "/profile".into(),
        ..Routes::default()
    };
    let config = support::seed_config()
        .with_routes(routes)
        .with_route_prefix("/api/auth");
    let (auth, _dir) = support::auth(config);
    let a = send(
        &auth,
        Method::POST,
        "/api/auth/users",
        "",
        Body::Form(&creds),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = send(
        &auth,
        Method::POST,
        "/api/auth/sessions",
        "",
        Body::Form(&creds),
    )
    .await;
    let cookie = format!("session_id={}", a.cookie("session_id").expect("cookie"));
    let a = send(&auth, Method::GET, "/api/auth/me", &cookie, Body::Empty).await;
    assert_eq!(a.json(), json!({"email": "p@p.io"}));
    for path in ["/api/auth/profile", "/me", "/auth/me"] {
        let a = send(&auth, Method::GET, path, &cookie, Body::Empty).await;
        assert_eq!(echoed(&a)["user"]["email"], json!("p@p.io"), "{path}");
    }
    let a = send(
        &auth,
        Method::DELETE,
        "/api/auth/sessions",
        &cookie,
        Body::Empty,
    )
    .await;
    assert_eq!(a.header("location"), Some("/profile"));
}

#[tokio::test]
async fn closed_registration_is_403_and_the_rest_works() {
    let config = AuthConfig::compat()
        .with_bcrypt_cost(4)
        .with_registration(false);
    let (auth, _dir) = support::auth(config);
    auth.register_user("old@x.io", "pwd")
        .await
        .expect("the API still registers");
    let snapshot = Snapshot::take(&auth, "old@x.io", "pwd").await;
    for enc in Encoding::ALL {
        for fields in [
            &[("email", "new@x.io"), ("password", "pwd")][..],
            &[("email", "old@x.io"), ("password", "pwd")][..],
        ] {
            let a = oneshot(&auth, form_request(Method::POST, "/users", enc, fields)).await;
            assert_error(&a, StatusCode::FORBIDDEN);
        }
    }
    snapshot.check(&auth, "closed registration").await;
    let token = log_in(&auth, "old@x.io", "pwd").await;
    let a = send(
        &auth,
        Method::GET,
        "/profile",
        &format!("session_id={token}"),
        Body::Empty,
    )
    .await;
    assert_eq!(a.json(), json!({"email": "old@x.io"}));
}

/// Issue 9 P10: every answer the layer makes itself (success, redirect, refusal, throttling)
/// carries `X-Content-Type-Options: nosniff`; the wrapped app's answers are left as they are,
/// a dead cookie's clearing included.
#[tokio::test]
async fn every_answer_of_the_layer_says_nosniff_and_pass_through_is_untouched() {
    let (auth, _dir) = support::auth(support::hardened_config());
    let pw = support::GOOD_PW;
    let creds = [("email", "bob@bob.com"), ("password", pw)];
    let mut answers = Vec::new();
    answers.push(send(&auth, Method::POST, "/users", "", Body::Form(&creds)).await);
    let login = send(&auth, Method::POST, "/sessions", "", Body::Form(&creds)).await;
    let token = login.cookie("session_id").expect("session cookie");
    answers.push(login);
    let cookie = format!("session_id={token}");
    answers.push(send(&auth, Method::GET, "/profile", &cookie, Body::Empty).await);
    answers.push(send(&auth, Method::HEAD, "/profile", &cookie, Body::Empty).await);
    answers.push(send(&auth, Method::GET, "/sessions", &cookie, Body::Empty).await);
    answers.push(send(&auth, Method::GET, "/profile", "", Body::Empty).await);
    answers.push(
        send(
            &auth,
            Method::GET,
            "/profile",
            "session_id=bad",
            Body::Empty,
        )
        .await,
    );
    answers.push(send(&auth, Method::GET, "/users", "", Body::Empty).await);
    let big = vec![b'a'; 1 << 20];
    for (content_type, bytes) in [
        ("text/plain", b"x".to_vec()),
        ("application/json", b"{".to_vec()),
        ("application/json", big),
    ] {
        let body = Body::Raw(content_type, bytes);
        answers.push(send(&auth, Method::POST, "/users", "", body).await);
    }
    let cross = Request::post("/orders")
        .header("cookie", cookie.as_str())
        .header("sec-fetch-site", "cross-site")
        .body(Full::new(Bytes::new()))
        .expect("request");
    answers.push(oneshot(&auth, cross).await);
    answers.push(
        send(
            &auth,
            Method::POST,
            "/reset_password",
            "",
            Body::Form(&[("email", "bob@bob.com")]),
        )
        .await,
    );
    answers.push(send(&auth, Method::DELETE, "/sessions", &cookie, Body::Empty).await);
    let wrong = [("email", "bob@bob.com"), ("password", "wrong")];
    for _ in 0..50 {
        let a = send(&auth, Method::POST, "/sessions", "", Body::Form(&wrong)).await;
        let throttled = a.status == StatusCode::TOO_MANY_REQUESTS;
        answers.push(a);
        if throttled {
            break;
        }
    }
    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    for status in [200, 302, 400, 401, 403, 405, 413, 415, 429] {
        assert!(statuses.contains(&status), "no {status} among {statuses:?}");
    }
    for a in &answers {
        assert_eq!(
            a.header("x-content-type-options"),
            Some("nosniff"),
            "{}: {}",
            a.status,
            a.body
        );
    }
    // The app's answers are the app's: with a live cookie, a dead one, or none.
    for cookie in ["", "session_id=bad", cookie.as_str()] {
        let a = send(&auth, Method::GET, "/", cookie, Body::Empty).await;
        echoed(&a);
        assert!(
            a.header("x-content-type-options").is_none(),
            "{cookie}: {a:?}"
        );
    }
}
