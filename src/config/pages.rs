//! [`Pages`]: the app's pages that the browser form flow sends browsers to.

use super::AuthConfig;
use crate::error::ConfigProblem;

/// The app's pages that the auth routes send a browser to (with `303 See Other`) instead of
/// answering it with JSON: the forms it came from, and where it lands once a form succeeds.
///
/// A request is a browser's when its `Accept` header prefers `text/html` to
/// `application/json` ([`prefers_html`](crate::prefers_html)). The layer serves no HTML
/// itself: these pages are the app's, which renders them (the demo's pages show how). They
/// are not mounted under the [route prefix](AuthConfig::with_route_prefix).
///
/// What a browser is sent to, on each auth route:
///
/// | form | success | failure |
/// | --- | --- | --- |
/// | register (`POST /users`) | [`login`](Self::login)`?notice=registered`, `next` kept for it (registering does not log in) | [`register`](Self::register)`?error=<code>` |
/// | log in (`POST /sessions`) | `next`, else [`after_login`](Self::after_login) | [`login`](Self::login)`?error=<code>` |
/// | log out, end all sessions | `next`, else the [after-logout target](crate::Routes::after_logout) | [`login`](Self::login) |
/// | end one session (`DELETE /sessions/{id}`) | `next`, else [`sessions`](Self::sessions)`?notice=session_ended` (the after-logout target if it was the browser's own session) | [`sessions`](Self::sessions)`?error=<code>` |
/// | change password (`PUT /profile/password`) | `next`, else [`change_password`](Self::change_password)`?notice=password_changed` | [`change_password`](Self::change_password)`?error=<code>` |
/// | ask for a reset (`POST /reset_password`) | `next`, else [`forgot_password`](Self::forgot_password)`?notice=reset_sent`; where tokens go back in the answer (the compatibility profile), [`new_password`](Self::new_password)`?email=<email>&token=<token>`, the browser's equivalent of the token in the JSON answer | [`forgot_password`](Self::forgot_password)`?error=<code>` |
/// | reset (`PUT /reset_password`) | `next`, else [`login`](Self::login)`?notice=password_reset` | [`new_password`](Self::new_password)`?error=<code>` |
/// | confirm an email (`POST /confirm_email`) | `next`, else [`login`](Self::login)`?notice=email_confirmed` | [`confirm_email`](Self::confirm_email)`?error=<code>` |
/// | ask for a new confirmation token (`POST /confirm_email/resend`) | `next`, else [`confirm_email`](Self::confirm_email)`?notice=confirmation_sent` | [`confirm_email`](Self::confirm_email)`?error=<code>` |
/// | set up or enable a second factor (`POST /profile/totp`, `POST /profile/totp/confirm`) | the JSON answer (the secret, the recovery codes: data a page shows, not a form) | [`second_factor`](Self::second_factor)`?error=<code>` |
/// | remove the second factor (`DELETE /profile/totp`) | `next`, else [`second_factor`](Self::second_factor)`?notice=second_factor_removed` | [`second_factor`](Self::second_factor)`?error=<code>` |
/// | change the email (`PUT /profile/email`) | `next`, else [`change_email`](Self::change_email)`?notice=email_changed` (`email_change_sent` when the change waits for a token) | [`change_email`](Self::change_email)`?error=<code>` |
/// | confirm an email change (`POST /profile/email/confirm`) | `next`, else [`change_email`](Self::change_email)`?notice=email_changed` | [`change_email`](Self::change_email)`?error=<code>` |
/// | delete the account (`DELETE /profile`) | `next`, else the after-logout target | [`delete_account`](Self::delete_account)`?error=<code>` |
/// | re-authenticate (`POST /profile/reauth`) | `next`, else [`after_login`](Self::after_login), with the new session's cookie | [`reauth`](Self::reauth)`?error=<code>`, `next` kept |
///
/// Forms reach the `PUT` and `DELETE` routes by `POST` with a hidden `_method` field (`PUT`
/// or `DELETE`), read only from urlencoded and multipart bodies.
///
/// The compatibility profile's redirect to [`new_password`](Self::new_password) carries the
/// reset token in its query, as its JSON answer carries it in the body: the page should send
/// `Referrer-Policy: no-referrer` (or `strict-origin`, as the demo's pages do), and access logs
/// should not keep its query string.
///
/// `next` is a form field (or a query parameter of the form's `action`) naming where to go
/// on success; it is followed only when it is a [`safe_next`](crate::safe_next) path, and
/// kept on the failure redirects of register and log in. A request that needs a session and
/// has none (`GET /profile`, `GET /sessions`, a logout) is sent to [`login`](Self::login),
/// with `next` set to the page it asked for when it was a `GET`.
///
/// The error codes: `missing_field`, `invalid_email`, `weak_password`, `email_taken`,
/// `wrong_credentials`, `wrong_password`, `registration_closed`, `unknown_email`,
/// `invalid_token`, `no_such_session`, `conflict`, `throttled`, `bad_request`, `too_large`,
/// `unsupported`, `timeout`, `busy`, `error`, `email_not_confirmed`,
/// `second_factor_required`, `wrong_code`, `reauthentication_required`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pages {
    /// The log-in form (`/login`).
    pub login: String,
    /// The registration form (`/register`).
    pub register: String,
    /// Where a browser lands after logging in without a `next` (`/`).
    pub after_login: String,
    /// The list of the user's sessions (`/account/sessions`).
    pub sessions: String,
    /// The change-password form (`/account/password`).
    pub change_password: String,
    /// The form that asks for a reset token (`/forgot_password`).
    pub forgot_password: String,
    /// The form that sets a new password with a reset token (`/new_password`).
    pub new_password: String,
    /// The form that confirms an email with its token, and asks for a new one (`/confirm`:
    /// not `/confirm_email`, the route its form posts to).
    pub confirm_email: String,
    /// The second factor's page: set up, enable, remove (`/account/totp`).
    pub second_factor: String,
    /// The change-email form, and the one that confirms the change (`/account/email`).
    pub change_email: String,
    /// The delete-account form (`/account/delete`).
    pub delete_account: String,
    /// The re-authentication form (`/account/reauth`): the current password, and a code
    /// when the account has a second factor, posted to `POST /profile/reauth` with the
    /// `next` it was given. [`RequireRecentAuth`](crate::RequireRecentAuth) sends browsers
    /// here.
    pub reauth: String,
}

