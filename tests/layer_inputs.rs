//! The layer in process, around a `service_fn` echo app (no socket), as tower-http tests its
//! middleware with `ServiceExt::oneshot`: what the wrapped app receives, and every bad input
//! of the contract's "Decisions", each answered with its 4xx and a JSON `{"message"}` body,
//! never a 5xx, and leaving the store as it was.

mod support;

use std::{convert::Infallible, fmt::Debug, time::Duration};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use serde_json::{Value, json};
use support::{Answer, Body, assert_error, counts};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
use tower_user_auth::{
    Auth, AuthBody, AuthConfig, AuthLayer, AuthenticatedUser, ManualClock, Routes, UserId,
    token::SessionToken,
};

// ---------------------------------------------------------------------------------------------
// The echo app and its harness.

/// The wrapped app: answers 200 with what it received — method, path, body, and the
/// `AuthenticatedUser` in the extensions (`null` when there is none).
async fn echo<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: http_body::Body,
    B::Error: Debug,
{
    let (parts, body) = req.into_parts();
    let user = parts.extensions.get::<AuthenticatedUser>().map(|u| {
        // Exhaustive: a field added to what the app receives (a hash, a token) fails here.
        let AuthenticatedUser { id, email, session } = u.clone();
        json!({ "id": id.0, "email": email, "session": session.to_string(), "debug": format!("{u:?}") })
    });
    let body = match body.collect().await {
        Ok(c) => String::from_utf8_lossy(&c.to_bytes()).into_owned(),
        Err(e) => format!("<body error {e:?}>"),
    };
    let answer = json!({
        "echo": true,
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "user": user,
        "body": body,
    });
    let mut res = Response::new(Full::new(Bytes::from(answer.to_string())));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.headers_mut()
        .insert("x-echo", HeaderValue::from_static("1"));
    Ok(res)
}

/// The layer around [`echo`], for requests with a body of type `B`.
fn layered<B>(
    auth: &Auth,
) -> impl Service<Request<B>, Response = Response<AuthBody<Full<Bytes>>>, Error = Infallible> + Clone
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tower_user_auth::BoxError> + Debug,
{
    ServiceBuilder::new()
        .layer(AuthLayer::new(auth.clone()))
        .service(service_fn(echo::<B>))
}

/// One request through the layer; never a 5xx.
async fn oneshot<B>(auth: &Auth, req: Request<B>) -> Answer
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tower_user_auth::BoxError> + Debug,
{
    let what = format!("{} {}", req.method(), req.uri());
    let res = tokio::time::timeout(Duration::from_secs(10), layered::<B>(auth).oneshot(req))
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 10 s"))
        .expect("infallible");
    let (parts, body) = res.into_parts();
    let body = tokio::time::timeout(Duration::from_secs(10), body.collect())
        .await
        .expect("body within 10 s")
        .expect("body")
        .to_bytes();
    let a = Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    assert!(
        !a.status.is_server_error(),
        "{what}: client input gave a {}: {}",
        a.status,
        a.body
    );
    a
}

async fn send(
    auth: &Auth,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
) -> Answer {
    oneshot(auth, support::request(method, path, headers, body)).await
}

/// A request with a raw body and content type.
fn raw(
    method: Method,
    path: &str,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .expect("request")
}

/// Asserts that the echo app answered, and returns what it saw.
#[track_caller]
fn echoed(a: &Answer) -> Value {
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.header("x-echo"), Some("1"), "the app answered: {a:?}");
    let v = a.json();
    assert_eq!(v["echo"], json!(true));
    v
}

/// Asserts that the app got no user and no session cookie was set (one may be cleared).
#[track_caller]
fn passed_without_user(a: &Answer) {
    let v = echoed(a);
    assert_eq!(v["user"], Value::Null, "no user: {v}");
    if let Some(line) = a.set_cookie_line("session_id") {
        assert!(line.contains("Max-Age=0"), "only ever cleared: {line}");
    }
}

/// The state a refused request must leave alone: the store's counts, and the password.
struct Snapshot {
    counts: (u64, u64, u64),
    email: &'static str,
    password: &'static str,
}

impl Snapshot {
    async fn take(auth: &Auth, email: &'static str, password: &'static str) -> Self {
        assert!(
            auth.valid_login(email, password).await.expect("verify"),
            "{email} logs in before"
        );
        Self {
            counts: counts(auth),
            email,
            password,
        }
    }

    #[track_caller]
    fn check_counts(&self, auth: &Auth, what: &str) {
        assert_eq!(counts(auth), self.counts, "{what}: the store changed");
    }

    async fn check(&self, auth: &Auth, what: &str) {
        self.check_counts(auth, what);
        assert!(
            auth.valid_login(self.email, self.password)
                .await
                .expect("verify"),
            "{what}: {} no longer logs in with its password",
            self.email
        );
    }
}

fn seed_auth() -> (Auth, tempfile::TempDir) {
    support::auth(support::seed_config())
}

/// A form in one of the three encodings, duplicates kept (JSON included).
#[derive(Clone, Copy, Debug)]
enum Enc {
    Form,
    Multipart,
    Json,
}

const ENCODINGS: [Enc; 3] = [Enc::Form, Enc::Multipart, Enc::Json];

fn encode(enc: Enc, fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    match enc {
        Enc::Form | Enc::Multipart => {
            let body = match enc {
                Enc::Form => Body::Form(fields),
                _ => Body::Multipart(fields),
            };
            let (ct, bytes) = body.encode();
            (ct.expect("content type"), bytes)
        }
        Enc::Json => {
            let members: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}: {}", json!(k), json!(v)))
                .collect();
            (
                "application/json".into(),
                format!("{{{}}}", members.join(", ")).into_bytes(),
            )
        }
    }
}

