//! Our cookies: the session cookie (read from the `Cookie` header, set and cleared) and the
//! device cookie (read, and set at login).

use std::time::{Duration, SystemTime};

use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue, header};

use crate::{
    auth::IssuedDevice,
    config::AuthConfig,
    token::{DeviceToken, SessionToken, TokenDigest},
};

/// What the request's `Cookie` headers say about the session cookie: its token (`T`, a
/// [`SessionToken`]) or only the token's digest ([`session_digest`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SessionCookie<T = SessionToken> {
    /// No session cookie.
    Absent,
    /// One session cookie holding a well-formed token.
    Token(T),
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
    read_session_cookie(headers, name, |raw| {
        std::str::from_utf8(raw).ok().and_then(SessionToken::parse)
    })
}

/// As [`session_cookie`], answering the token's digest instead of a copy of the token: what
/// the layer needs to authenticate a request (the hot path makes no copy of the token).
pub(crate) fn session_digest(headers: &HeaderMap, name: &str) -> SessionCookie<TokenDigest> {
    read_session_cookie(headers, name, SessionToken::digest_of)
}

fn read_session_cookie<T>(
    headers: &HeaderMap,
    name: &str,
    parse: fn(&[u8]) -> Option<T>,
) -> SessionCookie<T> {
    match own_cookie(headers, name) {
        Ok(None) => SessionCookie::Absent,
        Ok(Some(raw)) => parse(raw).map_or(SessionCookie::Invalid, SessionCookie::Token),
        Err(Duplicated) => SessionCookie::Invalid,
    }
}

/// Reads the device cookie named `name`, read as the session cookie is: `None` when absent,
/// malformed or given twice (a login then counts as one without a device token).
pub(crate) fn device_cookie(headers: &HeaderMap, name: &str) -> Option<DeviceToken> {
    let raw = own_cookie(headers, name).ok()??;
    std::str::from_utf8(raw).ok().and_then(DeviceToken::parse)
}

/// Our cookie `name` was given more than once.
struct Duplicated;

/// The value of the one cookie named exactly `name` in every `Cookie` header, borrowed from
/// the header (no allocation); [`Duplicated`] if there are several.
fn own_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h [u8]>, Duplicated> {
    let mut found: Option<&[u8]> = None;
    for value in headers.get_all(header::COOKIE) {
        for (pair_name, pair_value) in pairs(value.as_bytes()) {
            if pair_name != name.as_bytes() {
                continue;
            }
            if found.is_some() {
                return Err(Duplicated);
            }
            found = Some(pair_value);
        }
    }
    Ok(found)
}

/// The `name=value` pairs of one `Cookie` header value, trimmed; a part without `=` is no
/// cookie and is skipped. One pass of `memchr2` finds every `;` and `=` (this runs on every
/// request): a pair ends at a `;`, its name at its first `=`.
fn pairs(value: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut delimiters = memchr::memchr2_iter(b';', b'=', value);
    let mut start = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        while !done {
            let mut eq = None;
            let end = loop {
                match delimiters.next() {
                    Some(at) if value[at] == b';' => break at,
                    Some(at) => {
                        eq.get_or_insert(at);
                    }
                    None => {
                        done = true;
                        break value.len();
                    }
                }
            };
            let pair_start = std::mem::replace(&mut start, end + 1);
            if let Some(eq) = eq {
                return Some((
                    value[pair_start..eq].trim_ascii(),
                    value[eq + 1..end].trim_ascii(),
                ));
            }
        }
        None
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

/// `Set-Cookie` for the device cookie: `HttpOnly; SameSite=Strict; Path=/`, `Secure` as the
/// session cookie is, living until the token expires (at most 90 days).
pub(crate) fn set_device(
    config: &AuthConfig,
    device: &IssuedDevice,
    now: SystemTime,
) -> HeaderValue {
    let max_age = device.expires.duration_since(now).unwrap_or_default();
    let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    let cookie = Cookie::build((config.device_cookie_name(), device.token.expose()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(config.secure_cookie)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    HeaderValue::try_from(cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
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
    fn the_digest_reader_judges_the_cookie_as_the_token_reader_does() {
        let t = SessionToken::generate();
        let good = format!("theme=dark; session_id={}", t.expose());
        let dup = format!("session_id={0}; session_id={0}", t.expose());
        let lines: [&[u8]; 6] = [
            good.as_bytes(),
            dup.as_bytes(),
            b"session_id=nope",
            b"session_id=\xff\xfe",
            b"other=1",
            b"session_id=00000000-0000-4000-8000-00000000000G",
        ];
        for line in lines {
            let h = headers(&[line]);
            let expected = match session_cookie(&h, "session_id") {
                SessionCookie::Absent => SessionCookie::Absent,
                SessionCookie::Invalid => SessionCookie::Invalid,
                SessionCookie::Token(token) => SessionCookie::Token(token.digest()),
            };
            assert_eq!(session_digest(&h, "session_id"), expected);
        }
        assert_eq!(
            session_digest(&headers(&[good.as_bytes()]), "session_id"),
            SessionCookie::Token(t.digest())
        );
    }

    #[test]
    fn pairs_are_split_as_by_semicolons_and_the_first_equals_sign() {
        let by_split = |value: &[u8]| -> Vec<(Vec<u8>, Vec<u8>)> {
            value
                .split(|&b| b == b';')
                .filter_map(|pair| {
                    let eq = pair.iter().position(|&b| b == b'=')?;
                    Some((pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii()))
                })
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect()
        };
        for value in [
            &b""[..],
            b";",
            b";;",
            b"a",
            b"a=",
            b"=b",
            b"a=b",
            b"a=b;",
            b";a=b",
            b" a = b ; c=d=e ;bare; =x;f=\xff",
            b"theme=dark; session_id=00000000-0000-4000-8000-000000000000",
            b"a=\"b; =x; \"q\"=1; bare; ",
        ] {
            let ours: Vec<_> = pairs(value)
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect();
            assert_eq!(ours, by_split(value), "{value:?}");
        }
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
    fn the_device_cookie_is_read_as_the_session_cookie_is() {
        let d = DeviceToken::generate();
        let line = format!("session_id=x; device={}; theme=dark", d.expose());
        assert_eq!(
            device_cookie(&headers(&[line.as_bytes()]), "device"),
            Some(d.clone())
        );
        let dup = format!("device={0}; device={0}", d.expose());
        for bad in [
            &b"device=nope"[..],
            b"device=",
            b"device=\xff",
            dup.as_bytes(),
        ] {
            assert_eq!(device_cookie(&headers(&[bad]), "device"), None);
        }
        let other = format!("xdevice={}", d.expose());
        assert_eq!(device_cookie(&headers(&[other.as_bytes()]), "device"), None);
        let set = IssuedDevice {
            token: d.clone(),
            expires: SystemTime::UNIX_EPOCH + Duration::from_secs(100),
        };
        let v = set_device(&AuthConfig::hardened(), &set, SystemTime::UNIX_EPOCH);
        let v = v.to_str().unwrap();
        assert!(v.starts_with(&format!("device={}", d.expose())), "{v}");
        for attr in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=100",
            "Secure",
        ] {
            assert!(v.contains(attr), "{v}");
        }
    }

    #[test]
    fn set_cookie_attributes() {
        let config = AuthConfig::compat();
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
