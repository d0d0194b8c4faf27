//! The demo's configuration from its environment: `AUTH_PROFILE`, `BCRYPT_COST` and the
//! `AUTH_*` variables (`docs/configuration.md` lists them), every problem noted instead of
//! stopping at the first, so that the demo reports them all at once before it starts.
//!
//! Not declared in `examples/common/mod.rs`: the load benchmark's peer server includes that
//! module without the configuration it does not read. The demo declares it by path.

use std::{env, str::FromStr, time::Duration};

use tower_user_auth::{
    AuthConfig, ConfigError, Pages, Profile, Routes, ThrottleConfig,
    config::SecretKey,
    password::{HashingPriority, PasswordPolicy},
};

use crate::mailer;

/// Reads the environment, noting every value it cannot use instead of stopping at the first.
#[derive(Default)]
pub struct Env {
    pub problems: Vec<String>,
}

impl Env {
    pub fn var(name: &str) -> Option<String> {
        env::var(name).ok().filter(|v| !v.trim().is_empty())
    }

    pub fn parse<T: FromStr>(&mut self, name: &str) -> Option<T> {
        let v = Self::var(name)?;
        let parsed = v.trim().parse().ok();
        if parsed.is_none() {
            self.problems
                .push(format!("{name}={v:?} is not a valid value"));
        }
        parsed
    }

    pub fn flag(&mut self, name: &str) -> Option<bool> {
        let v = Self::var(name)?;
        match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" => Some(false),
            _ => {
                self.problems
                    .push(format!("{name}={v:?}: expected true or false"));
                None
            }
        }
    }

    pub fn seconds(&mut self, name: &str) -> Option<Duration> {
        self.parse::<u64>(name).map(Duration::from_secs)
    }

    /// A value that must not be zero (the server's bounds).
    pub fn positive<T: FromStr + Default + PartialEq>(&mut self, name: &str) -> Option<T> {
        let v = self.parse::<T>(name)?;
        if v == T::default() {
            self.problems.push(format!("{name} must not be zero"));
            return None;
        }
        Some(v)
    }

    /// Notes every problem of a configuration error.
    pub fn note(&mut self, e: &ConfigError) {
        self.problems.extend(problem_lines(e));
    }

    /// The problems noted, if any.
    pub fn finish(self) -> Result<(), Vec<String>> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(self.problems)
        }
    }
}

/// One line per problem of a configuration error.
pub fn problem_lines(e: &ConfigError) -> Vec<String> {
    e.problems().iter().map(ToString::to_string).collect()
}

