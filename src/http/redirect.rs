//! Redirects: which `next` targets are safe to send a browser to, and the 303 answers.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, utf8_percent_encode};
use unicode_normalization::UnicodeNormalization;

use super::response::OwnResponse;

/// The longest `next` accepted, in bytes.
const MAX_NEXT_LEN: usize = 2048;

/// How many times a `next` is percent-decoded to look for encoded tricks; one still changing
/// after that many decodings is refused.
const MAX_DECODINGS: usize = 3;

/// Characters that look like a slash or a backslash and have no compatibility decomposition to
/// one (those that do, such as U+FF0F FULLWIDTH SOLIDUS, are caught through NFKC).
const SLASH_LOOKALIKES: [char; 10] = [
    '\u{1735}', // PHILIPPINE SINGLE PUNCTUATION
    '\u{2044}', // FRACTION SLASH
    '\u{2215}', // DIVISION SLASH
    '\u{2216}', // SET MINUS
    '\u{2571}', // BOX DRAWINGS LIGHT DIAGONAL UPPER RIGHT TO LOWER LEFT
    '\u{2572}', // BOX DRAWINGS LIGHT DIAGONAL UPPER LEFT TO LOWER RIGHT
    '\u{29F5}', // REVERSE SOLIDUS OPERATOR
    '\u{29F8}', // BIG SOLIDUS
    '\u{29F9}', // BIG REVERSE SOLIDUS
    '\u{3033}', // VERTICAL KANA REPEAT MARK UPPER HALF
];

/// `candidate` if it is a safe place to redirect a browser to after logging in: a path on this
/// site, never another origin; `None` otherwise, where the caller falls back to its landing page:
///
/// ```
/// use tower_user_auth::safe_next;
///
/// let landing = "/";
/// assert_eq!(safe_next("/profile?tab=1").unwrap_or(landing), "/profile?tab=1");
/// assert_eq!(safe_next("//evil.example").unwrap_or(landing), "/");
/// assert_eq!(safe_next("/%2F%2Fevil.example").unwrap_or(landing), "/");
/// ```
///
/// # Security
///
/// Accepted is only an absolute path with an optional query and fragment, as it would be sent
/// in a `Location` header (percent-encoded, at most 2048 bytes):
/// - it starts with exactly one `/` (no `//host`, no scheme, no relative path);
/// - it holds only visible ASCII characters, and no backslash (which browsers read as a
///   slash): no space, tab, line break or other control character anywhere;
/// - its path has no `.` or `..` segment;
/// - the same holds after percent-decoding, up to three times (`/%2F%2Fevil.com`,
///   `/%5Cevil.com`, `/%252F%252Fevil.com` and `/%0d%0a` are refused): the decoded path must
///   still start with one `/` and hold no backslash, control character, whitespace, dot
///   segment or character that looks like a slash or a dot (`%EF%BC%8F`, U+FF0F FULLWIDTH
///   SOLIDUS); the decoded query and fragment hold no backslash or control character (a space
///   encoded in a query, `?q=a%20b`, is fine).
#[must_use]
pub fn safe_next(candidate: &str) -> Option<&str> {
    let raw = candidate.as_bytes();
    if raw.len() > MAX_NEXT_LEN || !raw.iter().all(|&b| b.is_ascii_graphic() && b != b'\\') {
        return None;
    }
    let split = raw.iter().position(|&b| b == b'?' || b == b'#');
    let (path, rest) = raw.split_at(split.unwrap_or(raw.len()));
    let safe = path_is_safe(path)
        && decodings_are_safe(path, decoded_path_is_safe)
        && decodings_are_safe(rest, |r| {
            !r.iter().any(|&b| b.is_ascii_control() || b == b'\\')
        });
    safe.then_some(candidate)
}

/// Whether every percent-decoding of `bytes` (up to [`MAX_DECODINGS`], until it stops
/// changing) passes `check`.
fn decodings_are_safe(bytes: &[u8], check: impl Fn(&[u8]) -> bool) -> bool {
    let mut current = Cow::Borrowed(bytes);
    for _ in 0..MAX_DECODINGS {
        let decoded: Cow<'_, [u8]> = percent_decode(&current).into();
        if decoded == current {
            return true;
        }
        if !check(&decoded) {
            return false;
        }
        current = Cow::Owned(decoded.into_owned());
    }
    // Still changing after that many decodings: nobody sends that in good faith.
    percent_decode(&current).eq(current.iter().copied())
}

