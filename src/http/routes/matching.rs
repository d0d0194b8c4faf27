//! Which auth route a request is for: its path names a [`Resource`], its method the
//! [`Route`].

use http::Method;

use crate::{
    config::{AuthConfig, Routes},
    token::SessionId,
};

/// A path the layer serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resource {
    /// `/users`.
    Users,
    /// `/sessions`.
    Sessions,
    /// `/sessions/all`.
    AllSessions,
    /// `/sessions/{id}`: one session, by its public id.
    Session(SessionId),
    /// `/profile`.
    Profile,
    /// `/profile/password`.
    Password,
    /// `/reset_password`.
    ResetPassword,
    /// `/profile` when account deletion is on: `DELETE` too.
    DeletableProfile,
    /// `/confirm_email`.
    ConfirmEmail,
    /// `/confirm_email/resend`.
    ResendConfirmation,
    /// `/profile/totp`.
    Totp,
    /// `/profile/totp/confirm`.
    TotpConfirm,
    /// `/profile/email`.
    Email,
    /// `/profile/email/confirm`.
    EmailConfirm,
    /// `/profile/reauth`.
    Reauth,
}

/// An auth route: a resource and a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Register,
    LogIn,
    LogOut,
    ListSessions,
    EndAllSessions,
    EndSession(SessionId),
    Profile,
    ChangePassword,
    RequestReset,
    Reset,
    DeleteAccount,
    ConfirmEmail,
    ResendConfirmation,
    BeginTotp,
    ConfirmTotp,
    DisableTotp,
    ChangeEmail,
    ConfirmEmailChange,
    Reauthenticate,
}

impl Route {
    /// Whether a success is data a page shows (the profile, the sessions, a new second
    /// factor's secret, its recovery codes) rather than a form's outcome: its JSON answer
    /// stands for a browser too.
    pub(crate) fn answers_with_data(self) -> bool {
        matches!(
            self,
            Self::Profile | Self::ListSessions | Self::BeginTotp | Self::ConfirmTotp
        )
    }
}

