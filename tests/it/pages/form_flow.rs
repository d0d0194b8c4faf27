//! The browser form flow: a browser (its `Accept` prefers `text/html`) posting the auth
//! routes' HTML forms gets `303 See Other` to the app's pages (`tower_user_auth::Pages`),
//! with a short error code on failure; forms reach `PUT` and `DELETE` with a `_method` field;
//! API clients keep their JSON answers byte for byte.

use crate::support;

use http::{Method, Request, StatusCode};
use serde_json::json;
use tower_user_auth::{AuthConfig, Pages, token::TokenDigest};

use support::{
    Body, FullBody, GOOD_PW, Harness, OTHER_PW, as_browser, empty, form, get, hardened_config,
    request, seed_config, serve_echo, unthrottled, with_cookie, with_header,
};

/// `req` as a browser's, sent through the layer: its status and `Location`.
async fn browse(h: &Harness, req: Request<FullBody>) -> support::Answer {
    h.send(as_browser(req)).await
}

fn location(a: &support::Answer) -> &str {
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{a:?}");
    assert!(a.body.is_empty(), "a redirect has no body: {}", a.body);
    assert_eq!(a.header("cache-control"), Some("no-store"));
    a.header("location").expect("a Location")
}

fn login_form<'a>(email: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("email", email), ("password", password)]
}