/// The configuration from `AUTH_PROFILE`, `BCRYPT_COST` and the `AUTH_*` variables.
pub fn config_from_env(env: &mut Env) -> AuthConfig {
    let profile = match Env::var("AUTH_PROFILE").map(|p| p.parse::<Profile>()) {
        Some(Ok(profile)) => profile,
        Some(Err(e)) => {
            env.note(&e);
            Profile::Compat
        }
        None => Profile::Compat,
    };
    let mut c = AuthConfig::for_profile(profile);
    if let Some(cost) = env.parse("BCRYPT_COST") {
        c = c.with_bcrypt_cost(cost);
    }
    if let Some(v) = Env::var("AUTH_COOKIE_NAME") {
        c = c.with_cookie_name(v);
    }
    if let Some(v) = env.flag("AUTH_COOKIE_SECURE") {
        c = c.with_secure_cookie(v);
    }
    // `Strict-Transport-Security` where the cookie is Secure: `AUTH_HSTS_MAX_AGE` seconds
    // (default a year, 0 for none), `AUTH_HSTS_INCLUDE_SUBDOMAINS` (default off).
    let hsts_max_age = env.seconds("AUTH_HSTS_MAX_AGE");
    let hsts_subdomains = env.flag("AUTH_HSTS_INCLUDE_SUBDOMAINS");
    if hsts_max_age.is_some() || hsts_subdomains.is_some() {
        let max_age = hsts_max_age.unwrap_or(c.hsts_max_age());
        let subdomains = hsts_subdomains.unwrap_or(c.hsts_include_subdomains());
        c = c.with_hsts(max_age, subdomains);
    }
    if let Some(v) = env.flag("AUTH_DEVICE_COOKIE") {
        c = c.with_device_cookie(v);
    }
    if let Some(v) = Env::var("AUTH_DEVICE_COOKIE_NAME") {
        c = c.with_device_cookie_name(v);
    }
    if let Some(v) = env.seconds("AUTH_SESSION_IDLE_TIMEOUT") {
        c = c.with_session_idle_timeout(v);
    }
    if let Some(v) = env.seconds("AUTH_SESSION_LIFETIME") {
        c = c.with_session_lifetime(v);
    }
    if let Some(v) = env.seconds("AUTH_SESSION_RENEWAL") {
        c = c.with_session_renewal(v);
    }
    if let Some(v) = env.parse::<usize>("AUTH_MAX_SESSIONS_PER_USER") {
        c = c.with_max_sessions_per_user((v > 0).then_some(v));
    }
    if let Some(v) = env.seconds("AUTH_REAUTH_WINDOW") {
        c = c.with_reauth_window(v);
    }
    if let Some(v) = env.seconds("AUTH_RESET_TOKEN_LIFETIME") {
        c = c.with_reset_token_lifetime(v);
    }
    let token_in_answer = env.flag("AUTH_RESET_TOKEN_IN_RESPONSE");
    if let Some(v) = token_in_answer {
        c = c.with_reset_token_in_response(v);
    }
    if let Some(v) = env.flag("AUTH_END_SESSIONS_ON_RESET") {
        c = c.with_end_sessions_on_reset(v);
    }
    if let Some(v) = env.flag("AUTH_REGISTRATION") {
        c = c.with_registration(v);
    }
    if let Some(v) = env.parse("AUTH_BODY_LIMIT") {
        c = c.with_body_limit(v);
    }
    if let Some(v) = env.seconds("AUTH_BODY_TIMEOUT") {
        c = c.with_body_timeout(v);
    }
    let threads = env.parse::<usize>("AUTH_HASHING_THREADS");
    let queue = env.parse::<usize>("AUTH_HASHING_QUEUE");
    if threads.is_some() || queue.is_some() {
        let threads =
            threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        c = c.with_hashing_pool(threads, queue.unwrap_or(16 * threads));
    }
    if let Some(v) = env.parse::<HashingPriority>("AUTH_HASHING_PRIORITY") {
        c = c.with_hashing_priority(v);
    }
    let policy = password_policy_from_env(env, c.password_policy().clone());
    let throttle = throttle_from_env(env, c.throttle().clone());
    let routes = routes_from_env(c.routes().clone());
    let pages = pages_from_env(c.pages().clone());
    c = c
        .with_password_policy(policy)
        .with_throttle(throttle)
        .with_routes(routes)
        .with_pages(pages);
    if let Some(v) = Env::var("AUTH_ROUTE_PREFIX") {
        c = c.with_route_prefix(v);
    }
    if let Some(v) = Env::var("AUTH_ALLOWED_ORIGINS") {
        c = c.with_allowed_origins(list(&v));
    }
    if let Some(v) = Env::var("AUTH_TRUSTED_PROXIES") {
        c = c.with_trusted_proxies(list(&v));
    }
    c = account_from_env(env, c);
    // The development mailer: tokens printed on standard output (never in the tracing log);
    // reset tokens only where they do not go back in the answer.
    c.with_mailer(mailer::PrintingMailer {
        reset_tokens: !token_in_answer.unwrap_or(profile == Profile::Compat),
    })
}

