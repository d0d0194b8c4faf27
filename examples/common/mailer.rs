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
//! The email is the address the layer hands to the mailer (as the user sent it), trimmed.
//!
//! Not declared in `examples/common/mod.rs`: the load benchmark's peer server includes that
//! module and needs no mailer. The demo declares it by path.

use std::io::Write;

use tower_user_auth::{BoxError, hook::Mail, hook::Mailer};

/// Prints one line on standard output and flushes it, under the lock: lines of concurrent
/// deliveries never interleave.
fn print_line(line: &str) -> Result<(), BoxError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// The demo's mailer: one line per message. Where reset tokens go back in the answer (the
/// compatibility profile, unless `AUTH_RESET_TOKEN_IN_RESPONSE` says otherwise) it prints
/// none: its clients read them from the answer.
#[derive(Clone, Copy, Debug)]
pub struct PrintingMailer {
    /// Whether to print the reset tokens.
    pub reset_tokens: bool,
}

impl Mailer for PrintingMailer {
    fn send(&self, to: &str, mail: &Mail) -> Result<(), BoxError> {
        let to = to.trim();
        let line = match mail {
            Mail::PasswordReset(token) if self.reset_tokens => {
                format!("reset token for {to}: {}", token.expose())
            }
            Mail::PasswordReset(_) => return Ok(()),
            Mail::Confirmation(token) => {
                format!("confirmation token for {to}: {}", token.expose())
            }
            Mail::EmailChange(token) => {
                format!("email change token for {to}: {}", token.expose())
            }
            Mail::EmailChanged { new_email } => {
                format!("email changed for {to}: now {}", new_email.trim())
            }
            Mail::SecurityNotice(notice) => {
                format!("security notice for {to}: {}", notice.kind)
            }
            // A message this demo does not know yet: say so, without its content.
            _ => format!("account email for {to} (not printed)"),
        };
        print_line(&line)
    }
}
