//! [`AuthLayer`]: wraps a service in [`AuthService`].

use std::fmt;

use tower_layer::Layer;

use super::AuthService;
use crate::{auth::Auth, store::RedbStore};

/// Puts user accounts in front of a service: answers the auth routes, and hands the
/// [`AuthenticatedUser`](crate::AuthenticatedUser) of a valid session cookie to the wrapped
/// service in the request extensions.
///
/// Cheap to clone: it holds an [`Auth`], itself an `Arc`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::convert::Infallible;
///
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_user_auth::{Auth, AuthConfig, AuthLayer, AuthenticatedUser};
///
/// let dir = tempfile::tempdir()?;
/// let auth = Auth::open(dir.path().join("auth.redb"), AuthConfig::compat().with_bcrypt_cost(4))?;
/// let app = ServiceBuilder::new()
///     .layer(AuthLayer::new(auth))
///     .service_fn(|req: Request<Full<Bytes>>| async move {
///         let who = match req.extensions().get::<AuthenticatedUser>() {
///             Some(user) => user.email.clone(),
///             None => "nobody".to_owned(),
///         };
///         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(who))))
///     });
///
/// let req = Request::post("/users")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(Full::new(Bytes::from("email=bob%40bob.com&password=hunter2")))?;
/// let res = app.clone().oneshot(req).await?;
/// assert_eq!(res.status(), 200);
///
/// let res = app.oneshot(Request::get("/").body(Full::default())?).await?;
/// assert_eq!(res.status(), 200);
/// # Ok(())
/// # }
/// ```
pub struct AuthLayer<S = RedbStore> {
    auth: Auth<S>,
}

impl<S> AuthLayer<S> {
    /// A layer serving `auth`.
    #[must_use]
    pub fn new(auth: Auth<S>) -> Self {
        Self { auth }
    }
}

impl<S> Clone for AuthLayer<S> {
    fn clone(&self) -> Self {
        Self {
            auth: self.auth.clone(),
        }
    }
}

impl<S> fmt::Debug for AuthLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("auth", &self.auth)
            .finish()
    }
}

impl<T, S> Layer<T> for AuthLayer<S> {
    type Service = AuthService<T, S>;

    fn layer(&self, inner: T) -> Self::Service {
        AuthService::new(inner, self.auth.clone())
    }
}
