//! The second factor routes: set up a TOTP factor, enable it with a code, remove it; and the
//! `otp` / `recovery_code` fields every route that takes a second factor reads.

use http::StatusCode;
use serde_json::json;

use super::{Answer, Call, sessions};
use crate::{
    auth::SecondFactorProof,
    error::AuthError,
    http::{
        cookie::SessionCookie,
        extract::Fields,
        response::{Rejection, json},
    },
    store::Store,
    token::SessionToken,
};

/// The second factor a form presents: field `otp` (the current code) or `recovery_code`;
/// an empty field counts as absent. 400 if both are given, or one twice.
pub(super) fn proof(fields: &Fields) -> Result<Option<SecondFactorProof<'_>>, Rejection> {
    let otp = fields.optional("otp")?.filter(|v| !v.is_empty());
    let recovery = fields.optional("recovery_code")?.filter(|v| !v.is_empty());
    match (otp, recovery) {
        (Some(_), Some(_)) => Err(Rejection::bad_request(
            "give either 'otp' or 'recovery_code', not both",
        )
        .with_code("missing_field")),
        (Some(code), None) => Ok(Some(SecondFactorProof::Otp(code))),
        (None, Some(code)) => Ok(Some(SecondFactorProof::RecoveryCode(code))),
        (None, None) => Ok(None),
    }
}

/// The session token of the request, or 403.
fn session<'a, S: Store>(call: &Call<'a, S>) -> Result<&'a SessionToken, Rejection> {
    match call.cookie {
        SessionCookie::Token(token) => Ok(token),
        _ => Err(sessions::no_session(call.auth, call.cookie)),
    }
}

/// The refusal of `e`, a lost session answered as every route answers it.
fn refusal<S: Store>(call: &Call<'_, S>, e: AuthError) -> Rejection {
    match e {
        AuthError::InvalidSession => sessions::no_session(call.auth, call.cookie),
        e => e.into(),
    }
}

/// `POST /profile/totp`: field `current_password` → 200 `{"secret", "otpauth_uri"}`.
pub(super) async fn begin<S: Store>(call: &Call<'_, S>) -> Answer {
    let token = session(call)?;
    let current = call.fields.required("current_password")?;
    let setup = call
        .auth
        .begin_second_factor(token, current, call.client)
        .await
        .map_err(|e| refusal(call, e))?;
    Ok(json(
        StatusCode::OK,
        &json!({ "secret": setup.secret(), "otpauth_uri": setup.otpauth_uri() }),
    ))
}

/// `POST /profile/totp/confirm`: field `code` → 200 `{"message": "second factor enabled",
/// "recovery_codes": [...]}`; a wrong code is 400 (the factor stays pending).
pub(super) async fn confirm<S: Store>(call: &Call<'_, S>) -> Answer {
    let token = session(call)?;
    let code = call.fields.required("code")?;
    let codes = match call
        .auth
        .confirm_second_factor(token, code, call.client)
        .await
    {
        Ok(codes) => codes,
        Err(AuthError::WrongSecondFactor) => {
            return Err(Rejection::bad_request("wrong code").with_code("wrong_code"));
        }
        Err(e) => return Err(refusal(call, e)),
    };
    Ok(json(
        StatusCode::OK,
        &json!({ "message": "second factor enabled", "recovery_codes": codes.codes() }),
    ))
}

/// `DELETE /profile/totp`: fields `current_password`, and `otp` or `recovery_code` → 200.
pub(super) async fn disable<S: Store>(call: &Call<'_, S>) -> Answer {
    let token = session(call)?;
    let current = call.fields.required("current_password")?;
    let proof = proof(call.fields)?;
    call.auth
        .disable_second_factor(token, current, proof, call.client)
        .await
        .map_err(|e| refusal(call, e))?;
    Ok(json(
        StatusCode::OK,
        &json!({ "message": "second factor removed" }),
    ))
}
