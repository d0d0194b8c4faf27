//! The layer's own answers: JSON bodies, and rejections as HTTP responses.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use crate::error::AuthError;

/// A response the layer gives itself.
pub(crate) type OwnResponse = Response<Full<Bytes>>;

/// A JSON answer with `Cache-Control: no-store` (every auth route's answer carries a cookie
/// or account data, or says something about an account) and `X-Content-Type-Options:
/// nosniff`. Every answer the layer makes itself is built here; the wrapped service's
/// answers are left as they are.
pub(crate) fn json(status: StatusCode, body: &impl serde::Serialize) -> OwnResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut res = Response::new(Full::new(Bytes::from(bytes)));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// A refusal: a status and a message, answered as `{"message": ...}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) status: StatusCode,
    pub(crate) message: Cow<'static, str>,
    /// The short code a browser is sent back to its form with (`?error=<code>`); see
    /// [`Pages`](crate::Pages).
    pub(crate) code: &'static str,
    pub(crate) allow: Option<&'static str>,
    pub(crate) retry_after: Option<u64>,
    pub(crate) set_cookie: Option<HeaderValue>,
    /// Whether the answer asks to close the connection.
    pub(crate) close: bool,
}

impl Rejection {
    pub(crate) fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            code: default_code(status),
            allow: None,
            retry_after: None,
            set_cookie: None,
            close: false,
        }
    }

    /// The same refusal, with the code a browser's form is told.
    pub(crate) fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// The same refusal, setting (clearing) a cookie.
    pub(crate) fn with_cookie(mut self, set_cookie: HeaderValue) -> Self {
        self.set_cookie = Some(set_cookie);
        self
    }

    pub(crate) fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden")
    }

    /// A request that needs a logged-in user came without one: the one answer of the guard
    /// and of the axum extractor.
    pub(crate) fn login_required() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "login required")
    }

    /// A request that needs a recent authentication came with an older session: the one
    /// answer of [`AuthError::ReauthenticationRequired`] and of the recent-auth guard.
    pub(crate) fn reauthentication_required() -> Self {
        Self::new(StatusCode::FORBIDDEN, "re-authentication required")
            .with_code("reauthentication_required")
    }

    pub(crate) fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
    }

    pub(crate) fn unavailable(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy; retry later",
            )
        }
    }

    /// 408: the body did not arrive whole within the configured time. The connection is closed after
    /// the answer: what is left of the body cannot be told from a next request.
    pub(crate) fn body_timeout() -> Self {
        Self {
            close: true,
            ..Self::new(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            )
        }
    }

    pub(crate) fn cross_site() -> Self {
        Self::new(StatusCode::FORBIDDEN, "cross-site request refused")
    }

    pub(crate) fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    pub(crate) fn into_response(self) -> OwnResponse {
        let mut res = json(self.status, &serde_json::json!({ "message": self.message }));
        if let Some(allow) = self.allow {
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let Some(cookie) = self.set_cookie {
            res.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        if self.close {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// The code of a refusal that has no more specific one.
fn default_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "wrong_credentials",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported",
        StatusCode::TOO_MANY_REQUESTS => "throttled",
        StatusCode::SERVICE_UNAVAILABLE => "busy",
        s if s.is_server_error() => "error",
        _ => "forbidden",
    }
}

impl From<AuthError> for Rejection {
    /// The answer to an error of [`Auth`](crate::Auth) where the route has no more specific
    /// one. Store failures are logged here, once.
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::EmailTaken(_) => {
                Self::bad_request("email already registered").with_code("email_taken")
            }
            AuthError::InvalidEmail(e) => {
                Self::bad_request(e.to_string()).with_code("invalid_email")
            }
            AuthError::InvalidPassword(e) => {
                Self::bad_request(e.to_string()).with_code("weak_password")
            }
            AuthError::UnknownEmail => Self::forbidden().with_code("unknown_email"),
            AuthError::InvalidToken => Self::forbidden().with_code("invalid_token"),
            AuthError::InvalidSession => Self::forbidden().with_code("no_session"),
            AuthError::WrongPassword => Self::forbidden().with_code("wrong_password"),
            AuthError::CredentialsChanged => Self::new(StatusCode::CONFLICT, e.to_string()),
            AuthError::EmailNotConfirmed => Self::new(StatusCode::FORBIDDEN, "email not confirmed")
                .with_code("email_not_confirmed"),
            AuthError::NewPasswordRequired => {
                Self::bad_request("new password required").with_code("new_password_required")
            }
            AuthError::SecondFactorRequired => {
                Self::new(StatusCode::UNAUTHORIZED, "second factor required")
                    .with_code("second_factor_required")
            }
            AuthError::ReauthenticationRequired => Self::reauthentication_required(),
            AuthError::WrongSecondFactor => {
                Self::new(StatusCode::UNAUTHORIZED, e.to_string()).with_code("wrong_code")
            }
            AuthError::TotpUnavailable => Self::new(StatusCode::NOT_FOUND, "not found"),
            AuthError::SecondFactorEnabled | AuthError::NoSecondFactor => {
                Self::new(StatusCode::CONFLICT, e.to_string())
            }
            AuthError::Throttled { retry_after } => Self {
                retry_after: Some(retry_after.as_secs_f64().ceil().max(1.0) as u64),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many attempts; retry later",
                )
            },
            AuthError::Overloaded => Self::unavailable(1),
            AuthError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                Self::internal()
            }
        }
    }
}
