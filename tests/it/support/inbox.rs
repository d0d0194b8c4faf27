//! Reset tokens delivered to a hook.

use std::time::Duration;

use tokio::sync::mpsc;
use tower_user_auth::{AuthConfig, BoxError, token::ResetToken};

use super::Harness;

/// What the reset hook received, in order.
pub struct Inbox(pub mpsc::UnboundedReceiver<(String, String)>);

impl Inbox {
    /// A hook that sends `(email, token)` here.
    pub fn hook() -> (
        impl Fn(&str, &ResetToken) -> Result<(), BoxError> + Send + Sync + 'static,
        Self,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let hook = move |email: &str, token: &ResetToken| {
            tx.send((email.to_owned(), token.expose().to_owned()))
                .map_err(|e| -> BoxError { e.to_string().into() })
        };
        (hook, Self(rx))
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

/// A harness on `config` whose reset hook delivers into an [`Inbox`].
pub fn hardened_with_inbox(config: AuthConfig) -> (Harness, Inbox) {
    let (hook, inbox) = Inbox::hook();
    (Harness::new(config.with_reset_token_hook(hook)), inbox)
}
