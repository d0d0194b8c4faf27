//! The auth routes: one function per route, each request → [`Auth`] call → response.

use std::{
    net::IpAddr,
    time::{SystemTime, UNIX_EPOCH},
};

use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body::Body;
use serde_json::json;

use super::{
    client, cookie,
    cookie::SessionCookie,
    csrf,
    deadline::Deadline,
    extract,
    response::{OwnResponse, Rejection, json},
};
use crate::{
    BoxError,
    auth::{Auth, ResetRequested},
    config::Routes,
    error::AuthError,
    store::Store,
};

/// An auth route, matched by path and method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Register,
    LogIn,
    LogOut,
    ListSessions,
    EndAllSessions,
    Profile,
    ChangePassword,
    RequestReset,
    Reset,
}

/// Matches a request to an auth route: `None` if the path is not one of ours (the request
/// goes to the wrapped service), `Err(allow)` if the path is ours but the method is not.
/// A trailing slash is accepted, as the seed's `strict_slashes=False` did.
/// `routes` are the full paths, prefix included, computed once with the configuration
/// (`Routes::mounted_under`), so matching allocates nothing, prefix or not.
pub(crate) fn match_route(
    routes: &Routes,
    method: &Method,
    path: &str,
) -> Option<Result<Route, &'static str>> {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let is = |route: &str| route == path;
    let m = method;
    let (allow, route) = if is(&routes.register) {
        ("POST", (m == Method::POST).then_some(Route::Register))
    } else if is(&routes.sessions) {
        let route = match *m {
            Method::POST => Some(Route::LogIn),
            Method::DELETE => Some(Route::LogOut),
            Method::GET | Method::HEAD => Some(Route::ListSessions),
            _ => None,
        };
        ("GET, HEAD, POST, DELETE", route)
    } else if is(&routes.all_sessions) {
        (
            "DELETE",
            (m == Method::DELETE).then_some(Route::EndAllSessions),
        )
    } else if is(&routes.profile) {
        let route = (m == Method::GET || m == Method::HEAD).then_some(Route::Profile);
        ("GET, HEAD", route)
    } else if is(&routes.password) {
        ("PUT", (m == Method::PUT).then_some(Route::ChangePassword))
    } else if is(&routes.reset_password) {
        let route = match *m {
            Method::POST => Some(Route::RequestReset),
            Method::PUT => Some(Route::Reset),
            _ => None,
        };
        ("POST, PUT", route)
    } else {
        return None;
    };
    Some(route.ok_or(allow))
}

/// Answers an auth route. Never fails: every refusal is a response.
pub(crate) async fn handle<S, B>(auth: Auth<S>, route: Route, req: Request<B>) -> OwnResponse
where
    S: Store,
    B: Body,
    B::Error: Into<BoxError>,
{
    let config = auth.config();
    let client = client::client_ip(&req, &config.trusted_proxies);
    if csrf::is_state_changing(req.method())
        && csrf::is_cross_site(req.headers(), req.uri(), &config.allowed_origins)
    {
        tracing::warn!(target: "tower_user_auth::audit", event = "cross_site_refused", client = %client.map_or_else(|| "-".to_owned(), |c| c.to_string()));
        return Rejection::cross_site().into_response();
    }
    let cookie = cookie::session_cookie(req.headers(), config.cookie_name());
    let req = req.map(|body| Deadline::new(body, config.body_timeout));
    // The profile read is the hot route: its future is awaited in place. The others read a
    // body and hash passwords; their larger futures are boxed, which keeps this one small.
    let answer = match route {
        Route::Profile => profile(&auth, &cookie).await,
        Route::Register => Box::pin(register(&auth, req, client)).await,
        Route::LogIn => Box::pin(log_in(&auth, req, client)).await,
        Route::LogOut => Box::pin(log_out(&auth, &cookie, client)).await,
        Route::ListSessions => Box::pin(list_sessions(&auth, &cookie)).await,
        Route::EndAllSessions => Box::pin(end_all_sessions(&auth, &cookie, client)).await,
        Route::ChangePassword => Box::pin(change_password(&auth, &cookie, req, client)).await,
        Route::RequestReset => Box::pin(request_reset(&auth, req, client)).await,
        Route::Reset => Box::pin(reset(&auth, req, client)).await,
    };
    answer.unwrap_or_else(Rejection::into_response)
}

/// 403 for a request whose session cookie names no live session; a cookie it carried is
/// dropped from the browser.
fn no_session<S: Store>(auth: &Auth<S>, cookie: &SessionCookie) -> Rejection {
    let rejection = Rejection::forbidden();
    match cookie {
        SessionCookie::Absent => rejection,
        _ => rejection.with_cookie(cookie::clear_session(auth.config())),
    }
}

/// The user of a live session, or 403.
async fn session<S: Store>(
    auth: &Auth<S>,
    cookie: &SessionCookie,
) -> Result<crate::AuthenticatedUser, Rejection> {
    let SessionCookie::Token(token) = cookie else {
        return Err(no_session(auth, cookie));
    };
    match auth.authenticate(token).await? {
        Some((user, _)) => Ok(user),
        None => Err(no_session(auth, cookie)),
    }
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

async fn register<S: Store, B>(
    auth: &Auth<S>,
    req: Request<B>,
    client: Option<IpAddr>,
) -> Result<OwnResponse, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    if !auth.config().registration {
        return Err(Rejection::new(
            StatusCode::FORBIDDEN,
            "registration is closed",
        ));
    }
    let fields = extract::fields(req, auth.config().body_limit).await?;
    let email = fields.email()?;
    let password = fields.required("password")?;
    auth.register(email, password, client).await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "email": email, "message": "user created" }),
    ))
}

