//! The demo's account lifecycle pages (a module of `tests/demo_pages.rs`): the confirm-email
//! page, the second factor page (its own script, and the policy that lets it run), the
//! change-email and delete-account pages, the login form's code fields; in the seed profile,
//! where these features are off, the pages say so and hold no form.

use http::{Method, StatusCode};

use super::{
    BROWSER, HIDDEN_DELETE, HIDDEN_PUT, assert_form, assert_secure, browse, form, log_in, start,
};
use crate::support::{
    Answer, Body, Demo, GOOD_PW,
    browser::totp::{code_at, current_step},
};

/// A fixed key for the demo's TOTP secrets (32 bytes in standard base64).
const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The second factor page's policy: the others', plus this site's script and `fetch()`.
const TOTP_PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
    style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A 200 page (the second factor page's policy aside, the security headers of every page).
#[track_caller]
fn assert_lifecycle_page(a: &Answer) {
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    if a.header("content-security-policy") == Some(TOTP_PAGE_POLICY) {
        for name in ["cache-control", "x-content-type-options", "referrer-policy"] {
            assert!(a.header(name).is_some(), "{name}: {:?}", a.headers);
        }
    } else {
        assert_secure(a);
        assert!(!a.body.contains("<script"), "no JavaScript: {}", a.body);
    }
    assert!(a.body.starts_with("<!DOCTYPE html>"), "{}", a.body);
}

/// Sets up and enables a second factor for the session `cookie` as the page's script does
/// (`POST /profile/totp`, then the current code); the first recovery code.
async fn enable_factor(demo: &Demo, cookie: &str) -> String {
    let headers = [("cookie", cookie)];
    let fields = [("current_password", GOOD_PW)];
    let a = demo
        .http
        .send(Method::POST, "/profile/totp", &headers, Body::Form(&fields))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let secret = a.json()["secret"].as_str().expect("secret").to_owned();
    let code = code_at(&secret, current_step());
    let fields = [("code", code.as_str())];
    let a = demo
        .http
        .send(
            Method::POST,
            "/profile/totp/confirm",
            &headers,
            Body::Form(&fields),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.json()["recovery_codes"][0]
        .as_str()
        .expect("a recovery code")
        .to_owned()
}

/// `POST path` with form `fields` as a browser on the demo's own page sends it (its
/// `Accept` and `Origin`), with the session `cookie`.
async fn post_as_browser(demo: &Demo, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Answer {
    let headers = [
        ("accept", BROWSER),
        ("origin", demo.base.as_str()),
        ("cookie", cookie),
    ];
    demo.http
        .send(Method::POST, path, &headers, Body::Form(fields))
        .await
}

const PASSWORD_FIELD: (&str, &[&str]) = (
    "current_password",
    &["type=\"password\"", "autocomplete=\"current-password\""],
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_confirm_email_page_and_the_code_forms_with_confirmation_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(
        &dir.path().join("a.redb"),
        "hardened",
        &[
            ("AUTH_REQUIRE_EMAIL_CONFIRMATION", "1"),
            ("AUTH_SECRET_KEY", SECRET_KEY),
        ],
    );
    // The confirm page is not at the route's own path, which the layer serves.
    let a = browse(&demo, "/confirm?token=abc-123", "").await;
    assert_lifecycle_page(&a);
    assert_form(
        &a.body,
        "confirm-email-form",
        "/confirm_email",
        &[("token", &["value=\"abc-123\"", "required"])],
        "id=\"confirm-email-submit\"",
    );
    assert_form(
        &a.body,
        "resend-form",
        "/confirm_email/resend",
        &[("email", &["type=\"email\""])],
        "id=\"resend-submit\"",
    );
    let a = browse(&demo, "/login?error=email_not_confirmed", "").await;
    assert_lifecycle_page(&a);
    assert!(a.body.contains("href=\"/confirm\""), "{}", a.body);
    assert!(a.body.contains("not confirmed yet"), "{}", a.body);
    let login = form(&a.body, "login-form");
    for field in ["name=\"otp\"", "name=\"recovery_code\""] {
        assert!(login.contains(field), "{field}: {login}");
    }
    let a = browse(&demo, "/login?notice=registered", "").await;
    assert!(a.body.contains("Confirm your email address"), "{}", a.body);
    // Without a session, the change-email page offers the code form only.
    let a = browse(&demo, "/account/email", "").await;
    assert_lifecycle_page(&a);
    assert!(!a.body.contains("id=\"email-form\""), "{}", a.body);
    assert_form(
        &a.body,
        "email-confirm-form",
        "/profile/email/confirm",
        &[("token", &["required"])],
        "id=\"email-confirm-submit\"",
    );
    // The pages that need a session send a browser to log in.
    for page in ["/account/totp", "/account/delete"] {
        let a = browse(&demo, page, "").await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{page}");
        assert!(
            a.header("location")
                .is_some_and(|l| l.starts_with("/login?next=%2Faccount%2F")),
            "{page}: {:?}",
            a.headers
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_factor_change_email_and_delete_pages_for_a_logged_in_user() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(
        &dir.path().join("a.redb"),
        "hardened",
        &[("AUTH_SECRET_KEY", SECRET_KEY)],
    );
    let cookie = log_in(&demo, "", "fay@example.com").await;
    let a = browse(&demo, "/me", &cookie).await;
    for link in ["/account/totp", "/account/email", "/account/delete"] {
        assert!(a.body.contains(&format!("href=\"{link}\"")), "{link}");
    }

    let a = browse(&demo, "/account/totp", &cookie).await;
    assert_lifecycle_page(&a);
    assert_eq!(a.header("content-security-policy"), Some(TOTP_PAGE_POLICY));
    assert!(
        a.body
            .contains("<script src=\"/static/totp.js\" defer></script>"),
        "{}",
        a.body
    );
    assert!(
        a.body.contains("id=\"totp-status\" data-state=\"off\""),
        "{}",
        a.body
    );
    assert_form(
        &a.body,
        "totp-setup-form",
        "/profile/totp",
        &[PASSWORD_FIELD],
        "id=\"totp-setup-submit\"",
    );
    assert_form(
        &a.body,
        "totp-confirm-form",
        "/profile/totp/confirm",
        &[("code", &["autocomplete=\"one-time-code\""])],
        "id=\"totp-confirm-submit\"",
    );
    for id in ["totp-pending", "totp-enabled"] {
        assert!(
            a.body.contains(&format!("<section id=\"{id}\" hidden>")),
            "{id}: {}",
            a.body
        );
    }

    // The script, whatever the Accept header; only readable.
    let script = demo.http.get("/static/totp.js", "").await;
    assert_eq!(script.status, StatusCode::OK, "{}", script.body);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(script.header("x-content-type-options"), Some("nosniff"));
    assert!(script.body.contains("fetch(form.action"), "{}", script.body);
    assert!(!script.body.contains("innerHTML"), "text only");
    let posted = demo
        .http
        .send(Method::POST, "/static/totp.js", &[], Body::Empty)
        .await;
    assert_eq!(posted.status, StatusCode::METHOD_NOT_ALLOWED);

    let a = browse(&demo, "/account/email", &cookie).await;
    assert_lifecycle_page(&a);
    assert_form(
        &a.body,
        "email-form",
        "/profile/email",
        &[
            HIDDEN_PUT,
            ("new_email", &["type=\"email\"", "required"]),
            PASSWORD_FIELD,
        ],
        "id=\"email-submit\"",
    );
    assert!(
        !a.body.contains("email-confirm-form"),
        "no code to wait for with confirmation off: {}",
        a.body
    );

    let a = browse(&demo, "/account/delete", &cookie).await;
    assert_lifecycle_page(&a);
    assert_form(
        &a.body,
        "delete-form",
        "/profile",
        &[HIDDEN_DELETE, PASSWORD_FIELD],
        "id=\"delete-submit\"",
    );
    assert!(
        !form(&a.body, "delete-form").contains("name=\"otp\""),
        "no code asked without a factor: {}",
        a.body
    );
}

/// The route prefix moves the new forms' actions too, and `AUTH_PAGE_*` the new pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_prefix_moves_the_lifecycle_form_actions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(
        &dir.path().join("a.redb"),
        "hardened",
        &[
            ("AUTH_ROUTE_PREFIX", "/auth"),
            ("AUTH_REQUIRE_EMAIL_CONFIRMATION", "1"),
            ("AUTH_SECRET_KEY", SECRET_KEY),
            ("AUTH_PAGE_CHANGE_EMAIL", "/my/email"),
            ("AUTH_PAGE_SECOND_FACTOR", "/my/totp"),
            ("AUTH_PAGE_DELETE_ACCOUNT", "/my/delete"),
        ],
    );
    let a = browse(&demo, "/my/email", "").await;
    assert_lifecycle_page(&a);
    assert!(
        form(&a.body, "email-confirm-form").contains("action=\"/auth/profile/email/confirm\""),
        "{}",
        a.body
    );
    for page in ["/my/totp", "/my/delete"] {
        let a = browse(&demo, page, "").await;
        assert_eq!(
            a.status,
            StatusCode::SEE_OTHER,
            "{page}: a page that needs a session"
        );
    }
    // The page stays at `/confirm`; its forms post under the prefix.
    let a = browse(&demo, "/confirm", "").await;
    assert_lifecycle_page(&a);
    assert!(
        form(&a.body, "confirm-email-form").contains("action=\"/auth/confirm_email\""),
        "{}",
        a.body
    );
    assert!(
        form(&a.body, "resend-form").contains("action=\"/auth/confirm_email/resend\""),
        "{}",
        a.body
    );
}

/// Where the features are off (the seed profile), the pages say so, without a form the layer
/// would not serve, and the login form has no code fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_seed_profile_the_lifecycle_pages_say_they_are_not_offered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("a.redb"), "seed", &[]);
    let a = browse(&demo, "/login", "").await;
    assert!(!a.body.contains("name=\"otp\""), "{}", a.body);
    assert!(!a.body.contains("name=\"recovery_code\""), "{}", a.body);
    let cookie = log_in(&demo, "", "gus@example.com").await;
    let a = browse(&demo, "/me", &cookie).await;
    for link in ["/account/totp", "/account/email", "/account/delete"] {
        assert!(!a.body.contains(&format!("href=\"{link}\"")), "{link}");
    }
    for page in [
        "/confirm",
        "/account/totp",
        "/account/email",
        "/account/delete",
    ] {
        let a = browse(&demo, page, &cookie).await;
        assert_lifecycle_page(&a);
        assert!(a.body.contains("id=\"not-offered\""), "{page}: {}", a.body);
        for id in [
            "confirm-email-form",
            "resend-form",
            "totp-setup-form",
            "email-form",
            "email-confirm-form",
            "delete-form",
        ] {
            assert!(!a.body.contains(&format!("id=\"{id}\"")), "{page}: {id}");
        }
        assert!(!a.body.contains("<script"), "{page}");
    }
}

/// With a factor on, the second factor page offers its removal (a plain form, no script) and
/// the delete form asks for a code; the removal form, posted as a browser does, removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_factor_on_the_pages_offer_its_removal_and_ask_for_a_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(
        &dir.path().join("a.redb"),
        "hardened",
        &[("AUTH_SECRET_KEY", SECRET_KEY), ("AUTH_THROTTLE", "false")],
    );
    let cookie = log_in(&demo, "", "hal@example.com").await;
    let recovery = enable_factor(&demo, &cookie).await;

    let a = browse(&demo, "/account/totp", &cookie).await;
    assert_lifecycle_page(&a);
    assert!(!a.body.contains("<script"), "no script to run: {}", a.body);
    assert!(
        a.body.contains("id=\"totp-status\" data-state=\"on\""),
        "{}",
        a.body
    );
    assert!(!a.body.contains("totp-setup-form"), "{}", a.body);
    assert!(a.body.contains("<span id=\"recovery-left\">10</span>"));
    assert_form(
        &a.body,
        "totp-remove-form",
        "/profile/totp",
        &[
            HIDDEN_DELETE,
            PASSWORD_FIELD,
            ("otp", &["autocomplete=\"one-time-code\""]),
            ("recovery_code", &["type=\"text\""]),
        ],
        "id=\"totp-remove-submit\"",
    );
    let a = browse(&demo, "/account/delete", &cookie).await;
    let delete = form(&a.body, "delete-form");
    assert!(delete.contains("name=\"otp\""), "{delete}");
    assert!(delete.contains("name=\"recovery_code\""), "{delete}");

    // The removal form as a browser posts it.
    let fields = [
        ("_method", "DELETE"),
        ("current_password", GOOD_PW),
        ("otp", ""),
        ("recovery_code", recovery.as_str()),
    ];
    let a = post_as_browser(&demo, "/profile/totp", &cookie, &fields).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(
        a.header("location"),
        Some("/account/totp?notice=second_factor_removed")
    );
    let a = browse(&demo, "/account/totp?notice=second_factor_removed", &cookie).await;
    assert!(
        a.body.contains("id=\"totp-status\" data-state=\"off\""),
        "{}",
        a.body
    );
    assert!(a.body.contains("has been removed"), "{}", a.body);
}

