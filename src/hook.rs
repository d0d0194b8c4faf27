//! The application hooks that deliver password-reset tokens and account emails (confirmation
//! and email-change tokens, security notices), by e-mail typically.

use std::{fmt, net::IpAddr, time::SystemTime};

use crate::{
    BoxError,
    token::{EmailToken, ResetToken},
    user::UserId,
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
    /// One of the account's authentication factors changed or was used: tell the owner
    /// (OWASP ASVS 4.0.3 2.5.5), so that a change they did not make does not go unnoticed.
    SecurityNotice(SecurityNotice),
}

/// A notice to an account's owner that one of its authentication factors changed or was
/// used: what happened, to which account, when and from which client address. It never
/// holds a secret (no password, token or code), so a mailer may log or store it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecurityNotice {
    /// What happened.
    pub kind: NoticeKind,
    /// The account it happened to.
    pub user_id: UserId,
    /// The account's address, where the notice goes (after the change, for a change).
    pub email: String,
    /// When it happened, by the service's clock.
    pub at: SystemTime,
    /// The address of the client whose request did it, when known (`None` for an
    /// administrator's command, or a request without a peer address).
    pub client: Option<IpAddr>,
}

/// What a [`SecurityNotice`] tells. Later releases add kinds (a passkey added or removed, a
/// provider linked or unlinked, an access token created): match with a wildcard arm. Its
/// `Display` is a short lowercase phrase for a mail's subject or a log line:
///
/// ```
/// use tower_user_auth::hook::NoticeKind;
///
/// assert_eq!(NoticeKind::PasswordChanged.to_string(), "password changed");
/// assert_eq!(
///     NoticeKind::RecoveryCodeUsed { remaining: 9 }.to_string(),
///     "recovery code used (9 left)"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoticeKind {
    /// The password was changed with the current one (`PUT /profile/password`).
    PasswordChanged,
    /// The password was reset with a reset token.
    PasswordReset,
    /// A second factor was turned on.
    SecondFactorEnabled,
    /// The second factor was turned off (by its owner, or by an administrator).
    SecondFactorDisabled,
    /// A recovery code was used (at a login, or to prove the second factor again);
    /// `remaining` are left.
    RecoveryCodeUsed {
        /// The recovery codes left unused.
        remaining: usize,
    },
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PasswordChanged => f.write_str("password changed"),
            Self::PasswordReset => f.write_str("password reset"),
            Self::SecondFactorEnabled => f.write_str("second factor enabled"),
            Self::SecondFactorDisabled => f.write_str("second factor disabled"),
            Self::RecoveryCodeUsed { remaining } => {
                write!(f, "recovery code used ({remaining} left)")
            }
        }
    }
}

/// Delivers [`AccountEmail`]s (confirmation and email-change tokens, the notice to the old
/// address after a change, the [`SecurityNotice`]s): the application's mailer.
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
///             AccountEmail::SecurityNotice(notice) => { /* tell `to`: notice.kind, notice.at */ }
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
