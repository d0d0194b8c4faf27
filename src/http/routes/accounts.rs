//! The account routes: register, the profile, a password change.

use http::StatusCode;
use serde_json::json;

use super::{Answer, Call, second_factor, sessions};
use crate::{
    error::AuthError,
    http::{
        cookie::SessionCookie,
        response::{Rejection, json},
    },
    store::Store,
};

/// 403 for a registration while registration is closed.
pub(super) fn registration_closed() -> Rejection {
    Rejection::new(StatusCode::FORBIDDEN, "registration is closed").with_code("registration_closed")
}

/// `POST /users`.
pub(super) async fn register<S: Store>(call: &Call<'_, S>) -> Answer {
    let email = call.fields.email()?;
    let password = call.fields.required("password")?;
    call.auth.register(email, password, call.client).await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "email": email, "message": "user created" }),
    ))
}

/// The answer of `GET /profile`.
#[derive(serde::Serialize)]
struct Profile<'a> {
    email: &'a str,
}

/// `GET /profile`.
pub(super) async fn profile<S: Store>(call: &Call<'_, S>) -> Answer {
    let user = sessions::user(call).await?;
    Ok(json(StatusCode::OK, &Profile { email: &user.email }))
}

/// `PUT /profile/password`: fields `current_password`, `new_password`, and `otp` or
/// `recovery_code` when the second factor is on and the session is not fresh.
pub(super) async fn change_password<S: Store>(call: &Call<'_, S>) -> Answer {
    let SessionCookie::Token(token) = call.cookie else {
        return Err(sessions::no_session(call.auth, call.cookie));
    };
    let current = call.fields.required("current_password")?;
    let new = call.fields.required("new_password")?;
    let proof = second_factor::proof(call.fields)?;
    let user = match call
        .auth
        .change_password(token, current, new, proof, call.client)
        .await
    {
        Ok(user) => user,
        Err(AuthError::InvalidSession) => return Err(sessions::no_session(call.auth, call.cookie)),
        Err(e) => return Err(e.into()),
    };
    Ok(json(
        StatusCode::OK,
        &json!({ "email": user.email, "message": "Password changed" }),
    ))
}
