//! The account email hook's deliveries, in order.

use std::time::Duration;

use tokio::sync::mpsc;
use tower_user_auth::{BoxError, hook::AccountEmail};

/// One message the hook delivered, with its token exposed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mail {
    /// A confirmation token, to `to`.
    Confirmation { to: String, token: String },
    /// An email-change token, to the new address `to`.
    EmailChange { to: String, token: String },
    /// The notice to the old address `to` that the account now uses `new_email`.
    EmailChanged { to: String, new_email: String },
}

/// What the account email hook received.
pub struct Mailbox(mpsc::UnboundedReceiver<Mail>);

impl Mailbox {
    /// A hook that delivers here.
    pub fn hook() -> (
        impl Fn(&str, &AccountEmail) -> Result<(), BoxError> + Send + Sync + 'static,
        Self,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let hook = move |to: &str, message: &AccountEmail| {
            let to = to.to_owned();
            let mail = match message {
                AccountEmail::Confirmation(token) => Mail::Confirmation {
                    to,
                    token: token.expose().to_owned(),
                },
                AccountEmail::EmailChange(token) => Mail::EmailChange {
                    to,
                    token: token.expose().to_owned(),
                },
                AccountEmail::EmailChanged { new_email } => Mail::EmailChanged {
                    to,
                    new_email: new_email.clone(),
                },
                other => return Err(format!("unexpected message {other:?}").into()),
            };
            tx.send(mail)
                .map_err(|e| -> BoxError { e.to_string().into() })
        };
        (hook, Self(rx))
    }

    /// The next delivery (the hook runs detached: waits up to 10 s).
    pub async fn next(&mut self) -> Mail {
        tokio::time::timeout(Duration::from_secs(10), self.0.recv())
            .await
            .expect("the hook was called within 10 s")
            .expect("hook channel open")
    }

    /// The next delivery, which must be a confirmation token for `email`: the token.
    pub async fn confirmation_for(&mut self, email: &str) -> String {
        match self.next().await {
            Mail::Confirmation { to, token } if to == email => token,
            other => panic!("expected a confirmation token for {email}, got {other:?}"),
        }
    }

    /// The next delivery, which must be an email-change token sent to `email`: the token.
    pub async fn change_token_for(&mut self, email: &str) -> String {
        match self.next().await {
            Mail::EmailChange { to, token } if to == email => token,
            other => panic!("expected an email-change token for {email}, got {other:?}"),
        }
    }

    /// Nothing more is delivered within half a second (the hook runs detached: a delivery
    /// that was due has had that long to land).
    pub async fn assert_nothing_more(&mut self) {
        let more = tokio::time::timeout(Duration::from_millis(500), self.0.recv()).await;
        assert!(more.is_err(), "unexpected delivery: {more:?}");
    }

    /// Forgets what was delivered, waiting until nothing more comes for 200 ms.
    pub async fn drain(&mut self) {
        while let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(200), self.0.recv()).await
        {}
    }
}