impl Resource {
    /// The route `method` asks for, or `Err(allow)`: the methods this resource serves.
    pub(crate) fn route(self, method: &Method) -> Result<Route, &'static str> {
        let m = method;
        let (allow, route) = match self {
            Self::Users => ("POST", (m == Method::POST).then_some(Route::Register)),
            Self::Sessions => {
                let route = match *m {
                    Method::POST => Some(Route::LogIn),
                    Method::DELETE => Some(Route::LogOut),
                    Method::GET | Method::HEAD => Some(Route::ListSessions),
                    _ => None,
                };
                ("GET, HEAD, POST, DELETE", route)
            }
            Self::AllSessions => (
                "DELETE",
                (m == Method::DELETE).then_some(Route::EndAllSessions),
            ),
            Self::Session(id) => (
                "DELETE",
                (m == Method::DELETE).then_some(Route::EndSession(id)),
            ),
            Self::Profile => {
                let route = (m == Method::GET || m == Method::HEAD).then_some(Route::Profile);
                ("GET, HEAD", route)
            }
            Self::Password => ("PUT", (m == Method::PUT).then_some(Route::ChangePassword)),
            Self::ResetPassword => {
                let route = match *m {
                    Method::POST => Some(Route::RequestReset),
                    Method::PUT => Some(Route::Reset),
                    _ => None,
                };
                ("POST, PUT", route)
            }
            Self::DeletableProfile => {
                let route = match *m {
                    Method::GET | Method::HEAD => Some(Route::Profile),
                    Method::DELETE => Some(Route::DeleteAccount),
                    _ => None,
                };
                ("GET, HEAD, DELETE", route)
            }
            Self::ConfirmEmail => ("POST", (m == Method::POST).then_some(Route::ConfirmEmail)),
            Self::ResendConfirmation => (
                "POST",
                (m == Method::POST).then_some(Route::ResendConfirmation),
            ),
            Self::Totp => {
                let route = match *m {
                    Method::POST => Some(Route::BeginTotp),
                    Method::DELETE => Some(Route::DisableTotp),
                    _ => None,
                };
                ("POST, DELETE", route)
            }
            Self::TotpConfirm => ("POST", (m == Method::POST).then_some(Route::ConfirmTotp)),
            Self::Email => ("PUT", (m == Method::PUT).then_some(Route::ChangeEmail)),
            Self::EmailConfirm => (
                "POST",
                (m == Method::POST).then_some(Route::ConfirmEmailChange),
            ),
            Self::Reauth => ("POST", (m == Method::POST).then_some(Route::Reauthenticate)),
        };
        route.ok_or(allow)
    }

    /// The resource as `config` serves it: `None` when its feature is off (the path is then
    /// the app's), `/profile` with `DELETE` when account deletion is on.
    pub(crate) fn served_by(self, config: &AuthConfig) -> Option<Self> {
        let on = match self {
            Self::Profile if config.account_deletion() => return Some(Self::DeletableProfile),
            Self::ConfirmEmail | Self::ResendConfirmation => config.email_confirmation(),
            Self::Totp | Self::TotpConfirm => config.totp(),
            Self::Email => config.email_change(),
            Self::EmailConfirm => config.email_change() && config.email_confirmation(),
            _ => true,
        };
        on.then_some(self)
    }

    /// Whether the resource serves `PUT` or `DELETE`, which an HTML form reaches by `POST`
    /// with a `_method` field.
    pub(crate) fn takes_method_override(self) -> bool {
        matches!(
            self,
            Self::Sessions
                | Self::AllSessions
                | Self::Session(_)
                | Self::Password
                | Self::ResetPassword
                | Self::DeletableProfile
                | Self::Totp
                | Self::Email
        )
    }

    /// The route whose form a browser is sent back to when a form posted here could not be
    /// read, before its `_method` was known.
    pub(crate) fn form_route(self) -> Route {
        match self {
            Self::Users => Route::Register,
            Self::Sessions => Route::LogIn,
            Self::AllSessions => Route::EndAllSessions,
            Self::Session(id) => Route::EndSession(id),
            Self::Profile => Route::Profile,
            Self::Password => Route::ChangePassword,
            Self::ResetPassword => Route::RequestReset,
            Self::DeletableProfile => Route::DeleteAccount,
            Self::ConfirmEmail => Route::ConfirmEmail,
            Self::ResendConfirmation => Route::ResendConfirmation,
            Self::Totp => Route::BeginTotp,
            Self::TotpConfirm => Route::ConfirmTotp,
            Self::Email => Route::ChangeEmail,
            Self::EmailConfirm => Route::ConfirmEmailChange,
            Self::Reauth => Route::Reauthenticate,
        }
    }
}