#[tokio::test]
async fn log_in_goes_to_a_safe_next_or_the_landing_page_with_the_cookie() {
    let h = Harness::seed();
    h.registered("ann@example.com", GOOD_PW).await;
    let fields = login_form("ann@example.com", GOOD_PW);
    let res = browse(&h, form(Method::POST, "/sessions", &fields)).await;
    assert_eq!(location(&res), "/");
    let cookie = res.session_cookie().expect("the session cookie is set");
    assert_eq!(h.profile(&cookie).await.status, 200);

    for (next, expected) in [
        ("/account?tab=1", "/account?tab=1"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/%2F%2Fevil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ] {
        let mut with_next = fields.clone();
        with_next.push(("next", next));
        let res = browse(&h, form(Method::POST, "/sessions", &with_next)).await;
        assert_eq!(location(&res), expected, "next={next:?}");
        assert!(res.session_cookie().is_some());
    }
    // `next` in the form's action, as `action="/sessions?next=..."` sends it.
    let res = browse(
        &h,
        form(Method::POST, "/sessions?next=%2Fme%3Fx%3D1", &fields),
    )
    .await;
    assert_eq!(location(&res), "/me?x=1");
}

/// A form's action, its fields, and the code its failure comes back with.
type FailedForm<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

#[tokio::test]
async fn failed_forms_go_back_with_a_code_and_keep_next() {
    let h = Harness::new(unthrottled(hardened_config()));
    h.registered("ann@example.com", GOOD_PW).await;
    let cases: [FailedForm<'_>; 7] = [
        (
            "/sessions",
            &[
                ("email", "ann@example.com"),
                ("password", "wrong"),
                ("next", "/me"),
            ],
            "/login?error=wrong_credentials&next=%2Fme",
        ),
        (
            "/sessions",
            &[("email", "ann@example.com"), ("next", "//evil.example")],
            "/login?error=missing_field",
        ),
        (
            "/users",
            &[("email", "ann@example.com"), ("password", GOOD_PW)],
            "/register?error=email_taken",
        ),
        (
            "/users",
            &[
                ("email", "bob@example.com"),
                ("password", "short"),
                ("next", "/x"),
            ],
            "/register?error=weak_password&next=%2Fx",
        ),
        (
            "/users",
            &[("email", "not an email"), ("password", GOOD_PW)],
            "/register?error=invalid_email",
        ),
        (
            "/users",
            &[
                ("email", "x@example.com"),
                ("password", GOOD_PW),
                ("password", GOOD_PW),
            ],
            "/register?error=missing_field",
        ),
        (
            "/reset_password",
            &[("email", "")],
            "/forgot_password?error=missing_field",
        ),
    ];
    for (path, fields, expected) in cases {
        let res = browse(&h, form(Method::POST, path, fields)).await;
        assert_eq!(location(&res), expected, "{path} {fields:?}");
        assert!(res.session_cookie().is_none());
    }
    assert!(!h.user_exists("bob@example.com").await);
    // A body over the limit, a type no form sends.
    let big = "x".repeat(20_000);
    let res = browse(&h, form(Method::POST, "/users", &[("email", &big)])).await;
    assert_eq!(location(&res), "/register?error=too_large");
    let res = browse(
        &h,
        request(
            Method::POST,
            "/users",
            &[],
            Body::Raw("text/plain", b"hi".to_vec()),
        ),
    )
    .await;
    assert_eq!(location(&res), "/register?error=unsupported");
}

#[tokio::test]
async fn throttling_and_closed_registration_have_their_codes() {
    let h = Harness::hardened();
    h.registered("ann@example.com", GOOD_PW).await;
    let mut last = String::new();
    for _ in 0..10 {
        let fields = login_form("ann@example.com", "wrong");
        let res = browse(&h, form(Method::POST, "/sessions", &fields)).await;
        last = location(&res).to_owned();
    }
    assert_eq!(last, "/login?error=throttled");

    let h = Harness::new(seed_config().with_registration(false));
    let fields = login_form("new@example.com", GOOD_PW);
    let res = browse(&h, form(Method::POST, "/users", &fields)).await;
    assert_eq!(location(&res), "/register?error=registration_closed");
}

#[tokio::test]
async fn register_sends_to_log_in_with_next_kept() {
    let h = Harness::seed();
    let fields = [
        ("email", "ann@example.com"),
        ("password", GOOD_PW),
        ("next", "/me"),
    ];
    let res = browse(&h, form(Method::POST, "/users", &fields)).await;
    assert_eq!(location(&res), "/login?notice=registered&next=%2Fme");
    assert!(h.user_exists("ann@example.com").await);
    assert!(
        res.session_cookie().is_none(),
        "registering does not log in"
    );
}

#[tokio::test]
async fn forms_reach_put_and_delete_with_method_and_only_in_form_bodies() {
    let h = Harness::seed();
    h.registered("ann@example.com", GOOD_PW).await;

    // Log out: `POST /sessions` with `_method=DELETE`, urlencoded or multipart, any case.
    for body in [
        Body::Form(&[("_method", "DELETE")]),
        Body::Multipart(&[("_method", "delete")]),
    ] {
        let cookie = h.session("ann@example.com", GOOD_PW).await;
        let req = with_cookie(request(Method::POST, "/sessions", &[], body), &cookie);
        let res = h.send(req).await;
        assert_eq!(res.status, StatusCode::FOUND, "the logout's JSON answer");
        assert_eq!(res.json(), json!({ "message": "logged out" }));
        assert_eq!(h.profile(&cookie).await.status, 403);
    }

    // A JSON body's `_method` is a field like any other: the POST stays a POST.
    let cookie = h.session("ann@example.com", GOOD_PW).await;
    let json_body = Body::Json(
        json!({ "_method": "PUT", "current_password": GOOD_PW, "new_password": OTHER_PW }),
    );
    let res = h
        .send(with_cookie(
            request(Method::POST, "/profile/password", &[], json_body),
            &cookie,
        ))
        .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.header("allow"), Some("PUT"));
    // A plain POST keeps its 405; so does a `_method` the path does not serve, or none known.
    for (path, fields, allow) in [
        ("/sessions/all", vec![], "DELETE"),
        ("/sessions/all", vec![("_method", "PUT")], "DELETE"),
        ("/profile/password", vec![("_method", "DELETE")], "PUT"),
        ("/profile/password", vec![("_method", "PATCH")], "PUT"),
        (
            "/sessions",
            vec![("_method", "GET")],
            "GET, HEAD, POST, DELETE",
        ),
        ("/reset_password", vec![("_method", "TRACE")], "POST, PUT"),
    ] {
        let res = h
            .send(with_cookie(form(Method::POST, path, &fields), &cookie))
            .await;
        assert_eq!(
            res.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{path} {fields:?}"
        );
        assert_eq!(res.header("allow"), Some(allow), "{path} {fields:?}");
        assert_eq!(res.json(), json!({ "message": "method not allowed" }));
    }
    // `_method=POST`, as form helpers that always send the field do: no override.
    let as_post = [
        ("_method", "post"),
        ("email", "ann@example.com"),
        ("password", GOOD_PW),
    ];
    let res = h.send(form(Method::POST, "/sessions", &as_post)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    // `_method` given twice: 400, like any duplicated field.
    let twice = [("_method", "DELETE"), ("_method", "DELETE")];
    let res = h
        .send(with_cookie(
            form(Method::POST, "/sessions", &twice),
            &cookie,
        ))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // Never on a GET's query, nor on a route that serves only POST.
    let res = h
        .send(with_cookie(get("/profile?_method=DELETE"), &cookie))
        .await;
    assert_eq!(res.status, 200);
    let res = h
        .send(form(Method::POST, "/users", &[("_method", "DELETE")]))
        .await;
    assert_eq!(
        res.status,
        StatusCode::BAD_REQUEST,
        "register, missing its fields"
    );
    assert_eq!(
        h.profile(&cookie).await.status,
        200,
        "the session is untouched"
    );

    // Change the password, then end every session, through forms.
    let change = [
        ("_method", "PUT"),
        ("current_password", GOOD_PW),
        ("new_password", OTHER_PW),
    ];
    let res = browse(
        &h,
        with_cookie(form(Method::POST, "/profile/password", &change), &cookie),
    )
    .await;
    assert_eq!(location(&res), "/account/password?notice=password_changed");
    let res = browse(
        &h,
        with_cookie(
            form(Method::POST, "/sessions/all", &[("_method", "DELETE")]),
            &cookie,
        ),
    )
    .await;
    assert_eq!(location(&res), "/");
    assert!(support::clears(
        &res.set_cookie_line("session_id").expect("cleared")
    ));
    assert_eq!(h.profile(&cookie).await.status, 403);
}

#[tokio::test]
async fn password_change_failures_go_back_to_its_form() {
    let h = Harness::new(unthrottled(hardened_config()));
    h.registered("ann@example.com", GOOD_PW).await;
    let cookie = h.session("ann@example.com", GOOD_PW).await;
    for (fields, expected) in [
        (
            vec![
                ("_method", "PUT"),
                ("current_password", "wrong"),
                ("new_password", OTHER_PW),
            ],
            "/account/password?error=wrong_password",
        ),
        (
            vec![
                ("_method", "PUT"),
                ("current_password", GOOD_PW),
                ("new_password", "short"),
            ],
            "/account/password?error=weak_password",
        ),
        (
            vec![("_method", "PUT"), ("current_password", GOOD_PW)],
            "/account/password?error=missing_field",
        ),
    ] {
        let req = with_cookie(form(Method::POST, "/profile/password", &fields), &cookie);
        let res = browse(&h, req).await;
        assert_eq!(location(&res), expected, "{fields:?}");
    }
    assert_eq!(h.profile(&cookie).await.status, 200);
}

#[tokio::test]
async fn without_a_session_a_browser_is_sent_to_log_in() {
    let h = Harness::seed();
    let res = browse(&h, get("/profile")).await;
    assert_eq!(location(&res), "/login?next=%2Fprofile");
    let res = browse(&h, get("/sessions?x=1")).await;
    assert_eq!(location(&res), "/login?next=%2Fsessions%3Fx%3D1");
    // A stale cookie is cleared on the way.
    let stale = "00000000-0000-4000-8000-000000000000";
    let res = browse(&h, with_cookie(empty(Method::DELETE, "/sessions"), stale)).await;
    assert_eq!(location(&res), "/login");
    assert!(support::clears(
        &res.set_cookie_line("session_id").expect("cleared")
    ));
    let res = browse(
        &h,
        form(Method::POST, "/sessions", &[("_method", "DELETE")]),
    )
    .await;
    assert_eq!(location(&res), "/login");
    // A browser that is logged in gets the data as JSON.
    h.registered("ann@example.com", GOOD_PW).await;
    let cookie = h.session("ann@example.com", GOOD_PW).await;
    let res = browse(&h, with_cookie(get("/profile"), &cookie)).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({ "email": "ann@example.com" }));
}

