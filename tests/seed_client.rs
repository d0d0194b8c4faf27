//! The seed's end-to-end client, replayed step by step over a real TCP socket against the
//! demo's app behind the layer (seed profile), with the seed's five-character passwords.

mod common;

use common::{Body, Http};
use http::{Method, StatusCode};
use serde_json::json;

/// The encodings a client may send form data in.
#[derive(Clone, Copy)]
enum Encoding {
    Form,
    Multipart,
    Json,
}

fn body<'a>(enc: Encoding, fields: &'a [(&'a str, &'a str)]) -> Body<'a> {
    match enc {
        Encoding::Form => Body::Form(fields),
        Encoding::Multipart => Body::Multipart(fields),
        Encoding::Json => Body::Json(serde_json::Value::Object(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect(),
        )),
    }
}

async fn seed_scenario(enc: Encoding) {
    let (auth, _dir) = common::auth(common::seed());
    let server = common::serve(&auth).await;
    let http = Http::new();
    let url = |p: &str| format!("{}{p}", server.base);
    let email = "guillaume@holberton.io";
    let (password, new_password) = ("b4l0u", "t4rt1fl3tt3");

    // 1. register (200), again (400)
    let a = http
        .send(
            Method::POST,
            &url("/users"),
            &[],
            body(enc, &[("email", email), ("password", password)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json(), json!({"email": email, "message": "user created"}));
    let a = http
        .send(
            Method::POST,
            &url("/users"),
            &[],
            body(enc, &[("email", email), ("password", password)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json(), json!({"message": "email already registered"}));

    // 2. wrong password (401)
    let a = http
        .send(
            Method::POST,
            &url("/sessions"),
            &[],
            body(enc, &[("email", email), ("password", "NoNo")]),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.cookie("session_id").is_none());

    // 3. profile without a cookie (403)
    let a = http
        .send(Method::GET, &url("/profile"), &[], Body::Empty)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    // 4. log in (200) and read the cookie
    let a = http
        .send(
            Method::POST,
            &url("/sessions"),
            &[],
            body(enc, &[("email", email), ("password", password)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({"email": email, "message": "logged in"}));
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let session_id = a.cookie("session_id").expect("session cookie");
    let line = a.set_cookie_line("session_id").expect("set-cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(line.contains(attr), "{line}");
    }
    assert!(
        !line.contains("Secure"),
        "seed profile has no Secure: {line}"
    );
    let cookie = format!("session_id={session_id}");

    // 5. profile with the cookie (200)
    let a = http
        .send(
            Method::GET,
            &url("/profile"),
            &[("cookie", &cookie)],
            Body::Empty,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({"email": email}));

    // 6. log out, following the redirect as Python requests does (302 → GET)
    let a = http
        .send(
            Method::DELETE,
            &url("/sessions"),
            &[("cookie", &cookie)],
            Body::Empty,
        )
        .await;
    assert_eq!(a.status, StatusCode::FOUND);
    assert_eq!(a.header("location"), Some("/"));
    assert!(
        a.set_cookie_line("session_id")
            .expect("cleared")
            .contains("Max-Age=0")
    );
    let a = http
        .send(
            Method::GET,
            &url(a.header("location").expect("location")),
            &[],
            Body::Empty,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({"message": "Bienvenue"}));
    let a = http
        .send(
            Method::GET,
            &url("/profile"),
            &[("cookie", &cookie)],
            Body::Empty,
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "the session is over");

    // 7. reset token (200)
    let a = http
        .send(
            Method::POST,
            &url("/reset_password"),
            &[],
            body(enc, &[("email", email)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    assert_eq!(v["email"], json!(email));
    let token = v["reset_token"].as_str().expect("token").to_owned();

    // 8. update the password (200)
    let a = http
        .send(
            Method::PUT,
            &url("/reset_password"),
            &[],
            body(
                enc,
                &[
                    ("email", email),
                    ("reset_token", &token),
                    ("new_password", new_password),
                ],
            ),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.json(),
        json!({"email": email, "message": "Password updated"})
    );

    // 9. log in with the new password (200)
    let a = http
        .send(
            Method::POST,
            &url("/sessions"),
            &[],
            body(enc, &[("email", email), ("password", new_password)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({"email": email, "message": "logged in"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_client_with_urlencoded_forms() {
    seed_scenario(Encoding::Form).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_client_with_multipart_forms() {
    seed_scenario(Encoding::Multipart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_client_with_json_bodies() {
    seed_scenario(Encoding::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailing_slashes_me_route_and_several_sessions() {
    let (auth, _dir) = common::auth(common::seed());
    let server = common::serve(&auth).await;
    let http = Http::new();
    let url = |p: &str| format!("{}{p}", server.base);
    let creds = [("email", "  Bob@Example.com "), ("password", "pwd")];
    let a = http
        .send(Method::POST, &url("/users/"), &[], Body::Form(&creds))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.json()["email"],
        json!("Bob@Example.com"),
        "echoed as sent, trimmed"
    );
    let again = [("email", "bob@example.COM"), ("password", "pwd")];
    let a = http
        .send(Method::POST, &url("/users"), &[], Body::Form(&again))
        .await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "emails are unique without regard to case"
    );

    let first = http
        .send(Method::POST, &url("/sessions/"), &[], Body::Form(&again))
        .await;
    assert_eq!(first.json()["email"], json!("bob@example.COM"));
    let second = http
        .send(Method::POST, &url("/sessions"), &[], Body::Form(&creds))
        .await;
    let c1 = format!("session_id={}", first.cookie("session_id").expect("cookie"));
    let c2 = format!(
        "session_id={}",
        second.cookie("session_id").expect("cookie")
    );
    assert_ne!(c1, c2, "each login makes a new session");

    let me = http
        .send(Method::GET, &url("/me"), &[("cookie", &c1)], Body::Empty)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["email"], json!("Bob@Example.com"));
    assert!(me.json()["id"].is_u64());
    let anon = http.send(Method::GET, &url("/me"), &[], Body::Empty).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);

    let a = http
        .send(
            Method::GET,
            &url("/profile/"),
            &[("cookie", &c1)],
            Body::Empty,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = http
        .send(
            Method::DELETE,
            &url("/sessions/"),
            &[("cookie", &c1)],
            Body::Empty,
        )
        .await;
    assert_eq!(a.status, StatusCode::FOUND);
    let a = http
        .send(
            Method::GET,
            &url("/profile"),
            &[("cookie", &c2)],
            Body::Empty,
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "logging out one session leaves the other"
    );
    let a = http
        .send(Method::GET, &url("/me"), &[("cookie", &c1)], Body::Empty)
        .await;
    assert_eq!(
        a.status,
        StatusCode::UNAUTHORIZED,
        "a dead session passes through without a user"
    );
    assert!(
        a.set_cookie_line("session_id")
            .is_some_and(|l| l.contains("Max-Age=0")),
        "and its cookie is cleared"
    );
    let token = http
        .send(
            Method::POST,
            &url("/reset_password/"),
            &[],
            Body::Form(&[("email", "BOB@example.com")]),
        )
        .await;
    assert_eq!(token.status, StatusCode::OK);
    let unknown = http
        .send(
            Method::POST,
            &url("/reset_password"),
            &[],
            Body::Form(&[("email", "nobody@example.com")]),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_cost_round_trip() {
    // The one test at bcrypt's default cost, 12, as shipped.
    let config = tower_user_auth::AuthConfig::seed();
    assert_eq!(config.bcrypt_cost(), 12);
    let (auth, _dir) = common::auth(config);
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
