//! The account lifecycle routes: confirming an email, changing it, deleting the account.

use http::{StatusCode, header};
use serde_json::json;

use super::{Answer, Call, second_factor, sessions};
use crate::{
    auth::EmailChange,
    error::AuthError,
    http::{
        cookie::{self, SessionCookie},
        response::{Rejection, json},
    },
    store::Store,
    user::UserId,
};

/// The answer to `POST /confirm_email/resend`, whatever the email.
const RESEND_MESSAGE: &str =
    "if an unconfirmed account has this email, a new confirmation token has been sent";

/// 403 for an email token that is unknown, used, expired, of the other route's purpose, or
/// of another account than the session's.
fn invalid_token() -> Rejection {
    Rejection::new(StatusCode::FORBIDDEN, "invalid or expired token").with_code("invalid_token")
}

/// 409 for an address another account has (or this one).
fn address_taken() -> Rejection {
    Rejection::new(StatusCode::CONFLICT, "email already registered").with_code("email_taken")
}

/// The user of the request's live session, if it came with one: the routes that take a token
/// with or without a session refuse another account's token when there is one. A cookie
/// that names no live session counts as none.
async fn session_user<S: Store>(call: &Call<'_, S>) -> Result<Option<UserId>, Rejection> {
    let SessionCookie::Token(token) = call.cookie else {
        return Ok(None);
    };
    Ok(call
        .auth
        .authenticate(token)
        .await?
        .map(|(user, _)| user.id))
}

/// The refusal of an email token route for `e`.
fn token_refusal(e: AuthError) -> Rejection {
    match e {
        AuthError::InvalidToken => invalid_token(),
        AuthError::EmailTaken(_) => address_taken(),
        e => e.into(),
    }
}

/// `POST /confirm_email`: field `token`, and `new_password` (required for a contested
/// account: 400 `new password required` without it; an empty field counts as absent), with
/// or without a session.
pub(super) async fn confirm_email<S: Store>(call: &Call<'_, S>) -> Answer {
    let token = call.fields.required("token")?;
    let new_password = call
        .fields
        .optional("new_password")?
        .filter(|p| !p.is_empty());
    let session_user = session_user(call).await?;
    let user = call
        .auth
        .confirm_email_with_password(token, new_password, session_user, call.client)
        .await
        .map_err(token_refusal)?;
    Ok(json(
        StatusCode::OK,
        &json!({ "email": user.email, "message": "email confirmed" }),
    ))
}

/// `POST /confirm_email/resend`: field `email`. The same answer whatever the email.
pub(super) async fn resend_confirmation<S: Store>(call: &Call<'_, S>) -> Answer {
    let email = call.fields.email()?;
    call.auth.resend_confirmation(email, call.client).await?;
    Ok(json(StatusCode::OK, &json!({ "message": RESEND_MESSAGE })))
}

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

/// `DELETE /profile`: logged in, `current_password`, and `otp` or `recovery_code` when the
/// second factor is on. The session cookie is cleared as at logout.
pub(super) async fn delete_account<S: Store>(call: &Call<'_, S>) -> Answer {
    let SessionCookie::Token(token) = call.cookie else {
        return Err(sessions::no_session(call.auth, call.cookie));
    };
    let current = call.fields.required("current_password")?;
    let proof = second_factor::proof(call.fields)?;
    match call
        .auth
        .delete_account(token, current, proof, call.client)
        .await
    {
        Ok(_) => {}
        Err(AuthError::InvalidSession) => return Err(sessions::no_session(call.auth, call.cookie)),
        Err(e) => return Err(e.into()),
    }
    let mut res = json(StatusCode::OK, &json!({ "message": "account deleted" }));
    res.headers_mut().insert(
        header::SET_COOKIE,
        cookie::clear_session(call.auth.config()),
    );
    Ok(res)
}