/// The resource a request path names, `None` if the path is not one of ours (the request goes
/// to the wrapped service). A trailing slash is accepted, as the seed's `strict_slashes=False`
/// did. `routes` are the full paths, prefix included, computed once with the configuration
/// (`Routes::mounted_under`), so matching allocates nothing, prefix or not.
///
/// `/sessions/{id}` is ours only when `{id}` is a session's public id (32 hex digits): other
/// paths under `/sessions/` stay the app's.
pub(crate) fn match_resource(routes: &Routes, path: &str) -> Option<Resource> {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let resource = if path == routes.register {
        Resource::Users
    } else if path == routes.sessions {
        Resource::Sessions
    } else if path == routes.all_sessions {
        Resource::AllSessions
    } else if path == routes.profile {
        Resource::Profile
    } else if path == routes.password {
        Resource::Password
    } else if path == routes.reset_password {
        Resource::ResetPassword
    } else if path == routes.confirm_email {
        Resource::ConfirmEmail
    } else if path == routes.resend_confirmation {
        Resource::ResendConfirmation
    } else if path == routes.totp {
        Resource::Totp
    } else if path == routes.totp_confirm {
        Resource::TotpConfirm
    } else if path == routes.email {
        Resource::Email
    } else if path == routes.email_confirm {
        Resource::EmailConfirm
    } else if path == routes.reauth {
        Resource::Reauth
    } else {
        let id = path
            .strip_prefix(routes.sessions.as_str())?
            .strip_prefix('/')?;
        Resource::Session(SessionId::parse(id)?)
    };
    Some(resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn match_route(r: &Routes, method: &Method, path: &str) -> Option<Result<Route, &'static str>> {
        match_resource(r, path).map(|resource| resource.route(method))
    }

    #[test]
    fn matching_accepts_a_trailing_slash_and_names_allowed_methods() {
        let r = Routes::default().mounted_under("");
        assert_eq!(
            match_route(&r, &Method::POST, "/users"),
            Some(Ok(Route::Register))
        );
        assert_eq!(
            match_route(&r, &Method::POST, "/users/"),
            Some(Ok(Route::Register))
        );
        assert_eq!(match_route(&r, &Method::GET, "/users"), Some(Err("POST")));
        assert_eq!(
            match_route(&r, &Method::DELETE, "/sessions/"),
            Some(Ok(Route::LogOut))
        );
        assert_eq!(
            match_route(&r, &Method::GET, "/sessions"),
            Some(Ok(Route::ListSessions))
        );
        assert_eq!(
            match_route(&r, &Method::DELETE, "/sessions/all"),
            Some(Ok(Route::EndAllSessions))
        );
        assert_eq!(
            match_route(&r, &Method::POST, "/sessions/all/"),
            Some(Err("DELETE"))
        );
        assert_eq!(
            match_route(&r, &Method::HEAD, "/profile"),
            Some(Ok(Route::Profile))
        );
        assert_eq!(
            match_route(&r, &Method::PUT, "/profile/password"),
            Some(Ok(Route::ChangePassword))
        );
        assert_eq!(
            match_route(&r, &Method::PATCH, "/reset_password"),
            Some(Err("POST, PUT"))
        );
        assert_eq!(match_route(&r, &Method::GET, "/"), None);
        assert_eq!(match_route(&r, &Method::GET, "/users//"), None);
        assert_eq!(match_route(&r, &Method::GET, "/profiles"), None);
    }

    #[test]
    fn one_session_is_named_by_its_public_id_and_nothing_else() {
        let r = Routes::default().mounted_under("");
        let id = "0123456789abcdef0123456789ABCDEF";
        let parsed = SessionId::parse(id).unwrap();
        for path in [format!("/sessions/{id}"), format!("/sessions/{id}/")] {
            assert_eq!(
                match_route(&r, &Method::DELETE, &path),
                Some(Ok(Route::EndSession(parsed))),
                "{path}"
            );
        }
        assert_eq!(
            match_route(&r, &Method::GET, &format!("/sessions/{id}")),
            Some(Err("DELETE"))
        );
        for path in [
            "/sessions/",
            "/sessions/x",
            "/sessions/0123456789abcdef0123456789abcde",
            "/sessions/0123456789abcdef0123456789abcdef0",
            "/sessions/0123456789abcdef0123456789abcdeg",
            "/sessions/0123456789abcdef0123456789abcdef/x",
            "/sessions//0123456789abcdef0123456789abcdef",
            "/sessionsx/0123456789abcdef0123456789abcdef",
        ] {
            assert_ne!(
                match_resource(&r, path).map(|m| m.route(&Method::DELETE)),
                Some(Ok(Route::EndSession(parsed))),
                "{path}"
            );
            assert!(
                !matches!(match_resource(&r, path), Some(Resource::Session(_))),
                "{path}"
            );
        }
        let r = Routes::default().mounted_under("/auth");
        assert_eq!(
            match_resource(&r, &format!("/auth/sessions/{id}")),
            Some(Resource::Session(parsed))
        );
        assert_eq!(match_resource(&r, &format!("/sessions/{id}")), None);
    }

    #[test]
    fn a_prefix_moves_every_route_and_leaves_the_rest_to_the_app() {
        let r = Routes::default().mounted_under("/auth");
        assert_eq!(
            match_route(&r, &Method::GET, "/auth/profile"),
            Some(Ok(Route::Profile))
        );
        assert_eq!(
            match_route(&r, &Method::DELETE, "/auth/sessions/all/"),
            Some(Ok(Route::EndAllSessions))
        );
        assert_eq!(
            match_route(&r, &Method::GET, "/auth/users"),
            Some(Err("POST"))
        );
        for path in [
            "/profile",
            "/users",
            "/sessions",
            "/auth",
            "/auth/",
            "/authprofile",
        ] {
            assert_eq!(match_route(&r, &Method::GET, path), None, "{path}");
        }
        let root = Routes {
            sessions: "/".into(),
            ..Routes::default()
        };
        let r = root.mounted_under("/auth");
        for path in ["/auth", "/auth/"] {
            assert_eq!(
                match_route(&r, &Method::POST, path),
                Some(Ok(Route::LogIn)),
                "{path}"
            );
        }
    }
}
