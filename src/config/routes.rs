//! [`Routes`]: where the auth routes are served.

use crate::error::ConfigProblem;

/// Where the auth routes are served. Every path starts with `/`; a trailing slash on a
/// request is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routes {
    /// `POST`: register (`/users`).
    pub register: String,
    /// `POST`: log in, `DELETE`: log out, `GET`: list the user's sessions (`/sessions`).
    pub sessions: String,
    /// `DELETE`: end all the user's sessions (`/sessions/all`).
    pub all_sessions: String,
    /// `GET`: the logged-in user's profile (`/profile`).
    pub profile: String,
    /// `PUT`: change the password while logged in (`/profile/password`).
    pub password: String,
    /// `POST`: ask for a reset token, `PUT`: reset the password (`/reset_password`).
    pub reset_password: String,
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
            after_logout: "/".into(),
        }
    }
}

impl Routes {
    /// Every path that does not start with `/`, or that another route already serves
    /// (trailing slashes aside), and an after-logout target that is an auth route: the
    /// browser following the redirect would meet that route's refusal of a logged-out
    /// client (403, or 405 for a method it does not serve).
    pub(crate) fn problems(&self) -> Vec<ConfigProblem> {
        let served = [
            &self.register,
            &self.sessions,
            &self.all_sessions,
            &self.profile,
            &self.password,
            &self.reset_password,
        ];
        let mut problems = Vec::new();
        for (i, path) in served.iter().enumerate() {
            let clash = served[..i]
                .iter()
                .any(|other| other.trim_end_matches('/') == path.trim_end_matches('/'));
            if !path.starts_with('/') || clash {
                problems.push(ConfigProblem::RoutePath((*path).clone()));
            }
        }
        let target = self
            .after_logout
            .split(['?', '#'])
            .next()
            .unwrap_or_default();
        if !self.after_logout.starts_with('/') {
            problems.push(ConfigProblem::RoutePath(self.after_logout.clone()));
        } else if served
            .iter()
            .any(|path| path.trim_end_matches('/') == target.trim_end_matches('/'))
        {
            problems.push(ConfigProblem::AfterLogoutOnRoute(self.after_logout.clone()));
        }
        problems
    }
}
