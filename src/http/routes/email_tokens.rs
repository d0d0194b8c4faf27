//! What the routes that take an email token share (confirming an email, confirming an email
//! change): the session's user, and the refusals of a token.

use http::StatusCode;

use super::Call;
use crate::{
    error::AuthError,
    http::{cookie::SessionCookie, response::Rejection},
    store::Store,
    user::UserId,
};

/// 403 for an email token that is unknown, used, expired, of the other route's purpose, or
/// of another account than the session's.
pub(super) fn invalid_token() -> Rejection {
    Rejection::new(StatusCode::FORBIDDEN, "invalid or expired token").with_code("invalid_token")
}

/// 409 for an address another account has (or this one).
pub(super) fn address_taken() -> Rejection {
    Rejection::new(StatusCode::CONFLICT, "email already registered").with_code("email_taken")
}

/// The user of the request's live session, if it came with one: the routes that take a token
/// with or without a session refuse another account's token when there is one. A cookie
/// that names no live session counts as none.
pub(super) async fn session_user<S: Store>(
    call: &Call<'_, S>,
) -> Result<Option<UserId>, Rejection> {
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
pub(super) fn token_refusal(e: AuthError) -> Rejection {
    match e {
        AuthError::InvalidToken => invalid_token(),
        AuthError::EmailTaken(_) => address_taken(),
        e => e.into(),
    }
}
