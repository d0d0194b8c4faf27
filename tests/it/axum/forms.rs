//! `RequireAuth` on a group of routes (401 JSON for API clients, 303 to the login form for
//! browsers), the login form and its escaped `next`, a browser's round trips through the forms.

use super::*;

/// `RequireAuth` on the example's `/account` pages (`Router::route_layer`): an API client
/// without a session gets the 401 JSON answer, a browser a 303 to the login form with where
/// it was going in `next`; neither reaches the handler. With a session the pages answer.
#[tokio::test]
async fn the_guard_answers_api_clients_401_and_browsers_303_to_the_login_form() {
    for serving in [Serving::Crate, Serving::PlainAxum] {
        let app = Running::start(unthrottled(hardened_config()), serving).await;
        for path in ["/account", "/account/password?tab=1"] {
            let api = app.get(path, None).await;
            assert_eq!(
                api.status,
                StatusCode::UNAUTHORIZED,
                "{serving:?} {path}: {api:?}"
            );
            assert_eq!(api.json(), serde_json::json!({"message": "login required"}));
            assert_eq!(api.header("content-type"), Some("application/json"));
            assert_eq!(api.header("cache-control"), Some("no-store"));
        }
        let browser = app.browser_get("/account", None).await;
        assert_eq!(
            browser.status,
            StatusCode::SEE_OTHER,
            "{serving:?}: {browser:?}"
        );
        assert_eq!(browser.header("location"), Some("/login?next=%2Faccount"));
        assert_eq!(browser.header("cache-control"), Some("no-store"));
        let deeper = app.browser_get("/account/password?tab=1", None).await;
        assert_eq!(deeper.status, StatusCode::SEE_OTHER, "{deeper:?}");
        assert_eq!(
            deeper.header("location"),
            Some("/login?next=%2Faccount%2Fpassword%3Ftab%3D1")
        );
        // Pages outside the group are not guarded.
        assert_eq!(
            app.browser_get("/public", None).await.status,
            StatusCode::OK
        );
        assert_eq!(app.browser_get("/login", None).await.status, StatusCode::OK);

        app.register().await;
        let logged_in = app.log_in(HOME, GOOD_PW).await;
        let token = logged_in.session_cookie().expect("a session cookie");
        for path in ["/account", "/account/password"] {
            let page = app.browser_get(path, Some(&token)).await;
            assert_eq!(page.status, StatusCode::OK, "{serving:?} {path}: {page:?}");
            assert!(
                page.header("content-type")
                    .is_some_and(|ct| ct.starts_with("text/html"))
            );
        }
        let account = app.get("/account", Some(&token)).await;
        assert!(
            account.body.contains(&format!("Logged in as {EMAIL}.")),
            "{}",
            account.body
        );
        // The logout form: a POST the layer reads as DELETE.
        assert!(account.body.contains(
            "<form method=\"post\" action=\"/sessions\">\
             <input type=\"hidden\" name=\"_method\" value=\"DELETE\">"
        ));
    }
}

