//! The TOTP second factor over real sockets (the layer around `Echo` on 127.0.0.1, a redb
//! file, the hardened profile with a secret key and a manual clock), by concern:
//!
//! - [`audit`]: every outcome is an audit event naming the account and the client, and
//!   no secret, code or password is logged;
//! - [`concurrency`]: one code or recovery code presented by many requests at once gives
//!   one session, one enabled factor (written first);
//! - [`routes`]: setting a factor up, confirming it, removing it, and every refusal;
//! - [`login`]: the password alone, wrong and replayed codes, step boundaries, recovery
//!   codes, a password reset;
//! - [`reauth`]: a login or a step-up (`POST /profile/reauth`) makes the session fresh for
//!   the window; password and email changes need a code when it is not; a step-up rotates
//!   the session;
//! - [`sealing`]: the database file does not hold the secret; without the key only recovery
//!   codes log in;
//! - [`throttling`]: what counts as a failure.

use crate::support;

mod concurrency;
mod login;
mod reauth;
mod routes;
mod sealing;
pub(crate) mod site;