impl Default for Pages {
    fn default() -> Self {
        Self {
            login: "/login".into(),
            register: "/register".into(),
            after_login: "/".into(),
            sessions: "/account/sessions".into(),
            change_password: "/account/password".into(),
            forgot_password: "/forgot_password".into(),
            new_password: "/new_password".into(),
            confirm_email: "/confirm".into(),
            second_factor: "/account/totp".into(),
            change_email: "/account/email".into(),
            delete_account: "/account/delete".into(),
            reauth: "/account/reauth".into(),
        }
    }
}

impl Pages {
    fn all(&self) -> [&String; 12] {
        [
            &self.login,
            &self.register,
            &self.after_login,
            &self.sessions,
            &self.change_password,
            &self.forgot_password,
            &self.new_password,
            &self.confirm_email,
            &self.second_factor,
            &self.change_email,
            &self.delete_account,
            &self.reauth,
        ]
    }

    /// Every page that is not a path (`/...`) or an `http(s)://` URL of visible ASCII
    /// characters without a fragment.
    fn problems(&self) -> Vec<ConfigProblem> {
        self.all()
            .into_iter()
            .filter(|page| !is_valid(page))
            .map(|page| ConfigProblem::PagePath(page.clone()))
            .collect()
    }
}

/// Whether `page` can be a redirect target to which a query can be appended.
fn is_valid(page: &str) -> bool {
    let located = page.starts_with('/') && !page.starts_with("//")
        || page.starts_with("https://")
        || page.starts_with("http://");
    located && !page.contains('#') && page.bytes().all(|b| b.is_ascii_graphic())
}

impl AuthConfig {
    /// The app's pages that browsers are sent to by the auth routes (see [`Pages`]).
    /// Validation requires each to be a path starting with one `/` or an `http(s)://` URL,
    /// of visible ASCII characters, without a fragment.
    ///
    /// ```
    /// use tower_user_auth::{AuthConfig, Pages};
    ///
    /// let config = AuthConfig::hardened().with_pages(Pages {
    ///     after_login: "/dashboard".into(),
    ///     ..Pages::default()
    /// });
    /// config.validate()?;
    /// assert_eq!(config.pages().login, "/login");
    /// # Ok::<(), tower_user_auth::ConfigError>(())
    /// ```
    pub fn with_pages(mut self, pages: Pages) -> Self {
        self.pages = pages;
        self
    }

    /// The app's pages that browsers are sent to.
    #[must_use]
    pub fn pages(&self) -> &Pages {
        &self.pages
    }

    /// The pages that cannot be used: not a path or URL, or a path the layer answers itself
    /// (a mounted auth route: the page could never be shown).
    pub(crate) fn page_problems(&self) -> Vec<ConfigProblem> {
        let mut problems = self.pages.problems();
        let on_route = |page: &str| {
            let path = page.split('?').next().unwrap_or_default();
            page.starts_with('/')
                && self
                    .mounted
                    .served()
                    .iter()
                    .any(|route| route.trim_end_matches('/') == path.trim_end_matches('/'))
        };
        problems.extend(
            self.pages
                .all()
                .into_iter()
                .filter(|page| on_route(page))
                .map(|page| ConfigProblem::PageOnRoute(page.clone())),
        );
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_must_be_paths_or_urls_a_query_can_be_added_to() {
        for good in [
            "/",
            "/login",
            "/a/b?lang=en",
            "https://example.com/login",
            "/%C3%A9",
        ] {
            assert!(is_valid(good), "{good:?}");
        }
        for bad in [
            "",
            "login",
            "//evil.example",
            "/login#top",
            "/a b",
            "/é",
            "/a\nb",
            "javascript:alert(1)",
            "ftp://example.com/",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
        let config = AuthConfig::compat().with_pages(Pages {
            login: "login".into(),
            ..Pages::default()
        });
        let problems = config.validate().unwrap_err().problems().to_vec();
        assert_eq!(problems, [ConfigProblem::PagePath("login".into())]);
        let on_route = AuthConfig::hardened()
            .with_route_prefix("/auth")
            .with_pages(Pages {
                confirm_email: "/auth/confirm_email?from=mail".into(),
                sessions: "/auth/sessions/".into(),
                ..Pages::default()
            });
        let problems = on_route.validate().unwrap_err().problems().to_vec();
        assert_eq!(
            problems,
            [
                ConfigProblem::PageOnRoute("/auth/sessions/".into()),
                ConfigProblem::PageOnRoute("/auth/confirm_email?from=mail".into()),
            ]
        );
        let beside = AuthConfig::hardened().with_pages(Pages {
            confirm_email: "/auth/confirm_email".into(),
            ..Pages::default()
        });
        assert_eq!(
            beside.validate(),
            Ok(()),
            "no prefix: /auth/... is the app's"
        );
    }
}
