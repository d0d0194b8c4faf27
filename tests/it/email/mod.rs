//! Issue 13's account lifecycle flows over real sockets, on a real redb file with a manual
//! clock, the layer around [`support::Echo`] (which reports the user each request carried):
//!
//! - [`confirmation`]: the token sent at registration, `POST /confirm_email`, the refused
//!   login until then, `POST /confirm_email/resend`, their throttling;
//! - [`email_change`]: `PUT /profile/email`, immediate or confirmed by the token sent to the
//!   new address (`POST /profile/email/confirm`), sessions seeing the new email, the old
//!   address told, a change racing a registration of the same address;
//! - [`deletion`]: `DELETE /profile`, the cookie cleared, old cookies refused at once (the
//!   session cache included), the email free again, deletion racing logins.
//!
//! Every message the mailer receives but the password resets lands in a [`mail::Mailbox`].

use crate::support;

mod confirmation;
pub(crate) mod email_change;
pub(crate) mod mail;

use http::Method;
use serde_json::Value;
use support::{
    Answer, Body, Client, FormSite, GOOD_PW, Harness, Inbox, Server, hardened_config, serve_echo,
    split_mail,
};
use tower_user_auth::AuthConfig;

use mail::Mailbox;

/// A hardened site over a real socket: the [`Harness`] (its store, its manual clock), the
/// server, and the mailbox of its mailer.
pub(crate) struct Site {
    pub(crate) harness: Harness,
    pub(crate) server: Server,
    pub(crate) mail: Mailbox,
}

impl FormSite for Site {
    fn http(&self) -> &Client {
        &self.server.http
    }
}

impl Site {
    /// `config` with the mailbox as its mailer, served.
    pub(crate) async fn new(config: AuthConfig) -> Self {
        let (mailer, mail) = Mailbox::mailer();
        Self::serve(config.with_mailer(mailer), mail).await
    }

    /// `config` with a mailer that delivers the reset tokens into an [`Inbox`] and every
    /// other message into the mailbox, served.
    pub(crate) async fn with_reset_inbox(config: AuthConfig) -> (Self, Inbox) {
        let (resets, inbox) = Inbox::mailer();
        let (accounts, mail) = Mailbox::mailer();
        let config = config.with_mailer(split_mail(resets, accounts));
        (Self::serve(config, mail).await, inbox)
    }

    async fn serve(config: AuthConfig, mail: Mailbox) -> Self {
        let harness = Harness::new(config);
        let server = serve_echo(&harness.auth).await;
        Self {
            harness,
            server,
            mail,
        }
    }

    /// The hardened profile (bcrypt cost 4) with email confirmation on.
    pub(crate) async fn confirming() -> Self {
        Self::new(hardened_config().with_email_confirmation(true)).await
    }

    /// The hardened profile (bcrypt cost 4), email confirmation off (its default).
    pub(crate) async fn hardened() -> Self {
        Self::new(hardened_config()).await
    }

    /// `POST /users` with `password`.
    pub(crate) async fn register(&self, email: &str, password: &str) -> Answer {
        let fields = [("email", email), ("password", password)];
        self.send(Method::POST, "/users", "", &fields).await
    }

    /// `POST /sessions`.
    pub(crate) async fn login(&self, email: &str, password: &str) -> Answer {
        let fields = [("email", email), ("password", password)];
        self.send(Method::POST, "/sessions", "", &fields).await
    }

    /// Logs in with [`GOOD_PW`] and returns the `Cookie` header value (asserts 200).
    pub(crate) async fn session(&self, email: &str) -> String {
        let res = self.login(email, GOOD_PW).await;
        assert_eq!(res.status, 200, "login {email}: {}", res.text());
        cookie(&res).expect("a session cookie")
    }

    /// Registers `email` with [`GOOD_PW`] (asserts 200); with confirmation on, confirms it
    /// with the token the hook received.
    pub(crate) async fn account(&mut self, email: &str) {
        let res = self.register(email, GOOD_PW).await;
        assert_eq!(res.status, 200, "register {email}: {}", res.text());
        if self.harness.auth.config().email_confirmation() {
            let token = self.mail.confirmation_for(email).await;
            let res = self.confirm(&token, "").await;
            assert_eq!(res.status, 200, "confirm {email}: {}", res.text());
        }
    }

