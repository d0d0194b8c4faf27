//! Reset tokens delivered to a mailer.

use std::time::Duration;

use tokio::sync::mpsc;
use tower_user_auth::{
    AuthConfig, BoxError,
    hook::{Mail, Mailer},
    token::ResetToken,
};

use super::Harness;

/// The reset tokens the mailer received, in order.
pub struct Inbox(pub mpsc::UnboundedReceiver<(String, String)>);

impl Inbox {
    /// A mailer that sends `(email, token)` here for each password reset, and drops every
    /// other message.
    pub fn mailer() -> (impl Mailer, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mailer = move |email: &str, mail: &Mail| match mail {
            Mail::PasswordReset(token) => tx
                .send((email.to_owned(), token.expose().to_owned()))
                .map_err(|e| -> BoxError { e.to_string().into() }),
            _ => Ok(()),
        };
        (mailer, Self(rx))
    }

    /// The next delivery (waits up to 10 s for the detached hook).
    pub async fn next(&mut self) -> (String, String) {
        tokio::time::timeout(Duration::from_secs(10), self.0.recv())
            .await
            .expect("the hook was called within 10 s")
            .expect("hook channel open")
    }

    /// Nothing was delivered so far.
    pub fn is_empty(&mut self) -> bool {
        self.0.try_recv().is_err()
    }
}

/// A harness on `config` whose mailer delivers the reset tokens into an [`Inbox`].
pub fn hardened_with_inbox(config: AuthConfig) -> (Harness, Inbox) {
    let (mailer, inbox) = Inbox::mailer();
    (Harness::new(config.with_mailer(mailer)), inbox)
}

/// One mailer of two: the password resets to `resets`, every other message to `accounts`.
pub fn split_mail(resets: impl Mailer, accounts: impl Mailer) -> impl Mailer {
    move |to: &str, mail: &Mail| match mail {
        Mail::PasswordReset(_) => resets.send(to, mail),
        _ => accounts.send(to, mail),
    }
}

/// A mailer that hands each reset token to `deliver` and drops every other message.
pub fn resets_only(
    deliver: impl Fn(&str, &ResetToken) -> Result<(), BoxError> + Send + Sync + 'static,
) -> impl Mailer {
    move |to: &str, mail: &Mail| match mail {
        Mail::PasswordReset(token) => deliver(to, token),
        _ => Ok(()),
    }
}