/// An absolute path starting with one `/`, without dot segments.
fn path_is_safe(path: &[u8]) -> bool {
    path.first() == Some(&b'/')
        && path.get(1) != Some(&b'/')
        && path.get(1) != Some(&b'\\')
        && !path
            .split(|&b| b == b'/')
            .any(|segment| segment == b"." || segment == b"..")
}

/// A decoded path: safe as a path, valid UTF-8 without control characters, whitespace,
/// backslashes, or characters that look like a slash or a dot.
fn decoded_path_is_safe(path: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(path) else {
        return false;
    };
    path_is_safe(path)
        && text.chars().all(|c| {
            !c.is_control()
                && !c.is_whitespace()
                && c != '\\'
                && (c.is_ascii() || !looks_like_a_separator(c))
        })
}

/// Whether a non-ASCII character stands for a slash, a backslash, a dot or another character
/// with a meaning in a URL once normalized (U+FF0F FULLWIDTH SOLIDUS, U+2024 ONE DOT LEADER...).
fn looks_like_a_separator(c: char) -> bool {
    SLASH_LOOKALIKES.contains(&c)
        || std::iter::once(c)
            .nfkc()
            .any(|n| n.is_whitespace() || "/\\.:@?#%".contains(n))
}

/// What is percent-encoded in a query parameter: all but the unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `page` with the query parameter `next={next}` added (before any fragment), `next`
/// percent-encoded.
pub(crate) fn with_next(page: &str, next: &str) -> String {
    with_query(page, &[("next", next)])
}

/// `page` with the query parameters `params` added (after a query it may have, before any
/// fragment), each value percent-encoded.
pub(crate) fn with_query(page: &str, params: &[(&str, &str)]) -> String {
    let (base, fragment) = page.split_at(page.find('#').unwrap_or(page.len()));
    let mut location = base.to_owned();
    for (name, value) in params {
        let separator = match location.find('?') {
            None => "?",
            Some(_) if location.ends_with(['?', '&']) => "",
            Some(_) => "&",
        };
        location.push_str(separator);
        location.push_str(name);
        location.push('=');
        location.extend(utf8_percent_encode(value, QUERY_VALUE));
    }
    location.push_str(fragment);
    location
}

