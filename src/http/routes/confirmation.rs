//! The email confirmation routes: confirming the account's address with its token, and
//! asking for a new token.

use http::StatusCode;
use serde_json::json;

use super::{
    Answer, Call,
    email_tokens::{session_user, token_refusal},
};
use crate::{http::response::json, store::Store};

/// The answer to `POST /confirm_email/resend`, whatever the email.
const RESEND_MESSAGE: &str =
    "if an unconfirmed account has this email, a new confirmation token has been sent";

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