#[tokio::test]
async fn reset_through_forms_in_both_profiles() {
    // Hardened: the token goes to the hook; the browser is told it was sent.
    let (h, mut inbox) = support::hardened_with_inbox(hardened_config());
    h.registered("ann@example.com", GOOD_PW).await;
    let res = browse(
        &h,
        form(
            Method::POST,
            "/reset_password",
            &[("email", "ann@example.com")],
        ),
    )
    .await;
    assert_eq!(location(&res), "/forgot_password?notice=reset_sent");
    let (to, token) = inbox.next().await;
    assert_eq!(to, "ann@example.com");
    let fields = [
        ("_method", "PUT"),
        ("email", "ann@example.com"),
        ("reset_token", token.as_str()),
        ("new_password", OTHER_PW),
    ];
    let res = browse(&h, form(Method::POST, "/reset_password", &fields)).await;
    assert_eq!(location(&res), "/login?notice=password_reset");
    let res = browse(&h, form(Method::POST, "/reset_password", &fields)).await;
    assert_eq!(
        location(&res),
        "/new_password?error=invalid_token",
        "single use"
    );
    assert!(!h.session("ann@example.com", OTHER_PW).await.is_empty());

    // Seed: the token is in the answer, so the browser goes on to the form that uses it.
    let h = Harness::seed();
    h.registered("Bob+x@example.com", GOOD_PW).await;
    let res = browse(
        &h,
        form(
            Method::POST,
            "/reset_password",
            &[("email", " Bob+x@example.com ")],
        ),
    )
    .await;
    let location = location(&res).to_owned();
    let prefix = "/new_password?email=Bob%2Bx%40example.com&token=";
    assert!(location.starts_with(prefix), "{location}");
    let token = &location[prefix.len()..];
    let res = h.reset("Bob+x@example.com", token, OTHER_PW).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let res = browse(
        &h,
        form(
            Method::POST,
            "/reset_password",
            &[("email", "nobody@example.com")],
        ),
    )
    .await;
    assert_eq!(self::location(&res), "/forgot_password?error=unknown_email");
    // An API client still gets the token in the JSON answer.
    let res = h.request_reset("Bob+x@example.com").await;
    assert_eq!(res.status, 200);
    assert!(res.json()["reset_token"].is_string());
}

