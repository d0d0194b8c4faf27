//! The sessions page and the register and login forms post what the layer reads; the demo's
//! answers say `nosniff` and HSTS where the cookie is `Secure`.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_page_lists_every_session_and_marks_this_device() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("a.redb"), "hardened", &[]);
    let first = log_in(&demo, "", "dee@example.com").await;
    let second = log_in(&demo, "", "dee@example.com").await;
    let listed = demo.http.get("/sessions", &first).await.json();
    let ids: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    let a = browse(&demo, "/account/sessions", &first).await;
    assert_page(&a);
    assert_eq!(
        a.body.matches("<li class=\"session\"").count(),
        2,
        "{}",
        a.body
    );
    assert_eq!(a.body.matches("This device").count(), 1);
    for s in listed.as_array().expect("a list") {
        let id = s["id"].as_str().expect("id");
        let li = tag(&a.body, &format!("data-session-id=\"{id}\""));
        let current = s["current"].as_bool().expect("current");
        assert!(li.contains(&format!("data-current=\"{current}\"")), "{li}");
        assert!(a.body.contains(&format!("action=\"/sessions/{id}\"")));
    }
    // Dates in a readable UTC form.
    assert!(a.body.contains(" UTC</time>"), "{}", a.body);
    // The other session logs out: one left.
    let a = demo.http.delete("/sessions", &second).await;
    assert!(a.status.is_redirection(), "{}", a.body);
    let a = browse(&demo, "/account/sessions", &first).await;
    assert_eq!(
        a.body.matches("<li class=\"session\"").count(),
        1,
        "{}",
        a.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_and_login_forms_post_what_the_layer_reads() {
    for profile in PROFILES {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = start(&dir.path().join("a.redb"), profile, &[]);
        let origin = demo.base.clone();
        let headers = [
            ("accept", BROWSER),
            ("origin", origin.as_str()),
            ("sec-fetch-site", "same-origin"),
        ];
        let fields = [
            ("email", "eve@example.com"),
            ("password", GOOD_PW),
            ("next", "/me"),
        ];
        for form_id in ["register-form", "login-form"] {
            let page = if form_id == "login-form" {
                "/login"
            } else {
                "/register"
            };
            let a = browse(&demo, &format!("{page}?next=%2Fme"), "").await;
            let head = tag(form(&a.body, form_id), "method=\"post\"");
            let action = head
                .split("action=\"")
                .nth(1)
                .and_then(|s| s.split('"').next());
            let a = demo
                .http
                .send(
                    Method::POST,
                    action.expect("action"),
                    &headers,
                    Body::Form(&fields),
                )
                .await;
            // The layer answers a browser's form with a redirect: registering leads to the
            // login page with `next` kept, logging in to `next`.
            assert_eq!(
                a.status,
                StatusCode::SEE_OTHER,
                "{profile} {form_id}: {}",
                a.body
            );
            let expected = if form_id == "login-form" {
                "/me"
            } else {
                "/login?notice=registered&next=%2Fme"
            };
            assert_eq!(a.header("location"), Some(expected), "{profile} {form_id}");
            if form_id == "login-form" {
                let cookie = format!("session_id={}", a.session_cookie().expect("cookie"));
                let a = browse(&demo, "/me", &cookie).await;
                assert_page(&a);
                assert!(a.body.contains("<span id=\"email\">eve@example.com</span>"));
            }
        }
    }
}

/// Issue 21, section 6: the demo's own JSON answers (`/`, `/me`) say `nosniff` in both
/// profiles; in the hardened one (a `Secure` cookie) they, its pages and the layer's answers
/// carry `Strict-Transport-Security`: a year by default, `AUTH_HSTS_MAX_AGE` seconds and
/// `AUTH_HSTS_INCLUDE_SUBDOMAINS=1` as set, none with 0; the compatibility profile none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_answers_say_nosniff_and_hsts_where_the_cookie_is_secure() {
    /// A profile, its environment, and the HSTS value its answers carry.
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        Option<&'static str>,
    );
    let cases: [Case; 4] = [
        ("seed", &[], None),
        ("hardened", &[], Some("max-age=31536000")),
        (
            "hardened",
            &[
                ("AUTH_HSTS_MAX_AGE", "600"),
                ("AUTH_HSTS_INCLUDE_SUBDOMAINS", "1"),
            ],
            Some("max-age=600; includeSubDomains"),
        ),
        ("hardened", &[("AUTH_HSTS_MAX_AGE", "0")], None),
    ];
    for (profile, env, hsts) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = start(&dir.path().join("a.redb"), profile, env);
        let cookie = log_in(&demo, "", "ann@example.com").await;
        let what = format!("{profile} {env:?}");
        for (path, cookie) in [("/", ""), ("/me", ""), ("/me", cookie.as_str())] {
            let a = demo.http.get(path, cookie).await;
            assert_eq!(
                a.header("x-content-type-options"),
                Some("nosniff"),
                "{what} {path}"
            );
            assert_eq!(a.header("strict-transport-security"), hsts, "{what} {path}");
        }
        let page = browse(&demo, "/login", "").await;
        assert_eq!(
            page.header("strict-transport-security"),
            hsts,
            "{what} page"
        );
        let layer = demo.http.get("/profile", "").await;
        assert_eq!(layer.status, StatusCode::FORBIDDEN, "{what}");
        assert_eq!(
            layer.header("strict-transport-security"),
            hsts,
            "{what} layer"
        );
    }
}
