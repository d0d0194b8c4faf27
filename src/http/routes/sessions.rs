//! The session routes: log in, log out, list the user's sessions, end one or all of them.

use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::{Answer, Call, browser::NO_SESSION, second_factor};
use crate::{
    AuthenticatedUser,
    auth::{Auth, LoggedIn, Login, Reauthentication},
    error::AuthError,
    http::{
        cookie::{self, SessionCookie},
        response::{OwnResponse, Rejection, json},
    },
    store::Store,
    token::SessionId,
};

/// 403 for a request whose session cookie names no live session; a cookie it carried is
/// dropped from the browser.
pub(super) fn no_session<S: Store>(auth: &Auth<S>, cookie: &SessionCookie) -> Rejection {
    let rejection = Rejection::forbidden().with_code(NO_SESSION);
    match cookie {
        SessionCookie::Absent => rejection,
        _ => rejection.with_cookie(cookie::clear_session(auth.config())),
    }
}

/// The user of the request's live session, or 403.
pub(super) async fn user<S: Store>(call: &Call<'_, S>) -> Result<AuthenticatedUser, Rejection> {
    let SessionCookie::Token(token) = call.cookie else {
        return Err(no_session(call.auth, call.cookie));
    };
    match call.auth.authenticate(token).await? {
        Some((user, _)) => Ok(user),
        None => Err(no_session(call.auth, call.cookie)),
    }
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `POST /sessions`: fields `email`, `password`, and `otp` or `recovery_code` for an account
/// with a second factor.
pub(super) async fn log_in<S: Store>(call: &Call<'_, S>) -> Answer {
    let auth = call.auth;
    let device = cookie::device_cookie(&call.request.headers, auth.config().device_cookie_name());
    let email = call.fields.email()?;
    let password = call.fields.required("password")?;
    let login = Login::new(email, password)
        .with_client(call.client)
        .with_device(device.as_ref())
        .with_second_factor(second_factor::proof(call.fields)?);
    let logged_in = auth.log_in(login).await?;
    let Some(logged_in) = logged_in else {
        return Err(Rejection::new(
            StatusCode::UNAUTHORIZED,
            "wrong email or password",
        ));
    };
    let mut res = json(
        StatusCode::OK,
        &json!({ "email": email, "message": "logged in" }),
    );
    set_session_cookie(auth, &mut res, &logged_in);
    if let Some(device) = &logged_in.device {
        res.headers_mut().append(
            header::SET_COOKIE,
            cookie::set_device(auth.config(), device, auth.now()),
        );
    }
    Ok(res)
}

/// Sets the cookie of the session `logged_in` started on `res`, to live as long as it.
fn set_session_cookie<S: Store>(auth: &Auth<S>, res: &mut OwnResponse, logged_in: &LoggedIn) {
    let max_age = logged_in
        .session
        .expires
        .duration_since(auth.now())
        .unwrap_or_default();
    res.headers_mut().insert(
        header::SET_COOKIE,
        cookie::set_session(auth.config(), &logged_in.token, max_age),
    );
}

/// `POST /profile/reauth`: logged in, fields `current_password`, and `otp` or
/// `recovery_code` when the second factor is on → 200 `{"message": "re-authenticated"}` with
/// the new session's cookie; the old session ended.
pub(super) async fn step_up<S: Store>(call: &Call<'_, S>) -> Answer {
    let SessionCookie::Token(token) = call.cookie else {
        return Err(no_session(call.auth, call.cookie));
    };
    let current = call.fields.required("current_password")?;
    let factors =
        Reauthentication::new(current).with_second_factor(second_factor::proof(call.fields)?);
    let stepped_up = match call.auth.step_up(token, factors, call.client).await {
        Ok(stepped_up) => stepped_up,
        Err(AuthError::InvalidSession) => return Err(no_session(call.auth, call.cookie)),
        Err(e) => return Err(e.into()),
    };
    let mut res = json(StatusCode::OK, &json!({ "message": "re-authenticated" }));
    set_session_cookie(call.auth, &mut res, &stepped_up);
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

/// `DELETE /sessions`.
pub(super) async fn log_out<S: Store>(call: &Call<'_, S>) -> Answer {
    let SessionCookie::Token(token) = call.cookie else {
        return Err(no_session(call.auth, call.cookie));
    };
    if !call.auth.log_out(token, call.client).await? {
        return Err(no_session(call.auth, call.cookie));
    }
    Ok(logged_out(call.auth, "logged out"))
}

/// `GET /sessions`.
pub(super) async fn list<S: Store>(call: &Call<'_, S>) -> Answer {
    let user = user(call).await?;
    let sessions: Vec<_> = call
        .auth
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

/// `DELETE /sessions/all`.
pub(super) async fn end_all<S: Store>(call: &Call<'_, S>) -> Answer {
    let user = user(call).await?;
    call.auth.end_all_sessions(user.id, call.client).await?;
    Ok(logged_out(call.auth, "all sessions ended"))
}

/// `DELETE /sessions/{id}`: one of the user's sessions, by its public id. 404 for an id that
/// names none of the user's sessions (another user's included: the answer does not tell
/// them apart). Ending the session the request came with also clears its cookie.
pub(super) async fn end_one<S: Store>(call: &Call<'_, S>, id: SessionId) -> Answer {
    let user = user(call).await?;
    if !call.auth.end_session(user.id, id).await? {
        return Err(
            Rejection::new(StatusCode::NOT_FOUND, "no such session").with_code("no_such_session")
        );
    }
    let mut res = json(StatusCode::OK, &json!({ "message": "session ended" }));
    if id == user.session {
        res.headers_mut().insert(
            header::SET_COOKIE,
            cookie::clear_session(call.auth.config()),
        );
    }
    Ok(res)
}
