//! axum 0.8 integration (feature `axum`): [`AuthenticatedUser`] as an extractor.
//!
//! A handler behind [`AuthLayer`](crate::AuthLayer) takes the user as an argument:
//! `AuthenticatedUser` for a page that needs a login (a request without a live session is
//! answered `401 {"message": "login required"}` without reaching the handler), and
//! `Option<AuthenticatedUser>` for a page that serves both. The user is the one the layer put
//! in the request extensions; nothing else can put one there (the layer removes any it did
//! not put).
//!
//! With this feature the layer also reads the client address, for throttling, from the
//! `ConnectInfo<SocketAddr>` that `Router::into_make_service_with_connect_info::<SocketAddr>()`
//! stores; `tower_user_auth::serve::Server` gives each request a [`PeerAddr`](crate::PeerAddr)
//! instead.
//!
//! ```
//! use axum::{Router, routing::get};
//! use tower_user_auth::{Auth, AuthConfig, AuthLayer, AuthenticatedUser};
//!
//! async fn me(user: AuthenticatedUser) -> String {
//!     format!("hello {}", user.email)
//! }
//!
//! async fn home(user: Option<AuthenticatedUser>) -> String {
//!     user.map_or_else(|| "hello stranger".to_owned(), |u| format!("hello {}", u.email))
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let auth = Auth::open(dir.path().join("auth.redb"), AuthConfig::default())?;
//! let app: Router = Router::new()
//!     .route("/", get(home))
//!     .route("/me", get(me))
//!     .layer(AuthLayer::new(auth));
//! # drop(app);
//! # Ok(()) }
//! ```

use std::fmt;

use axum::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    response::{IntoResponse, Response},
};
use http::request::Parts;

use crate::{http::Rejection, user::AuthenticatedUser};

/// The rejection of the [`AuthenticatedUser`] extractor: the request has no live session
/// (no session cookie, an expired or ended session, or no [`AuthLayer`](crate::AuthLayer) in
/// front of the handler). Answered `401 Unauthorized` with the layer's JSON body
/// `{"message": "login required"}`, `Cache-Control: no-store` and `X-Content-Type-Options:
/// nosniff`, as the layer's own answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginRequired;

impl fmt::Display for LoginRequired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("login required")
    }
}

impl std::error::Error for LoginRequired {}

impl IntoResponse for LoginRequired {
    fn into_response(self) -> Response {
        Rejection::login_required()
            .into_response()
            .map(axum::body::Body::new)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedUser {
    type Rejection = LoginRequired;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthenticatedUser>()
            .cloned()
            .ok_or(LoginRequired)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthenticatedUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<AuthenticatedUser>().cloned())
    }
}

#[cfg(test)]
mod tests {
    use axum::extract::FromRequestParts;
    use http::{Request, header};
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn without_a_user_the_answer_is_the_layers_401() {
        let (mut parts, ()) = Request::new(()).into_parts();
        let rejection =
            <AuthenticatedUser as FromRequestParts<()>>::from_request_parts(&mut parts, &())
                .await
                .unwrap_err();
        let res = rejection.into_response();
        assert_eq!(res.status(), http::StatusCode::UNAUTHORIZED);
        let headers = res.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"message":"login required"}"#);
        let none = <AuthenticatedUser as OptionalFromRequestParts<()>>::from_request_parts(
            &mut parts,
            &(),
        )
        .await
        .unwrap();
        assert_eq!(none, None);
    }
}
