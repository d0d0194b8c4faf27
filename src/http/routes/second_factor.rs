//! The second factor routes: set up a TOTP factor, enable it with a code, remove it.

use super::{Answer, Call};
use crate::{http::response::Rejection, store::Store};

// SKELETON: owned by the second-factor engineer; every handler is replaced.

/// `POST /profile/totp`.
pub(super) async fn begin<S: Store>(call: &Call<'_, S>) -> Answer {
    let _ = call;
    Err(Rejection::internal())
}

/// `POST /profile/totp/confirm`.
pub(super) async fn confirm<S: Store>(call: &Call<'_, S>) -> Answer {
    let _ = call;
    Err(Rejection::internal())
}

/// `DELETE /profile/totp`.
pub(super) async fn disable<S: Store>(call: &Call<'_, S>) -> Answer {
    let _ = call;
    Err(Rejection::internal())
}
