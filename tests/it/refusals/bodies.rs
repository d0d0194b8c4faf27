//! Bodies: malformed (400), unsupported content types (415), over the cap (413) by length
//! and as streamed, failing midway.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body::Frame;
use http_body_util::{Full, StreamBody};
use serde_json::json;

use super::{
    bob_with_reset_token, encode, forms, oneshot, raw, seed_auth,
    support::{self, Encoding, assert_error, counts},
};

#[tokio::test]
async fn malformed_bodies_are_400() {
    let (auth, _dir, token, snapshot) = bob_with_reset_token(support::seed_config()).await;
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
    snapshot
        .check_with_token(&auth, &token, "after the malformed bodies")
        .await;
}

#[tokio::test]
async fn unsupported_content_types_are_415() {
    let (auth, _dir, token, snapshot) = bob_with_reset_token(support::seed_config()).await;
    for (method, path, form) in forms(token.expose()) {
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (_, urlencoded) = encode(Encoding::Form, &fields);
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

/// A body streamed from a list of frames.
type Frames<E> =
    StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, E>>>>;

/// `POST /users` with an urlencoded body streamed as `frames`, without a `Content-Length`.
fn streamed_registration<E>(frames: Vec<Result<Frame<Bytes>, E>>) -> Request<Frames<E>> {
    Request::post("/users")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(StreamBody::new(futures_util::stream::iter(frames)))
        .expect("request")
}

#[tokio::test]
async fn bodies_over_the_cap_are_413_by_length_and_as_streamed() {
    let config = support::seed_config().with_body_limit(CAP);
    let (auth, _dir, token, snapshot) = bob_with_reset_token(config).await;
    for (method, path, form) in forms(token.expose()) {
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (ct, valid) = encode(Encoding::Form, &fields);
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
    let frames = chunks
        .into_iter()
        .map(|c| Ok::<_, Infallible>(Frame::data(c)))
        .collect();
    let a = oneshot(&auth, streamed_registration(frames)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(counts(&auth).0, 3);
}

#[tokio::test]
async fn a_body_that_fails_midway_is_a_client_error() {
    let (auth, _dir) = seed_auth();
    let before = counts(&auth);
    let frames = vec![
        Ok(Frame::data(Bytes::from_static(b"email=bob%40bob.com&pass"))),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    let a = oneshot(&auth, streamed_registration(frames)).await;
    assert!(a.status.is_client_error(), "{}: {}", a.status, a.body);
    assert_eq!(counts(&auth), before);
}
