//! Bad input through the layer, in process: every refusal is the contract's 4xx with a JSON
//! `{"message"}` body, never a 5xx, and leaves the store unchanged.

mod support;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::StreamBody;
use support::{Answer, Body, call, request};
use tower::ServiceExt;
use tower_user_auth::{Auth, AuthConfig, AuthLayer, Routes};

fn assert_refused(a: &Answer, status: StatusCode) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.header("content-type"), Some("application/json"));
    let v = a.json();
    assert!(v["message"].is_string(), "{v}");
    assert_eq!(v.as_object().map(serde_json::Map::len), Some(1), "{v}");
}

async fn state(auth: &Auth) -> (u64, u64, u64) {
    auth.store().counts().unwrap()
}

#[tokio::test]
async fn missing_empty_duplicated_and_malformed_fields_are_400() {
    let (auth, _dir) = support::auth(support::seed_config());
    let svc = support::service(&auth);
    auth.register_user("bob@bob.com", "pwd").await.unwrap();
    let before = state(&auth).await;
    let long = "p".repeat(73);
    let long_field = [("email", "x@y.io"), ("password", long.as_str())];
    let cases: Vec<(Method, &str, Body<'_>)> = vec![
        (Method::POST, "/users", Body::Form(&[("email", "x@y.io")])),
        (
            Method::POST,
            "/users",
            Body::Form(&[("email", ""), ("password", "pw")]),
        ),
        (
            Method::POST,
            "/users",
            Body::Form(&[("email", "x@y.io"), ("password", "")]),
        ),
        (
            Method::POST,
            "/users",
            Body::Form(&[("email", "x@y.io"), ("email", "z@y.io"), ("password", "pw")]),
        ),
        (
            Method::POST,
            "/users",
            Body::Form(&[("email", "not-an-email"), ("password", "pw")]),
        ),
        (Method::POST, "/users", Body::Form(&long_field)),
        (
            Method::POST,
            "/users",
            Body::Form(&[("email", "x@y.io"), ("password", "p\0w")]),
        ),
        (Method::POST, "/users", Body::Empty),
        (
            Method::POST,
            "/users",
            Body::Raw(
                "application/x-www-form-urlencoded",
                b"email=%FF%FE&password=pw".to_vec(),
            ),
        ),
        (
            Method::POST,
            "/users",
            Body::Raw(
                "application/x-www-form-urlencoded",
                b"email=\xc3\x28&password=pw".to_vec(),
            ),
        ),
        (
            Method::POST,
            "/users",
            Body::Raw(
                "application/json",
                b"{\"email\": \"x@y.io\", \"password\": 5}".to_vec(),
            ),
        ),
        (
            Method::POST,
            "/users",
            Body::Raw("application/json", b"{\"email\": \"x@y.io\", ".to_vec()),
        ),
        (
            Method::POST,
            "/users",
            Body::Raw("application/json", b"[\"x@y.io\"]".to_vec()),
        ),
        (
            Method::POST,
            "/users",
            Body::Raw("application/json", "[".repeat(5000).into_bytes()),
        ),
        (
            Method::POST,
            "/users",
            Body::Raw(
                "multipart/form-data; boundary=XX",
                b"--XX\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nx@y.io".to_vec(),
            ),
        ),
        (
            Method::POST,
            "/users",
            Body::Raw("multipart/form-data", b"--XX--".to_vec()),
        ),
        (
            Method::POST,
            "/sessions",
            Body::Form(&[("email", "bob@bob.com")]),
        ),
        (
            Method::POST,
            "/sessions",
            Body::Form(&[
                ("email", "bob@bob.com"),
                ("password", "pwd"),
                ("password", "pwd"),
            ]),
        ),
        (Method::POST, "/reset_password", Body::Form(&[])),
        (
            Method::PUT,
            "/reset_password",
            Body::Form(&[("email", "bob@bob.com"), ("reset_token", "x")]),
        ),
        (
            Method::PUT,
            "/reset_password",
            Body::Form(&[("email", "bob@bob.com"), ("new_password", "x")]),
        ),
    ];
    for (method, path, body) in cases {
        let a = call(&svc, request(method.clone(), path, &[], body)).await;
        assert_refused(&a, StatusCode::BAD_REQUEST);
    }
    assert_eq!(state(&auth).await, before, "nothing changed");
    assert!(auth.valid_login("bob@bob.com", "pwd").await.unwrap());
}