fn form_request(
    method: Method,
    path: &str,
    enc: Enc,
    fields: &[(&str, &str)],
) -> Request<Full<Bytes>> {
    let (ct, bytes) = encode(enc, fields);
    raw(method, path, &ct, bytes)
}

/// Logs in through the layer and returns the session token.
async fn log_in(auth: &Auth, email: &str, password: &str) -> String {
    let a = send(
        auth,
        Method::POST,
        "/sessions",
        &[],
        Body::Form(&[("email", email), ("password", password)]),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.cookie("session_id").expect("session cookie")
}

// ---------------------------------------------------------------------------------------------
// What the wrapped app receives.

#[tokio::test]
async fn without_a_cookie_requests_pass_through_untouched() {
    let (auth, _dir) = seed_auth();
    let before = counts(&auth);
    for (method, path) in [
        (Method::GET, "/"),
        (Method::POST, "/anything"),
        (Method::PUT, "/users/1"),
        (Method::GET, "/usersx"),
        (Method::GET, "/profiles"),
        (Method::DELETE, "/session"),
        (Method::GET, "/reset_password/abc"),
        (Method::GET, "/users//"),
    ] {
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("cookie", "theme=dark; lang=fr")
            .body(Full::new(Bytes::from_static(b"email=a%40b.c&password=pw")))
            .expect("request");
        let a = oneshot(&auth, req).await;
        let v = echoed(&a);
        assert_eq!(v["method"], json!(method.as_str()));
        assert_eq!(v["path"], json!(path));
        assert_eq!(v["user"], Value::Null);
        assert_eq!(v["body"], json!("email=a%40b.c&password=pw"), "body intact");
        assert!(
            a.headers.get(header::SET_COOKIE).is_none(),
            "{path}: nothing set: {:?}",
            a.headers
        );
    }
    assert_eq!(
        counts(&auth),
        before,
        "the app's routes never touch the store"
    );
}

#[tokio::test]
async fn a_valid_cookie_hands_the_app_its_user_and_nothing_secret() {
    let (auth, _dir) = seed_auth();
    let user = auth
        .register_user("Ann@Example.com", "abcde")
        .await
        .expect("register");
    let token = log_in(&auth, "ann@example.COM", "abcde").await;
    let session = SessionToken::parse(&token)
        .expect("a token")
        .digest()
        .session_id();
    for (method, path, cookie) in [
        (Method::GET, "/", format!("session_id={token}")),
        (
            Method::POST,
            "/orders",
            format!("a=1; session_id={token}; b=2"),
        ),
        (Method::DELETE, "/things/3", format!("session_id={token}")),
    ] {
        let a = send(
            &auth,
            method.clone(),
            path,
            &[("cookie", &cookie)],
            Body::Empty,
        )
        .await;
        let v = echoed(&a);
        let u = &v["user"];
        assert_eq!(u["id"], json!(user.id.0), "{method} {path}");
        assert_eq!(
            u["email"],
            json!("Ann@Example.com"),
            "the email as registered"
        );
        assert_eq!(
            u["session"],
            json!(session.to_string()),
            "the session's public id"
        );
        assert_ne!(u["session"], json!(token));
        let debug = u["debug"].as_str().expect("debug");
        assert!(!debug.contains("$2"), "no hash: {debug}");
        assert!(
            !a.body.contains(&user.hashed_password),
            "no hash: {}",
            a.body
        );
        assert!(!a.body.contains(&token), "never the token: {}", a.body);
        assert!(
            a.headers.get(header::SET_COOKIE).is_none(),
            "a live session's cookie stays"
        );
    }
    // A second session of the same user is told apart.
    let other = log_in(&auth, "Ann@Example.com", "abcde").await;
    let a = send(
        &auth,
        Method::GET,
        "/",
        &[("cookie", &format!("session_id={other}"))],
        Body::Empty,
    )
    .await;
    let v = echoed(&a);
    assert_eq!(v["user"]["id"], json!(user.id.0));
    assert_ne!(v["user"]["session"], json!(session.to_string()));
}

#[tokio::test]
async fn unknown_malformed_and_duplicated_cookies_pass_through_without_a_user() {
    let (auth, _dir) = seed_auth();
    auth.register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = log_in(&auth, "bob@bob.com", "pwd").await;
    let snapshot = Snapshot::take(&auth, "bob@bob.com", "pwd").await;
    let unknown = SessionToken::generate();
    let cases: Vec<Vec<Vec<u8>>> = vec![
        vec![format!("session_id={}", unknown.expose()).into_bytes()],
        vec![b"session_id=garbage".to_vec()],
        vec![b"session_id=".to_vec()],
        vec![format!("session_id={}", token.to_uppercase()).into_bytes()],
        vec![format!("session_id={token}x").into_bytes()],
        vec![format!("session_id=\"{token}\"").into_bytes()],
        vec![format!("session_id={token}; session_id={token}").into_bytes()],
        vec![format!("session_id={token}; session_id={}", unknown.expose()).into_bytes()],
        vec![
            format!("session_id={token}").into_bytes(),
            format!("session_id={token}").into_bytes(),
        ],
        vec![b"session_id=\xff\xfe".to_vec()],
        vec![
            format!("session_id={token}").into_bytes(),
            b"session_id=\xff".to_vec(),
        ],
    ];
    for cookies in &cases {
        let shown: Vec<String> = cookies
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let build = |method: Method, path: &str| {
            let mut req = Request::builder().method(method).uri(path);
            for c in cookies {
                req = req.header("cookie", HeaderValue::from_bytes(c).expect("header"));
            }
            req.body(Full::new(Bytes::new())).expect("request")
        };
        let a = oneshot(&auth, build(Method::GET, "/")).await;
        passed_without_user(&a);
        let a = oneshot(&auth, build(Method::POST, "/orders")).await;
        passed_without_user(&a);
        let a = oneshot(&auth, build(Method::GET, "/profile")).await;
        assert_error(&a, StatusCode::FORBIDDEN);
        let a = oneshot(&auth, build(Method::DELETE, "/sessions")).await;
        assert_error(&a, StatusCode::FORBIDDEN);
        snapshot.check_counts(&auth, &format!("{shown:?}"));
    }
    // Names are case-sensitive and exact: these are other cookies.
    for cookie in [
        format!("Session_id={token}"),
        format!("session_idx={token}"),
        format!("xsession_id={token}"),
    ] {
        let a = send(&auth, Method::GET, "/", &[("cookie", &cookie)], Body::Empty).await;
        let v = echoed(&a);
        assert_eq!(v["user"], Value::Null, "{cookie}");
    }
    // The live session survived all that.
    let a = send(
        &auth,
        Method::GET,
        "/",
        &[("cookie", &format!("session_id={token}"))],
        Body::Empty,
    )
    .await;
    assert_eq!(echoed(&a)["user"]["email"], json!("bob@bob.com"));
    snapshot.check(&auth, "after the bad cookies").await;
}

#[tokio::test]
async fn a_user_injected_further_out_is_removed() {
    let (auth, _dir) = seed_auth();
    let bob = auth
        .register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = log_in(&auth, "bob@bob.com", "pwd").await;
    let forged = AuthenticatedUser {
        id: UserId(bob.id.0 + 1000),
        email: "forged@evil.io".into(),
        session: SessionToken::generate().digest().session_id(),
    };
    for cookie in [
        None,
        Some("session_id=garbage".to_owned()),
        Some(format!("session_id={token}")),
    ] {
        let mut req = Request::get("/");
        if let Some(c) = &cookie {
            req = req.header("cookie", c.as_str());
        }
        let mut req = req.body(Full::new(Bytes::new())).expect("request");
        req.extensions_mut().insert(forged.clone());
        let a = oneshot(&auth, req).await;
        let v = echoed(&a);
        match cookie.as_deref() {
            Some(c) if c.contains(&token) => {
                assert_eq!(v["user"]["email"], json!("bob@bob.com"), "the real user");
                assert_eq!(v["user"]["id"], json!(bob.id.0));
            }
            _ => assert_eq!(
                v["user"],
                Value::Null,
                "{cookie:?}: the forged user is gone"
            ),
        }
        assert!(!a.body.contains("forged@evil.io"), "{}", a.body);
    }
}

// ---------------------------------------------------------------------------------------------
// Fields: missing, empty, duplicated.

/// A route that reads a form, and a complete valid form for it.
type RouteForm = (Method, &'static str, Vec<(&'static str, String)>);

