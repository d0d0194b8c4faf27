//! [`Answer`]: a response read whole, and what tests ask of it.

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header, response::Parts};
use http_body_util::BodyExt;
use serde_json::Value;

/// A response with its body read.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body, as UTF-8 (lossy).
    pub body: String,
}

impl Answer {
    /// Reads `res` whole.
    pub async fn read<B>(res: Response<B>) -> Self
    where
        B: http_body::Body,
        B::Error: std::fmt::Debug,
    {
        let (parts, body) = res.into_parts();
        let body = body.collect().await.expect("response body").to_bytes();
        Self::from_parts(parts, &body)
    }

    /// The answer of these head and body.
    pub fn from_parts(parts: Parts, body: &Bytes) -> Self {
        Self {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(body).into_owned(),
        }
    }

    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?} (status {})",
                self.body, self.status
            )
        })
    }

    /// The body.
    pub fn text(&self) -> String {
        self.body.clone()
    }

    /// The header `name`, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie` line.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii set-cookie").to_owned())
            .collect()
    }

    /// The whole `Set-Cookie` line for the cookie `name`, if any.
    pub fn set_cookie_line(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| cookie_name_value(c).0 == name)
    }

    /// The value the answer's `Set-Cookie` gives `name`, if any.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie_line(name)
            .map(|c| cookie_name_value(&c).1.to_owned())
    }

    /// The value the answer sets the session cookie `session_id` to.
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie("session_id")
    }

    /// The `Cookie` header value (`session_id=...`) of the session the answer sets, if any.
    pub fn session_cookie_header(&self) -> Option<String> {
        self.session_cookie().map(|v| format!("session_id={v}"))
    }

    /// The answer is the wrapped [`Echo`](super::Echo) app's, and the user it saw.
    pub fn app_user(&self) -> Option<Value> {
        let v = self.json();
        assert_eq!(v["app"], true, "not the wrapped app's answer: {v}");
        match &v["user"] {
            Value::Null => None,
            u => Some(u.clone()),
        }
    }

    /// `Retry-After`, in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        self.header("retry-after")
            .map(|v| v.parse().expect("Retry-After in seconds"))
    }
}

/// `("name", "value")` of a `Set-Cookie` line.
pub fn cookie_name_value(line: &str) -> (&str, &str) {
    let first = line.split(';').next().unwrap_or("").trim();
    first.split_once('=').unwrap_or((first, ""))
}

/// The attributes of a `Set-Cookie` line, lowercased, without the name=value pair.
pub fn cookie_attributes(line: &str) -> Vec<String> {
    line.split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| !a.is_empty())
        .collect()
}

/// The line clears the cookie: empty value and `Max-Age=0`.
pub fn clears(line: &str) -> bool {
    cookie_name_value(line).1.is_empty() && cookie_attributes(line).iter().any(|a| a == "max-age=0")
}

/// Asserts a successful JSON answer (200, `Content-Type: application/json`) with exactly
/// `expected` as its body.
#[track_caller]
pub fn assert_ok(a: &Answer, expected: &Value) {
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(&a.json(), expected);
}

/// Asserts that `a` is a refusal with `status`: a JSON body `{"message": "..."}` and nothing
/// else, with `Content-Type: application/json`.
#[track_caller]
pub fn assert_error(a: &Answer, status: StatusCode) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(
        a.header("content-type"),
        Some("application/json"),
        "{status}: {}",
        a.body
    );
    let v = a.json();
    let message = v.get("message").and_then(Value::as_str);
    assert!(
        message.is_some_and(|m| !m.is_empty()),
        "{status}: no message in {v}"
    );
    assert_eq!(
        v.as_object().map(serde_json::Map::len),
        Some(1),
        "{status}: only a message: {v}"
    );
}
