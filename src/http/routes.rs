//! The auth routes: one function per route, each request → [`Auth`] call → response.

use std::net::SocketAddr;

use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body::Body;
use serde_json::json;

use super::{
    PeerAddr,
    cookie::{self, SessionCookie},
    extract,
    response::{OwnResponse, Rejection, json},
};
use crate::{BoxError, auth::Auth, config::Routes, error::AuthError, store::Store};

/// An auth route, matched by path and method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Register,
    LogIn,
    LogOut,
    Profile,
    RequestReset,
    Reset,
}

/// Matches a request to an auth route: `None` if the path is not one of ours (the request
/// goes to the wrapped service), `Err(allow)` if the path is ours but the method is not.
/// A trailing slash is accepted, as the seed's `strict_slashes=False` did.
pub(crate) fn match_route(
    routes: &Routes,
    method: &Method,
    path: &str,
) -> Option<Result<Route, &'static str>> {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let is = |route: &str| route.strip_suffix('/').unwrap_or(route) == path;
    let (allow, route) = if is(&routes.register) {
        ("POST", (method == Method::POST).then_some(Route::Register))
    } else if is(&routes.sessions) {
        let route = match *method {
            Method::POST => Some(Route::LogIn),
            Method::DELETE => Some(Route::LogOut),
            _ => None,
        };
        ("POST, DELETE", route)
    } else if is(&routes.profile) {
        let route = (method == Method::GET || method == Method::HEAD).then_some(Route::Profile);
        ("GET, HEAD", route)
    } else if is(&routes.reset_password) {
        let route = match *method {
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
    let client = req.extensions().get::<PeerAddr>().map(|p| p.0);
    let answer = match route {
        Route::Register => register(&auth, req, client).await,
        Route::LogIn => log_in(&auth, req, client).await,
        Route::LogOut => log_out(&auth, session_cookie(&auth, req), client).await,
        Route::Profile => profile(&auth, session_cookie(&auth, req)).await,
        Route::RequestReset => request_reset(&auth, req, client).await,
        Route::Reset => reset(&auth, req, client).await,
    };
    answer.unwrap_or_else(Rejection::into_response)
}

fn session_cookie<S: Store, B>(auth: &Auth<S>, req: Request<B>) -> SessionCookie {
    cookie::session_cookie(req.headers(), auth.config().cookie_name())
}

/// The client address for audit events: `-` when the server did not provide it.
fn addr(client: Option<SocketAddr>) -> String {
    client.map_or_else(|| "-".to_owned(), |a| a.ip().to_string())
}

async fn register<S: Store, B>(
    auth: &Auth<S>,
    req: Request<B>,
    client: Option<SocketAddr>,
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
    let email = fields.required("email")?.trim();
    let password = fields.required("password")?;
    let user = auth.register_user(email, password).await.inspect_err(|e| {
        if let AuthError::EmailTaken(_) = e {
            tracing::info!(target: "tower_user_auth::audit", event = "register_refused", reason = "email taken", client = %addr(client));
        }
    })?;
    tracing::info!(target: "tower_user_auth::audit", event = "register", user_id = %user.id, client = %addr(client));
    Ok(json(
        StatusCode::OK,
        &json!({ "email": email, "message": "user created" }),
    ))
}

async fn log_in<S: Store, B>(
    auth: &Auth<S>,
    req: Request<B>,
    client: Option<SocketAddr>,
) -> Result<OwnResponse, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let fields = extract::fields(req, auth.config().body_limit).await?;
    let email = fields.required("email")?.trim();
    let password = fields.required("password")?;
    let Some(logged_in) = auth.log_in(email, password).await? else {
        tracing::info!(target: "tower_user_auth::audit", event = "login_failed", client = %addr(client));
        return Err(Rejection::new(
            StatusCode::UNAUTHORIZED,
            "wrong email or password",
        ));
    };
    tracing::info!(
        target: "tower_user_auth::audit",
        event = "login",
        user_id = %logged_in.user.id,
        session = %logged_in.token.digest().session_id(),
        client = %addr(client),
    );
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
    Ok(res)
}

async fn log_out<S: Store>(
    auth: &Auth<S>,
    cookie: SessionCookie,
    client: Option<SocketAddr>,
) -> Result<OwnResponse, Rejection> {
    let SessionCookie::Token(token) = cookie else {
        return Err(Rejection::forbidden());
    };
    let session = token.digest().session_id();
    if !auth.log_out(&token).await? {
        return Err(Rejection::forbidden());
    }
    tracing::info!(target: "tower_user_auth::audit", event = "logout", session = %session, client = %addr(client));
    let mut res = json(StatusCode::FOUND, &json!({ "message": "logged out" }));
    let location = HeaderValue::try_from(auth.config().routes().after_logout.as_str())
        .unwrap_or_else(|_| HeaderValue::from_static("/"));
    res.headers_mut().insert(header::LOCATION, location);
    res.headers_mut()
        .insert(header::SET_COOKIE, cookie::clear_session(auth.config()));
    Ok(res)
}

async fn profile<S: Store>(
    auth: &Auth<S>,
    cookie: SessionCookie,
) -> Result<OwnResponse, Rejection> {
    let SessionCookie::Token(token) = cookie else {
        return Err(Rejection::forbidden());
    };
    let Some((user, _)) = auth.authenticate(&token).await? else {
        return Err(Rejection::forbidden());
    };
    Ok(json(StatusCode::OK, &json!({ "email": user.email })))
}

async fn request_reset<S: Store, B>(
    auth: &Auth<S>,
    req: Request<B>,
    client: Option<SocketAddr>,
) -> Result<OwnResponse, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let fields = extract::fields(req, auth.config().body_limit).await?;
    let email = fields.required("email")?.trim();
    let token = auth.get_reset_password_token(email).await.inspect_err(|e| {
        if let AuthError::UnknownEmail = e {
            tracing::info!(target: "tower_user_auth::audit", event = "reset_requested_unknown", client = %addr(client));
        }
    })?;
    tracing::info!(target: "tower_user_auth::audit", event = "reset_requested", client = %addr(client));
    if auth.config().reset_token_in_response {
        Ok(json(
            StatusCode::OK,
            &json!({ "email": email, "reset_token": token.expose() }),
        ))
    } else {
        Ok(json(
            StatusCode::OK,
            &json!({ "email": email, "message": "reset token sent" }),
        ))
    }
}

async fn reset<S: Store, B>(
    auth: &Auth<S>,
    req: Request<B>,
    client: Option<SocketAddr>,
) -> Result<OwnResponse, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let fields = extract::fields(req, auth.config().body_limit).await?;
    let email = fields.required("email")?.trim();
    let token = fields.required("reset_token")?;
    let password = fields.required("new_password")?;
    let user = auth.reset_password(email, token, password).await?;
    tracing::info!(target: "tower_user_auth::audit", event = "password_reset", user_id = %user.id, client = %addr(client));
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
        let r = Routes::default();
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
            match_route(&r, &Method::HEAD, "/profile"),
            Some(Ok(Route::Profile))
        );
        assert_eq!(
            match_route(&r, &Method::PATCH, "/reset_password"),
            Some(Err("POST, PUT"))
        );
        assert_eq!(match_route(&r, &Method::GET, "/"), None);
        assert_eq!(match_route(&r, &Method::GET, "/users//"), None);
        assert_eq!(match_route(&r, &Method::GET, "/profiles"), None);
    }
}
