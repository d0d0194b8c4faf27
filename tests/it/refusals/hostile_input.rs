//! Hostile input, property-based: arbitrary methods, paths, headers, cookies, content types
//! and bodies through the layer never cause a panic, a 5xx or a hang, and a refused request
//! leaves the store unchanged. `PROPTEST_CASES` raises the number of cases (256 by default).
//! Giant headers go over a real socket. The nastiest cases found are kept as plain tests.

use crate::support;

use std::{sync::LazyLock, time::Duration};
use tower_user_auth::compat::SeedApi;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;
use proptest::prelude::*;
use support::{Body, Http, call};
use tower_user_auth::{Auth, PeerAddr};

struct World {
    rt: tokio::runtime::Runtime,
    auth: Auth,
    token: String,
    _dir: tempfile::TempDir,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (auth, dir) = rt.block_on(async {
        let (auth, dir) = support::auth(support::seed_config());
        auth.register_user("victim@example.com", "victim-pw")
            .await
            .unwrap();
        (auth, dir)
    });
    let token = rt
        .block_on(auth.create_session("victim@example.com"))
        .unwrap()
        .unwrap()
        .expose()
        .to_owned();
    World {
        rt,
        auth,
        token,
        _dir: dir,
    }
});

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::DELETE),
        Just(Method::PATCH),
        Just(Method::HEAD),
        Just(Method::OPTIONS),
        "[A-Z]{1,8}".prop_filter_map("a method", |m| Method::from_bytes(m.as_bytes()).ok()),
    ]
}

fn path() -> impl Strategy<Value = String> {
    let known = prop_oneof![
        Just("/users"),
        Just("/users/"),
        Just("/sessions"),
        Just("/sessions/"),
        Just("/sessions/all"),
        Just("/profile"),
        Just("/profile/password"),
        Just("/reset_password"),
        Just("/reset_password/"),
        Just("/"),
        Just("/me"),
    ]
    .prop_map(str::to_owned);
    let garbage = "/[a-z_/%0-9A-F.?=&]{0,40}";
    prop_oneof![3 => known, 1 => garbage]
}

fn cookie() -> impl Strategy<Value = Vec<u8>> {
    let token = WORLD.token.clone();
    prop_oneof![
        Just(format!("session_id={token}").into_bytes()),
        Just(format!("session_id={token}; session_id={token}").into_bytes()),
        "session_id=[ -~]{0,60}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..80),
    ]
}

fn content_type() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"application/x-www-form-urlencoded".to_vec()),
        Just(b"application/x-www-form-urlencoded; charset=utf-8".to_vec()),
        Just(b"multipart/form-data; boundary=XX".to_vec()),
        Just(b"multipart/form-data".to_vec()),
        Just(b"multipart/form-data; boundary=".to_vec()),
        Just(b"application/json".to_vec()),
        Just(b"text/plain".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("victim@example.com".to_owned()),
        Just("victim-pw".to_owned()),
        Just(WORLD.token.clone()),
        "[ -~]{0,30}",
        "\\PC{0,20}",
        "%[0-9A-Fa-fz]{0,2}[ -~]{0,8}",
    ]
}

