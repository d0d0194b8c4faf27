//! `RequireAuth` over a real socket, inside `AuthLayer` around the echo app: API clients get
//! 401 JSON, browsers a 303 to the login page with a safe `next`, logged-in requests reach the
//! app untouched. `RequireRecentAuth` lets through only sessions authenticated within the
//! re-authentication window, and answers the others 403 JSON or a 303 to the re-auth page.

use crate::support;

use http::{Method, StatusCode};
use support::*;
use tempfile::TempDir;
use tower::ServiceBuilder;
use tower_user_auth::{AuthLayer, RequireAuth, RequireRecentAuth};

/// What Chromium sends for a page.
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,\
                       image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";

/// `AuthLayer` (hardened profile, on a fresh database), then `guard`, around a fresh [`Echo`]
/// (returned to count its calls), served on a real socket.
async fn serve_guarded(guard: RequireAuth) -> (Server, Echo, TempDir) {
    let (auth, dir) = auth(hardened_config());
    let echo = Echo::default();
    let service = ServiceBuilder::new()
        .layer(AuthLayer::new(auth))
        .layer(guard)
        .service(echo.clone());
    (serve_service(service).await, echo, dir)
}

/// A registered user's session cookie, as the `Cookie` header value.
async fn logged_in(client: &Client) -> String {
    let fields = [("email", "bob@bob.com"), ("password", GOOD_PW)];
    assert_eq!(client.post("/users", Body::Form(&fields)).await.status, 200);
    let login = client.post("/sessions", Body::Form(&fields)).await;
    assert_eq!(login.status, 200, "{}", login.body);
    format!(
        "session_id={}",
        login.session_cookie().expect("session cookie")
    )
}

async fn get_accepting(client: &Client, path: &str, accept: Option<&str>, cookie: &str) -> Answer {
    let mut headers = cookie_header(cookie);
    headers.extend(accept.map(|a| ("accept", a)));
    client.send(Method::GET, path, &headers, Body::Empty).await
}

#[tokio::test]
async fn logged_out_api_clients_get_401_json_and_the_app_is_not_called() {
    let (server, echo, _dir) = serve_guarded(RequireAuth::new()).await;
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("application/json, text/html"),
        Some("text/html;q=0.9, application/json;q=1.0"),
        Some("text/html;q=abc"),
        Some("image/png"),
    ] {
        let a = get_accepting(&server.http, "/secret?x=1", accept, "").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{accept:?}");
        assert_eq!(a.body, r#"{"message":"login required"}"#, "{accept:?}");
        assert_eq!(a.header("content-type"), Some("application/json"));
        assert_eq!(a.header("cache-control"), Some("no-store"));
        assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(a.header("location"), None);
    }
    // Any method.
    let a = server.http.post("/secret", Body::Form(&[("a", "b")])).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(echo.calls(), 0);
}

#[tokio::test]
async fn logged_out_browsers_are_sent_to_log_in_with_next() {
    let (server, echo, _dir) = serve_guarded(RequireAuth::new()).await;
    for accept in [
        BROWSER,
        "text/html, application/xhtml+xml, */*;q=0.8",
        "text/html",
        "application/json;q=0.5, text/*",
    ] {
        let a = get_accepting(&server.http, "/secret?x=1", Some(accept), "").await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{accept}");
        assert_eq!(a.header("location"), Some("/login?next=%2Fsecret%3Fx%3D1"));
        assert_eq!(a.header("cache-control"), Some("no-store"));
        assert_eq!(a.body, "");
    }
    let a = get_accepting(&server.http, "/", Some(BROWSER), "").await;
    assert_eq!(a.header("location"), Some("/login?next=%2F"));
    let a = get_accepting(
        &server.http,
        "/caf%C3%A9/a-b?q=x+y%20z&r=%26",
        Some(BROWSER),
        "",
    )
    .await;
    assert_eq!(
        a.header("location"),
        Some("/login?next=%2Fcaf%25C3%25A9%2Fa-b%3Fq%3Dx%2By%2520z%26r%3D%2526")
    );
    // A form posted by a logged-out browser: 303, so the browser follows with a GET.
    let headers = [("accept", BROWSER)];
    let a = server
        .http
        .send(Method::POST, "/secret", &headers, Body::Form(&[("a", "b")]))
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.header("location"), Some("/login?next=%2Fsecret"));
    assert_eq!(echo.calls(), 0);
}

