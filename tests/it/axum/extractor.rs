//! The extractor: public and protected routes answer as `AuthenticatedUser` says; throttling
//! sees each client's own address (`ConnectInfo`, `PeerAddr`); without `ConnectInfo` the layer
//! warns once, naming the fix.

use super::*;

#[tokio::test]
async fn public_and_protected_routes_answer_as_the_extractor_says() {
    for serving in [Serving::Crate, Serving::PlainAxum] {
        let app = Running::start(unthrottled(hardened_config()), serving).await;
        let public = app.get("/public", None).await;
        assert_eq!(public.status, StatusCode::OK, "{serving:?}");
        assert_eq!(public.body, "anyone can read this");

        // `AuthenticatedUser` without a session: the layer's 401 JSON answer.
        let refused = app.get("/me", None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{serving:?}");
        assert_eq!(
            refused.json(),
            serde_json::json!({"message": "login required"})
        );
        assert_eq!(refused.header("content-type"), Some("application/json"));
        assert_eq!(refused.header("cache-control"), Some("no-store"));
        assert_eq!(refused.header("x-content-type-options"), Some("nosniff"));
        // A cookie naming no session is no login either.
        let unknown = app
            .get("/me", Some("00000000-0000-4000-8000-000000000000"))
            .await;
        assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "{serving:?}");
        // `Option<AuthenticatedUser>` without a session.
        assert_eq!(app.get("/", None).await.body, "welcome, stranger");

        let fields = [("email", EMAIL), ("password", GOOD_PW)];
        let registered = app.send(HOME, form(Method::POST, "/users", &fields)).await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
        let logged_in = app.log_in(HOME, GOOD_PW).await;
        assert_eq!(logged_in.status, StatusCode::OK, "{}", logged_in.body);
        let token = logged_in.session_cookie().expect("a session cookie");

        let me = app.get("/me", Some(&token)).await;
        assert_eq!(me.status, StatusCode::OK, "{serving:?}: {}", me.body);
        assert_eq!(me.body, format!("hello {EMAIL}"));
        let home = app.get("/", Some(&token)).await;
        assert_eq!(home.body, format!("welcome back, {EMAIL}"));

        // Logged out, the session is no login any more.
        let out = app
            .send(
                HOME,
                with_cookie(empty(Method::DELETE, "/sessions"), &token),
            )
            .await;
        assert!(
            out.status.is_success() || out.status.is_redirection(),
            "{out:?}"
        );
        assert_eq!(
            app.get("/me", Some(&token)).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(app.get("/", Some(&token)).await.body, "welcome, stranger");
    }
}

/// The headline defect: under `axum::serve` with `ConnectInfo` (and under the crate's
/// server with `PeerAddr`) failures from 127.0.0.2 put 127.0.0.2 in backoff on the account,
/// not the owner logging in from 127.0.0.1. Were the client address lost, both would share
/// one key and the owner would be refused too.
#[tokio::test]
async fn throttling_sees_each_clients_own_address() {
    let throttle = ThrottleConfig::default()
        .with_free_failures(2)
        .with_backoff(Duration::from_secs(600), Duration::from_secs(600));
    for serving in [Serving::PlainAxum, Serving::Crate] {
        let app = Running::start(hardened_config().with_throttle(throttle.clone()), serving).await;
        let fields = [("email", EMAIL), ("password", GOOD_PW)];
        let registered = app.send(HOME, form(Method::POST, "/users", &fields)).await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
        for _ in 0..2 {
            let wrong = app.log_in(ELSEWHERE, OTHER_PW).await;
            assert_eq!(
                wrong.status,
                StatusCode::UNAUTHORIZED,
                "{serving:?}: {wrong:?}"
            );
        }
        // 127.0.0.2 is in backoff, even with the right password...
        let throttled = app.log_in(ELSEWHERE, GOOD_PW).await;
        assert_eq!(
            throttled.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{serving:?}: {throttled:?}"
        );
        // ...and the owner, from 127.0.0.1, is not.
        let owner = app.log_in(HOME, GOOD_PW).await;
        assert_eq!(owner.status, StatusCode::OK, "{serving:?}: {owner:?}");
    }
}

/// Served by plain `axum::serve` without `into_make_service_with_connect_info`, requests
/// carry no client address: the layer says so, once, naming the fix, however many requests
/// come. (The test's runtime is single-threaded, so the server's tasks log to this thread's
/// subscriber; no other test of this binary serves without an address.)
#[tokio::test]
async fn without_connect_info_the_layer_warns_once_naming_the_fix() {
    let warnings = Warnings::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(warnings.clone()));
    let (auth, _dir) = auth(unthrottled(hardened_config()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = example::app(auth);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("axum::serve");
    });
    for _ in 0..3 {
        let fields = [("email", EMAIL), ("password", GOOD_PW)];
        let res = http(addr, form(Method::POST, "/sessions", &fields)).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{res:?}");
    }
    task.abort();
    let seen: Vec<String> = (warnings.0.lock().expect("not poisoned").iter())
        .filter(|w| w.contains("client address"))
        .cloned()
        .collect();
    assert_eq!(seen.len(), 1, "{seen:?}");
    for fix in [
        "into_make_service_with_connect_info",
        "PeerAddr",
        "serve::Server",
    ] {
        assert!(seen[0].contains(fix), "{fix} not named: {}", seen[0]);
    }
}