#[tokio::test]
async fn one_session_is_ended_by_its_listed_id() {
    let h = Harness::seed();
    h.registered("ann@example.com", GOOD_PW).await;
    let here = h.session("ann@example.com", GOOD_PW).await;
    let other = h.session("ann@example.com", GOOD_PW).await;
    let listed = h.send(with_cookie(get("/sessions"), &here)).await.json();
    let other_id = TokenDigest::of(&other).session_id().to_string();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == other_id.as_str()),
        "{listed}"
    );

    // An API client: 200, then 404 for the same id.
    let path = format!("/sessions/{other_id}");
    let res = h
        .send(with_cookie(empty(Method::DELETE, &path), &here))
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({ "message": "session ended" }));
    assert!(
        res.set_cookie_line("session_id").is_none(),
        "not the current session"
    );
    assert_eq!(h.profile(&other).await.status, 403);
    assert_eq!(h.profile(&here).await.status, 200);
    let res = h
        .send(with_cookie(empty(Method::DELETE, &path), &here))
        .await;
    assert_eq!(res.status, 404);
    assert_eq!(res.json(), json!({ "message": "no such session" }));

    // A browser, by form: back to the list with a notice, or an error.
    let third = h.session("ann@example.com", GOOD_PW).await;
    let third_path = format!("/sessions/{}", TokenDigest::of(&third).session_id());
    let end = [("_method", "DELETE")];
    let res = browse(
        &h,
        with_cookie(form(Method::POST, &third_path, &end), &here),
    )
    .await;
    assert_eq!(location(&res), "/account/sessions?notice=session_ended");
    let res = browse(
        &h,
        with_cookie(form(Method::POST, &third_path, &end), &here),
    )
    .await;
    assert_eq!(location(&res), "/account/sessions?error=no_such_session");

    // Another user's session cannot be ended by its id.
    h.registered("bob@example.com", GOOD_PW).await;
    let bob = h.session("bob@example.com", GOOD_PW).await;
    let bob_path = format!("/sessions/{}", TokenDigest::of(&bob).session_id());
    let res = h
        .send(with_cookie(empty(Method::DELETE, &bob_path), &here))
        .await;
    assert_eq!(res.status, 404);
    assert_eq!(h.profile(&bob).await.status, 200);
    // Without a session: 403, as every session route.
    let res = h.send(empty(Method::DELETE, &bob_path)).await;
    assert_eq!(res.status, 403);
    assert_eq!(h.profile(&bob).await.status, 200);

    // Ending the current session logs out: the cookie is cleared.
    let here_path = format!("/sessions/{}", TokenDigest::of(&here).session_id());
    let res = browse(&h, with_cookie(form(Method::POST, &here_path, &end), &here)).await;
    assert_eq!(location(&res), "/");
    assert!(support::clears(
        &res.set_cookie_line("session_id").expect("cleared")
    ));
    assert_eq!(h.profile(&here).await.status, 403);

    // Only a session id is ours under /sessions/: other paths are the app's.
    let res = h
        .send(with_cookie(empty(Method::DELETE, "/sessions/x"), &bob))
        .await;
    assert_eq!(
        res.app_user().expect("reached the app")["email"],
        "bob@example.com"
    );
    let res = h.send(with_cookie(get(&bob_path), &bob)).await;
    assert_eq!(res.status, 405);
    assert_eq!(res.header("allow"), Some("DELETE"));
}

