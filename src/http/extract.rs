//! Form fields from a request body: `application/x-www-form-urlencoded`,
//! `multipart/form-data` or `application/json`, with the body capped before parsing.

use std::{convert::Infallible, fmt};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::{deadline::BodyTimeout, response::Rejection};
use crate::BoxError;

/// The fields of a form, in order, duplicates kept so that they can be refused.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    /// The value of a field that must be given once and not be empty.
    pub(crate) fn required(&self, name: &'static str) -> Result<&str, Rejection> {
        let mut values = self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        match (values.next(), values.next()) {
            (Some(_), Some(_)) => Err(Rejection::bad_request(format!(
                "field '{name}' is given more than once"
            ))
            .with_code("missing_field")),
            (Some(v), None) if !v.is_empty() => Ok(v),
            _ => Err(missing(name)),
        }
    }

    /// As [`Fields::required`], trimmed; white space alone counts as missing. For emails,
    /// which are trimmed (passwords are taken as given).
    pub(crate) fn required_trimmed(&self, name: &'static str) -> Result<&str, Rejection> {
        let value = self.required(name)?.trim();
        if value.is_empty() {
            return Err(missing(name));
        }
        Ok(value)
    }

    /// The value of a field that may be given, at most once (400 if given twice).
    pub(crate) fn optional(&self, name: &'static str) -> Result<Option<&str>, Rejection> {
        let mut values = self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        match (values.next(), values.next()) {
            (Some(_), Some(_)) => Err(Rejection::bad_request(format!(
                "field '{name}' is given more than once"
            ))
            .with_code("missing_field")),
            (value, _) => Ok(value.map(String::as_str)),
        }
    }

    /// The method an HTML form asks for with its `_method` field (`PUT` or `DELETE`, in any
    /// case); `POST` without one or with `POST`. `Err(())` for any other value.
    pub(crate) fn method_override(&self) -> Result<Result<Method, ()>, Rejection> {
        Ok(match self.optional(METHOD_FIELD)? {
            None => Ok(Method::POST),
            Some(m) if m.eq_ignore_ascii_case("PUT") => Ok(Method::PUT),
            Some(m) if m.eq_ignore_ascii_case("DELETE") => Ok(Method::DELETE),
            // A form helper that always sends the field: no override.
            Some(m) if m.eq_ignore_ascii_case("POST") => Ok(Method::POST),
            Some(_) => Err(()),
        })
    }

    /// The `email` field, trimmed ([`Fields::required_trimmed`]); 400 if it holds an invisible
    /// format character, on every route that takes an email.
    pub(crate) fn email(&self) -> Result<&str, Rejection> {
        let email = self.required_trimmed("email")?;
        if crate::user::has_format_character(email) {
            return Err(Rejection::bad_request(
                "email must not contain invisible format characters",
            )
            .with_code("invalid_email"));
        }
        Ok(email)
    }
}

fn missing(name: &str) -> Rejection {
    Rejection::bad_request(format!("missing field '{name}'")).with_code("missing_field")
}

/// The form field by which an HTML form asks for `PUT` or `DELETE` (the Rails and Laravel
/// convention).
pub(crate) const METHOD_FIELD: &str = "_method";

/// Whether a request's body is an HTML form's (`application/x-www-form-urlencoded` or
/// `multipart/form-data`): the only bodies whose `_method` field is read.
pub(crate) fn is_html_form(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let media_type = value
        .as_bytes()
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    media_type.eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
        || media_type.eq_ignore_ascii_case(b"multipart/form-data")
}

/// Reads a request's body as form fields, by its headers.
///
/// 413 above `limit` bytes (by `Content-Length` or as read), 408 for a body that missed its
/// [`deadline`](super::deadline), 415 for a content type other than the three accepted, 400
/// for a body that does not parse or is not UTF-8.
pub(crate) async fn fields<B>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
) -> Result<Fields, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let too_large = || {
        Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let content_type = match headers.get(header::CONTENT_TYPE) {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| {
                    Rejection::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "unsupported content type",
                    )
                })?
                .to_owned(),
        ),
        None => None,
    };
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return Err(too_large()),
        Err(e) if e.is::<BodyTimeout>() => return Err(Rejection::body_timeout()),
        Err(_) => return Err(Rejection::bad_request("could not read the request body")),
    };
    let Some(content_type) = content_type else {
        return if body.is_empty() {
            Ok(Fields::default())
        } else {
            Err(unsupported())
        };
    };
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/x-www-form-urlencoded" => urlencoded(&body),
        "multipart/form-data" => multipart(body, &content_type).await,
        "application/json" => json(&body),
        _ => Err(unsupported()),
    }
}

fn unsupported() -> Rejection {
    Rejection::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "send application/x-www-form-urlencoded, multipart/form-data or application/json",
    )
}

fn not_utf8() -> Rejection {
    Rejection::bad_request("form data is not valid UTF-8")
}

fn urlencoded(body: &[u8]) -> Result<Fields, Rejection> {
    let decode = |raw: &[u8]| -> Result<String, Rejection> {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
        String::from_utf8(bytes).map_err(|_| not_utf8())
    };
    let mut fields = Vec::new();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        fields.push((decode(key)?, decode(value)?));
    }
    Ok(Fields(fields))
}