/// The four routes that read a form, each with a complete valid form for "bob@bob.com".
fn forms(token: &str) -> Vec<RouteForm> {
    vec![
        (
            Method::POST,
            "/users",
            vec![("email", "new@bob.com".into()), ("password", "pwd".into())],
        ),
        (
            Method::POST,
            "/sessions",
            vec![("email", "bob@bob.com".into()), ("password", "pwd".into())],
        ),
        (
            Method::POST,
            "/reset_password",
            vec![("email", "bob@bob.com".into())],
        ),
        (
            Method::PUT,
            "/reset_password",
            vec![
                ("email", "bob@bob.com".into()),
                ("reset_token", token.to_owned()),
                ("new_password", "newpw".into()),
            ],
        ),
    ]
}

#[tokio::test]
async fn missing_empty_and_duplicated_fields_are_400_on_every_route_and_encoding() {
    let (auth, _dir) = seed_auth();
    auth.register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = auth
        .get_reset_password_token("bob@bob.com")
        .await
        .expect("token");
    let snapshot = Snapshot::take(&auth, "bob@bob.com", "pwd").await;
    for (method, path, form) in forms(token.expose()) {
        for enc in ENCODINGS {
            for (i, (name, value)) in form.iter().enumerate() {
                let others = || {
                    form.iter()
                        .enumerate()
                        .filter(move |(j, _)| *j != i)
                        .map(|(_, (k, v))| (*k, v.as_str()))
                };
                let missing: Vec<(&str, &str)> = others().collect();
                let empty: Vec<(&str, &str)> = others().chain([(*name, "")]).collect();
                let twice: Vec<(&str, &str)> = others()
                    .chain([(*name, value.as_str()), (*name, value.as_str())])
                    .collect();
                let renamed_upper = name.to_uppercase();
                let wrong_case: Vec<(&str, &str)> = others()
                    .chain([(renamed_upper.as_str(), value.as_str())])
                    .collect();
                for (what, fields) in [
                    ("missing", &missing),
                    ("empty", &empty),
                    ("duplicated", &twice),
                    ("wrongly cased name", &wrong_case),
                ] {
                    let a = oneshot(&auth, form_request(method.clone(), path, enc, fields)).await;
                    let label = format!("{method} {path} {enc:?}: {what} {name}");
                    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{label}: {}", a.body);
                    assert_error(&a, StatusCode::BAD_REQUEST);
                    assert!(a.cookie("session_id").is_none(), "{label}");
                    snapshot.check_counts(&auth, &label);
                }
            }
        }
        // No body at all.
        let a = send(&auth, method.clone(), path, &[], Body::Empty).await;
        assert_error(&a, StatusCode::BAD_REQUEST);
    }
    snapshot.check(&auth, "after all the refusals").await;
    // The reset token was neither replaced nor consumed.
    auth.update_password(token.expose(), "newpw")
        .await
        .expect("the token still works");
}

