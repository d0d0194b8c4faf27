//! E. Requests: items 22 to 24.

use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{Method, Request, header};
use http_body::Frame;
use http_body_util::StreamBody;
use tower::{Layer, ServiceExt};
use tower_user_auth::{AuthConfig, AuthLayer, store::prelude::*};

use crate::security::{
    seed_token,
    support::{
        Answer, Echo, FullBody, Harness, empty, form, get, seed_config, unthrottled, urlencode,
        with_cookie, with_header,
    },
};

const HOST: &str = "app.example:8080";

/// `req` to [`HOST`] with the browser headers `headers`.
fn with_site<B>(req: Request<B>, headers: &[(&'static str, &str)]) -> Request<B> {
    let mut req = with_header(req, "host", HOST);
    for (k, v) in headers {
        req = with_header(req, k, v);
    }
    req
}

fn cross_site_variants() -> Vec<Vec<(&'static str, &'static str)>> {
    vec![
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("origin", "http://app.example:9090")],
        vec![("origin", "http://app.example:8080.evil.example")],
        vec![
            ("origin", "http://app.example:8080"),
            ("sec-fetch-site", "cross-site"),
        ],
    ]
}

/// `POST path` with `fields` from a browser page described by `site`.
fn post_site(
    path: &str,
    fields: &[(&str, &str)],
    site: &[(&'static str, &str)],
) -> Request<FullBody> {
    with_site(form(Method::POST, path, fields), site)
}

/// Item 22: POST /users and POST /sessions (login CSRF), and POST /reset_password, are
/// refused cross-site even without a cookie: 403 and nothing changed.
#[tokio::test]
async fn item_22_cross_site_register_and_login_refused_without_cookie() {
    let h = Harness::seed();
    let uid = h.registered("csrf@example.com", "pw").await;
    for v in cross_site_variants() {
        let register = [("email", "new@example.com"), ("password", "pw")];
        let res = h.send(post_site("/users", &register, &v)).await;
        assert_eq!(res.status, 403, "{v:?}");
        assert!(!h.user_exists("new@example.com").await, "{v:?}");

        let login = [("email", "csrf@example.com"), ("password", "pw")];
        let res = h.send(post_site("/sessions", &login, &v)).await;
        assert_eq!(res.status, 403, "{v:?}");
        assert!(res.session_cookie().is_none(), "{v:?}");
        assert!(h.store.sessions_of(uid).await.unwrap().is_empty(), "{v:?}");

        let reset = [("email", "csrf@example.com")];
        let res = h.send(post_site("/reset_password", &reset, &v)).await;
        assert_eq!(res.status, 403, "{v:?}");
        assert_eq!(h.counts().2, 0, "{v:?}");
    }
}

/// Item 22: state-changing requests that carry the session cookie are refused cross-site,
/// the wrapped app's included (it is not called), and the auth routes' (nothing changes).
#[tokio::test]
async fn item_22_cross_site_requests_with_the_cookie_refused_app_included() {
    let h = Harness::seed();
    let uid = h.registered("victim@example.com", "pw").await;
    let c = h.session("victim@example.com", "pw").await;
    let token = seed_token(&h.request_reset("victim@example.com").await);
    let change = [("current_password", "pw"), ("new_password", "evil")];
    let reset = [
        ("email", "victim@example.com"),
        ("reset_token", token.as_str()),
        ("new_password", "evil"),
    ];
    for v in cross_site_variants() {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let calls = h.app_calls();
            let req = with_cookie(form(method.clone(), "/transfer", &[("to", "eve")]), &c);
            let res = h.send(with_site(req, &v)).await;
            assert_eq!(res.status, 403, "{method} {v:?}");
            assert_eq!(h.app_calls(), calls, "the app was called: {method} {v:?}");
        }
        for req in [
            empty(Method::DELETE, "/sessions"),
            empty(Method::DELETE, "/sessions/all"),
            form(Method::PUT, "/profile/password", &change),
            form(Method::PUT, "/reset_password", &reset),
        ] {
            let what = format!("{} {} {v:?}", req.method(), req.uri());
            let res = h.send(with_site(with_cookie(req, &c), &v)).await;
            assert_eq!(res.status, 403, "{what}");
        }
    }
    assert_eq!(h.profile(&c).await.status, 200);
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 1);
    assert_eq!(h.login("victim@example.com", "pw").await.status, 200);
    assert_eq!(
        h.reset("victim@example.com", &token, "new").await.status,
        200
    );
}

/// Item 22: same-origin requests (Origin matching Host, either scheme), allow-listed origins,
/// `Sec-Fetch-Site` same-origin/same-site/none (same-origin whatever the `Origin`, which a
/// `no-referrer` page blanks to `null`), safe methods, and requests with neither header pass.
#[tokio::test]
async fn item_22_same_origin_allow_listed_and_headerless_requests_pass() {
    let config = seed_config().with_allowed_origins(["https://admin.example"]);
    let h = Harness::new(config);
    let passing: Vec<Vec<(&'static str, &'static str)>> = vec![
        vec![],
        vec![("origin", "http://app.example:8080")],
        vec![("origin", "https://app.example:8080")],
        vec![("origin", "https://APP.example:8080")],
        vec![("origin", "https://admin.example")],
        vec![("origin", "https://Admin.Example")],
        vec![("sec-fetch-site", "same-origin")],
        vec![("sec-fetch-site", "same-site")],
        vec![("sec-fetch-site", "none")],
        vec![
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://app.example:8080"),
        ],
        // A same-origin form on a page with `Referrer-Policy: no-referrer`: Chromium sends
        // `Origin: null` with it (found by tests/it/pages/browser.rs).
        vec![("sec-fetch-site", "same-origin"), ("origin", "null")],
    ];
    for (i, v) in passing.iter().enumerate() {
        let email = format!("ok{i}@example.com");
        let fields = [("email", email.as_str()), ("password", "pw")];
        let res = h.send(post_site("/users", &fields, v)).await;
        assert_eq!(res.status, 200, "{v:?}: {}", res.text());
        let res = h.send(post_site("/sessions", &fields, v)).await;
        assert_eq!(res.status, 200, "{v:?}");
        let c = res.session_cookie().unwrap();
        let calls = h.app_calls();
        let res = h
            .send(with_site(
                with_cookie(form(Method::POST, "/transfer", &[]), &c),
                v,
            ))
            .await;
        assert_eq!(res.status, 200, "{v:?}");
        assert_eq!(h.app_calls(), calls + 1);
        assert!(res.app_user().is_some());
        let res = h
            .send(with_site(
                with_cookie(empty(Method::DELETE, "/sessions"), &c),
                v,
            ))
            .await;
        assert_eq!(res.status, 302, "{v:?}");
    }
    // Safe methods pass cross-site; a state-changing request without the cookie is the app's
    // business.
    let c = h.session("ok0@example.com", "pw").await;
    let evil = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    let res = h.send(with_site(with_cookie(get("/"), &c), &evil)).await;
    assert!(res.app_user().is_some());
    let res = h
        .send(with_site(with_cookie(get("/profile"), &c), &evil))
        .await;
    assert_eq!(res.status, 200);
    let calls = h.app_calls();
    let res = h.send(post_site("/webhook", &[], &evil)).await;
    assert_eq!(res.status, 200);
    assert_eq!(h.app_calls(), calls + 1);
}

/// Item 23: GET and HEAD never change state; a wrong method on an auth path gets 405 with
/// `Allow`.
#[tokio::test]
async fn item_23_wrong_methods_405_with_allow_and_get_head_change_nothing() {
    let h = Harness::seed();
    let uid = h.registered("m@example.com", "pw").await;
    let c = h.session("m@example.com", "pw").await;
    let hash = h.user("m@example.com").await.hashed_password;
    let before = h.counts();
    let cases = [
        ("GET", "/users", "POST"),
        ("HEAD", "/users", "POST"),
        ("PUT", "/users/", "POST"),
        ("DELETE", "/users", "POST"),
        ("PUT", "/sessions", "GET, HEAD, POST, DELETE"),
        ("PATCH", "/sessions/", "GET, HEAD, POST, DELETE"),
        ("GET", "/sessions/all", "DELETE"),
        ("HEAD", "/sessions/all", "DELETE"),
        ("POST", "/sessions/all", "DELETE"),
        ("POST", "/profile", "GET, HEAD"),
        ("DELETE", "/profile", "GET, HEAD"),
        ("PATCH", "/profile", "GET, HEAD"),
        ("GET", "/profile/password", "PUT"),
        ("HEAD", "/profile/password", "PUT"),
        ("POST", "/profile/password", "PUT"),
        ("GET", "/reset_password", "POST, PUT"),
        ("HEAD", "/reset_password", "POST, PUT"),
        ("DELETE", "/reset_password/", "POST, PUT"),
    ];
    let fields = [
        ("email", "m@example.com"),
        ("password", "pw"),
        ("new_password", "hacked"),
        ("current_password", "pw"),
    ];
    // Every request carries the credentials in its query and its body, and the cookie.
    let with_everything = |method: &str, path: &str| {
        let uri = format!("{path}?{}", urlencode(&fields));
        with_cookie(form(method.parse().unwrap(), &uri, &fields), &c)
    };
    let calls = h.app_calls();
    for (method, path, allow) in cases {
        let res = h.send(with_everything(method, path)).await;
        assert_eq!(res.status, 405, "{method} {path}");
        let got: BTreeSet<&str> = res.header("allow").expect("Allow").split(", ").collect();
        let want: BTreeSet<&str> = allow.split(", ").collect();
        assert_eq!(got, want, "{method} {path}");
        assert!(res.set_cookies().is_empty(), "{method} {path}");
        assert!(res.json()["message"].is_string());
    }
    assert_eq!(h.app_calls(), calls, "a 405 reached the app");
    // GET/HEAD on the routes that serve them, with credentials around: no change.
    for (method, path) in [
        ("GET", "/profile"),
        ("HEAD", "/profile"),
        ("GET", "/sessions"),
        ("HEAD", "/sessions"),
    ] {
        let res = h.send(with_everything(method, path)).await;
        assert_eq!(res.status, 200, "{method} {path}");
        assert!(res.set_cookies().is_empty());
    }
    let res = h.send(get(&format!("/?{}", urlencode(&fields)))).await;
    assert!(res.set_cookies().is_empty());
    assert_eq!(h.counts(), before);
    assert_eq!(h.user("m@example.com").await.hashed_password, hash);
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 1);
}

