//! The session cookie: reading it from the `Cookie` header, setting and clearing it.

use std::time::Duration;

use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue, header};

use crate::{config::AuthConfig, token::SessionToken};

/// What the request's `Cookie` headers say about the session cookie.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SessionCookie {
    /// No session cookie.
    Absent,
    /// One session cookie holding a well-formed token.
    Token(SessionToken),
    /// A session cookie that cannot be a token we issued, or more than one.
    Invalid,
}

/// Reads the session cookie named `name` from every `Cookie` header.
pub(crate) fn session_cookie(headers: &HeaderMap, name: &str) -> SessionCookie {
    let mut found: Option<&str> = None;
    let mut invalid = false;
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else {
            // Not visible ASCII: it cannot hold one of our tokens, but it may hold others.
            if contains_name(value.as_bytes(), name) {
                invalid = true;
            }
            continue;
        };
        for cookie in Cookie::split_parse(value).flatten() {
            if cookie.name() != name {
                continue;
            }
            if found.is_some() {
                return SessionCookie::Invalid;
            }
            // Borrowed from the header value: no allocation.
            found = Some(cookie.value_raw().unwrap_or(""));
        }
    }
    match found {
        _ if invalid => SessionCookie::Invalid,
        None => SessionCookie::Absent,
        Some(raw) => SessionToken::parse(raw).map_or(SessionCookie::Invalid, SessionCookie::Token),
    }
}

fn contains_name(value: &[u8], name: &str) -> bool {
    value
        .windows(name.len() + 1)
        .any(|w| w.starts_with(name.as_bytes()) && w[name.len()] == b'=')
}

/// `Set-Cookie` for a new session that lives `max_age`.
pub(crate) fn set_session(
    config: &AuthConfig,
    token: &SessionToken,
    max_age: Duration,
) -> HeaderValue {
    let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    build(
        config,
        token.expose(),
        cookie::time::Duration::seconds(max_age),
    )
}

/// `Set-Cookie` that makes the browser drop the session cookie.
pub(crate) fn clear_session(config: &AuthConfig) -> HeaderValue {
    build(config, "", cookie::time::Duration::ZERO)
}

fn build(config: &AuthConfig, value: &str, max_age: cookie::time::Duration) -> HeaderValue {
    let cookie = Cookie::build((config.cookie_name(), value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(config.secure_cookie)
        .max_age(max_age)
        .build();
    HeaderValue::try_from(cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::COOKIE, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn reads_one_token_among_other_cookies() {
        let token = SessionToken::generate();
        let line = format!("theme=dark; session_id={}; lang=fr", token.expose());
        assert_eq!(
            session_cookie(&headers(&[line.as_bytes()]), "session_id"),
            SessionCookie::Token(token)
        );
    }

    #[test]
    fn absent_malformed_and_duplicated() {
        let t = SessionToken::generate();
        assert_eq!(
            session_cookie(&headers(&[]), "session_id"),
            SessionCookie::Absent
        );
        assert_eq!(
            session_cookie(&headers(&[b"other=1"]), "session_id"),
            SessionCookie::Absent
        );
        assert_eq!(
            session_cookie(&headers(&[b"session_id=nope"]), "session_id"),
            SessionCookie::Invalid
        );
        assert_eq!(
            session_cookie(&headers(&[b"session_id="]), "session_id"),
            SessionCookie::Invalid
        );
        let dup = format!("session_id={0}; session_id={0}", t.expose());
        assert_eq!(
            session_cookie(&headers(&[dup.as_bytes()]), "session_id"),
            SessionCookie::Invalid
        );
        let split = format!("session_id={}", t.expose());
        assert_eq!(
            session_cookie(
                &headers(&[split.as_bytes(), split.as_bytes()]),
                "session_id"
            ),
            SessionCookie::Invalid
        );
        assert_eq!(
            session_cookie(&headers(&[b"session_id=\xff\xfe"]), "session_id"),
            SessionCookie::Invalid
        );
        assert_eq!(
            session_cookie(&headers(&[b"x=\xff"]), "session_id"),
            SessionCookie::Absent
        );
    }

    #[test]
    fn set_cookie_attributes() {
        let config = AuthConfig::seed();
        let t = SessionToken::generate();
        let v = set_session(&config, &t, Duration::from_secs(60));
        let v = v.to_str().unwrap();
        assert!(v.starts_with(&format!("session_id={}", t.expose())));
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(v.contains(attr), "{v}");
        }
        assert!(!v.contains("Secure") && !v.contains("Domain"));
        let hardened = clear_session(&AuthConfig::hardened());
        let h = hardened.to_str().unwrap();
        assert!(h.contains("Max-Age=0") && h.contains("Secure"), "{h}");
    }
}