    /// `POST /confirm_email` with `token`.
    pub(crate) async fn confirm(&self, token: &str, cookie: &str) -> Answer {
        self.send(Method::POST, "/confirm_email", cookie, &[("token", token)])
            .await
    }

    /// `GET /` through the layer: the user the wrapped app received (`null` for none).
    pub(crate) async fn app_user(&self, cookie: &str) -> Value {
        let res = self.server.http.get("/", cookie).await;
        assert_eq!(res.status, 200, "{}", res.text());
        res.app_user().unwrap_or(Value::Null)
    }

    /// `GET /profile`.
    pub(crate) async fn profile(&self, cookie: &str) -> Answer {
        self.server.http.get("/profile", cookie).await
    }

    /// `PUT /profile/password` from [`GOOD_PW`] to `new_password` with `cookie`.
    pub(crate) async fn change_password(&self, cookie: &str, new_password: &str) -> Answer {
        let fields = [
            ("current_password", GOOD_PW),
            ("new_password", new_password),
        ];
        self.send(Method::PUT, "/profile/password", cookie, &fields)
            .await
    }

    /// A reset token for `email`, as the hook would receive it.
    pub(crate) async fn reset_token(&self, email: &str) -> String {
        use tower_user_auth::compat::SeedApi;
        self.harness
            .auth
            .get_reset_password_token(email)
            .await
            .expect("a reset token")
            .expose()
            .to_owned()
    }

    /// `PUT /reset_password` of `email` with `token` to `new_password`.
    pub(crate) async fn reset(&self, email: &str, token: &str, new_password: &str) -> Answer {
        let fields = [
            ("email", email),
            ("reset_token", token),
            ("new_password", new_password),
        ];
        self.send(Method::PUT, "/reset_password", "", &fields).await
    }

    /// `DELETE /profile/totp` with [`GOOD_PW`] and the recovery code `code`, with `cookie`.
    pub(crate) async fn remove_factor(&self, cookie: &str, code: &str) -> Answer {
        let fields = [("current_password", GOOD_PW), ("recovery_code", code)];
        self.send(Method::DELETE, "/profile/totp", cookie, &fields)
            .await
    }
}

/// The TOTP time step of the site's clock.
pub(crate) fn step(site: &Site) -> u64 {
    let now = site.harness.auth.now();
    now.duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        / support::browser::totp::STEP_SECS
}

/// Runs `n` calls of `call()` concurrently, each released at once by one barrier; their
/// results, in order.
pub(crate) async fn at_once<T, Fut: Future<Output = T>>(
    n: usize,
    call: impl Fn() -> Fut,
) -> Vec<T> {
    let barrier = tokio::sync::Barrier::new(n);
    futures_util::future::join_all((0..n).map(|_| {
        let (barrier, call) = (&barrier, call());
        async move {
            barrier.wait().await;
            call.await
        }
    }))
    .await
}

/// The `Cookie` header (`session_id=...`) a login's answer sets, if it logged in.
pub(crate) fn cookie(login: &Answer) -> Option<String> {
    login.session_cookie_header()
}

/// Asserts `res` is `status` with a JSON `{"message": ...}` body whose message is `message`.
#[track_caller]
pub(crate) fn assert_refused(res: &Answer, status: u16, message: &str) {
    assert_eq!(res.status, status, "{}", res.text());
    assert_eq!(res.json()["message"], message, "{}", res.text());
}

/// Asserts `res` refuses a token: 403 "invalid or expired token".
#[track_caller]
pub(crate) fn assert_invalid_token(res: &Answer) {
    assert_refused(res, 403, "invalid or expired token");
}

/// Asserts a 4xx with a JSON message.
#[track_caller]
pub(crate) fn assert_4xx(res: &Answer, status: u16) {
    assert_eq!(res.status, status, "{}", res.text());
    assert!(res.json()["message"].is_string(), "{}", res.text());
}
