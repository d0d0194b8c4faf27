//! The seed's end-to-end client, replayed step by step over a real TCP socket against the
//! demo's app behind the layer (seed profile), with the seed's five-character passwords; then
//! the contract's details around it: cookie attributes, trailing slashes, `GET /me`, several
//! sessions, emails.

use crate::support;

use http::{Method, StatusCode};
use serde_json::json;
use support::{Answer, Body, Encoding, Server, assert_error, assert_ok};
use tower_user_auth::Auth;
use tower_user_auth::compat::SeedApi;

/// The seed profile's absolute session lifetime (30 days), which the cookie's `Max-Age` says.
const SEED_SESSION_LIFETIME: u64 = 30 * 24 * 60 * 60;

async fn setup() -> (Auth, tempfile::TempDir, Server) {
    let (auth, dir) = support::auth(support::seed_config());
    let server = support::serve(&auth).await;
    (auth, dir, server)
}

/// Asserts the attributes of the session cookie a login sets, and returns its value.
#[track_caller]
fn login_cookie(a: &Answer) -> String {
    let line = a.set_cookie_line("session_id").expect("a session cookie");
    // The compatibility profile sets no device cookie: its client sees one cookie, as before.
    assert_eq!(
        a.set_cookies().len(),
        1,
        "one cookie only: {:?}",
        a.set_cookies()
    );
    let attrs: Vec<&str> = line.split(';').map(str::trim).collect();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attrs.contains(&attr), "{attr} missing: {line}");
    }
    assert!(
        !attrs.iter().any(|a| a.eq_ignore_ascii_case("secure")),
        "no Secure in the seed profile: {line}"
    );
    let max_age: u64 = attrs
        .iter()
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap_or_else(|| panic!("Max-Age missing: {line}"))
        .parse()
        .expect("Max-Age is a number of seconds");
    assert!(
        (SEED_SESSION_LIFETIME - 60..=SEED_SESSION_LIFETIME).contains(&max_age),
        "Max-Age is the session's remaining lifetime: {line}"
    );
    let value = a.cookie("session_id").expect("cookie value");
    assert_eq!(
        value.len(),
        36,
        "a hyphenated uuid4, as the seed's: {value}"
    );
    assert_eq!(value.matches('-').count(), 4, "{value}");
    value
}

/// Asserts the `Set-Cookie` that drops the session cookie.
#[track_caller]
fn assert_cleared(a: &Answer) {
    let line = a
        .set_cookie_line("session_id")
        .unwrap_or_else(|| panic!("no Set-Cookie clearing the session: {:?}", a.headers));
    assert!(line.starts_with("session_id=;"), "emptied: {line}");
    let attrs: Vec<&str> = line.split(';').map(str::trim).collect();
    assert!(attrs.contains(&"Max-Age=0"), "{line}");
    assert!(attrs.contains(&"Path=/"), "{line}");
}

