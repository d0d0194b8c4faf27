//! User accounts for any [tower] service: one [`AuthLayer`] that serves register, log in, log
//! out, profile, password change and reset (and, as configured, email confirmation, email
//! change, account deletion and a TOTP second factor), validates the session cookie on every
//! other request, and hands the [`AuthenticatedUser`] to the wrapped service in the request
//! extensions.
//!
//! Accounts and sessions live in an embedded [redb] file ([`store::RedbStore`]) or, with the
//! feature `postgres`, in PostgreSQL (`store::PgStore`, for several instances on one
//! database), behind the [`store::Store`] trait. Passwords are hashed with bcrypt on a
//! dedicated thread pool; session ids and tokens are random, and only their SHA-256 digests
//! are stored.
//!
//! # The guide
//!
//! [`guide`] has a page per topic: [routes](guide::routes), [profiles](guide::profiles),
//! [configuration](guide::configuration) (every option and its `AUTH_*` variable),
//! [axum](guide::axum), [tower and hyper](guide::tower), [pages and forms](guide::pages),
//! [the account lifecycle](guide::account), [second factor](guide::second_factor),
//! [PostgreSQL and many instances](guide::postgres), [the admin command line](guide::admin),
//! [operations](guide::operations), [security](guide::security),
//! [benchmarks](guide::benchmarks), [testing](guide::testing) and a
//! [comparison](guide::comparison) with axum-login and tower-sessions.
//!
//! # Example
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use hyper::body::Incoming;
//! use tower::ServiceBuilder;
//! use tower_user_auth::{Auth, AuthConfig, AuthLayer, AuthenticatedUser, serve::Server};
//!
//! async fn app(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     let body = match req.extensions().get::<AuthenticatedUser>() {
//!         Some(user) => format!("hello {}", user.email),
//!         None => "hello stranger".to_owned(),
//!     };
//!     Ok(Response::new(Full::new(Bytes::from(body))))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let auth = Auth::open("auth.redb", AuthConfig::default())?;
//!     let service = ServiceBuilder::new().layer(AuthLayer::new(auth)).service_fn(app);
//!     // Header and idle timeouts, connection caps, the client address in each request.
//!     Server::bind("127.0.0.1:5000")
//!         .await?
//!         .serve(service, async { let _ = tokio::signal::ctrl_c().await; })
//!         .await;
//!     Ok(())
//! }
//! ```
//!
//! # Architecture
//!
//! Layers, bottom to top, each knowing only those below it (`ARCHITECTURE.md`, at the root of
//! the repository, draws the request flow and says where a new capability goes):
//!
//! | layer | modules |
//! | --- | --- |
//! | domain | [`user`], [`token`], [`password`], [`clock`], [`error`] |
//! | storage | [`store`] (the trait, [`store::RedbStore`], and `store::PgStore` with the feature `postgres`) |
//! | service | [`auth`] ([`Auth`]), [`config`] ([`AuthConfig`]), [`throttle`], [`hook`] |
//! | compatibility | [`compat`]: the method names of the Python service this crate re-creates |
//! | HTTP | [`AuthLayer`], [`AuthService`], the guards [`RequireAuth`] and [`RequireRecentAuth`], and their private modules (routes, extraction, cookies, body deadline, CSRF) |
//! | server | `serve` (feature `server`, on by default): the hyper accept loop with timeouts and connection caps |
//! | integration | `axum` (feature `axum`): [`AuthenticatedUser`] as an axum extractor; knows only the HTTP layer's public types and its JSON answer |
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `server` | yes | `serve::Server`, the hyper accept loop with header/idle timeouts and connection caps |
//! | `axum` | no | axum 0.8: `AuthenticatedUser` and `Option<AuthenticatedUser>` as extractors (module `axum`), and the client address read from axum's `ConnectInfo<SocketAddr>` |
//! | `postgres` | no | `store::PgStore`: the store on PostgreSQL (tokio-postgres, deadpool-postgres), for several instances on one database: each instance's session cache kept coherent by `LISTEN`/`NOTIFY`, login throttling and quotas shared in the database ([guide](guide::postgres)) |
//! | `admin` | no | the `tower-user-auth-admin` command line: users, sessions, purge, statistics, export and import ([guide](guide::admin)) |
//!
//! [tower]: https://docs.rs/tower
//! [redb]: https://docs.rs/redb

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

pub mod auth;
#[cfg(feature = "axum")]
pub mod axum;
pub mod clock;
pub mod compat;
pub mod config;
pub mod error;
pub mod guide;
pub mod hook;
mod http;
pub mod password;
#[cfg(feature = "server")]
pub mod serve;
pub mod store;
pub mod throttle;
pub mod token;
pub mod user;

pub use auth::{Auth, ResetRequested};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AuthConfig, Pages, Profile, Routes};
pub use error::{AuthError, ConfigError, ConfigProblem, OpenError, StoreError};
pub use hook::Mailer;
#[allow(deprecated)] // kept at the root, where it was, for code written before the mailer
pub use hook::ResetTokenHook;
pub use http::{AuthBody, AuthLayer, AuthService, PeerAddr, ResponseFuture};
pub use http::{
    RequireAuth, RequireAuthFuture, RequireAuthService, RequireRecentAuth,
    RequireRecentAuthService, prefers_html, safe_next,
};
pub use throttle::ThrottleConfig;
pub use user::{AuthenticatedUser, User, UserId};

/// A boxed error, as request bodies may produce.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
