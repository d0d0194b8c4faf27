//! Every page renders for a browser in both profiles, API clients still get the seed's exact
//! JSON, pages needing a session send the browser to log in with `next`.

use super::*;

/// The pages a logged-out browser gets, under `prefix`.
pub(super) async fn assert_logged_out_pages(demo: &Demo, prefix: &str) {
    let a = browse(demo, "/", "").await;
    assert_page(&a);
    assert!(a.body.contains("href=\"/login\""), "{}", a.body);
    assert!(a.body.contains("href=\"/register\""), "{}", a.body);
    assert!(!a.body.contains("logout-form"), "{}", a.body);

    let a = browse(demo, "/login?next=%2Faccount%2Fsessions", "").await;
    assert_page(&a);
    let email: (&str, &[&str]) = ("email", &["type=\"email\"", "autocomplete=\"username\""]);
    assert_form(
        &a.body,
        "login-form",
        &format!("{prefix}/sessions"),
        &[
            email,
            (
                "password",
                &["type=\"password\"", "autocomplete=\"current-password\""],
            ),
            ("next", &["type=\"hidden\"", "value=\"/account/sessions\""]),
        ],
        "id=\"login-submit\"",
    );
    assert!(
        a.body
            .contains("href=\"/register?next=%2Faccount%2Fsessions\"")
    );
    assert!(a.body.contains("href=\"/forgot_password\""), "{}", a.body);
    // Without a `next`, no hidden field.
    let a = browse(demo, "/login", "").await;
    assert!(!form(&a.body, "login-form").contains("name=\"next\""));

    let a = browse(demo, "/register?next=%2Fme", "").await;
    assert_page(&a);
    assert_form(
        &a.body,
        "register-form",
        &format!("{prefix}/users"),
        &[
            email,
            (
                "password",
                &["type=\"password\"", "autocomplete=\"new-password\""],
            ),
            ("next", &["type=\"hidden\"", "value=\"/me\""]),
        ],
        "id=\"register-submit\"",
    );

    let a = browse(demo, "/forgot_password", "").await;
    assert_page(&a);
    let reset = format!("{prefix}/reset_password");
    assert_form(
        &a.body,
        "forgot-form",
        &reset,
        &[email],
        "id=\"forgot-submit\"",
    );

    let a = browse(
        demo,
        "/new_password?email=ann%40example.com&token=abc123",
        "",
    )
    .await;
    assert_page(&a);
    assert_form(
        &a.body,
        "new-password-form",
        &reset,
        &[
            HIDDEN_PUT,
            ("email", &["value=\"ann@example.com\""]),
            ("reset_token", &["value=\"abc123\""]),
            (
                "new_password",
                &["type=\"password\"", "autocomplete=\"new-password\""],
            ),
        ],
        "id=\"new-password-submit\"",
    );
}