/// Issue 21: with a factor on, the change-password and change-email forms carry the code
/// fields (the routes need one unless the session is fresh), and the re-authentication page
/// (`/account/reauth`) steps up with `POST /profile/reauth` and goes on to its `next`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_forms_ask_for_a_code_with_a_factor_on_and_the_reauth_page_steps_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(
        &dir.path().join("a.redb"),
        "hardened",
        &[("AUTH_SECRET_KEY", SECRET_KEY), ("AUTH_THROTTLE", "false")],
    );
    let cookie = log_in(&demo, "", "rea@example.com").await;
    let has_code = |body: &str, id: &str| {
        let f = form(body, id);
        f.contains("name=\"otp\"") && f.contains("name=\"recovery_code\"")
    };
    for (page, id) in [
        ("/account/password", "password-form"),
        ("/account/email", "email-form"),
        ("/account/reauth?next=%2Faccount%2Femail", "reauth-form"),
    ] {
        let a = browse(&demo, page, &cookie).await;
        assert_lifecycle_page(&a);
        assert!(!has_code(&a.body, id), "no factor, no code: {}", a.body);
    }
    let a = browse(&demo, "/account/reauth?next=%2Faccount%2Femail", &cookie).await;
    assert_form(
        &a.body,
        "reauth-form",
        "/profile/reauth",
        &[
            PASSWORD_FIELD,
            ("next", &["type=\"hidden\"", "value=\"/account/email\""]),
        ],
        "id=\"reauth-submit\"",
    );
    let a = browse(&demo, "/account/reauth", "").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "needs a session");

    let recovery = enable_factor(&demo, &cookie).await;
    for (page, id) in [
        ("/account/password", "password-form"),
        ("/account/email", "email-form"),
        ("/account/reauth", "reauth-form"),
    ] {
        let a = browse(&demo, page, &cookie).await;
        assert!(has_code(&a.body, id), "a factor, a code: {}", a.body);
    }

    // The re-authentication form as a browser posts it: a new session, then `next`.
    let fields = [
        ("current_password", GOOD_PW),
        ("otp", ""),
        ("recovery_code", recovery.as_str()),
        ("next", "/account/email"),
    ];
    let a = post_as_browser(&demo, "/profile/reauth", &cookie, &fields).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.header("location"), Some("/account/email"));
    let renewed = format!("session_id={}", a.session_cookie().expect("a new session"));
    assert_ne!(renewed, cookie);
    let a = browse(&demo, "/account/email", &renewed).await;
    assert!(
        a.body.contains("<span id=\"email\">rea@example.com</span>"),
        "{}",
        a.body
    );
    let a = browse(
        &demo,
        "/account/reauth?error=reauthentication_required",
        &renewed,
    )
    .await;
    assert!(a.body.contains("confirm it is you"), "{}", a.body);
}

