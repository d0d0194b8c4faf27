//! What the service tells the application, on two channels with separate jobs:
//!
//! | channel | for whom | what | how the application receives it |
//! | --- | --- | --- | --- |
//! | the [`Mailer`] | the account's owner, at their address | a [`Mail`]: a password-reset token, a confirmation or email-change token, the notice to the old address after a change, a [`SecurityNotice`] | one trait, set with [`AuthConfig::with_mailer`](crate::AuthConfig::with_mailer) |
//! | the audit trail | the operator | one event per account event (`login`, `login_failed`, `password_reset`, ...), naming the account and the client, never a secret | `tracing` events under the target `tower_user_auth::audit`: a subscriber (or a `tracing-subscriber` filter on that target) writes them where the operator wants |
//!
//! The mailer carries what its recipient must act on or be told of, and may contain a
//! secret (a token); the audit trail records what happened, for whoever runs the service,
//! and never does. A new kind of message for users (a passkey added, a provider linked) is a
//! new [`Mail`] or [`NoticeKind`] variant, a new kind of account event a new audit event:
//! neither adds a hook.
//!
//! The mailer is called on a blocking thread, detached from the request: an answer never
//! waits for it nor depends on it, and an error it returns (or a panic) is logged, never
//! the message.
//!
//! ```
//! use tower_user_auth::{AuthConfig, BoxError, hook::Mail};
//!
//! let config = AuthConfig::default()
//!     .with_email_confirmation(true)
//!     .with_mailer(|to: &str, mail: &Mail| {
//!         match mail {
//!             Mail::PasswordReset(token) => { /* mail a link with token.expose() to `to` */ }
//!             Mail::Confirmation(token) => { /* mail token.expose() to `to` */ }
//!             Mail::EmailChange(token) => { /* mail token.expose() to `to` */ }
//!             Mail::EmailChanged { new_email } => { /* tell `to` */ }
//!             Mail::SecurityNotice(notice) => { /* tell `to`: notice.kind, notice.at */ }
//!             _ => {}
//!         }
//!         let _ = to;
//!         Ok::<(), BoxError>(())
//!     });
//! # let _ = config;
//! ```
//!
//! Before 0.2.0 the mailer was two hooks, [`ResetTokenHook`] and [`AccountEmailHook`]; both
//! are kept, deprecated, as adapters onto the one mailer.

#![allow(deprecated)] // the deprecated hooks' own definitions and their adapters

use std::{fmt, net::IpAddr, time::SystemTime};

use crate::{
    BoxError,
    token::{EmailToken, ResetToken},
    user::UserId,
};

/// Delivers [`Mail`] to an account's owner: the application's mailer (see the
/// [module docs](self) for what it receives, and for the audit trail beside it).
///
/// Called only for addresses that have an account, on a blocking thread, detached from the
/// request; an error it returns (or a panic) is logged, never the message. Any
/// `Fn(&str, &Mail) -> Result<(), BoxError>` closure is one.
pub trait Mailer: Send + Sync + 'static {
    /// Sends `mail` to the address `to`.
    ///
    /// # Errors
    /// Delivery failed; the error is logged.
    fn send(&self, to: &str, mail: &Mail) -> Result<(), BoxError>;
}

impl<F> Mailer for F
where
    F: Fn(&str, &Mail) -> Result<(), BoxError> + Send + Sync + 'static,
{
    fn send(&self, to: &str, mail: &Mail) -> Result<(), BoxError> {
        self(to, mail)
    }
}

impl fmt::Debug for dyn Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mailer")
    }
}

/// A message for an account's owner, at the address it is sent to: what a [`Mailer`]
/// delivers. Later releases add variants: match with a wildcard arm.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Mail {
    /// A token that resets the account's password (`PUT /reset_password`), sent on
    /// `POST /reset_password`, also where the token goes back in the answer (the
    /// compatibility profile).
    PasswordReset(ResetToken),
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

/// The messages of the account email hook, now every [`Mail`] but the password reset.
#[deprecated(since = "0.2.0", note = "renamed to `Mail`")]
pub type AccountEmail = Mail;

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

/// Delivers a reset token to the owner of an email.
///
/// Any `Fn(&str, &ResetToken) -> Result<(), BoxError>` closure is a hook.
#[deprecated(
    since = "0.2.0",
    note = "use `Mailer`, whose `Mail::PasswordReset` carries the token"
)]
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

/// Delivers every [`Mail`] but the password reset: confirmation and email-change tokens,
/// the notice to the old address after a change, the [`SecurityNotice`]s.
///
/// Any `Fn(&str, &Mail) -> Result<(), BoxError>` closure is one.
#[deprecated(
    since = "0.2.0",
    note = "use `Mailer`, which receives the password resets too"
)]
pub trait AccountEmailHook: Send + Sync + 'static {
    /// Delivers `message` to `email`.
    ///
    /// # Errors
    /// Delivery failed; the error is logged.
    fn deliver(&self, email: &str, message: &Mail) -> Result<(), BoxError>;
}

impl<F> AccountEmailHook for F
where
    F: Fn(&str, &Mail) -> Result<(), BoxError> + Send + Sync + 'static,
{
    fn deliver(&self, email: &str, message: &Mail) -> Result<(), BoxError> {
        self(email, message)
    }
}

impl fmt::Debug for dyn AccountEmailHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountEmailHook")
    }
}

/// A [`ResetTokenHook`] as a [`Mailer`] of the password resets alone.
pub(crate) struct ResetTokenMailer<H>(pub(crate) H);

impl<H: ResetTokenHook> Mailer for ResetTokenMailer<H> {
    fn send(&self, to: &str, mail: &Mail) -> Result<(), BoxError> {
        match mail {
            Mail::PasswordReset(token) => self.0.deliver(to, token),
            _ => Ok(()),
        }
    }
}

/// An [`AccountEmailHook`] as a [`Mailer`] of everything but the password resets.
pub(crate) struct AccountEmailMailer<H>(pub(crate) H);

impl<H: AccountEmailHook> Mailer for AccountEmailMailer<H> {
    fn send(&self, to: &str, mail: &Mail) -> Result<(), BoxError> {
        match mail {
            Mail::PasswordReset(_) => Ok(()),
            mail => self.0.deliver(to, mail),
        }
    }
}
