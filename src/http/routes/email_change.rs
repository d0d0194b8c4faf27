//! The email change routes: asking for the change, and confirming it with the token sent to
//! the new address.

use http::StatusCode;
use serde_json::json;

use super::{
    Answer, Call,
    email_tokens::{address_taken, session_user, token_refusal},
    second_factor, sessions,
};
use crate::{
    auth::EmailChange,
    error::AuthError,
    http::{
        cookie::SessionCookie,
        response::{Rejection, json},
    },
    store::Store,
};

/// `PUT /profile/email`: logged in, fields `current_password` and `new_email`, and `otp` or
/// `recovery_code` when the second factor is on and the session is not fresh.
pub(super) async fn change_email<S: Store>(call: &Call<'_, S>) -> Answer {
    let SessionCookie::Token(token) = call.cookie else {
        return Err(sessions::no_session(call.auth, call.cookie));
    };
    let current = call.fields.required("current_password")?;
    let new_email = call.fields.required_trimmed("new_email")?;
    if crate::user::has_format_character(new_email) {
        return Err(
            Rejection::bad_request("email must not contain invisible format characters")
                .with_code("invalid_email"),
        );
    }
    let proof = second_factor::proof(call.fields)?;
    let changed = call
        .auth
        .change_email(token, current, new_email, proof, call.client)
        .await;
    let body = match changed {
        Ok(EmailChange::Changed(user)) => {
            json!({ "email": user.email, "message": "email changed" })
        }
        Ok(EmailChange::TokenSent { new_email }) => json!({
            "email": new_email,
            "message": "a token to confirm the change has been sent to the new address",
        }),
        Err(AuthError::InvalidSession) => return Err(sessions::no_session(call.auth, call.cookie)),
        Err(AuthError::EmailTaken(_)) => return Err(address_taken()),
        Err(e) => return Err(e.into()),
    };
    Ok(json(StatusCode::OK, &body))
}

/// `POST /profile/email/confirm`: field `token`, with or without a session.
pub(super) async fn confirm_email_change<S: Store>(call: &Call<'_, S>) -> Answer {
    let token = call.fields.required("token")?;
    let session_user = session_user(call).await?;
    let user = call
        .auth
        .confirm_email_change(token, session_user, call.client)
        .await
        .map_err(token_refusal)?;
    Ok(json(
        StatusCode::OK,
        &json!({ "email": user.email, "message": "email changed" }),
    ))
}
