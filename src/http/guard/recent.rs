//! [`RequireRecentAuth`]: lets through only requests whose session was authenticated within
//! the re-authentication window (the rule is in its docs).

use std::{fmt, sync::Arc, time::Duration};

use http::Request;
use tower_layer::Layer;

use super::{
    layer::checked_page,
    service::{refuse_logged_out, to_page},
};
use crate::{
    Clock,
    auth::Auth,
    http::{
        negotiate,
        response::{OwnResponse, Rejection},
    },
    store::Store,
    user::AuthenticatedUser,
};

/// Guards a service: only requests whose session was authenticated (a login, or a step-up
/// with `POST /profile/reauth`) within the
/// [re-authentication window](crate::AuthConfig::with_reauth_window) reach it, for the app's
/// own sensitive pages ("sudo mode").
///
/// Put it inside [`AuthLayer`](crate::AuthLayer), around the routes to protect (with axum,
/// on `Router::route_layer`), built from the same [`Auth`]: it takes its window and its
/// clock, and reads the [`AuthenticatedUser::authenticated_at`] that `AuthLayer` put into
/// the request extensions. A request with a fresh session reaches the wrapped service
/// untouched. Without calling it:
/// - a request without a user is answered exactly as [`RequireAuth`](crate::RequireAuth)
///   answers it (`401 {"message": "login required"}`, or a browser's `303` to the
///   [login page](Self::with_login_page) with `next`);
/// - a request whose session is older: a browser (`text/html` preferred to
///   `application/json`) gets `303 See Other` to the [re-authentication
///   page](Self::with_reauth_page) with the request's path and query, percent-encoded, in a
///   `next` query parameter (left out when they are not a [`safe_next`](crate::safe_next)
///   path); any other client `403` with the JSON body
///   `{"message": "re-authentication required"}`.
///
/// Both answers carry `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`; the
/// session is left as it is. Cheap to clone: the settings sit behind an `Arc`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::{convert::Infallible, time::{Duration, SystemTime}};
///
/// use bytes::Bytes;
/// use http::{Request, Response, header};
/// use http_body_util::Full;
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_user_auth::{Auth, AuthConfig, AuthLayer, ManualClock, RequireRecentAuth, auth::Login, store::RedbStore};
///
/// let dir = tempfile::tempdir()?;
/// let clock = ManualClock::new(SystemTime::now());
/// let store = RedbStore::open(dir.path().join("auth.redb"))?;
/// let auth = Auth::with_clock(store, AuthConfig::hardened().with_bcrypt_cost(4), clock.clone())?;
/// let pw = "correct horse battery staple";
/// auth.register("bob@example.com", pw, None).await?;
/// let session = auth.log_in(Login::new("bob@example.com", pw)).await?.expect("logged in").token;
/// let cookie = format!("session_id={}", session.expose());
///
/// let app = ServiceBuilder::new()
///     .layer(AuthLayer::new(auth.clone()))
///     .layer(RequireRecentAuth::new(&auth))
///     .service_fn(|_req: Request<Full<Bytes>>| async move {
///         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("the keys"))))
///     });
/// let get = |accept: &'static str| {
///     Request::get("/account/keys")
///         .header(header::COOKIE, &cookie)
///         .header(header::ACCEPT, accept)
///         .body(Full::default())
/// };
///
/// // Just logged in: fresh.
/// let res = app.clone().oneshot(get("application/json")?).await?;
/// assert_eq!(res.status(), 200);
///
/// // Past the window (5 minutes by default): API clients 403, browsers to re-authenticate.
/// clock.advance(Duration::from_secs(301));
/// let res = app.clone().oneshot(get("application/json")?).await?;
/// assert_eq!(res.status(), 403);
/// let res = app.oneshot(get("text/html")?).await?;
/// assert_eq!(res.status(), 303);
/// assert_eq!(res.headers()[header::LOCATION], "/account/reauth?next=%2Faccount%2Fkeys");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct RequireRecentAuth {
    settings: Arc<Settings>,
}

#[derive(Clone, Debug)]
struct Settings {
    window: Duration,
    clock: Arc<dyn Clock>,
    login_page: String,
    reauth_page: String,
}

