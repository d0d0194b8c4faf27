//! [`Routes`]: where the auth routes are served, and the prefix they are mounted under.

use super::AuthConfig;
use crate::error::ConfigProblem;

/// Where the auth routes are served. Every path starts with `/`; a trailing slash on a
/// request is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routes {
    /// `POST`: register (`/users`).
    pub register: String,
    /// `POST`: log in, `DELETE`: log out, `GET`: list the user's sessions (`/sessions`);
    /// `DELETE` on `{sessions}/{id}`: end one session by its public id (only a 32-hex-digit
    /// id is claimed: other paths below it stay the app's).
    pub sessions: String,
    /// `DELETE`: end all the user's sessions (`/sessions/all`).
    pub all_sessions: String,
    /// `GET`: the logged-in user's profile (`/profile`).
    pub profile: String,
    /// `PUT`: change the password while logged in (`/profile/password`).
    pub password: String,
    /// `POST`: ask for a reset token, `PUT`: reset the password (`/reset_password`).
    pub reset_password: String,
    /// `POST`: confirm the account's email with a token (`/confirm_email`: `token`, and
    /// `new_password`, which a contested account needs and any account may give), when
    /// [email confirmation](AuthConfig::with_email_confirmation) is on.
    pub confirm_email: String,
    /// `POST`: send a new confirmation token (`/confirm_email/resend`), when email
    /// confirmation is on.
    pub resend_confirmation: String,
    /// `POST`: set up a TOTP second factor, `DELETE`: remove it (`/profile/totp`), when
    /// [TOTP](AuthConfig::with_totp) is on.
    pub totp: String,
    /// `POST`: enable the pending second factor with a code (`/profile/totp/confirm`).
    pub totp_confirm: String,
    /// `PUT`: change the email (`/profile/email`), when
    /// [email change](AuthConfig::with_email_change) is on.
    pub email: String,
    /// `POST`: make an email change with the token sent to the new address
    /// (`/profile/email/confirm`), when email change and email confirmation are on.
    pub email_confirm: String,
    /// `POST`: re-authenticate (step up) with every factor of the account, which replaces
    /// the session with a fresh one (`/profile/reauth`).
    pub reauth: String,
    /// Where logout redirects (`/`).
    pub after_logout: String,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            register: "/users".into(),
            sessions: "/sessions".into(),
            all_sessions: "/sessions/all".into(),
            profile: "/profile".into(),
            password: "/profile/password".into(),
            reset_password: "/reset_password".into(),
            confirm_email: "/confirm_email".into(),
            resend_confirmation: "/confirm_email/resend".into(),
            totp: "/profile/totp".into(),
            totp_confirm: "/profile/totp/confirm".into(),
            email: "/profile/email".into(),
            email_confirm: "/profile/email/confirm".into(),
            reauth: "/profile/reauth".into(),
            after_logout: "/".into(),
        }
    }
}

impl Routes {
    /// The served paths, in a fixed order (the after-logout target aside).
    pub(super) fn served(&self) -> [&String; 13] {
        [
            &self.register,
            &self.sessions,
            &self.all_sessions,
            &self.profile,
            &self.password,
            &self.reset_password,
            &self.confirm_email,
            &self.resend_confirmation,
            &self.totp,
            &self.totp_confirm,
            &self.email,
            &self.email_confirm,
            &self.reauth,
        ]
    }

    /// The same routes under `prefix` (`""`: none), each served path without its last
    /// trailing slash, the after-logout target as it is: the full paths requests are matched
    /// against, computed by the setters of the routes and of the prefix, so that matching a
    /// request compares strings and allocates nothing.
    pub(crate) fn mounted_under(&self, prefix: &str) -> Self {
        let full = |path: &str| {
            let full = format!("{prefix}{path}");
            full.strip_suffix('/')
                .map_or_else(|| full.clone(), str::to_owned)
        };
        Self {
            register: full(&self.register),
            sessions: full(&self.sessions),
            all_sessions: full(&self.all_sessions),
            profile: full(&self.profile),
            password: full(&self.password),
            reset_password: full(&self.reset_password),
            confirm_email: full(&self.confirm_email),
            resend_confirmation: full(&self.resend_confirmation),
            totp: full(&self.totp),
            totp_confirm: full(&self.totp_confirm),
            email: full(&self.email),
            email_confirm: full(&self.email_confirm),
            reauth: full(&self.reauth),
            after_logout: self.after_logout.clone(),
        }
    }

    /// Every path that does not start with `/`, or that another route already serves
    /// (trailing slashes aside).
    fn problems(&self) -> Vec<ConfigProblem> {
        let served = self.served();
        let mut problems = Vec::new();
        for (i, path) in served.iter().enumerate() {
            let clash = served[..i]
                .iter()
                .any(|other| other.trim_end_matches('/') == path.trim_end_matches('/'));
            if !path.starts_with('/') || clash {
                problems.push(ConfigProblem::RoutePath((*path).clone()));
            }
        }
        if !self.after_logout.starts_with('/') {
            problems.push(ConfigProblem::RoutePath(self.after_logout.clone()));
        }
        problems
    }
}

/// Whether a route prefix can be used (see [`AuthConfig::with_route_prefix`]).
fn prefix_is_valid(prefix: &str) -> bool {
    prefix.is_empty()
        || (prefix.starts_with('/')
            && !prefix.ends_with('/')
            && !prefix
                .chars()
                .any(|c| c == '?' || c == '#' || c.is_whitespace() || c.is_control()))
}

