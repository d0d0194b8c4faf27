//! The application hook that delivers password-reset tokens (by e-mail, typically).

use std::fmt;

use crate::{BoxError, token::ResetToken};

/// Delivers a reset token to the owner of an email: the application's mailer.
///
/// It is called only for emails that have an account, on a blocking thread, detached from
/// the request: the answer to `POST /reset_password` neither waits for it nor depends on
/// it, and an error it returns (or a panic) is logged, without the token.
///
/// Any `Fn(&str, &ResetToken) -> Result<(), BoxError>` closure is a hook:
///
/// ```
/// use tower_user_auth::{AuthConfig, BoxError, token::ResetToken};
///
/// let config = AuthConfig::default().with_reset_token_hook(|email: &str, token: &ResetToken| {
///     // send_mail(email, &format!("https://example.com/reset?token={}", token.expose()))?;
///     let _ = (email, token);
///     Ok::<(), BoxError>(())
/// });
/// ```
pub trait ResetTokenHook: Send + Sync + 'static {
    /// Delivers `token` to `email`.
    ///
    /// # Errors
    /// Delivery failed; the error is logged.
    fn deliver(&self, email: &str, token: &ResetToken) -> Result<(), BoxError>;
}

impl<F> ResetTokenHook for F
where
    F: Fn(&str, &ResetToken) -> Result<(), BoxError> + Send + Sync + 'static,
{
    fn deliver(&self, email: &str, token: &ResetToken) -> Result<(), BoxError> {
        self(email, token)
    }
}

impl fmt::Debug for dyn ResetTokenHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResetTokenHook")
    }
}