#[tokio::test]
async fn the_login_page_is_configurable() {
    for (page, location) in [
        ("/auth/login", "/auth/login?next=%2Fsecret"),
        ("/auth/login?lang=en", "/auth/login?lang=en&next=%2Fsecret"),
        (
            "https://id.example.com/login#form",
            "https://id.example.com/login?next=%2Fsecret#form",
        ),
    ] {
        let (server, _, _dir) = serve_guarded(RequireAuth::new().with_login_page(page)).await;
        let a = get_accepting(&server.http, "/secret", Some(BROWSER), "").await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        assert_eq!(a.header("location"), Some(location));
    }
}

#[tokio::test]
async fn logged_in_requests_reach_the_app_untouched_and_it_sees_the_user() {
    let (server, echo, _dir) = serve_guarded(RequireAuth::new()).await;
    let cookie = logged_in(&server.http).await;
    for accept in [None, Some(BROWSER), Some("application/json")] {
        let a = get_accepting(&server.http, "/secret?x=1", accept, &cookie).await;
        assert_eq!(a.status, StatusCode::OK, "{accept:?}");
        assert_eq!(a.header("x-echo"), Some("1"));
        let user = a.app_user().expect("the app sees the user");
        assert_eq!(user["email"], "bob@bob.com");
        assert_eq!(a.json()["path"], "/secret");
    }
    let headers = cookie_header(&cookie);
    let a = server
        .http
        .send(Method::POST, "/echo", &headers, Body::Form(&[("a", "b")]))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["body"], "a=b");
    assert_eq!(echo.calls(), 4);
    // The auth routes are the layer's, in front of the guard: logging out works (302 to `/`),
    // and then the guard refuses the same cookie.
    assert_eq!(server.http.delete("/sessions", &cookie).await.status, 302);
    let a = get_accepting(&server.http, "/secret", None, &cookie).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(echo.calls(), 4);
}

#[tokio::test]
async fn a_dead_session_cookie_is_refused_and_cleared() {
    let (server, echo, _dir) = serve_guarded(RequireAuth::new()).await;
    for (cookie, accept) in [
        ("session_id=00000000-0000-4000-8000-000000000000", None),
        ("session_id=not-a-session", Some(BROWSER)),
    ] {
        let a = get_accepting(&server.http, "/secret", accept, cookie).await;
        let expected = match accept {
            None => StatusCode::UNAUTHORIZED,
            Some(_) => StatusCode::SEE_OTHER,
        };
        assert_eq!(a.status, expected, "{cookie}");
        let line = a
            .set_cookie_line("session_id")
            .expect("the cookie is cleared");
        assert!(clears(&line), "{line}");
    }
    assert_eq!(echo.calls(), 0);
}

#[tokio::test]
async fn a_hostile_request_target_never_ends_up_in_location() {
    let (server, echo, _dir) = serve_guarded(RequireAuth::new()).await;
    for target in [
        "//evil.com",
        "//evil.com/path?x=1",
        "///evil.com",
        "/%2F%2Fevil.com",
        "/%2f%2fevil.com",
        "/%5Cevil.com",
        "/%5C%5Cevil.com",
        "/%252F%252Fevil.com",
        "/..//evil.com",
        "/%2e%2e//evil.com",
        "/a/../..//evil.com",
        "/%09/evil.com",
        "/%0d%0aSet-Cookie:%20x=1",
        "/%EF%BC%8F%EF%BC%8Fevil.com",
        "/%E2%88%95evil.com",
        "/x?y=%0d%0aLocation:%20//evil.com",
    ] {
        let a = server
            .http
            .send(Method::GET, target, &[("accept", BROWSER)], Body::Empty)
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{target}");
        assert_eq!(a.header("location"), Some("/login"), "{target}");
        assert_eq!(a.header("set-cookie"), None, "{target}");
    }
    let long = format!("/{}", "a".repeat(3000));
    let a = get_accepting(&server.http, &long, Some(BROWSER), "").await;
    assert_eq!(a.header("location"), Some("/login"));
    assert_eq!(echo.calls(), 0);
    // A plain path beside them still gets its `next`.
    let a = get_accepting(&server.http, "/evil.com", Some(BROWSER), "").await;
    assert_eq!(a.header("location"), Some("/login?next=%2Fevil.com"));
}

