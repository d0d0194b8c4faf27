//! (feature `postgres`) The throttle shared by the instances on one PostgreSQL database: two
//! `Auth`s over two `PgStore`s on one database, as two app instances, share the throttle's
//! counters (the `throttle` table). Both read one `ManualClock`, so that backoffs and hourly
//! windows pass without sleeping.

mod cost;
mod guesses;
mod limits;
mod quotas;

use crate::support;
use std::net::IpAddr;
use tower_user_auth::auth::Login;
use tower_user_auth::{Auth, AuthConfig, AuthError, ManualClock, store::PgStore};

/// Two instances on `db` with `config`, reading one manual clock.
async fn two_instances(
    db: &support::postgres::TestDatabase,
    config: AuthConfig,
) -> (Auth<PgStore>, Auth<PgStore>, ManualClock) {
    let clock = ManualClock::new(support::start_time());
    let a = Auth::with_clock(db.store().await, config.clone(), clock.clone()).expect("valid");
    let b = Auth::with_clock(db.store().await, config, clock.clone()).expect("valid");
    (a, b, clock)
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().expect("an address"))
}

/// A login on `auth`: `Ok(true)` logged in, `Ok(false)` refused (401), `Err(wait)` throttled
/// (429); any other error fails the test.
async fn login(auth: &Auth<PgStore>, email: &str, pw: &str, client: &str) -> Result<bool, u64> {
    match auth
        .log_in(Login::new(email, pw).with_client(ip(client)))
        .await
    {
        Ok(found) => Ok(found.is_some()),
        Err(AuthError::Throttled { retry_after }) => Err(retry_after.as_secs()),
        Err(e) => panic!("login of {email} from {client}: {e}"),
    }
}