fn fields() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let names = prop_oneof![
        Just("email"),
        Just("password"),
        Just("reset_token"),
        Just("new_password"),
        Just("current_password"),
        Just("x"),
    ];
    proptest::collection::vec((names, field_value()), 0..6)
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        fields().prop_map(|f| {
            f.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
                .into_bytes()
        }),
        fields().prop_map(|f| {
            let mut s = String::new();
            for (k, v) in f {
                s.push_str(&format!(
                    "--XX\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                ));
            }
            s.push_str("--XX--\r\n");
            s.into_bytes()
        }),
        (fields(), 0usize..200).prop_map(|(f, cut)| {
            let mut s = String::new();
            for (k, v) in f {
                s.push_str(&format!(
                    "--XX\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                ));
            }
            let b = s.into_bytes();
            b[..cut.min(b.len())].to_vec()
        }),
        fields().prop_map(|f| {
            let map: serde_json::Map<String, serde_json::Value> = f
                .into_iter()
                .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                .collect();
            serde_json::Value::Object(map).to_string().into_bytes()
        }),
        (1usize..3000)
            .prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..3000),
    ]
}

fn header_name() -> impl Strategy<Value = HeaderName> {
    prop_oneof![
        Just(HeaderName::from_static("origin")),
        Just(HeaderName::from_static("sec-fetch-site")),
        Just(HeaderName::from_static("host")),
        Just(HeaderName::from_static("x-forwarded-for")),
        Just(HeaderName::from_static("content-length")),
        Just(HeaderName::from_static("cookie")),
        Just(HeaderName::from_static("content-type")),
    ]
}

#[derive(Debug)]
struct Case {
    method: Method,
    path: String,
    headers: Vec<(HeaderName, Vec<u8>)>,
    body: Vec<u8>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        method(),
        path(),
        proptest::option::of(cookie()),
        proptest::option::of(content_type()),
        proptest::collection::vec(
            (header_name(), proptest::collection::vec(any::<u8>(), 0..60)),
            0..4,
        ),
        body(),
    )
        .prop_map(|(method, path, cookie, ct, mut headers, body)| {
            if let Some(c) = cookie {
                headers.push((HeaderName::from_static("cookie"), c));
            }
            if let Some(ct) = ct {
                headers.push((HeaderName::from_static("content-type"), ct));
            }
            Case {
                method,
                path,
                headers,
                body,
            }
        })
}

