//! [`RequireAuth`]: the layer and its settings.

use std::{fmt, sync::Arc};

use http::HeaderValue;
use tower_layer::Layer;

use super::RequireAuthService;

/// Guards a service: only requests with an [`AuthenticatedUser`](crate::AuthenticatedUser)
/// reach it.
///
/// Put it inside [`AuthLayer`](crate::AuthLayer), around the routes to protect (with axum,
/// on `Router::route_layer`): it reads the user that `AuthLayer` put into the request
/// extensions, and needs nothing else. A request with a user reaches the wrapped service
/// untouched; one without gets, without calling it:
/// - a browser, whose `Accept` header gives `text/html` a higher q-value than
///   `application/json`: `303 See Other` to the [login page](Self::with_login_page), with the
///   request's path and query, percent-encoded, in a `next` query parameter (left out when
///   they are not a [`safe_next`](crate::safe_next) path, such as `//evil.example`);
/// - any other client (no `Accept`, `*/*`, JSON first, a tie): `401` with the JSON body
///   `{"message": "login required"}`.
///
/// Both answers carry `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`.
///
/// Cheap to clone: the settings sit behind an `Arc`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::convert::Infallible;
///
/// use bytes::Bytes;
/// use http::{Request, Response, header};
/// use http_body_util::Full;
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_user_auth::{Auth, AuthConfig, AuthLayer, AuthenticatedUser, RequireAuth};
///
/// let dir = tempfile::tempdir()?;
/// let auth = Auth::open(dir.path().join("auth.redb"), AuthConfig::compat().with_bcrypt_cost(4))?;
/// let app = ServiceBuilder::new()
///     .layer(AuthLayer::new(auth))
///     .layer(RequireAuth::new().with_login_page("/login"))
///     .service_fn(|req: Request<Full<Bytes>>| async move {
///         let user = req.extensions().get::<AuthenticatedUser>().expect("guarded");
///         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(user.email.clone()))))
///     });
///
/// // An API client without a session: 401.
/// let res = app.clone().oneshot(Request::get("/secret").body(Full::default())?).await?;
/// assert_eq!(res.status(), 401);
///
/// // A browser: sent to log in, and back here afterwards.
/// let req = Request::get("/secret?x=1")
///     .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
///     .body(Full::default())?;
/// let res = app.oneshot(req).await?;
/// assert_eq!(res.status(), 303);
/// assert_eq!(res.headers()[header::LOCATION], "/login?next=%2Fsecret%3Fx%3D1");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct RequireAuth {
    pub(super) settings: Arc<Settings>,
}

/// The settings of a [`RequireAuth`].
#[derive(Debug)]
pub(super) struct Settings {
    /// Where browsers are sent to log in.
    pub(super) login_page: String,
}

impl RequireAuth {
    /// A guard sending browsers to `/login`.
    pub fn new() -> Self {
        Self {
            settings: Arc::new(Settings {
                login_page: "/login".to_owned(),
            }),
        }
    }

    /// Where browsers without a session are sent (default `/login`): a path on this site or
    /// an absolute URL, to which `next=<the request's path and query>` is added as a query
    /// parameter (after a query it may already have, before a fragment).
    ///
    /// ```
    /// use tower_user_auth::RequireAuth;
    ///
    /// let guard = RequireAuth::new().with_login_page("/auth/login?lang=en");
    /// ```
    ///
    /// # Panics
    ///
    /// If `page` is empty or holds a character not allowed in a `Location` header (outside
    /// visible ASCII): a programming error, found at start-up.
    pub fn with_login_page(self, page: impl Into<String>) -> Self {
        let login_page = checked_page("RequireAuth::with_login_page", page.into());
        Self {
            settings: Arc::new(Settings { login_page }),
        }
    }

    /// The old name of [`with_login_page`](Self::with_login_page); its field-named getter
    /// takes this name once this alias is removed.
    ///
    /// # Panics
    ///
    /// As [`with_login_page`](Self::with_login_page).
    #[deprecated(since = "0.2.0", note = "renamed to `with_login_page`")]
    pub fn login_page(self, page: impl Into<String>) -> Self {
        self.with_login_page(page)
    }
}

/// `page` if it can be a `Location` to which a query is added.
///
/// # Panics
///
/// If `page` is empty or holds a character not allowed in a `Location` header (outside
/// visible ASCII): a programming error, found at start-up. `setter` names the setter.
pub(super) fn checked_page(setter: &str, page: String) -> String {
    assert!(
        !page.is_empty() && HeaderValue::from_str(&page).is_ok(),
        "{setter} must be a non-empty URL of visible ASCII characters, not {page:?}"
    );
    page
}

impl Default for RequireAuth {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RequireAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireAuth")
            .field("login_page", &self.settings.login_page)
            .finish()
    }
}

impl<S> Layer<S> for RequireAuth {
    type Service = RequireAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireAuthService::new(inner, self.clone())
    }
}
