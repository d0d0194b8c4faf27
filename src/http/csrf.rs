//! Cross-site request refusal: `Sec-Fetch-Site` and `Origin` checks (OWASP CSRF Prevention
//! Cheat Sheet, "Fetch Metadata" and "Verifying Origin With Standard Headers").

use http::{HeaderMap, HeaderValue, Method, Uri, header, uri::Authority};

/// Whether `method` can change state (anything but GET, HEAD, OPTIONS and TRACE).
pub(crate) fn is_state_changing(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether the request comes from another site: `Sec-Fetch-Site: cross-site`, or an `Origin`
/// that is neither the request's own (its `Host`, under either scheme) nor in `allowed`.
/// A request with neither header (a non-browser client) is not cross-site.
///
/// `Sec-Fetch-Site: same-origin` is the browser's own statement (a header no page can set)
/// and passes whatever the `Origin`: a browser sends `Origin: null` on a same-origin form
/// `POST` from a page whose `Referrer-Policy` is `no-referrer` (the Fetch standard's
/// "append a request Origin header"), which would otherwise be refused.
pub(crate) fn is_cross_site(headers: &HeaderMap, uri: &Uri, allowed: &[String]) -> bool {
    match headers.get("sec-fetch-site").map(HeaderValue::as_bytes) {
        Some(site) if site.eq_ignore_ascii_case(b"cross-site") => return true,
        Some(site) if site.eq_ignore_ascii_case(b"same-origin") => return false,
        _ => {}
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let origin = origin.trim();
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return false;
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        // `Origin: null` and anything else that names no site.
        return true;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return true,
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(Authority::as_str));
    let Some(host) = host else {
        return true;
    };
    !same_authority(authority, host, default_port)
}

/// `example.com` and `example.com:80` are one authority under http.
fn same_authority(origin: &str, host: &str, default_port: u16) -> bool {
    let (Ok(origin), Ok(host)) = (origin.parse::<Authority>(), host.parse::<Authority>()) else {
        return false;
    };
    origin.host().eq_ignore_ascii_case(host.host())
        && origin.port_u16().unwrap_or(default_port) == host.port_u16().unwrap_or(default_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cross(pairs: &[(&'static str, &'static str)], allowed: &[&str]) -> bool {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        let allowed: Vec<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        is_cross_site(&h, &Uri::from_static("/"), &allowed)
    }

    #[test]
    fn fetch_metadata_and_origin() {
        assert!(!cross(&[], &[]));
        assert!(cross(&[("sec-fetch-site", "cross-site")], &[]));
        assert!(!cross(&[("sec-fetch-site", "same-origin")], &[]));
        assert!(!cross(
            &[("host", "app.io:8080"), ("origin", "http://app.io:8080")],
            &[]
        ));
        assert!(!cross(
            &[("host", "app.io:8080"), ("origin", "https://APP.io:8080")],
            &[]
        ));
        assert!(!cross(
            &[("host", "app.io"), ("origin", "http://app.io:80")],
            &[]
        ));
        assert!(!cross(
            &[("host", "app.io:443"), ("origin", "https://app.io")],
            &[]
        ));
        assert!(cross(
            &[("host", "app.io"), ("origin", "https://evil.io")],
            &[]
        ));
        assert!(cross(
            &[("host", "app.io:8080"), ("origin", "http://app.io:9090")],
            &[]
        ));
        assert!(cross(&[("host", "app.io"), ("origin", "null")], &[]));
        // A same-origin form from a `no-referrer` page: the browser hides its origin.
        assert!(!cross(
            &[
                ("host", "app.io"),
                ("origin", "null"),
                ("sec-fetch-site", "same-origin")
            ],
            &[]
        ));
        assert!(cross(
            &[
                ("host", "app.io"),
                ("origin", "null"),
                ("sec-fetch-site", "same-site")
            ],
            &[]
        ));
        assert!(!cross(
            &[("host", "app.io"), ("origin", "https://admin.app.io")],
            &["https://admin.app.io"]
        ));
        assert!(cross(
            &[
                ("host", "app.io"),
                ("origin", "http://app.io"),
                ("sec-fetch-site", "cross-site")
            ],
            &[]
        ));
        assert!(cross(&[("origin", "http://app.io")], &[]));
    }

    #[test]
    fn methods() {
        assert!(is_state_changing(&Method::POST));
        assert!(is_state_changing(&Method::DELETE));
        assert!(is_state_changing(&Method::PATCH));
        assert!(is_state_changing(&Method::PUT));
        assert!(!is_state_changing(&Method::GET));
        assert!(!is_state_changing(&Method::HEAD));
    }
}