impl RequireRecentAuth {
    /// A guard with `auth`'s re-authentication window and clock, sending browsers to its
    /// configured [login](crate::Pages::login) and [re-authentication](crate::Pages::reauth)
    /// pages.
    pub fn new<S: Store>(auth: &Auth<S>) -> Self {
        let config = auth.config();
        Self {
            settings: Arc::new(Settings {
                window: config.reauth_window(),
                clock: auth.clock(),
                login_page: config.pages().login.clone(),
                reauth_page: config.pages().reauth.clone(),
            }),
        }
    }

    /// How long after its authentication a session passes (default: the `Auth`'s
    /// [re-authentication window](crate::AuthConfig::with_reauth_window)); a page may ask
    /// for a shorter one.
    pub fn with_window(self, window: Duration) -> Self {
        self.with(|s| s.window = window)
    }

    /// The old name of [`with_window`](Self::with_window); its field-named getter takes
    /// this name once this alias is removed.
    #[deprecated(since = "0.2.0", note = "renamed to `with_window`")]
    pub fn window(self, window: Duration) -> Self {
        self.with_window(window)
    }

    /// Where browsers without a session are sent, as
    /// [`RequireAuth::with_login_page`](crate::RequireAuth::with_login_page).
    ///
    /// # Panics
    ///
    /// If `page` is empty or holds a character not allowed in a `Location` header.
    pub fn with_login_page(self, page: impl Into<String>) -> Self {
        let page = checked_page("RequireRecentAuth::with_login_page", page.into());
        self.with(|s| s.login_page = page)
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

    /// Where browsers with an older session are sent to re-authenticate (default: the
    /// configured [`Pages::reauth`](crate::Pages::reauth), `/account/reauth`), with
    /// `next=<the request's path and query>` added as for the login page.
    ///
    /// # Panics
    ///
    /// If `page` is empty or holds a character not allowed in a `Location` header.
    pub fn with_reauth_page(self, page: impl Into<String>) -> Self {
        let page = checked_page("RequireRecentAuth::with_reauth_page", page.into());
        self.with(|s| s.reauth_page = page)
    }

    /// The old name of [`with_reauth_page`](Self::with_reauth_page); its field-named getter
    /// takes this name once this alias is removed.
    ///
    /// # Panics
    ///
    /// As [`with_reauth_page`](Self::with_reauth_page).
    #[deprecated(since = "0.2.0", note = "renamed to `with_reauth_page`")]
    pub fn reauth_page(self, page: impl Into<String>) -> Self {
        self.with_reauth_page(page)
    }

    fn with(self, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Arc::unwrap_or_clone(self.settings);
        change(&mut settings);
        Self {
            settings: Arc::new(settings),
        }
    }

    /// The answer to `req`: `None` to let it through.
    fn refusal<B>(&self, req: &Request<B>) -> Option<OwnResponse> {
        let settings = &self.settings;
        let Some(user) = req.extensions().get::<AuthenticatedUser>() else {
            return Some(refuse_logged_out(&settings.login_page, req));
        };
        if user.authenticated_within(settings.window, settings.clock.now()) {
            return None;
        }
        if !negotiate::prefers_html(req.headers()) {
            return Some(Rejection::reauthentication_required().into_response());
        }
        Some(to_page(&settings.reauth_page, req))
    }
}

impl fmt::Debug for RequireRecentAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireRecentAuth")
            .field("window", &self.settings.window)
            .field("login_page", &self.settings.login_page)
            .field("reauth_page", &self.settings.reauth_page)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for RequireRecentAuth {
    type Service = RequireRecentAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireRecentAuthService {
            inner,
            guard: self.clone(),
        }
    }
}

/// The service made by [`RequireRecentAuth`].
#[derive(Clone, Debug)]
pub struct RequireRecentAuthService<S> {
    inner: S,
    guard: RequireRecentAuth,
}

impl<S> RequireRecentAuthService<S> {
    /// Guards `inner`.
    pub fn new(inner: S, guard: RequireRecentAuth) -> Self {
        Self { inner, guard }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the wrapped service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

guard_service!(RequireRecentAuthService);