/// Item 24: bodies are capped before parsing: 413 for a large body, for a declared
/// `Content-Length` over the cap (without reading it), and for an endless stream; the cap is
/// configurable.
#[tokio::test]
async fn item_24_bodies_capped_413_before_parsing() {
    let h = Harness::seed();
    let big = "p".repeat(20 * 1024);
    let res = h.register("big@example.com", &big).await;
    assert_eq!(res.status, 413, "{}", res.text());
    assert!(!h.user_exists("big@example.com").await);

    let fields = [("email", "cl@example.com"), ("password", "pw")];
    let req = with_header(
        form(Method::POST, "/users", &fields),
        "content-length",
        "1000000000",
    );
    let res = h.send(req).await;
    assert_eq!(res.status, 413);
    assert!(!h.user_exists("cl@example.com").await);

    // An endless body: answered 413 once the cap is passed, not read to the end.
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = Arc::clone(&pulled);
    let endless = futures_util::stream::repeat_with(move || {
        p.fetch_add(1, Ordering::SeqCst);
        Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(vec![b'a'; 1024])))
    });
    let req = Request::post("/sessions")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(StreamBody::new(endless))
        .unwrap();
    let service = AuthLayer::new(h.auth.clone()).layer(Echo::default());
    let res = tokio::time::timeout(Duration::from_secs(10), service.oneshot(req))
        .await
        .expect("answered")
        .unwrap();
    let res = Answer::read(res).await;
    assert_eq!(res.status, 413);
    let kib = pulled.load(Ordering::SeqCst);
    assert!(kib <= 20, "{kib} KiB read");

    let small = Harness::new(seed_config().with_body_limit(64));
    small.registered("s@x.io", "pw").await;
    let res = small.login("s@x.io", &"q".repeat(60)).await;
    assert_eq!(res.status, 413);
    assert_eq!(small.login("s@x.io", "pw").await.status, 200);
}