async fn multipart(body: Bytes, content_type: &str) -> Result<Fields, Rejection> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| Rejection::bad_request("multipart body without a boundary"))?;
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let malformed = |_| Rejection::bad_request("malformed multipart body");
    let mut fields = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        if field.file_name().is_some() {
            return Err(Rejection::bad_request("file uploads are not accepted"));
        }
        let name = field
            .name()
            .ok_or_else(|| Rejection::bad_request("multipart field without a name"))?
            .to_owned();
        let value = field.bytes().await.map_err(malformed)?;
        let value = String::from_utf8(value.to_vec()).map_err(|_| not_utf8())?;
        fields.push((name, value));
    }
    Ok(Fields(fields))
}

fn json(body: &[u8]) -> Result<Fields, Rejection> {
    serde_json::from_slice::<JsonFields>(body)
        .map(|JsonFields(fields)| Fields(fields))
        .map_err(|_| {
            Rejection::bad_request("the JSON body must be an object whose values are strings")
        })
}

/// A JSON object of string values, duplicate keys kept.
struct JsonFields(Vec<(String, String)>);

impl<'de> Deserialize<'de> for JsonFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = JsonFields;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonFields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, String>()? {
                    fields.push(entry);
                }
                Ok(JsonFields(fields))
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use http::Request;
    use http_body_util::Full;

    use super::*;

    async fn fields<B>(req: Request<B>, limit: usize) -> Result<Fields, Rejection>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = req.into_parts();
        super::fields(&parts.headers, body, limit).await
    }

    async fn parse(content_type: Option<&str>, body: &'static [u8]) -> Result<Fields, Rejection> {
        let mut req = Request::post("/")
            .body(Full::new(Bytes::from_static(body)))
            .unwrap();
        if let Some(ct) = content_type {
            req.headers_mut()
                .insert(header::CONTENT_TYPE, ct.parse().unwrap());
        }
        fields(req, 1024).await
    }

    fn pairs(fields: &Fields) -> Vec<(&str, &str)> {
        fields
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[tokio::test]
    async fn urlencoded_decodes_plus_and_percent() {
        let f = parse(
            Some("application/x-www-form-urlencoded"),
            b"email=bob%40bob.com&password=a+b%2B&flag",
        )
        .await
        .unwrap();
        assert_eq!(
            pairs(&f),
            [("email", "bob@bob.com"), ("password", "a b+"), ("flag", "")]
        );
        assert_eq!(f.required("email").unwrap(), "bob@bob.com");
        assert_eq!(
            f.required("flag").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            f.required("nope").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn duplicates_and_bad_utf8_are_400() {
        let f = parse(
            Some("application/x-www-form-urlencoded"),
            b"email=a&email=b",
        )
        .await
        .unwrap();
        assert!(
            f.required("email")
                .unwrap_err()
                .message
                .contains("more than once")
        );
        let e = parse(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"email=%ff",
        )
        .await
        .unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = parse(Some("application/x-www-form-urlencoded"), b"email=\xff")
            .await
            .unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn json_objects_of_strings_only() {
        let f = parse(
            Some("application/json"),
            br#"{"email":"a@b.c","password":"x","email":"d"}"#,
        )
        .await
        .unwrap();
        assert!(f.required("email").is_err());
        assert_eq!(f.required("password").unwrap(), "x");
        for bad in [
            &b"[1]"[..],
            b"{\"email\":1}",
            b"{\"a\":{\"b\":{}}}",
            b"{",
            b"\"x\"",
            b"null",
        ] {
            let body: &'static [u8] = Box::leak(bad.to_vec().into_boxed_slice());
            assert_eq!(
                parse(Some("application/json"), body)
                    .await
                    .unwrap_err()
                    .status,
                StatusCode::BAD_REQUEST
            );
        }
        let deep: &'static [u8] = Box::leak(
            ("[".repeat(10_000) + &"]".repeat(10_000))
                .into_bytes()
                .into_boxed_slice(),
        );
        let mut req = Request::post("/")
            .body(Full::new(Bytes::from_static(deep)))
            .unwrap();
        req.headers_mut()
            .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(
            fields(req, 1 << 20).await.unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn multipart_fields() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nbob@bob.com\r\n--XX\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\npw\r\n--XX--\r\n";
        let f = parse(Some("multipart/form-data; boundary=XX"), body)
            .await
            .unwrap();
        assert_eq!(pairs(&f), [("email", "bob@bob.com"), ("password", "pw")]);
        let truncated = b"--XX\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nbob";
        assert_eq!(
            parse(Some("multipart/form-data; boundary=XX"), truncated)
                .await
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse(Some("multipart/form-data"), body)
                .await
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
        let file = b"--XX\r\nContent-Disposition: form-data; name=\"email\"; filename=\"a.txt\"\r\n\r\nx\r\n--XX--\r\n";
        assert_eq!(
            parse(Some("multipart/form-data; boundary=XX"), file)
                .await
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn content_type_and_size() {
        assert_eq!(
            parse(Some("text/plain"), b"email=a")
                .await
                .unwrap_err()
                .status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            parse(None, b"email=a").await.unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(parse(None, b"").await.unwrap(), Fields::default());
        let big: &'static [u8] = Box::leak(vec![b'a'; 2048].into_boxed_slice());
        assert_eq!(
            parse(Some("application/x-www-form-urlencoded"), big)
                .await
                .unwrap_err()
                .status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let mut req = Request::post("/")
            .body(Full::new(Bytes::from_static(b"x")))
            .unwrap();
        req.headers_mut()
            .insert(header::CONTENT_LENGTH, "999999".parse().unwrap());
        assert_eq!(
            fields(req, 1024).await.unwrap_err().status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
