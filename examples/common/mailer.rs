//! The demo's development mailer: instead of sending mail, it prints each token on standard
//! output (never in the tracing log, which goes to standard error), one line each, flushed at
//! once, so that a person running the demo, or a test reading its output, can use it:
//!
//! ```text
//! reset token for <email>: <token>
//! confirmation token for <email>: <token>
//! email change token for <new email>: <token>
//! email changed for <old email>: now <new email>
//! security notice for <email>: <what>
//! ```
//!
//! where `<what>` is the notice's kind as [`NoticeKind`](tower_user_auth::hook::NoticeKind)
//! displays it: `password changed`, `password reset`, `second factor enabled`, `second
//! factor disabled`, `recovery code used (N left)`.
//!
//! The email is the address the layer hands to the hook (as the user sent it), trimmed.
//!
//! Not declared in `examples/common/mod.rs`: the load benchmark's peer server includes that
//! module and needs no mailer. The demo declares it by path.

use std::io::Write;

use tower_user_auth::{BoxError, hook::AccountEmail, token::ResetToken};

/// Prints one line on standard output and flushes it, under the lock: lines of concurrent
/// deliveries never interleave.
fn print_line(line: &str) -> Result<(), BoxError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// The reset-token hook: `reset token for <email>: <token>`.
pub fn deliver_reset_token(email: &str, token: &ResetToken) -> Result<(), BoxError> {
    print_line(&format!(
        "reset token for {}: {}",
        email.trim(),
        token.expose()
    ))
}

/// The account email hook: a confirmation token, an email-change token (to the new address),
/// the notice to the old address that the account moved, or a security notice.
pub fn deliver_account_email(to: &str, message: &AccountEmail) -> Result<(), BoxError> {
    let to = to.trim();
    let line = match message {
        AccountEmail::Confirmation(token) => {
            format!("confirmation token for {to}: {}", token.expose())
        }
        AccountEmail::EmailChange(token) => {
            format!("email change token for {to}: {}", token.expose())
        }
        AccountEmail::EmailChanged { new_email } => {
            format!("email changed for {to}: now {}", new_email.trim())
        }
        AccountEmail::SecurityNotice(notice) => {
            format!("security notice for {to}: {}", notice.kind)
        }
        // A message this demo does not know yet: say so, without its content.
        _ => format!("account email for {to} (not printed)"),
    };
    print_line(&line)
}