/// Item 24: bcrypt runs off the async runtime with bounded concurrency: with one hashing
/// thread and a queue of one, a burst of logins gets 503 + `Retry-After` beyond what the
/// pool takes (never another 5xx), and a pass-through request during the burst answers at
/// once, on a single-threaded runtime.
#[tokio::test(flavor = "current_thread")]
async fn item_24_login_burst_sheds_503_and_pass_through_stays_fast() {
    let config = unthrottled(AuthConfig::compat().with_bcrypt_cost(10)).with_hashing_pool(1, 1);
    let h = Arc::new(Harness::new(config));
    h.registered("burst@example.com", "pw").await;
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let h = Arc::clone(&h);
        let done = Arc::clone(&done);
        tasks.push(tokio::spawn(async move {
            let pw = if i % 2 == 0 { "pw" } else { "wrong" };
            let res = h.login("burst@example.com", pw).await;
            done.fetch_add(1, Ordering::SeqCst);
            res
        }));
    }
    // Let every login reach the pool (admitted) or be shed.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let shed_early = done.load(Ordering::SeqCst);
    let t = Instant::now();
    let res = h.send(get("/")).await;
    let took = t.elapsed();
    let finished_by_then = done.load(Ordering::SeqCst);
    assert_eq!(res.status, 200);
    assert!(
        took < Duration::from_millis(50),
        "pass-through took {took:?}"
    );
    assert!(
        finished_by_then < 16,
        "every login had finished before the pass-through answered: hashing is not concurrent"
    );
    assert!(shed_early >= 1, "nothing was shed before hashing finished");

    let mut statuses = Vec::new();
    for task in tasks {
        let res = task.await.unwrap();
        if res.status == 503 {
            assert!(res.retry_after().is_some(), "503 without Retry-After");
            assert!(res.json()["message"].is_string());
        }
        statuses.push(res.status.as_u16());
    }
    assert!(
        statuses.iter().all(|s| [200, 401, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(
        statuses.iter().any(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
    // Afterwards the service works normally.
    assert_eq!(h.login("burst@example.com", "pw").await.status, 200);
}

/// Issue 21, section 6: where the session cookie is `Secure` (the hardened profile) every
/// answer the layer makes carries `Strict-Transport-Security` (a year, no
/// `includeSubDomains`, by default; as configured; none with a max-age of 0); the
/// compatibility profile on plain http carries none; the wrapped app's answers are its own.
#[tokio::test]
async fn hsts_on_the_layers_answers_where_the_cookie_is_secure() {
    use crate::support::hardened_config;

    let cases = [
        (hardened_config(), Some("max-age=31536000")),
        (
            hardened_config().with_hsts(Duration::from_secs(600), true),
            Some("max-age=600; includeSubDomains"),
        ),
        (hardened_config().with_hsts(Duration::ZERO, true), None),
        (seed_config(), None),
        (
            seed_config().with_hsts(Duration::from_secs(600), false),
            None,
        ),
    ];
    for (config, expected) in cases {
        let what = format!("{expected:?} of {:?}", config.profile());
        let h = Harness::new(config);
        let stale = "00000000-0000-4000-8000-000000000000";
        let answers = [
            h.register("bob@example.com", "correct horse battery staple")
                .await,
            h.login("bob@example.com", "wrong password").await,
            h.send(get("/profile")).await,
            h.send(empty(Method::PATCH, "/sessions")).await,
            h.send(with_cookie(get("/profile"), stale)).await,
        ];
        for a in &answers {
            assert_eq!(
                a.header("strict-transport-security"),
                expected,
                "{what}: {a:?}"
            );
        }
        let app = h.send(get("/")).await;
        assert_eq!(app.status, 200, "{what}");
        assert_eq!(app.header("strict-transport-security"), None, "{what}");
    }
}