#[tokio::test]
async fn an_email_that_is_blank_once_trimmed_is_400_on_every_route() {
    // Emails are trimmed, and an empty field is 400: a blank email is an empty field, on
    // every route alike (not a wrong credential, an unknown account or a bad token).
    let (auth, _dir) = seed_auth();
    auth.register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = auth
        .get_reset_password_token("bob@bob.com")
        .await
        .expect("token");
    let snapshot = Snapshot::take(&auth, "bob@bob.com", "pwd").await;
    let mut wrong = Vec::new();
    for (method, path, form) in forms(token.expose()) {
        for blank in [" \t "] {
            let fields: Vec<(&str, &str)> = form
                .iter()
                .map(|(k, v)| (*k, if *k == "email" { blank } else { v.as_str() }))
                .collect();
            let a = oneshot(
                &auth,
                form_request(method.clone(), path, Enc::Form, &fields),
            )
            .await;
            if a.status != StatusCode::BAD_REQUEST {
                wrong.push(format!(
                    "{method} {path} email={blank:?}: {} {}",
                    a.status, a.body
                ));
            }
            snapshot.check_counts(&auth, &format!("{method} {path}: blank email"));
        }
    }
    assert!(
        wrong.is_empty(),
        "a blank email must be 400:\n{}",
        wrong.join("\n")
    );
    snapshot.check(&auth, "after the blank emails").await;
    auth.update_password(token.expose(), "newpw")
        .await
        .expect("the token still works");
}

// ---------------------------------------------------------------------------------------------
// Bodies that do not parse.

#[tokio::test]
async fn malformed_bodies_are_400() {
    let (auth, _dir) = seed_auth();
    auth.register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = auth
        .get_reset_password_token("bob@bob.com")
        .await
        .expect("token");
    let snapshot = Snapshot::take(&auth, "bob@bob.com", "pwd").await;
    const MP: &str = "multipart/form-data; boundary=XX";
    const JS: &str = "application/json";
    const UE: &str = "application/x-www-form-urlencoded";
    let part = |name: &str, value: &[u8]| -> Vec<u8> {
        let mut p =
            format!("--XX\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").into_bytes();
        p.extend_from_slice(value);
        p.extend_from_slice(b"\r\n");
        p
    };
    let end = b"--XX--\r\n".to_vec();
    let multipart = |parts: Vec<Vec<u8>>| -> Vec<u8> {
        parts.into_iter().flatten().chain(end.clone()).collect()
    };

    for (method, path, form) in forms(token.expose()) {
        // The route's own valid fields, urlencoded, then with one value replaced by garbage.
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let encoded = |replace: &str, with: &str| -> Vec<u8> {
            let mut s = String::new();
            for (k, v) in &fields {
                if !s.is_empty() {
                    s.push('&');
                }
                let v = if *k == replace {
                    with.to_owned()
                } else {
                    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                        .to_string()
                };
                s.push_str(&format!("{k}={v}"));
            }
            s.into_bytes()
        };
        let first = fields[0].0;
        let mut cases: Vec<(&str, String, Vec<u8>)> = Vec::new();
        // Percent-encoded garbage and raw bytes that are not UTF-8.
        for garbage in [
            "%FF%FE",
            "%C3%28",
            "%E2%82",
            "%ED%A0%80",
            "%C0%AF",
            "bob%80%40bob.com",
        ] {
            cases.push(("percent garbage", UE.into(), encoded(first, garbage)));
        }
        let mut raw_value = encoded("", "");
        raw_value.extend_from_slice(b"&x=\xff\xfe");
        cases.push(("raw non-UTF-8 value", UE.into(), raw_value));
        let mut raw_key = encoded("", "");
        raw_key.extend_from_slice(b"&\xc3\x28=1");
        cases.push(("raw non-UTF-8 key", UE.into(), raw_key));
        let mut raw_email = encoded(first, "bob");
        raw_email.extend_from_slice(b"\xe9%40bob.com");
        cases.push(("raw Latin-1 email", UE.into(), raw_email));
        // A NUL smuggled in by percent-encoding, where the route checks the value: a new
        // email, a new password.
        let nul_fields: &[(&str, &str)] = match (method.as_str(), path) {
            ("POST", "/users") => &[("email", "bob%00%40bob.com"), ("password", "p%00w")],
            ("PUT", _) => &[("new_password", "p%00w")],
            _ => &[],
        };
        for (field, value) in nul_fields {
            cases.push(("NUL", UE.into(), encoded(field, value)));
        }
        // Multipart: no boundary, truncated, wrong boundary, a file, a nameless part, not UTF-8.
        let good_parts: Vec<Vec<u8>> = fields.iter().map(|(k, v)| part(k, v.as_bytes())).collect();
        cases.push((
            "multipart without boundary",
            "multipart/form-data".into(),
            multipart(good_parts.clone()),
        ));
        let mut truncated = good_parts.concat();
        truncated.truncate(truncated.len() - 3);
        cases.push(("truncated multipart", MP.into(), truncated));
        cases.push((
            "wrong boundary",
            "multipart/form-data; boundary=YY".into(),
            multipart(good_parts.clone()),
        ));
        let mut with_file = good_parts.clone();
        with_file.push(
            b"--XX\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n".to_vec(),
        );
        cases.push(("file upload", MP.into(), multipart(with_file)));
        let mut nameless = good_parts.clone();
        nameless.push(b"--XX\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n".to_vec());
        cases.push(("nameless part", MP.into(), multipart(nameless)));
        let mut bad_utf8 = good_parts[1..].to_vec();
        bad_utf8.push(part(first, b"bob\xff@bob.com"));
        cases.push(("multipart value not UTF-8", MP.into(), multipart(bad_utf8)));
        cases.push((
            "multipart garbage",
            MP.into(),
            b"this is not multipart at all".to_vec(),
        ));
        // JSON: invalid, not an object, values that are not strings, not UTF-8.
        let obj = |replace: &str, with: &str| -> Vec<u8> {
            let members: Vec<String> = fields
                .iter()
                .map(|(k, v)| {
                    let v = if *k == replace {
                        with.to_owned()
                    } else {
                        json!(v).to_string()
                    };
                    format!("{}: {v}", json!(k))
                })
                .collect();
            format!("{{{}}}", members.join(", ")).into_bytes()
        };
        for non_string in ["5", "5.5", "true", "null", "[\"a\"]", "{\"a\": \"b\"}"] {
            cases.push(("JSON non-string value", JS.into(), obj(first, non_string)));
        }
        let mut not_utf8 = obj(first, "\"bob@bob.com\"");
        let at = not_utf8.iter().position(|&b| b == b'@').expect("@");
        not_utf8[at] = 0xff;
        cases.push(("JSON not UTF-8", JS.into(), not_utf8));
        let mut trailing = obj("", "");
        trailing.extend_from_slice(b" x");
        cases.push(("JSON trailing garbage", JS.into(), trailing));
        let mut unterminated = obj("", "");
        unterminated.pop();
        cases.push(("JSON unterminated", JS.into(), unterminated));
        for not_object in [
            "",
            "null",
            "\"bob@bob.com\"",
            "42",
            "[]",
            "[{\"email\": \"bob@bob.com\"}]",
        ] {
            cases.push((
                "JSON not an object",
                JS.into(),
                not_object.as_bytes().to_vec(),
            ));
        }
        cases.push(("JSON deep", JS.into(), "[".repeat(10_000).into_bytes()));
        for (field, _) in nul_fields {
            cases.push(("JSON escapes a NUL", JS.into(), obj(field, "\"p\\u0000w\"")));
        }
        cases.push((
            "JSON lone surrogate",
            JS.into(),
            obj(first, "\"bob\\ud800@bob.com\""),
        ));

        for (what, ct, bytes) in cases {
            let label = format!(
                "{method} {path}: {what}: {:?}",
                String::from_utf8_lossy(&bytes)
            );
            let a = oneshot(&auth, raw(method.clone(), path, &ct, bytes)).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{label}: {}", a.body);
            assert_error(&a, StatusCode::BAD_REQUEST);
            snapshot.check_counts(&auth, &label);
        }
    }
    snapshot.check(&auth, "after the malformed bodies").await;
    auth.update_password(token.expose(), "newpw")
        .await
        .expect("the token still works");
}

