//! The one harness every test suite shares (`mod support;`).
//!
//! | module | what it is for |
//! |---|---|
//! | [`config`] | configuration presets: the seed and hardened profiles at bcrypt cost 4, unthrottled, the passwords the tests use |
//! | [`app`] | the wrapped apps: the demo's own app (the very source of `examples/common/app.rs`, plus the test routes) and [`Echo`], which reports the user the layer injected and counts its calls |
//! | [`request`] | request builders: bodies ([`Body`]: form, multipart as curl sends it, JSON, raw; [`Encoding`]: the three ways to send form fields), [`request`](request::request), `get`, `form`, `empty`, `with_cookie`, `with_header`, `as_browser` (a browser's `Accept`), `cookie_header`, `from_peer`, `request_from` |
//! | [`answer`] | [`Answer`], a response read whole (status, headers, body, `json()`, cookies, `retry_after()`, `app_user()`), [`assert_ok`] and [`assert_error`] |
//! | [`forward`] | test doubles around a real store: [`forward::Forward`] and `forward_store!` (every concern forwarded, with checks before reads and writes) |
//! | [`harness`] | in process: an `Auth` on a real redb file in a temp dir ([`auth`], [`auth_with_clock`]), the layer around the demo's app or [`Echo`] ([`service`], [`echo_service`], [`call`]), and [`Harness`] (a [`ManualClock`](tower_user_auth::ManualClock), [`Echo`] behind the layer, register/login/profile/logout/reset/change_password/counts/advance) |
//! | [`server`] | over TCP: the layer on a real socket with each connection's peer address ([`serve`], [`serve_echo`], [`serve_app`], any stack: [`serve_service`]; through the crate's `serve::Server`: [`serve_with_server`]), and the clients: [`Http`] (by URL, optionally following redirects as Python `requests` does), [`Client`] (one site by path: `get`, `post`, `put`, `delete`, `delete_following`), [`http`] (one prepared request on a new connection), [`http_from`] (the same from another local address, such as 127.0.0.2) |
//! | [`demo`] | the demo binary as a child process: [`demo::binary`] (the one place that finds it), [`demo::command`], [`Demo`] (start and wait for its address, `signal`, `terminate`, its stdout lines, stderr, resident memory, a [`Client`]) |
//! | [`browser`] | headless Chromium over WebDriver ([`Browser`]: chromedriver on a free loopback port, killed with its Chromium on drop; bounded waits that fail with the page's URL and text; `skipped:` without Chromium unless `REQUIRE_BROWSER=1`) |
//! | [`log_capture`] | the `tracing` events written into memory ([`Captured`]): this thread's ([`capture`]) or the process's, and an audit event's [`lines`] |
//! | [`inbox`] | a mailer delivering the reset tokens into an [`Inbox`] |
//! | [`fixture_v5`] | the checks of the migrated fixtures of the release before issue 21 (`v5.redb`, `pg_v3.sql`), on either store |
//! | [`records`] | the store's records as tests make them: `now` (to the second), `session`, `live_session`, `reset`, `email_token`, `device` |
//! | [`site`] | [`FormSite`]: the form requests (`send`: method, path, session cookie, fields) of the site helpers of the email and second-factor flows |
//! | [`second_factor`] | a TOTP factor begun, confirmed and enabled over HTTP with the authenticator app's codes |
//! | [`stats`] | median and ratio for the timing tests |
//! | [`postgres`] | (feature `postgres`) a PostgreSQL server (`TEST_DATABASE_URL`, or a throwaway cluster started once per binary) and a fresh database per test ([`postgres::database`]: `skipped: <reason>` without a server, a failure under `REQUIRE_POSTGRES=1`) |
//!
//! | [`alone`] | tests that must not share the process as the others do: [`alone::in_own_process`] (a global subscriber), [`alone::measuring`] (timings, against the heavy loads), [`alone::loading`] (the heavy loads) |
//!
//! `tests/it/main.rs` declares it once (`mod support;`); every concern reaches it as
//! `crate::support`. Each concern uses part of it, hence the `allow`s.

#![allow(dead_code, unused_imports, unreachable_pub)]

pub mod alone;
pub mod answer;
pub mod app;
pub mod browser;
pub mod config;
pub mod demo;
pub mod fixture_v5;
pub mod forward;
pub mod harness;
pub mod inbox;
pub mod log_capture;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod records;
pub mod request;
pub mod second_factor;
pub mod server;
pub mod site;
pub mod stats;

pub use answer::*;
pub use app::*;
pub use browser::Browser;
pub use config::*;
pub use demo::Demo;
pub use harness::*;
pub use inbox::*;
pub use log_capture::*;
pub use request::*;
pub use server::*;
pub use site::FormSite;
pub use stats::*;