/// Pre-hijacking through the pages (issue 21 §3): a squatter registered the owner's address.
/// The confirm page, opened with the token of an uncontested account, asks for nothing but
/// the code; once the owner's registration was refused (the account contested), it asks for
/// a new password, with a note why, and the confirmation the browser posts without one comes
/// back to it with that message. Confirmed with the new password, only it logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_confirm_page_asks_a_contested_account_for_a_new_password() {
    use crate::support::OTHER_PW;
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(
        &dir.path().join("a.redb"),
        "hardened",
        &[("AUTH_REQUIRE_EMAIL_CONFIRMATION", "1")],
    );
    let owner = "owner@example.com";
    let register = |password: &'static str| {
        let demo = &demo;
        async move {
            let creds = [("email", owner), ("password", password)];
            demo.http.post("/users", Body::Form(&creds)).await
        }
    };
    assert_eq!(register(OTHER_PW).await.status, StatusCode::OK);
    let token = demo.printed_token("confirmation", owner);
    let page = format!("/confirm?token={token}");
    let a = browse(&demo, &page, "").await;
    assert_lifecycle_page(&a);
    assert!(!a.body.contains("name=\"new_password\""), "{}", a.body);

    // The owner's registration is refused: the account is contested.
    assert_eq!(register(GOOD_PW).await.status, StatusCode::BAD_REQUEST);
    let a = browse(&demo, &page, "").await;
    assert_lifecycle_page(&a);
    assert_form(
        &a.body,
        "confirm-email-form",
        "/confirm_email",
        &[
            ("token", &["required"]),
            (
                "new_password",
                &[
                    "type=\"password\"",
                    "autocomplete=\"new-password\"",
                    "required",
                ],
            ),
        ],
        "id=\"confirm-email-submit\"",
    );
    assert!(a.body.contains("id=\"contested-note\""), "{}", a.body);

    let origin = demo.base.clone();
    let post = |fields: Vec<(&'static str, String)>| {
        let (demo, origin) = (&demo, origin.clone());
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let headers = [("accept", BROWSER), ("origin", origin.as_str())];
            demo.http
                .send(
                    Method::POST,
                    "/confirm_email",
                    &headers,
                    Body::Form(&fields),
                )
                .await
        }
    };
    let a = post(vec![("token", token.clone())]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let back = a.header("location").expect("a location").to_owned();
    assert_eq!(back, "/confirm?error=new_password_required");
    let a = browse(&demo, &back, "").await;
    assert!(a.body.contains("name=\"new_password\""), "{}", a.body);
    assert!(a.body.contains("choose a new password"), "{}", a.body);

    let a = post(vec![("token", token), ("new_password", GOOD_PW.into())]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.header("location"), Some("/login?notice=email_confirmed"));
    for (password, status) in [
        (OTHER_PW, StatusCode::UNAUTHORIZED),
        (GOOD_PW, StatusCode::OK),
    ] {
        let creds = [("email", owner), ("password", password)];
        let a = demo.http.post("/sessions", Body::Form(&creds)).await;
        assert_eq!(a.status, status, "{password}: {}", a.body);
    }
}
