//! The mailer: where the service's messages for an account's owner go (see [`crate::hook`]).

use std::{fmt, sync::Arc};

use super::AuthConfig;
#[allow(deprecated)] // the deprecated hooks' setters, kept as adapters onto the mailer
use crate::hook::{AccountEmailHook, AccountEmailMailer, ResetTokenHook, ResetTokenMailer};
use crate::hook::{Mail, Mailer};

/// The mailer of each kind of [`Mail`]: one and the same with
/// [`with_mailer`](AuthConfig::with_mailer); the deprecated hooks set one kind each.
#[derive(Clone, Default)]
pub(crate) struct Mailers {
    /// Where [`Mail::PasswordReset`] goes.
    reset: Option<Arc<dyn Mailer>>,
    /// Where every other [`Mail`] goes.
    account: Option<Arc<dyn Mailer>>,
}

impl Mailers {
    /// The mailer of `mail`, and the name its failures are logged under.
    pub(crate) fn of(&self, mail: &Mail) -> (&'static str, Option<&Arc<dyn Mailer>>) {
        match mail {
            Mail::PasswordReset(_) => ("reset token", self.reset.as_ref()),
            _ => ("account email", self.account.as_ref()),
        }
    }

    /// Whether reset tokens reach a mailer.
    pub(crate) fn resets(&self) -> bool {
        self.reset.is_some()
    }

    /// Whether confirmation tokens (and every other message but a reset) reach a mailer.
    pub(crate) fn account_mail(&self) -> bool {
        self.account.is_some()
    }
}

impl fmt::Debug for Mailers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailers")
            .field("reset", &self.reset.as_ref().map(|_| "<hook>"))
            .field("account", &self.account.as_ref().map(|_| "<hook>"))
            .finish()
    }
}

impl AuthConfig {
    /// The mailer, which delivers every [`Mail`] for an account's owner: password-reset,
    /// confirmation and email-change tokens, the notice to the old address after a change,
    /// the security notices (see [`crate::hook`], where the audit trail is described beside
    /// it). Without one, in the hardened profile a reset token is stored but reaches nobody,
    /// and with [email confirmation](Self::with_email_confirmation) on new accounts cannot
    /// confirm: [`validate`](Self::validate) warns of both.
    ///
    /// ```
    /// use tower_user_auth::{AuthConfig, BoxError, hook::Mail};
    ///
    /// let config = AuthConfig::hardened().with_mailer(|to: &str, mail: &Mail| {
    ///     if let Mail::PasswordReset(token) = mail {
    ///         // send_mail(to, &format!("https://example.com/reset?token={}", token.expose()))?;
    ///         let _ = (to, token);
    ///     }
    ///     Ok::<(), BoxError>(())
    /// });
    /// assert!(config.warnings().iter().all(|w| !w.to_string().contains("mailer")));
    /// ```
    pub fn with_mailer(mut self, mailer: impl Mailer) -> Self {
        let mailer: Arc<dyn Mailer> = Arc::new(mailer);
        self.mailers = Mailers {
            reset: Some(Arc::clone(&mailer)),
            account: Some(mailer),
        };
        self
    }

    /// The hook that delivers reset tokens: now the [mailer](Self::with_mailer)'s
    /// [`Mail::PasswordReset`]. It replaces the mailer of reset tokens only.
    #[deprecated(
        since = "0.2.0",
        note = "use `with_mailer`, whose `Mail::PasswordReset` carries the token"
    )]
    #[allow(deprecated)]
    pub fn with_reset_token_hook(mut self, hook: impl ResetTokenHook) -> Self {
        self.mailers.reset = Some(Arc::new(ResetTokenMailer(hook)));
        self
    }

    /// The hook that delivers every [`Mail`] but the password resets: now the
    /// [mailer](Self::with_mailer). It replaces the mailer of those messages only.
    #[deprecated(
        since = "0.2.0",
        note = "use `with_mailer`, which receives the password resets too"
    )]
    #[allow(deprecated)]
    pub fn with_account_email_hook(mut self, hook: impl AccountEmailHook) -> Self {
        self.mailers.account = Some(Arc::new(AccountEmailMailer(hook)));
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::{
        BoxError,
        token::{EmailToken, ResetToken},
    };

    /// What each mailer of a configuration receives, one line per message.
    fn received(mailers: &Mailers, mail: &Mail) -> Option<&'static str> {
        let (hook, mailer) = mailers.of(mail);
        mailer.map(|m| {
            m.send("bob@example.com", mail)
                .map(|()| hook)
                .unwrap_or("failed")
        })
    }

    #[test]
    fn one_mailer_receives_every_message() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let config = AuthConfig::hardened().with_mailer(move |to: &str, mail: &Mail| {
            log.lock().unwrap().push(format!("{to} {mail:?}"));
            Ok::<(), BoxError>(())
        });
        let reset = Mail::PasswordReset(ResetToken::generate());
        let confirm = Mail::Confirmation(EmailToken::generate());
        assert_eq!(received(&config.mailers, &reset), Some("reset token"));
        assert_eq!(received(&config.mailers, &confirm), Some("account email"));
        assert_eq!(seen.lock().unwrap().len(), 2);
        assert!(config.mailers.resets() && config.mailers.account_mail());
    }

    /// The deprecated hooks keep what each received: the reset hook the resets alone, the
    /// account email hook everything else, whichever is set and in whatever order.
    #[test]
    #[allow(deprecated)]
    fn the_deprecated_hooks_receive_what_they_did() {
        let resets = Arc::new(Mutex::new(0));
        let others = Arc::new(Mutex::new(0));
        let (r, o) = (Arc::clone(&resets), Arc::clone(&others));
        let config = AuthConfig::hardened()
            .with_account_email_hook(move |_: &str, mail: &Mail| {
                assert!(!matches!(mail, Mail::PasswordReset(_)));
                *o.lock().unwrap() += 1;
                Ok::<(), BoxError>(())
            })
            .with_reset_token_hook(move |_: &str, _: &ResetToken| {
                *r.lock().unwrap() += 1;
                Ok::<(), BoxError>(())
            });
        let reset = Mail::PasswordReset(ResetToken::generate());
        let change = Mail::EmailChange(EmailToken::generate());
        assert_eq!(received(&config.mailers, &reset), Some("reset token"));
        assert_eq!(received(&config.mailers, &change), Some("account email"));
        assert_eq!((*resets.lock().unwrap(), *others.lock().unwrap()), (1, 1));
        let only_resets =
            AuthConfig::hardened().with_reset_token_hook(|_: &str, _: &ResetToken| Ok(()));
        assert!(only_resets.mailers.resets() && !only_resets.mailers.account_mail());
        assert_eq!(received(&only_resets.mailers, &change), None);
    }
}