/// A 303 See Other to `location`, not to be stored by a cache, with an empty body.
pub(crate) fn see_other(location: HeaderValue) -> OwnResponse {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::SEE_OTHER;
    let headers = res.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Open-redirect attempts: each must be refused.
    const HOSTILE: &[&str] = &[
        "",
        "evil.com",
        "//evil.com",
        "///evil.com",
        "////evil.com",
        "/\\evil.com",
        "\\/evil.com",
        "\\\\evil.com",
        "/\\/evil.com",
        "https://evil.com",
        "http:evil.com",
        "HTTPS://evil.com/",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "/%2F%2Fevil.com",
        "/%2f%2fevil.com",
        "/%2F/evil.com",
        "/%5Cevil.com",
        "/%5C%5Cevil.com",
        "/%5c/evil.com",
        "%2F%2Fevil.com",
        "%2Fevil.com",
        "/%252F%252Fevil.com",
        "/%25252F%25252Fevil.com",
        "/%2525252Fevil.com",
        "/\t/evil.com",
        "/\n/evil.com",
        "/\r\n/evil.com",
        "/ /evil.com",
        " /evil.com",
        "/evil.com ",
        "/%09/evil.com",
        "/%20/evil.com",
        "/%0d%0aSet-Cookie:%20x=1",
        "/%0D%0ALocation:%20https://evil.com",
        "/a?x=%0d%0aSet-Cookie:x",
        "/a#%00",
        "/%00",
        "/..//evil.com",
        "/../evil.com",
        "/./",
        "/a/..",
        "/%2e%2e//evil.com",
        "/%2E%2E/%2E%2E/etc",
        "/%252e%252e//evil.com",
        "/\u{FF0F}evil.com",
        "/\u{2215}evil.com",
        "/%EF%BC%8F%EF%BC%8Fevil.com",
        "/%EF%BC%BCevil.com",
        "/%E2%88%95evil.com",
        "/%E2%81%84evil.com",
        "/%E2%A7%B8evil.com",
        "/%E2%80%A4%E2%80%A4/evil.com",
        "/%E2%80%A5/evil.com",
        "/%EF%B9%A8evil.com",
        "/%E3%80%80/evil.com",
        "/%C2%A0/evil.com",
        "/%C2%85/evil.com",
        "/%FF%FE",
        "/a?b=\\",
        "/a#\\",
        "/a?b=%5C",
        "/\u{7f}",
        "/caf\u{e9}",
    ];

    #[test]
    fn open_redirect_attempts_are_refused() {
        for next in HOSTILE {
            assert_eq!(safe_next(next), None, "{next:?} was accepted");
        }
        let long = format!("/{}", "a".repeat(MAX_NEXT_LEN));
        assert_eq!(safe_next(&long), None);
    }

    #[test]
    fn paths_on_this_site_are_kept_as_they_are() {
        for next in [
            "/",
            "/profile",
            "/profile?tab=1",
            "/a/b#frag",
            "/a/b?x=1&y=2#section-3",
            "/search?q=a%20b+c",
            "/search?q=https://evil.com",
            "/login?next=%2F%2Fevil.com",
            "/a//b",
            "/.well-known/security.txt",
            "/files/report.v2.pdf",
            "/caf%C3%A9",
            "/%E4%B8%AD%E6%96%87",
            "/50%25",
            "/50%",
            "/@user",
            "/a:b",
            "/?",
            "/#",
        ] {
            assert_eq!(safe_next(next), Some(next), "{next:?} was refused");
        }
        let longest = format!("/{}", "a".repeat(MAX_NEXT_LEN - 1));
        assert_eq!(safe_next(&longest), Some(longest.as_str()));
    }

    /// Where a browser on `https://site.example/a/b` goes for `location`, by the WHATWG URL
    /// parser; `None` if it cannot parse it.
    fn browser_goes_to(location: &str) -> Option<url::Url> {
        url::Url::parse("https://site.example/a/b")
            .expect("base")
            .join(location)
            .ok()
    }

    /// Every percent-decoding of `next` that is still text: what a careless consumer might
    /// put into a `Location` in its place.
    fn decodings(next: &str) -> Vec<String> {
        let mut all = vec![next.to_owned()];
        for _ in 0..MAX_DECODINGS {
            let last = all.last().expect("one");
            match percent_decode(last.as_bytes()).decode_utf8() {
                Ok(decoded) if decoded != last.as_str() => all.push(decoded.into_owned()),
                _ => break,
            }
        }
        all
    }

    #[test]
    fn the_hostile_targets_are_hostile_and_what_is_accepted_stays_on_the_site() {
        // Without the check, a browser would leave the site for most of them.
        let leaving = HOSTILE
            .iter()
            .filter(|next| {
                decodings(next).iter().any(|d| {
                    browser_goes_to(d)
                        .is_none_or(|u| u.origin() != browser_goes_to("/").unwrap().origin())
                })
            })
            .count();
        assert!(
            leaving >= 20,
            "only {leaving} hostile targets would leave the site"
        );
    }

    /// The pieces redirect tricks are made of.
    const PIECES: &[&str] = &[
        "/",
        "//",
        "\\",
        "%2F",
        "%2f",
        "%5C",
        "%25",
        "%252F",
        ".",
        "..",
        "%2e",
        "\t",
        " ",
        "\n",
        "%09",
        "%0a",
        "%20",
        "evil.com",
        "@",
        ":",
        "?",
        "#",
        "\u{FF0F}",
        "\u{2215}",
        "%EF%BC%8F",
        "%E2%80%A4",
        "http:",
        "a",
        "",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Whatever `safe_next` accepts, and every decoding of it, keeps a browser on the
        /// site; nothing panics.
        #[test]
        fn whatever_is_accepted_keeps_the_browser_on_the_site(
            pieces in proptest::collection::vec(proptest::sample::select(PIECES), 1..7)
        ) {
            let next = pieces.concat();
            if let Some(accepted) = safe_next(&next) {
                proptest::prop_assert_eq!(accepted, next.as_str());
                let site = browser_goes_to("/").expect("site").origin();
                for decoded in decodings(accepted) {
                    let url = browser_goes_to(&decoded);
                    proptest::prop_assert!(
                        url.as_ref().is_some_and(|u| u.origin() == site),
                        "{accepted:?} decoded as {decoded:?} leaves the site: {url:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn next_is_added_to_the_login_page_encoded() {
        assert_eq!(
            with_next("/login", "/secret?x=1"),
            "/login?next=%2Fsecret%3Fx%3D1"
        );
        assert_eq!(
            with_next("/login?lang=fr", "/a b"),
            "/login?lang=fr&next=%2Fa%20b"
        );
        assert_eq!(with_next("/login?", "/"), "/login?next=%2F");
        assert_eq!(
            with_next("https://id.example/login#form", "/x#y"),
            "https://id.example/login?next=%2Fx%23y#form"
        );
        assert_eq!(with_next("/login", "/-._~"), "/login?next=%2F-._~");
    }

    #[test]
    fn see_other_is_a_303_that_is_not_stored() {
        let res = see_other(HeaderValue::from_static("/login"));
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[header::LOCATION], "/login");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}