/// The account settings: `AUTH_REQUIRE_EMAIL_CONFIRMATION`,
/// `AUTH_UNCONFIRMED_LIFETIME` (seconds an unconfirmed account lives, 604800 by default) and
/// `AUTH_SECRET_KEY` (the key TOTP secrets are sealed under: 32 random bytes in standard
/// base64 with padding, `openssl rand -base64 32`). A key that cannot be read is a problem like any other bad
/// value, reported without the value (it is a secret).
fn account_from_env(env: &mut Env, mut c: AuthConfig) -> AuthConfig {
    if let Some(v) = env.flag("AUTH_REQUIRE_EMAIL_CONFIRMATION") {
        c = c.with_email_confirmation(v);
    }
    if let Some(v) = env.seconds("AUTH_UNCONFIRMED_LIFETIME") {
        c = c.with_unconfirmed_lifetime(v);
    }
    if let Some(v) = Env::var("AUTH_SECRET_KEY") {
        match SecretKey::from_base64(&v) {
            Ok(key) => c = c.with_secret_key(key),
            Err(e) => env.problems.push(format!(
                "AUTH_SECRET_KEY: {e} (32 random bytes: openssl rand -base64 32)"
            )),
        }
    }
    c
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn password_policy_from_env(env: &mut Env, mut p: PasswordPolicy) -> PasswordPolicy {
    if let Some(v) = env.parse::<usize>("AUTH_PASSWORD_MIN_LENGTH") {
        p = p.with_min_chars(v);
    }
    if let Some(v) = env.flag("AUTH_PASSWORD_REJECT_COMMON") {
        p = p.with_reject_common(v);
    }
    if let Some(v) = env.flag("AUTH_PASSWORD_REJECT_EMAIL") {
        p = p.with_reject_email(v);
    }
    p
}

fn throttle_from_env(env: &mut Env, mut t: ThrottleConfig) -> ThrottleConfig {
    if let Some(v) = env.flag("AUTH_THROTTLE") {
        t = t.with_enabled(v);
    }
    if let Some(v) = env.parse("AUTH_THROTTLE_FREE_FAILURES") {
        t = t.with_free_failures(v);
    }
    let start = env
        .seconds("AUTH_THROTTLE_BACKOFF_START")
        .unwrap_or(t.backoff_start());
    let max = env
        .seconds("AUTH_THROTTLE_BACKOFF_MAX")
        .unwrap_or(t.backoff_max());
    t = t.with_backoff(start, max);
    let per_account = env
        .parse("AUTH_THROTTLE_ACCOUNT_FAILURES_PER_HOUR")
        .unwrap_or(t.account_failures_per_hour());
    let per_client = env
        .parse("AUTH_THROTTLE_CLIENT_FAILURES_PER_HOUR")
        .unwrap_or(t.client_failures_per_hour());
    t = t.with_failure_ceilings(per_account, per_client);
    if let Some(v) = env.parse("AUTH_THROTTLE_REGISTRATIONS_PER_HOUR") {
        t = t.with_registrations_per_hour(v);
    }
    let reset_account = env
        .parse("AUTH_THROTTLE_RESET_REQUESTS_PER_ACCOUNT_PER_HOUR")
        .unwrap_or(t.reset_requests_per_account_per_hour());
    let reset_client = env
        .parse("AUTH_THROTTLE_RESET_REQUESTS_PER_CLIENT_PER_HOUR")
        .unwrap_or(t.reset_requests_per_client_per_hour());
    t = t.with_reset_requests_per_hour(reset_account, reset_client);
    if let Some(v) = env.parse("AUTH_THROTTLE_MAX_ENTRIES") {
        t = t.with_max_entries(v);
    }
    t
}

fn routes_from_env(mut r: Routes) -> Routes {
    for (name, slot) in [
        ("AUTH_ROUTE_REGISTER", &mut r.register),
        ("AUTH_ROUTE_SESSIONS", &mut r.sessions),
        ("AUTH_ROUTE_ALL_SESSIONS", &mut r.all_sessions),
        ("AUTH_ROUTE_PROFILE", &mut r.profile),
        ("AUTH_ROUTE_PASSWORD", &mut r.password),
        ("AUTH_ROUTE_RESET_PASSWORD", &mut r.reset_password),
        ("AUTH_ROUTE_CONFIRM_EMAIL", &mut r.confirm_email),
        ("AUTH_ROUTE_RESEND_CONFIRMATION", &mut r.resend_confirmation),
        ("AUTH_ROUTE_TOTP", &mut r.totp),
        ("AUTH_ROUTE_TOTP_CONFIRM", &mut r.totp_confirm),
        ("AUTH_ROUTE_EMAIL", &mut r.email),
        ("AUTH_ROUTE_EMAIL_CONFIRM", &mut r.email_confirm),
        ("AUTH_ROUTE_REAUTH", &mut r.reauth),
        ("AUTH_ROUTE_AFTER_LOGOUT", &mut r.after_logout),
    ] {
        if let Some(v) = Env::var(name) {
            *slot = v;
        }
    }
    r
}

/// The pages' paths, from `AUTH_PAGE_*` (the configuration validates them).
fn pages_from_env(mut p: Pages) -> Pages {
    for (name, slot) in [
        ("AUTH_PAGE_LOGIN", &mut p.login),
        ("AUTH_PAGE_REGISTER", &mut p.register),
        ("AUTH_PAGE_AFTER_LOGIN", &mut p.after_login),
        ("AUTH_PAGE_SESSIONS", &mut p.sessions),
        ("AUTH_PAGE_CHANGE_PASSWORD", &mut p.change_password),
        ("AUTH_PAGE_FORGOT_PASSWORD", &mut p.forgot_password),
        ("AUTH_PAGE_NEW_PASSWORD", &mut p.new_password),
        ("AUTH_PAGE_CONFIRM_EMAIL", &mut p.confirm_email),
        ("AUTH_PAGE_SECOND_FACTOR", &mut p.second_factor),
        ("AUTH_PAGE_CHANGE_EMAIL", &mut p.change_email),
        ("AUTH_PAGE_DELETE_ACCOUNT", &mut p.delete_account),
        ("AUTH_PAGE_REAUTH", &mut p.reauth),
    ] {
        if let Some(v) = Env::var(name) {
            *slot = v;
        }
    }
    p
}