/// `GET /login` renders the form that posts to the layer's `POST /sessions`, with the `next`
/// of its query in a hidden field: HTML-escaped, and left out unless it is a path on this
/// site. The `error` of the query is shown as a fixed message, never echoed.
#[tokio::test]
async fn the_login_form_carries_next_escaped() {
    let app = Running::start(unthrottled(hardened_config()), Serving::PlainAxum).await;
    let form = app.browser_get("/login?next=%2Faccount", None).await;
    assert_eq!(form.status, StatusCode::OK, "{form:?}");
    assert_eq!(
        form.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    for part in [
        "<form method=\"post\" action=\"/sessions\">",
        "<input type=\"hidden\" name=\"next\" value=\"/account\">",
        "<input name=\"email\"",
        "<input name=\"password\" type=\"password\">",
    ] {
        assert!(form.body.contains(part), "{part} not in {}", form.body);
    }

    // A `next` that would close the attribute and open a script: escaped, inert.
    let hostile = "/account\"><script>alert(1)</script>&x='y'";
    let path = format!("/login?next={}", urlencode_value(hostile));
    let escaped = app.browser_get(&path, None).await;
    assert_eq!(escaped.status, StatusCode::OK, "{escaped:?}");
    assert!(
        escaped.body.contains(
            "<input type=\"hidden\" name=\"next\" \
             value=\"/account&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;x=&#39;y&#39;\">"
        ),
        "{}",
        escaped.body
    );
    assert!(!escaped.body.contains("<script>"), "{}", escaped.body);

    // No `next`, or one that leaves the site: no hidden field at all.
    for path in [
        "/login",
        "/login?next=%2F%2Fevil.example",
        "/login?next=https%3A%2F%2Fevil.example%2F",
    ] {
        let page = app.browser_get(path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            !page.body.contains("name=\"next\""),
            "{path}: {}",
            page.body
        );
        assert!(!page.body.contains("evil"), "{path}: {}", page.body);
    }

    // The error code picks a fixed message; unknown codes a generic one; nothing is echoed.
    let wrong = app
        .browser_get("/login?error=wrong_credentials", None)
        .await;
    assert!(
        wrong.body.contains("Wrong email or password."),
        "{}",
        wrong.body
    );
    let odd = app
        .browser_get("/login?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E", None)
        .await;
    assert!(!odd.body.contains("script"), "{}", odd.body);
    assert!(odd.body.contains("That did not work"), "{}", odd.body);
    let notice = app.browser_get("/login?notice=password_reset", None).await;
    assert!(!notice.body.contains("did not work"), "{}", notice.body);
}

/// A browser's whole trip through the example: the guarded page sends it to the login form,
/// the form's `next` carries the page, the layer answers the form's POST with 303 to it and a
/// session cookie, and the page answers; the logout form (`_method=DELETE`) ends the session
/// and the guard sends the browser to log in again. (The 303 answers to the form POSTs are
/// the layer's browser form flow.)
#[tokio::test]
async fn a_browser_logs_in_through_the_form_and_lands_back_on_the_guarded_page() {
    for serving in [Serving::Crate, Serving::PlainAxum] {
        let app = Running::start(unthrottled(hardened_config()), serving).await;
        app.register().await;

        let guarded = app.browser_get("/account", None).await;
        assert_eq!(
            guarded.status,
            StatusCode::SEE_OTHER,
            "{serving:?}: {guarded:?}"
        );
        let login_page = guarded.header("location").expect("a Location").to_owned();
        let form = app.browser_get(&login_page, None).await;
        assert_eq!(form.status, StatusCode::OK, "{form:?}");
        let next = hidden_field(&form.body, "next").expect("the form carries next");
        assert_eq!(next, "/account");

        // A wrong password: back to the form, `next` kept.
        let fields = [
            ("email", EMAIL),
            ("password", OTHER_PW),
            ("next", next.as_str()),
        ];
        let refused = app.browser_post("/sessions", &fields, None).await;
        assert_eq!(
            refused.status,
            StatusCode::SEE_OTHER,
            "{serving:?}: the layer answers a browser's login form with 303: {refused:?}"
        );
        assert_eq!(
            location(&refused),
            (
                "/login".to_owned(),
                vec![
                    query("error", "wrong_credentials"),
                    query("next", "/account")
                ]
            )
        );
        assert!(refused.session_cookie().is_none());

        let fields = [
            ("email", EMAIL),
            ("password", GOOD_PW),
            ("next", next.as_str()),
        ];
        let logged_in = app.browser_post("/sessions", &fields, None).await;
        assert_eq!(
            logged_in.status,
            StatusCode::SEE_OTHER,
            "{serving:?}: {logged_in:?}"
        );
        assert_eq!(logged_in.header("location"), Some("/account"));
        let token = logged_in.session_cookie().expect("a session cookie");

        let landed = app.browser_get("/account", Some(&token)).await;
        assert_eq!(landed.status, StatusCode::OK, "{landed:?}");
        assert!(
            landed.body.contains(&format!("Logged in as {EMAIL}.")),
            "{}",
            landed.body
        );

        // The logout form: POST with `_method=DELETE`.
        let out = app
            .browser_post("/sessions", &[("_method", "DELETE")], Some(&token))
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{serving:?}: {out:?}");
        assert_eq!(out.header("location"), Some("/"));
        let again = app.browser_get("/account", Some(&token)).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{again:?}");
        assert_eq!(again.header("location"), Some("/login?next=%2Faccount"));
    }
}

/// The register form posts to the layer's `POST /users`, which sends a browser on to the
/// login form with `notice=registered`; the form says so.
#[tokio::test]
async fn a_browser_registers_through_the_form() {
    let app = Running::start(unthrottled(hardened_config()), Serving::Crate).await;
    let form = app.browser_get("/register", None).await;
    assert_eq!(form.status, StatusCode::OK, "{form:?}");
    assert!(
        form.body
            .contains("<form method=\"post\" action=\"/users\">"),
        "{}",
        form.body
    );

    let fields = [("email", EMAIL), ("password", GOOD_PW)];
    let registered = app.browser_post("/users", &fields, None).await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "the layer answers a browser's register form with 303: {registered:?}"
    );
    assert_eq!(
        registered.header("location"),
        Some("/login?notice=registered")
    );
    let notice = app.browser_get("/login?notice=registered", None).await;
    assert!(
        notice.body.contains("Registered: you can log in."),
        "{}",
        notice.body
    );

    let again = app.browser_post("/users", &fields, None).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{again:?}");
    assert_eq!(
        again.header("location"),
        Some("/register?error=email_taken")
    );
    let taken = app.browser_get("/register?error=email_taken", None).await;
    assert!(taken.body.contains("already registered"), "{}", taken.body);
}

/// The value of the hidden field `name` in `html`, unescaped.
fn hidden_field(html: &str, name: &str) -> Option<String> {
    let start = format!("<input type=\"hidden\" name=\"{name}\" value=\"");
    let rest = &html[html.find(&start)? + start.len()..];
    let value = &rest[..rest.find('"')?];
    Some(
        value
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}

/// The `Location` of `answer`: its path and its query's decoded pairs.
fn location(answer: &Answer) -> (String, Vec<(String, String)>) {
    let target = answer.header("location").expect("a Location");
    let url = url::Url::parse("http://site.test")
        .and_then(|base| base.join(target))
        .expect("a URL");
    let pairs = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()));
    (url.path().to_owned(), pairs.collect())
}

/// A query pair, as [`location`] gives them.
fn query(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

/// `value` percent-encoded for a query string.
fn urlencode_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
