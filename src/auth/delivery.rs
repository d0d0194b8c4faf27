//! Handing a message to the application's [mailer](crate::hook::Mailer): on a blocking
//! thread, detached from the request, a failure or a panic logged without the message.

use super::Auth;
use crate::{BoxError, hook::Mail, store::Store};

/// Runs `deliver` on a blocking thread of the current Tokio runtime, detached (inline outside
/// a runtime); an error it returns, or a panic, is logged as `hook` failing. The error is
/// the hook's own; the message it delivered (a token) is never logged here.
pub(super) fn detached(
    hook: &'static str,
    deliver: impl FnOnce() -> Result<(), BoxError> + Send + 'static,
) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let task = runtime.spawn_blocking(deliver);
            // Logged from the runtime, where the request's own events are.
            runtime.spawn(async move {
                match task.await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "the {hook} hook failed"),
                    Err(_) => tracing::error!("the {hook} hook panicked"),
                }
            });
        }
        Err(_) => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(deliver)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the {hook} hook failed"),
            Err(_) => tracing::error!("the {hook} hook panicked"),
        },
    }
}

/// Runs `work` detached on the current Tokio runtime, so that the request's answer (and its
/// timing) does not depend on it; awaits it in place outside a runtime.
pub(super) async fn in_background(work: impl Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn(work)),
        Err(_) => work.await,
    }
}

impl<S: Store> Auth<S> {
    /// Gives `mail` for `to` to the mailer of its kind, detached ([`detached`]); nothing
    /// without one. A failure is logged as the `reset token` hook's for a password reset,
    /// the `account email` hook's for the others (the names of the hooks before the mailer).
    pub(super) fn send_mail(&self, to: String, mail: Mail) {
        let (hook, Some(mailer)) = self.shared.config.mailers.of(&mail) else {
            return;
        };
        let mailer = std::sync::Arc::clone(mailer);
        detached(hook, move || mailer.send(&to, &mail));
    }
}