#[tokio::test]
async fn unsupported_content_types_are_415() {
    let (auth, _dir) = seed_auth();
    auth.register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = auth
        .get_reset_password_token("bob@bob.com")
        .await
        .expect("token");
    let snapshot = Snapshot::take(&auth, "bob@bob.com", "pwd").await;
    for (method, path, form) in forms(token.expose()) {
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (_, urlencoded) = encode(Enc::Form, &fields);
        for ct in [
            "text/plain",
            "application/xml",
            "application/octet-stream",
            "multipart/mixed; boundary=XX",
            "application/x-www-form-urlencodedx",
            "application/jsonp",
            "form-data",
            "",
        ] {
            let a = oneshot(&auth, raw(method.clone(), path, ct, urlencoded.clone())).await;
            assert_eq!(
                a.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {path} {ct:?}: {}",
                a.body
            );
            assert_error(&a, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        // No Content-Type with a body; a Content-Type that is not visible ASCII.
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .body(Full::new(Bytes::from(urlencoded.clone())))
            .expect("request");
        assert_error(
            &oneshot(&auth, req).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        );
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_bytes(b"application/x-www-form-urlencoded; charset=\xe9")
                    .expect("header"),
            )
            .body(Full::new(Bytes::from(urlencoded.clone())))
            .expect("request");
        assert_error(
            &oneshot(&auth, req).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        );
        snapshot.check_counts(&auth, &format!("{method} {path}"));
    }
    snapshot.check(&auth, "after the 415s").await;
    // The accepted types, whatever their case and parameters.
    for (i, ct) in [
        "Application/X-WWW-Form-Urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("ok{i}@bob.com");
        let body = format!("email={}&password=pwd", email.replace('@', "%40"));
        let a = oneshot(&auth, raw(Method::POST, "/users", ct, body)).await;
        assert_eq!(a.status, StatusCode::OK, "{ct}: {}", a.body);
    }
    let a = oneshot(
        &auth,
        raw(
            Method::POST,
            "/users",
            "APPLICATION/JSON; charset=utf-8",
            r#"{"email": "ok9@bob.com", "password": "pwd"}"#,
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

// ---------------------------------------------------------------------------------------------
// Size cap.

const CAP: usize = 256;

type Chunks = futures_util::stream::Chain<
    futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>,
    futures_util::stream::Pending<Result<Frame<Bytes>, Infallible>>,
>;

/// A body streamed in `chunks` without a `Content-Length`, that then never ends (a client
/// that keeps sending): the layer must answer without waiting for its end.
fn streamed_forever(
    method: Method,
    path: &str,
    content_type: &str,
    chunks: Vec<Bytes>,
) -> Request<StreamBody<Chunks>> {
    use futures_util::StreamExt;
    let frames: Vec<Result<Frame<Bytes>, Infallible>> =
        chunks.into_iter().map(|c| Ok(Frame::data(c))).collect();
    let stream: Chunks = futures_util::stream::iter(frames).chain(futures_util::stream::pending());
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(StreamBody::new(stream))
        .expect("request")
}

#[tokio::test]
async fn bodies_over_the_cap_are_413_by_length_and_as_streamed() {
    let config = support::seed_config().with_body_limit(CAP).expect("limit");
    let (auth, _dir) = support::auth(config);
    auth.register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = auth
        .get_reset_password_token("bob@bob.com")
        .await
        .expect("token");
    let snapshot = Snapshot::take(&auth, "bob@bob.com", "pwd").await;
    for (method, path, form) in forms(token.expose()) {
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (ct, valid) = encode(Enc::Form, &fields);
        let padded = |total: usize| -> Vec<u8> {
            let mut b = valid.clone();
            b.extend_from_slice(b"&pad=");
            assert!(b.len() <= total, "form too long for the test");
            b.resize(total, b'x');
            b
        };
        // Declared too large, whatever is actually sent.
        for declared in [CAP + 1, 1 << 30] {
            let mut req = raw(method.clone(), path, &ct, valid.clone());
            req.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
            let a = oneshot(&auth, req).await;
            assert_error(&a, StatusCode::PAYLOAD_TOO_LARGE);
        }
        // Too large as sent, with a correct Content-Length.
        let body = padded(CAP + 1);
        let mut req = raw(method.clone(), path, &ct, body.clone());
        req.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        assert_error(&oneshot(&auth, req).await, StatusCode::PAYLOAD_TOO_LARGE);
        // Streamed without Content-Length: cut off at the cap, without waiting for the end.
        let chunks: Vec<Bytes> = padded(CAP + 64)
            .chunks(32)
            .map(Bytes::copy_from_slice)
            .collect();
        let a = oneshot(&auth, streamed_forever(method.clone(), path, &ct, chunks)).await;
        assert_error(&a, StatusCode::PAYLOAD_TOO_LARGE);
        snapshot.check_counts(&auth, &format!("{method} {path}"));
    }
    snapshot.check(&auth, "after the 413s").await;

    // Exactly at the cap is accepted, streamed or not.
    let form = |email: &str| -> Vec<u8> {
        let mut b = format!("email={}&password=pwd&pad=", email.replace('@', "%40")).into_bytes();
        b.resize(CAP, b'x');
        b
    };
    let a = oneshot(
        &auth,
        raw(
            Method::POST,
            "/users",
            "application/x-www-form-urlencoded",
            form("cap1@bob.com"),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let chunks: Vec<Bytes> = form("cap2@bob.com")
        .chunks(50)
        .map(Bytes::copy_from_slice)
        .collect();
    let stream = {
        use futures_util::StreamExt;
        futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, Infallible>(Frame::data(c))),
        )
        .boxed()
    };
    let req = Request::post("/users")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(StreamBody::new(stream))
        .expect("request");
    let a = oneshot(&auth, req).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(counts(&auth).0, 3);
}

#[tokio::test]
async fn a_body_that_fails_midway_is_a_client_error() {
    let (auth, _dir) = seed_auth();
    let before = counts(&auth);
    let stream = {
        use futures_util::StreamExt;
        futures_util::stream::iter([
            Ok(Frame::data(Bytes::from_static(b"email=bob%40bob.com&pass"))),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "client went away",
            )),
        ])
        .boxed()
    };
    let req = Request::post("/users")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(StreamBody::new(stream))
        .expect("request");
    let a = oneshot(&auth, req).await;
    assert!(a.status.is_client_error(), "{}: {}", a.status, a.body);
    assert_eq!(counts(&auth), before);
}

// ---------------------------------------------------------------------------------------------
// Methods.

/// Every auth path of the default routes and the methods it serves, as `Allow` says them.
const PATHS: [(&str, &str); 6] = [
    ("/users", "POST"),
    ("/sessions", "GET, HEAD, POST, DELETE"),
    ("/sessions/all", "DELETE"),
    ("/profile", "GET, HEAD"),
    ("/profile/password", "PUT"),
    ("/reset_password", "POST, PUT"),
];

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let (auth, _dir) = seed_auth();
    auth.register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = log_in(&auth, "bob@bob.com", "pwd").await;
    let cookie = format!("session_id={token}");
    let snapshot = Snapshot::take(&auth, "bob@bob.com", "pwd").await;
    let methods = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::TRACE,
        Method::from_bytes(b"PURGE").expect("method"),
    ];
    for (path, allow) in PATHS {
        let allowed: Vec<&str> = allow.split(", ").collect();
        for slash in ["", "/"] {
            let path = format!("{path}{slash}");
            for method in &methods {
                if allowed.contains(&method.as_str()) {
                    // Served: whatever the answer, not 405 (no body, so nothing is created).
                    let a = send(
                        &auth,
                        method.clone(),
                        &path,
                        &[("cookie", &cookie)],
                        Body::Empty,
                    )
                    .await;
                    assert_ne!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                    assert!(a.headers.get(header::ALLOW).is_none(), "{method} {path}");
                    continue;
                }
                // Not served: 405 before anything is read, with a body that would otherwise
                // register, log in or ask for a token.
                let a = send(
                    &auth,
                    method.clone(),
                    &path,
                    &[("cookie", &cookie)],
                    Body::Form(&[("email", "new@bob.com"), ("password", "pwd")]),
                )
                .await;
                assert_eq!(
                    a.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: {}",
                    a.body
                );
                assert_eq!(a.header("allow"), Some(allow), "{method} {path}");
                assert_eq!(
                    a.header("content-type"),
                    Some("application/json"),
                    "{method} {path}"
                );
                if method != Method::HEAD {
                    assert_error(&a, StatusCode::METHOD_NOT_ALLOWED);
                }
                let (users, sessions, resets) = counts(&auth);
                assert_eq!(
                    (users, resets),
                    (snapshot.counts.0, snapshot.counts.2),
                    "{method} {path}"
                );
                assert!(
                    sessions <= snapshot.counts.1,
                    "{method} {path}: no session made"
                );
            }
        }
    }
    assert!(
        auth.valid_login("bob@bob.com", "pwd")
            .await
            .expect("verify")
    );
}

