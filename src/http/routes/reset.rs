//! The password reset routes: ask for a token, reset with it.

use http::StatusCode;
use serde_json::json;

use super::{Answer, Call, browser::IssuedReset};
use crate::{
    auth::ResetRequested,
    error::AuthError,
    http::response::{Rejection, json},
    store::Store,
};

/// `POST /reset_password`.
pub(super) async fn request<S: Store>(call: &Call<'_, S>) -> Answer {
    let email = call.fields.email()?;
    match call.auth.request_password_reset(email, call.client).await {
        Ok(ResetRequested::Token(token)) => {
            let mut res = json(
                StatusCode::OK,
                &json!({ "email": email, "reset_token": token.expose() }),
            );
            // For a browser, sent on to the form that uses the token.
            res.extensions_mut().insert(IssuedReset {
                email: email.to_owned(),
                token,
            });
            Ok(res)
        }
        Ok(_) => Ok(json(
            StatusCode::OK,
            &json!({
                "email": email,
                "message": "if an account has this email, a reset token has been sent to it",
            }),
        )),
        Err(AuthError::UnknownEmail) => Err(Rejection::forbidden().with_code("unknown_email")),
        Err(e) => Err(e.into()),
    }
}

/// `PUT /reset_password`.
pub(super) async fn reset<S: Store>(call: &Call<'_, S>) -> Answer {
    let email = call.fields.email()?;
    let token = call.fields.required("reset_token")?;
    let password = call.fields.required("new_password")?;
    call.auth
        .reset_password(email, token, password, call.client)
        .await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "email": email, "message": "Password updated" }),
    ))
}