/// The seed's client script, step by step.
async fn seed_scenario(enc: Encoding, slash: bool) {
    let (_auth, _dir, server) = setup().await;
    let c = if slash {
        server.http.with_trailing_slash()
    } else {
        server.http.clone()
    };
    let email = "guillaume@holberton.io";
    let (password, new_password) = ("b4l0u", "t4rt1fl3tt3");
    let creds = [("email", email), ("password", password)];

    // 1. register (200), again (400)
    let a = c.post("/users", enc.body(&creds)).await;
    assert_ok(&a, &json!({"email": email, "message": "user created"}));
    let a = c.post("/users", enc.body(&creds)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json(), json!({"message": "email already registered"}));

    // 2. wrong password (401)
    let a = c
        .post(
            "/sessions",
            enc.body(&[("email", email), ("password", "NoNo")]),
        )
        .await;
    assert_error(&a, StatusCode::UNAUTHORIZED);
    assert!(a.cookie("session_id").is_none(), "no session: {a:?}");

    // 3. profile without a cookie (403)
    let a = c.get("/profile", "").await;
    assert_error(&a, StatusCode::FORBIDDEN);
    assert!(
        a.set_cookie_line("session_id").is_none(),
        "nothing to clear"
    );

    // 4. log in (200) and read the cookie
    let a = c.post("/sessions", enc.body(&creds)).await;
    assert_ok(&a, &json!({"email": email, "message": "logged in"}));
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let session_id = login_cookie(&a);
    let cookie = format!("session_id={session_id}");

    // 5. profile with the cookie, passed by hand (200)
    let a = c.get("/profile", &cookie).await;
    assert_ok(&a, &json!({"email": email}));

    // 6. log out, following the redirect as Python requests does: the 302 after DELETE is
    // followed with GET, and the cookie given by hand is sent again (requests keeps it in the
    // request's own jar, which the Max-Age=0 answer does not clear).
    let answers = c.delete_following("/sessions", &cookie).await;
    assert_eq!(answers.len(), 2, "one redirect: {answers:?}");
    let redirect = &answers[0];
    assert_eq!(redirect.status, StatusCode::FOUND, "{}", redirect.body);
    assert_eq!(redirect.header("location"), Some("/"));
    assert_cleared(redirect);
    assert_ok(&answers[1], &json!({"message": "Bienvenue"}));
    // A browser drops the cookie instead: the same final answer.
    let a = server.http.get("/", "").await;
    assert_ok(&a, &json!({"message": "Bienvenue"}));
    let a = c.get("/profile", &cookie).await;
    assert_error(&a, StatusCode::FORBIDDEN);
    let a = c.delete("/sessions", &cookie).await;
    assert_error(&a, StatusCode::FORBIDDEN);

    // 7. reset token (200)
    let a = c
        .post("/reset_password", enc.body(&[("email", email)]))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = a.json();
    assert_eq!(v["email"], json!(email));
    let token = v["reset_token"].as_str().expect("reset_token").to_owned();
    assert_eq!(token.len(), 36, "a uuid4, as the seed's: {token}");
    assert_eq!(v.as_object().map(serde_json::Map::len), Some(2), "{v}");

    // 8. update the password (200)
    let a = c
        .put(
            "/reset_password",
            enc.body(&[
                ("email", email),
                ("reset_token", &token),
                ("new_password", new_password),
            ]),
        )
        .await;
    assert_ok(&a, &json!({"email": email, "message": "Password updated"}));

    // 9. log in with the new password (200); the old one no longer works
    let a = c
        .post(
            "/sessions",
            enc.body(&[("email", email), ("password", new_password)]),
        )
        .await;
    assert_ok(&a, &json!({"email": email, "message": "logged in"}));
    login_cookie(&a);
    let a = c.post("/sessions", enc.body(&creds)).await;
    assert_error(&a, StatusCode::UNAUTHORIZED);
}

/// One test per encoding, with and without trailing slashes.
macro_rules! seed_client_tests {
    ($($name:ident: $enc:expr, $slash:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            seed_scenario($enc, $slash).await;
        }
    )*};
}

seed_client_tests! {
    seed_client_with_urlencoded_forms: Encoding::Form, false;
    seed_client_with_multipart_forms: Encoding::Multipart, false;
    seed_client_with_json_bodies: Encoding::Json, false;
    seed_client_with_trailing_slashes_urlencoded: Encoding::Form, true;
    seed_client_with_trailing_slashes_multipart: Encoding::Multipart, true;
    seed_client_with_trailing_slashes_json: Encoding::Json, true;
}

#[tokio::test]
async fn me_with_and_without_a_session() {
    let (auth, _dir, server) = setup().await;
    let c = &server.http;
    let creds = [("email", "me@example.com"), ("password", "abcde")];
    let user = auth
        .register_user("me@example.com", "abcde")
        .await
        .expect("register");

    let a = c.get("/me", "").await;
    assert_error(&a, StatusCode::UNAUTHORIZED);
    assert!(a.set_cookie_line("session_id").is_none());

    let a = c.post("/sessions", Body::Form(&creds)).await;
    let cookie = format!("session_id={}", login_cookie(&a));
    let a = c.get("/me", &cookie).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = a.json();
    assert_eq!(v["id"], json!(user.id.0));
    assert_eq!(v["email"], json!("me@example.com"));
    assert!(!a.body.contains("$2b$"), "no password hash: {}", a.body);
    assert!(
        !a.body.contains(&cookie["session_id=".len()..]),
        "no session token: {}",
        a.body
    );
    // The wrapped app's route answers alike among other cookies.
    let a = c
        .send(
            Method::GET,
            "/me",
            &[("cookie", &format!("theme=dark; {cookie}; lang=fr"))],
            Body::Empty,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["email"], json!("me@example.com"));
    // GET / does not need a session, with or without one.
    for headers in [&[][..], &[("cookie", cookie.as_str())][..]] {
        let a = c.send(Method::GET, "/", headers, Body::Empty).await;
        assert_ok(&a, &json!({"message": "Bienvenue"}));
    }
}

