//! The one content-negotiation rule: is a request from a browser (answered with pages and
//! redirects) or from an API client (answered with JSON)?
//!
//! A request is a browser's when its `Accept` header gives `text/html` a higher preference
//! (q-value) than `application/json`. A missing `Accept`, `*/*`, JSON first and ties are an API
//! client's, so that every client that does not ask for HTML keeps getting JSON.
//!
//! Each type's preference is the q-value of the most specific media range that matches it
//! (`text/html` before `text/*` before `*/*`, RFC 9110 section 12.5.1), 0 where none does.
//! Parameters other than `q` are ignored; a range that cannot be parsed (no `/`, an empty or
//! `*/html` type, a malformed q-value) is skipped, never a panic.

use http::{HeaderMap, header};

/// Whether a request is a browser's: its `Accept` header gives `text/html` a higher q-value
/// than `application/json`. The one rule by which the auth routes, [`RequireAuth`] and apps
/// choose between a page (or a redirect) and JSON; a missing `Accept`, `*/*`, JSON first and
/// ties are an API client's.
///
/// ```
/// use http::{HeaderMap, HeaderValue, header::ACCEPT};
/// use tower_user_auth::prefers_html;
///
/// let mut headers = HeaderMap::new();
/// assert!(!prefers_html(&headers));
/// headers.insert(ACCEPT, HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"));
/// assert!(prefers_html(&headers));
/// headers.insert(ACCEPT, HeaderValue::from_static("application/json, text/html"));
/// assert!(!prefers_html(&headers));
/// ```
///
/// [`RequireAuth`]: crate::RequireAuth
#[must_use]
pub fn prefers_html(headers: &HeaderMap) -> bool {
    let mut html = Preference::default();
    let mut json = Preference::default();
    for value in headers.get_all(header::ACCEPT) {
        // A header of non-ASCII bytes names no type we look for.
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',').filter_map(MediaRange::parse) {
            html.consider(&range, "text", "html");
            json.consider(&range, "application", "json");
        }
    }
    html.q() > json.q()
}

/// A q-value in thousandths (0 to 1000).
type Quality = u16;

/// The preference for one media type: the q-value of the most specific range matching it.
#[derive(Debug, Default)]
struct Preference {
    /// (specificity, q-value) of the best range so far: 1 for `*/*`, 2 for `type/*`, 3 for
    /// `type/subtype`.
    best: Option<(u8, Quality)>,
}

impl Preference {
    fn consider(&mut self, range: &MediaRange<'_>, kind: &str, subtype: &str) {
        let Some(specificity) = range.matches(kind, subtype) else {
            return;
        };
        // Of equally specific ranges (`text/html, text/html;q=0.5`) the higher q-value counts.
        let better = match self.best {
            None => true,
            Some((s, q)) => specificity > s || (specificity == s && range.q > q),
        };
        if better {
            self.best = Some((specificity, range.q));
        }
    }

    fn q(&self) -> Quality {
        self.best.map_or(0, |(_, q)| q)
    }
}

/// One media range of an `Accept` header.
#[derive(Debug, PartialEq, Eq)]
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    q: Quality,
}

