//! Without a session a browser is sent to log in; resets through forms in both profiles; one
//! session ended by its listed id; configured pages and the route prefix; API clients keep JSON;
//! the flow over a real socket.

use super::*;

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