#[tokio::test]
async fn each_login_is_a_session_and_logout_ends_only_its_own() {
    let (_auth, _dir, server) = setup().await;
    let c = &server.http;
    let creds = [("email", "two@example.com"), ("password", "abcde")];
    let a = c.post("/users", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::OK);
    let first = c.post("/sessions", Body::Form(&creds)).await;
    let second = c.post("/sessions", Body::Multipart(&creds)).await;
    let c1 = format!("session_id={}", login_cookie(&first));
    let c2 = format!("session_id={}", login_cookie(&second));
    assert_ne!(c1, c2, "each login makes a new session");
    for cookie in [&c1, &c2] {
        let a = c.get("/profile", cookie).await;
        assert_ok(&a, &json!({"email": "two@example.com"}));
    }

    let a = c.delete("/sessions", &c1).await;
    assert_eq!(a.status, StatusCode::FOUND);
    assert_cleared(&a);

    let a = c.get("/profile", &c1).await;
    assert_error(&a, StatusCode::FORBIDDEN);
    let a = c.get("/me", &c1).await;
    assert_error(&a, StatusCode::UNAUTHORIZED);
    let a = c.get("/profile", &c2).await;
    assert_ok(&a, &json!({"email": "two@example.com"}));
    let a = c.get("/me", &c2).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["email"], json!("two@example.com"));

    let a = c.delete("/sessions/", &c2).await;
    assert_eq!(a.status, StatusCode::FOUND);
    let a = c.get("/profile", &c2).await;
    assert_error(&a, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn emails_are_unique_without_regard_to_case_and_echoed_trimmed() {
    let (_auth, _dir, server) = setup().await;
    let c = &server.http;

    let a = c
        .post(
            "/users",
            Body::Form(&[("email", "  Bob@Example.com \t"), ("password", "abcde")]),
        )
        .await;
    assert_ok(
        &a,
        &json!({"email": "Bob@Example.com", "message": "user created"}),
    );
    for (enc, email) in [
        (Encoding::Form, "bob@example.com"),
        (Encoding::Multipart, "BOB@EXAMPLE.COM"),
        (Encoding::Json, " bob@Example.COM "),
    ] {
        let a = c
            .post(
                "/users",
                enc.body(&[("email", email), ("password", "other")]),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{enc:?} {email}");
        assert_eq!(a.json(), json!({"message": "email already registered"}));
    }

    let a = c
        .post(
            "/sessions",
            Body::Json(json!({"email": " BOB@example.com  ", "password": "abcde"})),
        )
        .await;
    assert_ok(
        &a,
        &json!({"email": "BOB@example.com", "message": "logged in"}),
    );
    let cookie = format!("session_id={}", login_cookie(&a));
    let a = c.get("/profile", &cookie).await;
    assert_ok(&a, &json!({"email": "Bob@Example.com"}));

    let a = c
        .post(
            "/reset_password",
            Body::Multipart(&[("email", " bob@EXAMPLE.com ")]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["email"], json!("bob@EXAMPLE.com"));
    let token = a.json()["reset_token"].as_str().expect("token").to_owned();
    let a = c
        .put(
            "/reset_password",
            Body::Form(&[
                ("email", "BOB@example.COM "),
                ("reset_token", &token),
                ("new_password", "fghij"),
            ]),
        )
        .await;
    assert_ok(
        &a,
        &json!({"email": "BOB@example.COM", "message": "Password updated"}),
    );
    let a = c
        .post(
            "/sessions",
            Body::Form(&[("email", "bob@example.com"), ("password", "fghij")]),
        )
        .await;
    assert_ok(
        &a,
        &json!({"email": "bob@example.com", "message": "logged in"}),
    );

    // Another address is another account.
    let a = c
        .post(
            "/users",
            Body::Form(&[("email", "bob@example.org"), ("password", "abcde")]),
        )
        .await;
    assert_ok(
        &a,
        &json!({"email": "bob@example.org", "message": "user created"}),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_cost_round_trip() {
    // The one test at bcrypt's default cost, 12, as shipped.
    let config = tower_user_auth::AuthConfig::compat();
    assert_eq!(config.bcrypt_cost(), 12);
    let (auth, _dir) = support::auth(config);
    let user = auth
        .register_user("cost@example.com", "abcde")
        .await
        .expect("register");
    assert!(
        user.hashed_password.starts_with("$2b$12$"),
        "{}",
        &user.hashed_password[..7]
    );
    assert!(
        auth.valid_login("cost@example.com", "abcde")
            .await
            .expect("verify")
    );
}
