//! The application hooks that deliver password-reset tokens and account emails (confirmation
//! and email-change tokens), by e-mail typically.

use std::fmt;

use crate::{
    BoxError,
    token::{EmailToken, ResetToken},
};

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

/// A message about an account, for its owner's address: what [`AccountEmailHook`] delivers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AccountEmail {
    /// A token that confirms the account's address (`POST /confirm_email`), sent at
    /// registration and on `POST /confirm_email/resend`.
    Confirmation(EmailToken),
    /// A token that moves the account to the address it is sent to
    /// (`POST /profile/email/confirm`).
    EmailChange(EmailToken),
    /// Sent to the old address once an email change is made: the account now uses
    /// `new_email`.
    EmailChanged {
        /// The account's new address.
        new_email: String,
    },
}

/// Delivers [`AccountEmail`]s (confirmation and email-change tokens, the notice to the old
/// address after a change): the application's mailer.
///
/// Called on a blocking thread, detached from the request; an error it returns (or a panic)
/// is logged, never the token. Any `Fn(&str, &AccountEmail) -> Result<(), BoxError>` closure
/// is one:
///
/// ```
/// use tower_user_auth::{AuthConfig, BoxError, hook::AccountEmail};
///
/// let config = AuthConfig::default()
///     .with_email_confirmation(true)
///     .with_account_email_hook(|to: &str, message: &AccountEmail| {
///         match message {
///             AccountEmail::Confirmation(token) => { /* mail token.expose() to `to` */ }
///             AccountEmail::EmailChange(token) => { /* mail token.expose() to `to` */ }
///             AccountEmail::EmailChanged { new_email } => { /* tell `to` */ }
///             _ => {}
///         }
///         let _ = to;
///         Ok::<(), BoxError>(())
///     });
/// ```
pub trait AccountEmailHook: Send + Sync + 'static {
    /// Delivers `message` to `email`.
    ///
    /// # Errors
    /// Delivery failed; the error is logged.
    fn deliver(&self, email: &str, message: &AccountEmail) -> Result<(), BoxError>;
}

impl<F> AccountEmailHook for F
where
    F: Fn(&str, &AccountEmail) -> Result<(), BoxError> + Send + Sync + 'static,
{
    fn deliver(&self, email: &str, message: &AccountEmail) -> Result<(), BoxError> {
        self(email, message)
    }
}

impl fmt::Debug for dyn AccountEmailHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountEmailHook")
    }
}