// ---------------------------------------------------------------------------------------------
// Reset tokens.

#[tokio::test]
async fn a_bad_reset_token_is_403_whatever_the_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(std::time::SystemTime::now());
    let store =
        tower_user_auth::store::RedbStore::open(dir.path().join("auth.redb")).expect("store");
    let auth = Auth::with_clock(store, support::seed_config(), clock.clone());
    // One account per kind of bad token, so that no account sees more than 3 failures.
    let emails = ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io", "f@x.io"];
    for email in emails {
        auth.register_user(email, "pwd").await.expect("register");
    }
    let expired = auth
        .get_reset_password_token("d@x.io")
        .await
        .expect("token");
    clock.advance(Duration::from_secs(2 * 60 * 60));
    let other = auth
        .get_reset_password_token("e@x.io")
        .await
        .expect("token");
    let used = auth
        .get_reset_password_token("c@x.io")
        .await
        .expect("token");
    auth.update_password(used.expose(), "pwd")
        .await
        .expect("reset");
    let live_b = auth
        .get_reset_password_token("b@x.io")
        .await
        .expect("token");
    let unknown = SessionToken::generate();
    let cases = [
        ("a@x.io", unknown.expose().to_owned(), "unknown"),
        ("f@x.io", "not-a-token".to_owned(), "malformed"),
        ("b@x.io", other.expose().to_owned(), "another account's"),
        ("c@x.io", used.expose().to_owned(), "used"),
        ("d@x.io", expired.expose().to_owned(), "expired"),
    ];
    let snapshot = counts(&auth);
    let passwords = ["fine", &"x".repeat(100), "nul\0byte"];
    for (email, token, what) in &cases {
        for pw in passwords {
            let a = send(
                &auth,
                Method::PUT,
                "/reset_password",
                &[],
                Body::Form(&[
                    ("email", email),
                    ("reset_token", token),
                    ("new_password", pw),
                ]),
            )
            .await;
            assert_eq!(
                a.status,
                StatusCode::FORBIDDEN,
                "{what} token, password {pw:?}: {}",
                a.body
            );
            assert_error(&a, StatusCode::FORBIDDEN);
        }
    }
    assert_eq!(counts(&auth), snapshot, "nothing changed");
    for email in emails {
        assert!(
            auth.valid_login(email, "pwd").await.expect("verify"),
            "{email}"
        );
    }
    // The live tokens still work for their own accounts.
    for (email, token) in [("e@x.io", &other), ("b@x.io", &live_b)] {
        let a = send(
            &auth,
            Method::PUT,
            "/reset_password/",
            &[],
            Body::Form(&[
                ("email", email),
                ("reset_token", token.expose()),
                ("new_password", "newpw"),
            ]),
        )
        .await;
        assert_eq!(
            a.json(),
            json!({"email": email, "message": "Password updated"}),
            "{email}"
        );
        assert!(auth.valid_login(email, "newpw").await.expect("verify"));
    }
}