#[tokio::test]
async fn configured_pages_and_the_route_prefix_apply() {
    let config = seed_config().with_route_prefix("/auth").with_pages(Pages {
        login: "/signin?lang=en".into(),
        after_login: "https://app.example/home".into(),
        ..Pages::default()
    });
    let h = Harness::new(config);
    h.auth
        .register("ann@example.com", GOOD_PW, None)
        .await
        .unwrap();
    let fields = login_form("ann@example.com", "wrong");
    let res = browse(&h, form(Method::POST, "/auth/sessions", &fields)).await;
    assert_eq!(location(&res), "/signin?lang=en&error=wrong_credentials");
    let fields = login_form("ann@example.com", GOOD_PW);
    let res = browse(&h, form(Method::POST, "/auth/sessions", &fields)).await;
    assert_eq!(location(&res), "https://app.example/home");
    let cookie = res.session_cookie().unwrap();
    let path = format!("/auth/sessions/{}", TokenDigest::of(&cookie).session_id());
    let res = h
        .send(with_cookie(empty(Method::DELETE, &path), &cookie))
        .await;
    assert_eq!(res.status, 200);
    // The app keeps the unprefixed paths.
    let res = browse(&h, form(Method::POST, "/sessions", &fields)).await;
    assert!(res.app_user().is_none() && res.status != StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn api_clients_keep_json_whatever_else_they_accept() {
    let h = Harness::new(unthrottled(seed_config()));
    h.registered("ann@example.com", GOOD_PW).await;
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("application/json, text/html"),
        Some("text/html;q=0.5, application/json"),
        Some("text/html, application/json"),
    ] {
        let mut req = form(
            Method::POST,
            "/sessions",
            &login_form("ann@example.com", "wrong"),
        );
        if let Some(accept) = accept {
            req = with_header(req, "accept", accept);
        }
        let res = h.send(req).await;
        assert_eq!(res.status, 401, "{accept:?}");
        assert_eq!(
            res.body, r#"{"message":"wrong email or password"}"#,
            "{accept:?}"
        );
    }
}

/// A cross-site form is refused before anything, as JSON, and changes nothing.
#[tokio::test]
async fn a_cross_site_form_is_refused_even_with_method() {
    let h = Harness::seed();
    h.registered("ann@example.com", GOOD_PW).await;
    let cookie = h.session("ann@example.com", GOOD_PW).await;
    let req = with_cookie(
        form(Method::POST, "/sessions/all", &[("_method", "DELETE")]),
        &cookie,
    );
    let req = with_header(as_browser(req), "origin", "https://evil.example");
    let res = h.send(req).await;
    assert_eq!(res.status, 403);
    assert_eq!(
        res.json(),
        json!({ "message": "cross-site request refused" })
    );
    assert_eq!(h.profile(&cookie).await.status, 200);
}

/// The whole flow over a real socket: log in by form, end the session by form.
#[tokio::test]
async fn the_flow_over_a_real_socket() {
    let (auth, _dir) = support::auth(unthrottled(AuthConfig::compat().with_bcrypt_cost(4)));
    let server = serve_echo(&auth).await;
    let c = &server.http;
    let accept = [("accept", support::BROWSER_ACCEPT)];
    let fields = login_form("ann@example.com", GOOD_PW);
    let res = c
        .send(Method::POST, "/users", &accept, Body::Form(&fields))
        .await;
    assert_eq!(res.header("location"), Some("/login?notice=registered"));
    let res = c
        .send(Method::POST, "/sessions", &accept, Body::Form(&fields))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let cookie = format!("session_id={}", res.session_cookie().unwrap());
    let headers = [accept[0], ("cookie", cookie.as_str())];
    let res = c
        .send(
            Method::POST,
            "/sessions",
            &headers,
            Body::Form(&[("_method", "DELETE")]),
        )
        .await;
    assert_eq!(res.header("location"), Some("/"));
    assert_eq!(c.get("/profile", &cookie).await.status, 403);
}