/// The pages a logged-in browser gets, under `prefix`.
pub(super) async fn assert_logged_in_pages(demo: &Demo, prefix: &str, email: &str, cookie: &str) {
    let logout = |body: &str| {
        assert_form(
            body,
            "logout-form",
            &format!("{prefix}/sessions"),
            &[HIDDEN_DELETE],
            "id=\"logout\"",
        );
    };
    let a = browse(demo, "/", cookie).await;
    assert_page(&a);
    assert!(
        a.body
            .contains(&format!("Logged in as <span id=\"email\">{email}</span>")),
        "{}",
        a.body
    );
    for link in ["/me", "/account/sessions", "/account/password"] {
        assert!(a.body.contains(&format!("href=\"{link}\"")), "{link}");
    }
    logout(&a.body);

    let a = browse(demo, "/me", cookie).await;
    assert_page(&a);
    assert!(
        a.body
            .contains(&format!("<span id=\"email\">{email}</span>"))
    );
    logout(&a.body);

    let a = browse(demo, "/account/password", cookie).await;
    assert_page(&a);
    assert_form(
        &a.body,
        "password-form",
        &format!("{prefix}/profile/password"),
        &[
            HIDDEN_PUT,
            (
                "current_password",
                &["type=\"password\"", "autocomplete=\"current-password\""],
            ),
            (
                "new_password",
                &["type=\"password\"", "autocomplete=\"new-password\""],
            ),
        ],
        "id=\"password-submit\"",
    );

    let a = browse(demo, "/account/sessions", cookie).await;
    assert_page(&a);
    assert!(a.body.contains("<ul id=\"sessions\">"), "{}", a.body);
    assert_form(
        &a.body,
        "end-all-form",
        &format!("{prefix}/sessions/all"),
        &[HIDDEN_DELETE],
        "id=\"end-all\"",
    );
    let li = tag(&a.body, "class=\"session\"");
    let id = li
        .split("data-session-id=\"")
        .nth(1)
        .and_then(|s| s.get(..32))
        .expect("a session id");
    assert!(li.contains("data-current=\"true\""), "{li}");
    let end = format!("action=\"{prefix}/sessions/{id}\"");
    let end_form = tag(&a.body, &end);
    assert!(end_form.starts_with("<form method=\"post\""), "{end_form}");
    assert!(
        a.body
            .contains("<button class=\"end-session\" type=\"submit\">End</button>")
    );
    assert!(a.body.contains("This device"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_for_a_browser_in_both_profiles() {
    for profile in PROFILES {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = start(&dir.path().join("a.redb"), profile, &[]);
        assert_logged_out_pages(&demo, "").await;
        let cookie = log_in(&demo, "", "ann@example.com").await;
        assert_logged_in_pages(&demo, "", "ann@example.com", &cookie).await;
        // A browser at a path that is no page: a 404 page.
        let a = browse(&demo, "/nowhere", &cookie).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert_secure(&a);
        // Pages are only read.
        let headers = [("accept", BROWSER), ("cookie", cookie.as_str())];
        let a = demo
            .http
            .send(Method::POST, "/login", &headers, Body::Empty)
            .await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(a.header("allow"), Some("GET, HEAD"));
        assert_secure(&a);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_clients_still_get_the_exact_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("a.redb"), "seed", &[]);
    let cookie = log_in(&demo, "", "ann@example.com").await;
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("application/json, text/html"),
    ] {
        for (path, cookie, status, body) in [
            ("/", "", 200, r#"{"message":"Bienvenue"}"#),
            ("/me", "", 401, r#"{"message":"not logged in"}"#),
            (
                "/me",
                cookie.as_str(),
                200,
                r#"{"email":"ann@example.com","id":1}"#,
            ),
            ("/login", "", 404, r#"{"message":"not found"}"#),
            (
                "/account/sessions",
                cookie.as_str(),
                404,
                r#"{"message":"not found"}"#,
            ),
            ("/nowhere", "", 404, r#"{"message":"not found"}"#),
        ] {
            let mut headers: Vec<(&str, &str)> =
                accept.map(|a| ("accept", a)).into_iter().collect();
            if !cookie.is_empty() {
                headers.push(("cookie", cookie));
            }
            let a = demo
                .http
                .send(Method::GET, path, &headers, Body::Empty)
                .await;
            assert_eq!(a.status.as_u16(), status, "{accept:?} {path}: {}", a.body);
            assert_eq!(a.body, body, "{accept:?} {path}");
            assert_eq!(a.header("content-type"), Some("application/json"));
            assert_eq!(a.header("content-security-policy"), None, "{path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_needing_a_session_send_the_browser_to_log_in_with_next() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("a.redb"), "hardened", &[]);
    for cookie in ["", "session_id=00000000-0000-4000-8000-000000000000"] {
        for (path, location) in [
            ("/me", "/login?next=%2Fme"),
            ("/account/sessions", "/login?next=%2Faccount%2Fsessions"),
            ("/account/password", "/login?next=%2Faccount%2Fpassword"),
            (
                "/account/sessions?notice=session_ended",
                "/login?next=%2Faccount%2Fsessions%3Fnotice%3Dsession_ended",
            ),
        ] {
            let a = browse(&demo, path, cookie).await;
            assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}: {}", a.body);
            assert_eq!(a.header("location"), Some(location), "{path}");
            assert_secure(&a);
        }
    }
    // The pages anyone may see need no session.
    for path in [
        "/",
        "/login",
        "/register",
        "/forgot_password",
        "/new_password",
    ] {
        assert_page(&browse(&demo, path, "").await);
    }
}
