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
///
/// The header is read as bytes, pair by pair (`;`-separated, the name before the first `=`,
/// both trimmed): a pair whose name is not exactly `name` is someone else's cookie and is
/// skipped whatever bytes, quotes or look-alike name it has, so it can never cost the user
/// a session. Only our own cookie is judged: malformed or given twice, it is `Invalid`.
pub(crate) fn session_cookie(headers: &HeaderMap, name: &str) -> SessionCookie {
    let mut found: Option<&[u8]> = None;
    for value in headers.get_all(header::COOKIE) {
        for (pair_name, pair_value) in pairs(value.as_bytes()) {
            if pair_name != name.as_bytes() {
                continue;
            }
            if found.is_some() {
                return SessionCookie::Invalid;
            }
            // Borrowed from the header value: no allocation.
            found = Some(pair_value);
        }
    }
    match found {
        None => SessionCookie::Absent,
        Some(raw) => std::str::from_utf8(raw)
            .ok()
            .and_then(SessionToken::parse)
            .map_or(SessionCookie::Invalid, SessionCookie::Token),
    }
}

/// The `name=value` pairs of one `Cookie` header value, trimmed; a part without `=` is no
/// cookie and is skipped.
fn pairs(value: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    value.split(|&b| b == b';').filter_map(|pair| {
        let eq = pair.iter().position(|&b| b == b'=')?;
        Some((pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii()))
    })
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
        // Someone else's cookies, however odd, leave ours alone.
        let ours = format!("session_id={}", t.expose());
        for others in [
            &b"xsession_id=\xff; "[..],
            b"session_id_old=1; theme=caf\xc3\xa9; ",
            b"a=\"b; =x; \"q\"=1; bare; ",
        ] {
            let line = [others, ours.as_bytes()].concat();
            assert_eq!(
                session_cookie(&headers(&[&line]), "session_id"),
                SessionCookie::Token(t.clone())
            );
        }
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