#[tokio::test]
async fn unsupported_types_oversized_bodies_and_wrong_methods() {
    let config = support::seed_config().with_body_limit(1024).unwrap();
    let (auth, _dir) = support::auth(config);
    let svc = support::service(&auth);
    let before = state(&auth).await;
    for ct in [
        "text/plain",
        "application/xml",
        "multipart/mixed; boundary=x",
    ] {
        let a = call(
            &svc,
            request(
                Method::POST,
                "/users",
                &[],
                Body::Raw(ct, b"email=a@b.c&password=x".to_vec()),
            ),
        )
        .await;
        assert_refused(&a, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let big = format!("email=a%40b.c&password={}", "x".repeat(2000));
    let a = call(
        &svc,
        request(
            Method::POST,
            "/users",
            &[],
            Body::Raw(
                "application/x-www-form-urlencoded",
                big.clone().into_bytes(),
            ),
        ),
    )
    .await;
    assert_refused(&a, StatusCode::PAYLOAD_TOO_LARGE);
    let a = call(
        &svc,
        request(
            Method::POST,
            "/users",
            &[("content-length", "999999999")],
            Body::Raw("application/x-www-form-urlencoded", b"x".to_vec()),
        ),
    )
    .await;
    assert_refused(&a, StatusCode::PAYLOAD_TOO_LARGE);
    // A streamed body with no Content-Length is cut off at the cap as it is read.
    let chunks: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = (0..100)
        .map(|_| Ok(http_body::Frame::data(Bytes::from(vec![b'a'; 100]))))
        .collect();
    let streamed = Request::post("/users")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(StreamBody::new(futures_util::stream::iter(chunks)))
        .unwrap();
    let layered = tower::ServiceBuilder::new()
        .layer(AuthLayer::new(auth.clone()))
        .service(tower::service_fn(support::app));
    let res = layered.oneshot(streamed).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    for (method, path, allow) in [
        (Method::GET, "/users", "POST"),
        (Method::PUT, "/sessions", "GET, HEAD, POST, DELETE"),
        (Method::POST, "/profile", "GET, HEAD"),
        (Method::GET, "/reset_password", "POST, PUT"),
        (Method::DELETE, "/reset_password/", "POST, PUT"),
        (Method::GET, "/profile/password", "PUT"),
        (Method::GET, "/sessions/all", "DELETE"),
    ] {
        let a = call(&svc, request(method, path, &[], Body::Empty)).await;
        assert_refused(&a, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(a.header("allow"), Some(allow));
    }
    assert_eq!(state(&auth).await, before);
}

#[tokio::test]
async fn reset_tokens_403_whatever_the_password_and_400_keeps_the_token() {
    let (auth, _dir) = support::auth(support::seed_config());
    let svc = support::service(&auth);
    auth.register_user("bob@bob.com", "pwd").await.unwrap();
    let token = auth.get_reset_password_token("bob@bob.com").await.unwrap();
    for pw in ["fine", &"x".repeat(100), "nul\0"] {
        let a = call(
            &svc,
            request(
                Method::PUT,
                "/reset_password",
                &[],
                Body::Form(&[
                    ("email", "bob@bob.com"),
                    ("reset_token", "00000000-0000-4000-8000-000000000000"),
                    ("new_password", pw),
                ]),
            ),
        )
        .await;
        assert_refused(&a, StatusCode::FORBIDDEN);
    }
    // The right token with another account's email.
    auth.register_user("eve@bob.com", "pwd").await.unwrap();
    let a = call(
        &svc,
        request(
            Method::PUT,
            "/reset_password",
            &[],
            Body::Form(&[
                ("email", "eve@bob.com"),
                ("reset_token", token.expose()),
                ("new_password", "new"),
            ]),
        ),
    )
    .await;
    assert_refused(&a, StatusCode::FORBIDDEN);
    for pw in [&"x".repeat(100), "nul\0"] {
        let a = call(
            &svc,
            request(
                Method::PUT,
                "/reset_password",
                &[],
                Body::Form(&[
                    ("email", "bob@bob.com"),
                    ("reset_token", token.expose()),
                    ("new_password", pw),
                ]),
            ),
        )
        .await;
        assert_refused(&a, StatusCode::BAD_REQUEST);
        assert!(a.json()["message"].as_str().unwrap().contains("password"));
    }
    assert!(auth.valid_login("bob@bob.com", "pwd").await.unwrap());
    let a = call(
        &svc,
        request(
            Method::PUT,
            "/reset_password",
            &[],
            Body::Form(&[
                ("email", "BOB@bob.com"),
                ("reset_token", token.expose()),
                ("new_password", "new"),
            ]),
        ),
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "the token stayed usable: {}",
        a.body
    );
    assert!(auth.valid_login("bob@bob.com", "new").await.unwrap());
}

#[tokio::test]
async fn cookies_pass_through_and_profile() {
    let (auth, _dir) = support::auth(support::seed_config());
    let svc = support::service(&auth);
    auth.register_user("bob@bob.com", "pwd").await.unwrap();
    let token = auth.create_session("bob@bob.com").await.unwrap().unwrap();
    let good = format!("lang=fr; session_id={}", token.expose());

    let a = call(
        &svc,
        request(Method::GET, "/me", &[("cookie", &good)], Body::Empty),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    assert_eq!(v["email"], "bob@bob.com");
    assert_eq!(v["session"].as_str().unwrap().len(), 32);
    assert!(!a.body.contains("$2b$") && !a.body.contains(token.expose()));

    let a = call(&svc, request(Method::GET, "/me", &[], Body::Empty)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        a.set_cookie_line("session_id").is_none(),
        "no cookie, nothing to clear"
    );

    let unknown = "session_id=00000000-0000-4000-8000-000000000000".to_owned();
    let dup = format!("session_id={0}; session_id={0}", token.expose());
    for bad in [
        unknown.as_str(),
        "session_id=garbage",
        "session_id=",
        dup.as_str(),
        "session_id=\"quoted\"",
    ] {
        let a = call(
            &svc,
            request(Method::GET, "/me", &[("cookie", bad)], Body::Empty),
        )
        .await;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "{bad}: passes through without a user"
        );
        assert!(
            a.set_cookie_line("session_id")
                .unwrap()
                .contains("Max-Age=0"),
            "{bad}"
        );
        let a = call(
            &svc,
            request(Method::GET, "/profile", &[("cookie", bad)], Body::Empty),
        )
        .await;
        assert_refused(&a, StatusCode::FORBIDDEN);
        let a = call(
            &svc,
            request(Method::DELETE, "/sessions", &[("cookie", bad)], Body::Empty),
        )
        .await;
        assert_refused(&a, StatusCode::FORBIDDEN);
    }
    // Only the layer says who the user is: an identity set further out is dropped.
    let mut req = request(Method::GET, "/me", &[], Body::Empty);
    req.extensions_mut()
        .insert(tower_user_auth::AuthenticatedUser {
            id: tower_user_auth::UserId(1),
            email: "forged@x.io".into(),
            session: token.digest().session_id(),
        });
    let a = call(&svc, req).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // The session survived all that.
    let a = call(
        &svc,
        request(Method::GET, "/profile", &[("cookie", &good)], Body::Empty),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), serde_json::json!({"email": "bob@bob.com"}));
}

#[tokio::test]
async fn configurable_routes_and_closed_registration() {
    let routes = Routes {
        register: "/auth/register".into(),
        sessions: "/auth/login".into(),
        all_sessions: "/auth/login/all".into(),
        profile: "/auth/me".into(),
        password: "/auth/password".into(),
        reset_password: "/auth/reset".into(),
        after_logout: "/bye".into(),
    };
    let config = support::seed_config().with_routes(routes).unwrap();
    let (auth, _dir) = support::auth(config);
    let svc = support::service(&auth);
    let creds = [("email", "r@r.io"), ("password", "pw")];
    let a = call(
        &svc,
        request(Method::POST, "/auth/register", &[], Body::Form(&creds)),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = call(
        &svc,
        request(Method::POST, "/users", &[], Body::Form(&creds)),
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::NOT_FOUND,
        "the default path now belongs to the app"
    );
    let a = call(
        &svc,
        request(Method::POST, "/auth/login", &[], Body::Form(&creds)),
    )
    .await;
    let cookie = format!("session_id={}", a.cookie("session_id").unwrap());
    let a = call(
        &svc,
        request(Method::GET, "/auth/me", &[("cookie", &cookie)], Body::Empty),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = call(
        &svc,
        request(
            Method::DELETE,
            "/auth/login",
            &[("cookie", &cookie)],
            Body::Empty,
        ),
    )
    .await;
    assert_eq!(a.header("location"), Some("/bye"));

    let (closed, _dir2) = support::auth(
        AuthConfig::seed()
            .with_bcrypt_cost(4)
            .unwrap()
            .with_registration(false),
    );
    let svc = support::service(&closed);
    let a = call(
        &svc,
        request(Method::POST, "/users", &[], Body::Form(&creds)),
    )
    .await;
    assert_refused(&a, StatusCode::FORBIDDEN);
    assert_eq!(closed.store().counts().unwrap().0, 0);
}