/// `AuthLayer`, then `RequireRecentAuth` built from the same `Auth` (its window, its clock:
/// a manual one), around a fresh [`Echo`], served on a real socket.
async fn serve_recent(
    guard: impl FnOnce(&tower_user_auth::Auth) -> RequireRecentAuth,
) -> (Server, Echo, tower_user_auth::ManualClock, TempDir) {
    let (auth, clock, dir) = auth_with_clock(hardened_config());
    let echo = Echo::default();
    let service = ServiceBuilder::new()
        .layer(AuthLayer::new(auth.clone()))
        .layer(guard(&auth))
        .service(echo.clone());
    (serve_service(service).await, echo, clock, dir)
}

#[tokio::test]
async fn recent_auth_without_a_session_answers_as_require_auth() {
    let (server, echo, _clock, _dir) = serve_recent(RequireRecentAuth::new).await;
    let a = get_accepting(&server.http, "/secret?x=1", None, "").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.body, r#"{"message":"login required"}"#);
    let a = get_accepting(&server.http, "/secret?x=1", Some(BROWSER), "").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.header("location"), Some("/login?next=%2Fsecret%3Fx%3D1"));
    assert_eq!(echo.calls(), 0);
}

#[tokio::test]
async fn recent_auth_lets_a_fresh_session_through_and_refuses_a_stale_one() {
    let (server, echo, clock, _dir) = serve_recent(RequireRecentAuth::new).await;
    let cookie = logged_in(&server.http).await;
    // Just logged in: fresh.
    let a = get_accepting(&server.http, "/secret", None, &cookie).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(echo.calls(), 1);
    clock.advance(std::time::Duration::from_secs(299));
    let a = get_accepting(&server.http, "/secret", None, &cookie).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // Past the window (300 s by default): API clients 403, browsers to re-authenticate.
    clock.advance(std::time::Duration::from_secs(2));
    for accept in [None, Some("application/json")] {
        let a = get_accepting(&server.http, "/secret?x=1", accept, &cookie).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{accept:?}");
        assert_eq!(a.body, r#"{"message":"re-authentication required"}"#);
        assert_eq!(a.header("cache-control"), Some("no-store"));
        assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
    }
    let a = get_accepting(&server.http, "/secret?x=1", Some(BROWSER), &cookie).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.header("location"),
        Some("/account/reauth?next=%2Fsecret%3Fx%3D1")
    );
    assert_eq!(a.header("set-cookie"), None, "the session stays");
    assert_eq!(echo.calls(), 2);
    // A step-up makes the new session fresh again; the old cookie is gone.
    let headers = cookie_header(&cookie);
    let a = server
        .http
        .send(
            Method::POST,
            "/profile/reauth",
            &headers,
            Body::Form(&[("current_password", GOOD_PW)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let renewed = a.session_cookie_header().expect("a new session cookie");
    let a = get_accepting(&server.http, "/secret", None, &renewed).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = get_accepting(&server.http, "/secret", None, &cookie).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(echo.calls(), 3);
}

#[tokio::test]
async fn recent_auth_window_and_pages_are_configurable() {
    let (server, echo, clock, _dir) = serve_recent(|auth| {
        RequireRecentAuth::new(auth)
            .with_window(std::time::Duration::from_secs(10))
            .with_reauth_page("/auth/again?lang=en")
            .with_login_page("/auth/login")
    })
    .await;
    let a = get_accepting(&server.http, "/secret", Some(BROWSER), "").await;
    assert_eq!(a.header("location"), Some("/auth/login?next=%2Fsecret"));
    let cookie = logged_in(&server.http).await;
    clock.advance(std::time::Duration::from_secs(11));
    let a = get_accepting(&server.http, "/secret", Some(BROWSER), &cookie).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.header("location"),
        Some("/auth/again?lang=en&next=%2Fsecret")
    );
    // A hostile target is not offered back.
    let a = get_accepting(&server.http, "//evil.com", Some(BROWSER), &cookie).await;
    assert_eq!(a.header("location"), Some("/auth/again?lang=en"));
    assert_eq!(echo.calls(), 0);
}