impl AuthConfig {
    /// Where the auth routes are served, relative to the
    /// [route prefix](Self::with_route_prefix) (validation requires paths that start with
    /// `/`, each route on its own path).
    pub fn with_routes(mut self, routes: Routes) -> Self {
        self.mounted = routes.mounted_under(&self.route_prefix);
        self.routes = routes;
        self
    }

    /// Where the auth routes are served, relative to the route prefix.
    #[must_use]
    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// Mounts every auth route under `prefix` (such as `/auth`: `POST /auth/users`,
    /// `GET /auth/profile`, ...), whatever the order of this setter and
    /// [`with_routes`](Self::with_routes), whose paths are relative to it. The after-logout
    /// target is not prefixed: it is a page of the app. Requests outside the prefix go to the
    /// app, so the app keeps paths such as its own `/profile`.
    ///
    /// `""` (the default) mounts the routes at the root. Validation requires a prefix that
    /// starts with `/` and does not end with one (`/auth`, not `/auth/`: a trailing slash is
    /// refused rather than silently dropped), with no `?`, `#`, whitespace or control
    /// character.
    ///
    /// ```
    /// use tower_user_auth::AuthConfig;
    ///
    /// let config = AuthConfig::hardened().with_route_prefix("/auth");
    /// config.validate()?;
    /// assert_eq!(config.route_prefix(), "/auth");
    /// assert_eq!(config.routes().profile, "/profile", "relative to the prefix");
    /// assert!(AuthConfig::hardened().with_route_prefix("/auth/").validate().is_err());
    /// # Ok::<(), tower_user_auth::ConfigError>(())
    /// ```
    pub fn with_route_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.route_prefix = prefix.into();
        self.mounted = self.routes.mounted_under(&self.route_prefix);
        self
    }

    /// The path every auth route is mounted under (`""`: none).
    #[must_use]
    pub fn route_prefix(&self) -> &str {
        &self.route_prefix
    }

    /// The problems of the routes and the prefix: bad or clashing paths, a bad prefix, and an
    /// after-logout target that is an auth route once mounted: the browser following the
    /// redirect would meet that route's refusal of a logged-out client (403, or 405 for a
    /// method it does not serve).
    pub(crate) fn route_problems(&self) -> Vec<ConfigProblem> {
        let mut problems = self.routes.problems();
        if !prefix_is_valid(&self.route_prefix) {
            problems.push(ConfigProblem::RoutePrefix(self.route_prefix.clone()));
        }
        let after_logout = &self.routes.after_logout;
        let target = after_logout.split(['?', '#']).next().unwrap_or_default();
        let on_route = self.routes.served().iter().any(|path| {
            format!("{}{path}", self.route_prefix).trim_end_matches('/')
                == target.trim_end_matches('/')
        });
        if after_logout.starts_with('/') && on_route {
            problems.push(ConfigProblem::AfterLogoutOnRoute(after_logout.clone()));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(config: &AuthConfig) -> Vec<ConfigProblem> {
        config
            .validate()
            .err()
            .map(|e| e.problems().to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn bad_prefixes_are_refused_together_with_the_rest() {
        for bad in [
            "auth",
            "/auth/",
            "/",
            "//",
            "/au th",
            "/auth?x=1",
            "/auth#top",
            "/a\tb",
            "/a\u{7f}",
            "/a\nb",
            "/a\u{a0}b",
        ] {
            let config = AuthConfig::compat().with_route_prefix(bad);
            assert_eq!(
                problems(&config),
                [ConfigProblem::RoutePrefix(bad.into())],
                "{bad:?}"
            );
        }
        let config = AuthConfig::compat()
            .with_route_prefix("auth/")
            .with_cookie_name("a;b");
        assert_eq!(
            problems(&config),
            [
                ConfigProblem::CookieName("a;b".into()),
                ConfigProblem::RoutePrefix("auth/".into()),
            ]
        );
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("route prefix \"auth/\""), "{message}");
    }

    #[test]
    fn good_prefixes_are_accepted_in_either_order_of_the_setters() {
        for good in ["", "/auth", "/api/v1/auth", "/%61uth", "/é"] {
            assert_eq!(
                AuthConfig::compat().with_route_prefix(good).validate(),
                Ok(()),
                "{good:?}"
            );
        }
        let routes = Routes {
            profile: "/me".into(),
            ..Routes::default()
        };
        let first = AuthConfig::compat()
            .with_route_prefix("/auth")
            .with_routes(routes.clone());
        let last = AuthConfig::compat()
            .with_routes(routes)
            .with_route_prefix("/auth");
        for config in [first, last] {
            assert_eq!(config.mounted.profile, "/auth/me");
            assert_eq!(config.mounted.register, "/auth/users");
            assert_eq!(config.routes().profile, "/me", "the routes stay relative");
        }
    }

    /// The after-logout target is not prefixed; it is refused when it lands on a mounted
    /// route, and free to be a path the prefix gave back to the app.
    #[test]
    fn the_after_logout_target_is_checked_against_the_mounted_routes() {
        let with_target = |target: &str| {
            AuthConfig::compat()
                .with_route_prefix("/auth")
                .with_routes(Routes {
                    after_logout: target.into(),
                    ..Routes::default()
                })
        };
        for fine in ["/", "/profile", "/sessions", "/auth", "/auth/"] {
            assert_eq!(with_target(fine).validate(), Ok(()), "{fine}");
        }
        for refused in ["/auth/profile", "/auth/sessions/", "/auth/users?next=1"] {
            assert_eq!(
                problems(&with_target(refused)),
                [ConfigProblem::AfterLogoutOnRoute(refused.into())],
                "{refused}"
            );
        }
    }
}