fn build(case: &Case) -> Option<Request<Full<Bytes>>> {
    let mut req = Request::builder()
        .method(case.method.clone())
        .uri(&case.path);
    for (name, value) in &case.headers {
        req = req.header(name, HeaderValue::from_bytes(value).ok()?);
    }
    let mut req = req.body(Full::new(Bytes::from(case.body.clone()))).ok()?;
    req.extensions_mut()
        .insert(PeerAddr("192.0.2.1:1".parse().unwrap()));
    Some(req)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_request_gets_a_non_5xx_answer_and_refusals_change_nothing(case in case()) {
        let world = &*WORLD;
        let Some(req) = build(&case) else { return Ok(()); };
        world.rt.block_on(async {
            let before = world.auth.store().counts().unwrap();
            let svc = support::service(&world.auth);
            let answer = tokio::time::timeout(Duration::from_secs(10), call(&svc, req))
                .await
                .expect("no hang");
            prop_assert!(!answer.status.is_server_error(), "{case:?} → {} {}", answer.status, answer.body);
            if answer.status.is_client_error() {
                let after = world.auth.store().counts().unwrap();
                prop_assert_eq!(before.0, after.0, "a refused request added a user: {:?}", case);
                prop_assert!(after.2 <= before.2, "a refused request added a reset token: {:?}", case);
                if answer.header("content-type") == Some("application/json") {
                    prop_assert!(answer.json()["message"].is_string());
                }
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn refused_requests_never_change_the_victims_password() {
    // After the property runs (or alone), the fixed account still has its password.
    let world = &*WORLD;
    let ok = tokio::task::spawn_blocking(|| {
        WORLD
            .rt
            .block_on(WORLD.auth.valid_login("victim@example.com", "victim-pw"))
    })
    .await
    .unwrap()
    .unwrap();
    assert!(ok);
    let _ = world;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giant_headers_over_a_socket_are_refused_and_the_server_keeps_serving() {
    let (auth, _dir) = support::auth(support::seed_config());
    let server = support::serve(&auth).await;
    for size in [10_000usize, 100_000, 1_000_000] {
        let big = format!("session_id={}", "a".repeat(size));
        let answer = Http::new()
            .try_send(
                Method::GET,
                &format!("{}/profile", server.base),
                &[("cookie", &big)],
                Body::Empty,
            )
            .await;
        if let Ok(a) = answer {
            assert!(a.status.is_client_error(), "{size}: {}", a.status);
        }
        let many: Vec<(String, String)> = (0..200)
            .map(|i| (format!("x-h{i}"), "v".repeat(100)))
            .collect();
        let headers: Vec<(&str, &str)> =
            many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if let Ok(a) = Http::new()
            .try_send(
                Method::GET,
                &format!("{}/", server.base),
                &headers,
                Body::Empty,
            )
            .await
        {
            assert!(!a.status.is_server_error());
        }
    }
    let a = Http::new()
        .send(Method::GET, &format!("{}/", server.base), &[], Body::Empty)
        .await;
    assert_eq!(a.status, StatusCode::OK, "still serving");
}

/// Method, path, headers and body of a kept case.
type NastyCase = (Method, &'static str, Vec<(&'static str, Vec<u8>)>, Vec<u8>);

/// The nastiest inputs found, kept as plain cases.
#[tokio::test]
async fn corpus_of_nasty_cases() {
    let (auth, _dir) = support::auth(support::seed_config());
    auth.register_user("n@x.io", "pw").await.unwrap();
    let svc = support::service(&auth);
    let cases: Vec<NastyCase> = vec![
        (
            Method::POST,
            "/users",
            vec![("content-type", b"application/json".to_vec())],
            "[".repeat(100_000).into_bytes(),
        ),
        (
            Method::POST,
            "/users",
            vec![(
                "content-type",
                b"multipart/form-data; boundary=\"\"".to_vec(),
            )],
            b"----\r\n".to_vec(),
        ),
        (
            Method::POST,
            "/users",
            vec![("content-type", b"multipart/form-data; boundary=XX".to_vec())],
            b"--XX\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n\xff\xfe\r\n--XX--\r\n"
                .to_vec(),
        ),
        (
            Method::POST,
            "/sessions",
            vec![(
                "content-type",
                b"application/x-www-form-urlencoded".to_vec(),
            )],
            b"email=%&password=%%%".to_vec(),
        ),
        (
            Method::POST,
            "/sessions",
            vec![(
                "content-type",
                b"application/x-www-form-urlencoded".to_vec(),
            )],
            b"&&&===&email&password=".to_vec(),
        ),
        (
            Method::PUT,
            "/reset_password",
            vec![("content-type", b"application/json".to_vec())],
            br#"{"email":"n@x.io","reset_token":"\u0000","new_password":"\ud800"}"#.to_vec(),
        ),
        (
            Method::GET,
            "/profile",
            vec![("cookie", b"session_id=\x80\x81; session_id=".to_vec())],
            Vec::new(),
        ),
        (
            Method::DELETE,
            "/sessions",
            vec![("cookie", b";;;=;session_id;=".to_vec())],
            Vec::new(),
        ),
        (
            Method::POST,
            "/users",
            vec![
                (
                    "content-type",
                    b"application/x-www-form-urlencoded".to_vec(),
                ),
                ("content-length", b"18446744073709551616".to_vec()),
            ],
            b"email=a".to_vec(),
        ),
        (
            Method::POST,
            "/echo",
            vec![
                ("origin", b"\xff".to_vec()),
                (
                    "cookie",
                    b"session_id=00000000-0000-4000-8000-000000000000".to_vec(),
                ),
            ],
            Vec::new(),
        ),
    ];
    let before = auth.store().counts().unwrap();
    for (method, path, headers, body) in cases {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in &headers {
            req = req.header(*k, HeaderValue::from_bytes(v).unwrap());
        }
        let req = req.body(Full::new(Bytes::from(body))).unwrap();
        let a = call(&svc, req).await;
        assert!(
            a.status.is_client_error(),
            "{path}: {} {}",
            a.status,
            a.body
        );
    }
    assert_eq!(auth.store().counts().unwrap(), before);
    assert!(auth.valid_login("n@x.io", "pw").await.unwrap());
}
