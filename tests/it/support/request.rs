//! Request builders for the in-process service and the TCP clients.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};
use http_body_util::Full;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tower_user_auth::PeerAddr;

/// The body type of the requests built here.
pub type FullBody = Full<Bytes>;

/// The client address [`Harness::send`](super::Harness::send) puts on requests that name none.
pub const DEFAULT_PEER: &str = "192.0.2.10:40000";

/// The `Accept` header Chromium and Firefox send for a page or a form submission: a browser,
/// to the layer (`tower_user_auth::prefers_html`).
pub const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

/// The headers of a browser's form submission ([`BROWSER_ACCEPT`]), as `extra` headers of
/// [`Client::send_form`](super::Client::send_form).
pub const AS_BROWSER: &[(&str, &str)] = &[("accept", BROWSER_ACCEPT)];

/// The boundary style of curl's `-F`.
pub const CURL_BOUNDARY: &str = "------------------------d74496d66958873e";

/// A request body.
pub enum Body<'a> {
    Empty,
    /// `application/x-www-form-urlencoded`.
    Form(&'a [(&'a str, &'a str)]),
    /// `multipart/form-data`, as `curl -F name=value` sends it.
    Multipart(&'a [(&'a str, &'a str)]),
    Json(serde_json::Value),
    /// A content type and bytes, as they are.
    Raw(&'a str, Vec<u8>),
}

impl Body<'_> {
    /// Content type and bytes.
    pub fn encode(&self) -> (Option<String>, Vec<u8>) {
        match self {
            Body::Empty => (None, Vec::new()),
            Body::Form(fields) => (
                Some("application/x-www-form-urlencoded".into()),
                urlencode(fields).into_bytes(),
            ),
            Body::Multipart(fields) => {
                let mut s = String::new();
                for (k, v) in *fields {
                    s.push_str(&format!(
                        "--{CURL_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                    ));
                }
                s.push_str(&format!("--{CURL_BOUNDARY}--\r\n"));
                (
                    Some(format!("multipart/form-data; boundary={CURL_BOUNDARY}")),
                    s.into_bytes(),
                )
            }
            Body::Json(v) => (Some("application/json".into()), v.to_string().into_bytes()),
            Body::Raw(ct, bytes) => (Some((*ct).to_owned()), bytes.clone()),
        }
    }
}

/// The three encodings a client may send form fields in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-www-form-urlencoded`, as `requests.post(url, data=...)` sends it.
    Form,
    /// `multipart/form-data`, as `curl -F name=value` sends it.
    Multipart,
    /// A JSON object, as `requests.post(url, json=...)` sends it.
    Json,
}

impl Encoding {
    /// Every encoding.
    pub const ALL: [Encoding; 3] = [Encoding::Form, Encoding::Multipart, Encoding::Json];

    /// `fields` as a body in this encoding, duplicated names kept (JSON included: the object
    /// is written member by member).
    pub fn body<'a>(self, fields: &'a [(&'a str, &'a str)]) -> Body<'a> {
        match self {
            Encoding::Form => Body::Form(fields),
            Encoding::Multipart => Body::Multipart(fields),
            Encoding::Json => {
                let members: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{}: {}", serde_json::json!(k), serde_json::json!(v)))
                    .collect();
                Body::Raw(
                    "application/json",
                    format!("{{{}}}", members.join(", ")).into_bytes(),
                )
            }
        }
    }
}

/// `fields` percent-encoded as a form body.
pub fn urlencode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A request to `uri` (a path, or a URL for a client) with `headers` and `body` (its
/// `Content-Type` first).
pub fn request(
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
) -> Request<FullBody> {
    try_request(method, uri, headers, body).expect("request")
}

/// As [`request`]; an invalid URI or header is an `Err`.
pub fn try_request(
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
) -> Result<Request<FullBody>, http::Error> {
    let (ct, bytes) = body.encode();
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = ct {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Full::new(Bytes::from(bytes)))
}

/// `Cookie: <cookie>` as a header list; no header when `cookie` is empty.
pub fn cookie_header(cookie: &str) -> Vec<(&'static str, &str)> {
    if cookie.is_empty() {
        Vec::new()
    } else {
        vec![("cookie", cookie)]
    }
}

/// As [`request`], from a client address.
pub fn request_from(
    peer: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
) -> Request<FullBody> {
    from_peer(request(method, path, headers, body), peer)
}

/// A request with an urlencoded form body.
pub fn form(method: Method, path: &str, fields: &[(&str, &str)]) -> Request<FullBody> {
    request(method, path, &[], Body::Form(fields))
}

/// A request without a body.
pub fn empty(method: Method, path: &str) -> Request<FullBody> {
    request(method, path, &[], Body::Empty)
}

/// `GET path`.
pub fn get(path: &str) -> Request<FullBody> {
    empty(Method::GET, path)
}

/// Adds `Cookie: session_id=<token>`.
pub fn with_cookie<B>(req: Request<B>, token: &str) -> Request<B> {
    with_header(req, "cookie", &format!("session_id={token}"))
}

/// Appends the header `name: value`.
pub fn with_header<B>(mut req: Request<B>, name: &'static str, value: &str) -> Request<B> {
    req.headers_mut()
        .append(name, HeaderValue::from_str(value).expect("header value"));
    req
}

/// The same request as a browser sends it: [`BROWSER_ACCEPT`].
pub fn as_browser<B>(req: Request<B>) -> Request<B> {
    with_header(req, "accept", BROWSER_ACCEPT)
}

/// Sets the client's address (the peer address the server would put in the extensions):
/// `ip:port`, or an IP alone (port 40000).
pub fn from_peer<B>(mut req: Request<B>, peer: &str) -> Request<B> {
    let addr: SocketAddr = peer
        .parse()
        .unwrap_or_else(|_| SocketAddr::new(peer.parse::<IpAddr>().expect("an address"), 40000));
    req.extensions_mut().insert(PeerAddr(addr));
    req
}
