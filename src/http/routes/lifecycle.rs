//! The account lifecycle routes: confirming an email, changing it, deleting the account.

use super::{Answer, Call};
use crate::{http::response::Rejection, store::Store};

// SKELETON: owned by the lifecycle engineer; every handler is replaced.

/// `POST /confirm_email`.
pub(super) async fn confirm_email<S: Store>(call: &Call<'_, S>) -> Answer {
    let _ = call;
    Err(Rejection::internal())
}

/// `POST /confirm_email/resend`.
pub(super) async fn resend_confirmation<S: Store>(call: &Call<'_, S>) -> Answer {
    let _ = call;
    Err(Rejection::internal())
}

/// `PUT /profile/email`.
pub(super) async fn change_email<S: Store>(call: &Call<'_, S>) -> Answer {
    let _ = call;
    Err(Rejection::internal())
}

/// `POST /profile/email/confirm`.
pub(super) async fn confirm_email_change<S: Store>(call: &Call<'_, S>) -> Answer {
    let _ = call;
    Err(Rejection::internal())
}

/// `DELETE /profile`.
pub(super) async fn delete_account<S: Store>(call: &Call<'_, S>) -> Answer {
    let _ = call;
    Err(Rejection::internal())
}