#[tokio::test]
async fn a_valid_token_with_a_refused_password_is_400_and_stays_usable() {
    let (auth, _dir) = seed_auth();
    auth.register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = auth
        .get_reset_password_token("bob@bob.com")
        .await
        .expect("token");
    let snapshot = Snapshot::take(&auth, "bob@bob.com", "pwd").await;
    let too_long = "x".repeat(100);
    let just_over = "y".repeat(73);
    let multibyte = "é".repeat(37); // 37 characters, 74 bytes
    for enc in ENCODINGS {
        for pw in [
            too_long.as_str(),
            just_over.as_str(),
            multibyte.as_str(),
            "nul\0byte",
            "\0",
        ] {
            let a = oneshot(
                &auth,
                form_request(
                    Method::PUT,
                    "/reset_password",
                    enc,
                    &[
                        ("email", "bob@bob.com"),
                        ("reset_token", token.expose()),
                        ("new_password", pw),
                    ],
                ),
            )
            .await;
            assert_eq!(
                a.status,
                StatusCode::BAD_REQUEST,
                "{enc:?} {pw:?}: {}",
                a.body
            );
            assert_error(&a, StatusCode::BAD_REQUEST);
            snapshot.check_counts(&auth, &format!("{enc:?} {pw:?}"));
        }
    }
    // The same passwords are refused at registration.
    for pw in [too_long.as_str(), "nul\0byte"] {
        let a = send(
            &auth,
            Method::POST,
            "/users",
            &[],
            Body::Form(&[("email", "new@bob.com"), ("password", pw)]),
        )
        .await;
        assert_error(&a, StatusCode::BAD_REQUEST);
    }
    snapshot.check(&auth, "after the refused passwords").await;
    // 72 bytes exactly is the longest accepted; the token was kept for it.
    let longest = "z".repeat(72);
    let a = send(
        &auth,
        Method::PUT,
        "/reset_password",
        &[],
        Body::Form(&[
            ("email", "bob@bob.com"),
            ("reset_token", token.expose()),
            ("new_password", &longest),
        ]),
    )
    .await;
    assert_eq!(
        a.json(),
        json!({"email": "bob@bob.com", "message": "Password updated"})
    );
    assert!(
        auth.valid_login("bob@bob.com", &longest)
            .await
            .expect("verify")
    );
    assert!(
        !auth
            .valid_login("bob@bob.com", "pwd")
            .await
            .expect("verify")
    );
    // And it works once.
    let a = send(
        &auth,
        Method::PUT,
        "/reset_password",
        &[],
        Body::Form(&[
            ("email", "bob@bob.com"),
            ("reset_token", token.expose()),
            ("new_password", "again"),
        ]),
    )
    .await;
    assert_error(&a, StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------------------------
// Configuration.

#[tokio::test]
async fn routes_are_configurable() {
    let routes = Routes {
        register: "/auth/register".into(),
        sessions: "/auth/session".into(),
        all_sessions: "/auth/session/everywhere".into(),
        profile: "/auth/me".into(),
        password: "/auth/me/password".into(),
        reset_password: "/auth/reset".into(),
        after_logout: "/goodbye".into(),
    };
    let config = support::seed_config()
        .with_routes(routes)
        .expect("routes")
        .with_cookie_name("sid")
        .expect("cookie name");
    let (auth, _dir) = support::auth(config);
    let creds = [("email", "r@r.io"), ("password", "pw")];

    // The default paths now belong to the app.
    for (method, path) in [
        (Method::POST, "/users"),
        (Method::POST, "/sessions"),
        (Method::GET, "/profile"),
        (Method::PUT, "/reset_password"),
    ] {
        let a = send(&auth, method, path, &[], Body::Form(&creds)).await;
        passed_without_user(&a);
    }
    assert_eq!(counts(&auth).0, 0, "nobody registered on the old path");

    let a = send(
        &auth,
        Method::POST,
        "/auth/register/",
        &[],
        Body::Form(&creds),
    )
    .await;
    assert_eq!(
        a.json(),
        json!({"email": "r@r.io", "message": "user created"})
    );
    let a = send(
        &auth,
        Method::POST,
        "/auth/session",
        &[],
        Body::Form(&creds),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(
        a.cookie("session_id").is_none(),
        "the cookie has its configured name"
    );
    let sid = a.cookie("sid").expect("sid cookie");
    let cookie = format!("sid={sid}");
    let a = send(
        &auth,
        Method::GET,
        "/auth/me",
        &[("cookie", &cookie)],
        Body::Empty,
    )
    .await;
    assert_eq!(a.json(), json!({"email": "r@r.io"}));
    let a = send(&auth, Method::GET, "/", &[("cookie", &cookie)], Body::Empty).await;
    assert_eq!(echoed(&a)["user"]["email"], json!("r@r.io"));
    let a = send(
        &auth,
        Method::GET,
        "/",
        &[("cookie", &format!("session_id={sid}"))],
        Body::Empty,
    )
    .await;
    assert_eq!(
        echoed(&a)["user"],
        Value::Null,
        "the default name is just another cookie"
    );
    let a = send(&auth, Method::GET, "/auth/reset", &[], Body::Empty).await;
    assert_error(&a, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.header("allow"), Some("POST, PUT"));
    let a = send(
        &auth,
        Method::POST,
        "/auth/session/everywhere",
        &[],
        Body::Empty,
    )
    .await;
    assert_error(&a, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.header("allow"), Some("DELETE"));
    let a = send(
        &auth,
        Method::POST,
        "/auth/reset",
        &[],
        Body::Form(&[("email", "r@r.io")]),
    )
    .await;
    let reset = a.json()["reset_token"].as_str().expect("token").to_owned();
    let a = send(
        &auth,
        Method::PUT,
        "/auth/reset",
        &[],
        Body::Form(&[
            ("email", "r@r.io"),
            ("reset_token", &reset),
            ("new_password", "pw2"),
        ]),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = send(
        &auth,
        Method::DELETE,
        "/auth/session",
        &[("cookie", &cookie)],
        Body::Empty,
    )
    .await;
    assert_eq!(a.status, StatusCode::FOUND);
    assert_eq!(a.header("location"), Some("/goodbye"));
    assert!(
        a.set_cookie_line("sid")
            .is_some_and(|l| l.contains("Max-Age=0")),
        "{:?}",
        a.headers
    );
    let a = send(
        &auth,
        Method::GET,
        "/auth/me",
        &[("cookie", &cookie)],
        Body::Empty,
    )
    .await;
    assert_error(&a, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn closed_registration_is_403_and_the_rest_works() {
    let config = AuthConfig::seed()
        .with_bcrypt_cost(4)
        .expect("cost")
        .with_registration(false);
    let (auth, _dir) = support::auth(config);
    auth.register_user("old@x.io", "pwd")
        .await
        .expect("the API still registers");
    let snapshot = Snapshot::take(&auth, "old@x.io", "pwd").await;
    for enc in ENCODINGS {
        for fields in [
            &[("email", "new@x.io"), ("password", "pwd")][..],
            &[("email", "old@x.io"), ("password", "pwd")][..],
        ] {
            let a = oneshot(&auth, form_request(Method::POST, "/users", enc, fields)).await;
            assert_error(&a, StatusCode::FORBIDDEN);
        }
    }
    snapshot.check(&auth, "closed registration").await;
    let token = log_in(&auth, "old@x.io", "pwd").await;
    let a = send(
        &auth,
        Method::GET,
        "/profile",
        &[("cookie", &format!("session_id={token}"))],
        Body::Empty,
    )
    .await;
    assert_eq!(a.json(), json!({"email": "old@x.io"}));
}