async fn log_in<S: Store, B>(
    auth: &Auth<S>,
    req: Request<B>,
    client: Option<IpAddr>,
) -> Result<OwnResponse, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let device = cookie::device_cookie(req.headers(), auth.config().device_cookie_name());
    let fields = extract::fields(req, auth.config().body_limit).await?;
    let email = fields.email()?;
    let password = fields.required("password")?;
    let logged_in = auth
        .log_in_with_device(email, password, client, device.as_ref())
        .await?;
    let Some(logged_in) = logged_in else {
        return Err(Rejection::new(
            StatusCode::UNAUTHORIZED,
            "wrong email or password",
        ));
    };
    let max_age = logged_in
        .session
        .expires
        .duration_since(auth.now())
        .unwrap_or_default();
    let mut res = json(
        StatusCode::OK,
        &json!({ "email": email, "message": "logged in" }),
    );
    res.headers_mut().insert(
        header::SET_COOKIE,
        cookie::set_session(auth.config(), &logged_in.token, max_age),
    );
    if let Some(device) = &logged_in.device {
        res.headers_mut().append(
            header::SET_COOKIE,
            cookie::set_device(auth.config(), device, auth.now()),
        );
    }
    Ok(res)
}

/// The answer to logout: a redirect that clears the cookie.
fn logged_out<S: Store>(auth: &Auth<S>, message: &str) -> OwnResponse {
    let mut res = json(StatusCode::FOUND, &json!({ "message": message }));
    let location = HeaderValue::try_from(auth.config().routes().after_logout.as_str())
        .unwrap_or_else(|_| HeaderValue::from_static("/"));
    res.headers_mut().insert(header::LOCATION, location);
    res.headers_mut()
        .insert(header::SET_COOKIE, cookie::clear_session(auth.config()));
    res
}

async fn log_out<S: Store>(
    auth: &Auth<S>,
    cookie: &SessionCookie,
    client: Option<IpAddr>,
) -> Result<OwnResponse, Rejection> {
    let SessionCookie::Token(token) = cookie else {
        return Err(no_session(auth, cookie));
    };
    if !auth.log_out(token, client).await? {
        return Err(no_session(auth, cookie));
    }
    Ok(logged_out(auth, "logged out"))
}

async fn list_sessions<S: Store>(
    auth: &Auth<S>,
    cookie: &SessionCookie,
) -> Result<OwnResponse, Rejection> {
    let user = session(auth, cookie).await?;
    let sessions: Vec<_> = auth
        .sessions_of(user.id)
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id.to_string(),
                "created": unix_seconds(s.record.created),
                "last_seen": unix_seconds(s.record.last_seen),
                "expires": unix_seconds(s.record.expires),
                "current": s.id == user.session,
            })
        })
        .collect();
    Ok(json(StatusCode::OK, &serde_json::Value::Array(sessions)))
}

async fn end_all_sessions<S: Store>(
    auth: &Auth<S>,
    cookie: &SessionCookie,
    client: Option<IpAddr>,
) -> Result<OwnResponse, Rejection> {
    let user = session(auth, cookie).await?;
    auth.end_all_sessions(user.id, client).await?;
    Ok(logged_out(auth, "all sessions ended"))
}

/// The answer of `GET /profile`.
#[derive(serde::Serialize)]
struct Profile<'a> {
    email: &'a str,
}

async fn profile<S: Store>(
    auth: &Auth<S>,
    cookie: &SessionCookie,
) -> Result<OwnResponse, Rejection> {
    let user = session(auth, cookie).await?;
    Ok(json(StatusCode::OK, &Profile { email: &user.email }))
}

async fn change_password<S: Store, B>(
    auth: &Auth<S>,
    cookie: &SessionCookie,
    req: Request<B>,
    client: Option<IpAddr>,
) -> Result<OwnResponse, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let SessionCookie::Token(token) = cookie else {
        return Err(no_session(auth, cookie));
    };
    let fields = extract::fields(req, auth.config().body_limit).await?;
    let current = fields.required("current_password")?;
    let new = fields.required("new_password")?;
    let user = match auth.change_password(token, current, new, client).await {
        Ok(user) => user,
        Err(AuthError::InvalidSession) => return Err(no_session(auth, cookie)),
        Err(e) => return Err(e.into()),
    };
    Ok(json(
        StatusCode::OK,
        &json!({ "email": user.email, "message": "Password changed" }),
    ))
}

async fn request_reset<S: Store, B>(
    auth: &Auth<S>,
    req: Request<B>,
    client: Option<IpAddr>,
) -> Result<OwnResponse, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let fields = extract::fields(req, auth.config().body_limit).await?;
    let email = fields.email()?;
    match auth.request_password_reset(email, client).await {
        Ok(ResetRequested::Token(token)) => Ok(json(
            StatusCode::OK,
            &json!({ "email": email, "reset_token": token.expose() }),
        )),
        Ok(_) => Ok(json(
            StatusCode::OK,
            &json!({
                "email": email,
                "message": "if an account has this email, a reset token has been sent to it",
            }),
        )),
        Err(AuthError::UnknownEmail) => Err(Rejection::forbidden()),
        Err(e) => Err(e.into()),
    }
}

async fn reset<S: Store, B>(
    auth: &Auth<S>,
    req: Request<B>,
    client: Option<IpAddr>,
) -> Result<OwnResponse, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let fields = extract::fields(req, auth.config().body_limit).await?;
    let email = fields.email()?;
    let token = fields.required("reset_token")?;
    let password = fields.required("new_password")?;
    auth.reset_password(email, token, password, client).await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "email": email, "message": "Password updated" }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
