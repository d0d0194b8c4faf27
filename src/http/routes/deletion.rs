//! The account deletion route.

use http::{StatusCode, header};
use serde_json::json;

use super::{Answer, Call, second_factor, sessions};
use crate::{
    error::AuthError,
    http::{
        cookie::{self, SessionCookie},
        response::json,
    },
    store::Store,
};

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