impl<'a> MediaRange<'a> {
    /// Parses `type/subtype *( ; name=value )`; `None` for anything malformed.
    fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let (kind, subtype) = (kind.trim(), subtype.trim());
        if !is_token(kind) || !is_token(subtype) || (kind == "*" && subtype != "*") {
            return None;
        }
        let mut q = 1000;
        // An empty parameter (`text/html;`) is sloppy but harmless.
        for param in parts.filter(|p| !p.trim().is_empty()) {
            let (name, value) = param.split_once('=')?;
            let name = name.trim();
            if !is_token(name) {
                return None;
            }
            if name.eq_ignore_ascii_case("q") {
                q = parse_q(value.trim())?;
                // What follows `q` are accept-extensions, not media type parameters.
                break;
            }
        }
        Some(Self { kind, subtype, q })
    }

    /// How specifically this range matches `kind/subtype`, if it does.
    fn matches(&self, kind: &str, subtype: &str) -> Option<u8> {
        if self.kind == "*" {
            return Some(1);
        }
        if !self.kind.eq_ignore_ascii_case(kind) {
            return None;
        }
        if self.subtype == "*" {
            return Some(2);
        }
        self.subtype.eq_ignore_ascii_case(subtype).then_some(3)
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` (RFC 9110 section 12.4.2).
fn parse_q(text: &str) -> Option<Quality> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |n, digit| n * 10 + Quality::from(digit - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// A token of RFC 9110 section 5.6.2, or `*`.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn browser(accept: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for value in accept {
            headers.append(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        }
        prefers_html(&headers)
    }

    #[test]
    fn browsers_are_told_from_api_clients() {
        // What the browsers send for a page.
        let chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,\
                      image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
        let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        let safari = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        for accept in [chrome, firefox, safari] {
            assert!(browser(&[accept]), "{accept}");
        }
        for (accept, html) in [
            ("text/html, application/xhtml+xml, */*;q=0.8", true),
            ("text/html", true),
            ("text/*", true),
            ("text/*;q=0.5, application/json;q=0.4", true),
            ("application/json;q=0.1, */*", true),
            ("text/html;q=0.9, application/json;q=1.0", false),
            ("text/html;q=0.9, application/json", false),
            ("application/json, text/html", false),
            ("text/html, application/json", false),
            ("application/json;q=0.5, text/html;q=0.5", false),
            ("*/*", false),
            ("*/*;q=0.1", false),
            ("application/*, text/html;q=0.9", false),
            ("application/*;q=0.2, text/html;q=0.3", true),
            ("text/html;q=0", false),
            ("text/html;q=0.000", false),
            ("text/html;q=0.001", true),
            ("application/json", false),
            ("", false),
            ("image/png", false),
        ] {
            assert_eq!(browser(&[accept]), html, "{accept:?}");
        }
        assert!(!browser(&[]), "no Accept at all is an API client");
    }

    #[test]
    fn the_most_specific_range_decides_whatever_the_order() {
        assert!(!browser(&["text/html;q=0.2, */*"]));
        assert!(!browser(&["*/*, text/html;q=0.2"]));
        assert!(!browser(&[
            "text/*;q=1, text/html;q=0.2, application/json;q=0.3"
        ]));
        assert!(browser(&[
            "application/*;q=0.3, application/json;q=0.1, text/html;q=0.2"
        ]));
        // Of two equal ranges the higher q-value counts.
        assert!(browser(&[
            "text/html;q=0.1, text/html, application/json;q=0.5"
        ]));
    }

    #[test]
    fn several_accept_headers_are_one_list() {
        assert!(browser(&["application/json;q=0.5", "text/html"]));
        assert!(!browser(&["text/html;q=0.5", "application/json"]));
    }

    #[test]
    fn case_spaces_and_other_parameters() {
        assert!(browser(&["TEXT/HTML ; Q=1 , Application/JSON ; q=0.5"]));
        assert!(browser(&[
            "text/html;level=1;charset=utf-8, application/json;q=0.9"
        ]));
        // Accept-extensions after q do not change it.
        assert!(!browser(&["text/html;q=0.5;foo=bar, application/json"]));
        assert!(browser(&["text/html;, application/json;q=0.5"]));
        assert!(browser(&["text/html;;;"]));
    }

    #[test]
    fn malformed_ranges_are_skipped_never_a_panic() {
        for accept in [
            "text/html;q=abc",
            "text/html;q=",
            "text/html;q=1.5",
            "text/html;q=2",
            "text/html;q=-1",
            "text/html;q=0.1234",
            "text/html;q=.5",
            "text/html;q",
            "text/html;=",
            "text/html;q=0.5x",
            "text/html;q=1.001",
            "texthtml",
            "text/",
            "/html",
            "*/html",
            "text/ht ml",
            "te\"xt/html",
            ",,,;;;///===",
            ";q=1",
        ] {
            // Skipped: it leaves an API client as it is.
            assert!(!browser(&[accept]), "{accept:?}");
            // And a good range beside it still counts.
            assert!(browser(&[&format!("{accept}, text/html")]), "{accept:?}");
        }
        for q in ["0", "0.", "0.5", "0.50", "0.500", "1", "1.", "1.0", "1.000"] {
            assert!(parse_q(q).is_some(), "{q}");
        }
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.05"), Some(50));
        assert_eq!(parse_q("0.123"), Some(123));
    }

    proptest::proptest! {
        /// Any header of Accept-ish pieces: no panic, and never a browser unless it names
        /// `html` or a wildcard.
        #[test]
        fn any_accept_header_is_judged_without_panic(
            pieces in proptest::collection::vec(proptest::sample::select(&[
                "text", "html", "application", "json", "*", "/", ";", ",", "q", "=", "0", "1",
                ".", "5", " ", "\t", "level", "\"", "x",
            ][..]), 0..16)
        ) {
            let accept = pieces.concat();
            let html = browser(&[&accept]);
            if !accept.contains("html") && !accept.contains('*') {
                proptest::prop_assert!(!html, "{accept:?}");
            }
        }
    }

    #[test]
    fn non_ascii_header_bytes_are_ignored() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::ACCEPT,
            HeaderValue::from_bytes(b"text/html\xff").unwrap(),
        );
        assert!(!prefers_html(&headers));
        headers.append(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert!(prefers_html(&headers));
    }
}
