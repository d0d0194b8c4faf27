//! The account email hook's deliveries, in order; and the security notices it gets (issue
//! 21, section 4): every change or use of an authentication factor tells the owner, with no
//! secret in the notice, and a slow or failing mailer neither slows nor fails the request.

use crate::support::FormSite as _;
use std::{net::IpAddr, time::Duration};

use tokio::sync::mpsc;
use tower_user_auth::{
    BoxError, UserId,
    hook::{self, Mailer},
};

use super::Site;

/// One message the hook delivered, with its token exposed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mail {
    /// A confirmation token, to `to`.
    Confirmation { to: String, token: String },
    /// An email-change token, to the new address `to`.
    EmailChange { to: String, token: String },
    /// The notice to the old address `to` that the account now uses `new_email`.
    EmailChanged { to: String, new_email: String },
    /// A security notice to `to`: what it says (`kind`, its `Display`), the account and the
    /// client it names, and the whole notice as `Debug` shows it (`debug`, to look for
    /// secrets in).
    Notice {
        to: String,
        kind: String,
        user_id: UserId,
        client: Option<IpAddr>,
        debug: String,
    },
}

/// What the account email hook received.
pub struct Mailbox(mpsc::UnboundedReceiver<Mail>);

impl Mailbox {
    /// A mailer that delivers here every message but the password resets (which it drops:
    /// see [`crate::support::Inbox`]).
    pub fn mailer() -> (impl Mailer, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mailer = move |to: &str, message: &hook::Mail| {
            let to = to.to_owned();
            let mail = match message {
                hook::Mail::PasswordReset(_) => return Ok(()),
                hook::Mail::Confirmation(token) => Mail::Confirmation {
                    to,
                    token: token.expose().to_owned(),
                },
                hook::Mail::EmailChange(token) => Mail::EmailChange {
                    to,
                    token: token.expose().to_owned(),
                },
                hook::Mail::EmailChanged { new_email } => Mail::EmailChanged {
                    to,
                    new_email: new_email.clone(),
                },
                hook::Mail::SecurityNotice(notice) => {
                    if notice.email != to {
                        return Err(format!("a notice for {} sent to {to}", notice.email).into());
                    }
                    Mail::Notice {
                        to,
                        kind: notice.kind.to_string(),
                        user_id: notice.user_id,
                        client: notice.client,
                        debug: format!("{message:?}"),
                    }
                }
                other => return Err(format!("unexpected message {other:?}").into()),
            };
            tx.send(mail)
                .map_err(|e| -> BoxError { e.to_string().into() })
        };
        (mailer, Self(rx))
    }

    /// The next delivery (the mailer runs detached: waits up to 10 s).
    pub async fn next(&mut self) -> Mail {
        tokio::time::timeout(Duration::from_secs(10), self.0.recv())
            .await
            .expect("the hook was called within 10 s")
            .expect("hook channel open")
    }

    /// The next delivery, or `None` once the hook is gone (no timeout: the caller's).
    pub async fn next_or_closed(&mut self) -> Option<Mail> {
        self.0.recv().await
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

    /// The next delivery, which must be a security notice to `email` saying `kind`: its
    /// `Debug` text.
    pub async fn notice_for(&mut self, email: &str, kind: &str) -> String {
        match self.next().await {
            Mail::Notice {
                to,
                kind: got,
                debug,
                ..
            } if to == email && got == kind => debug,
            other => panic!("expected the notice {kind:?} for {email}, got {other:?}"),
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

// Security notices (issue 21, section 4).

/// The hardened site (email confirmation off) with a secret key for TOTP, its reset tokens
/// delivered into an [`Inbox`](crate::support::Inbox).
async fn noticing_site() -> (Site, crate::support::Inbox) {
    let config = crate::support::hardened_config()
        .with_secret_key(tower_user_auth::config::SecretKey::from_bytes([0x5a; 32]));
    Site::with_reset_inbox(config).await
}

/// The TOTP time step of the site's clock.
fn step_of(site: &Site) -> u64 {
    let now = site.harness.auth.now();
    now.duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        / 30
}

/// Asserts that a notice's `Debug` text holds none of `secrets`.
#[track_caller]
fn assert_no_secret(debug: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !debug.contains(secret),
            "the notice holds a secret ({secret}): {debug}"
        );
    }
}

/// A password change, a reset, a second factor turned on, a recovery code used at a login and
/// in a re-authentication, the factor turned off: each hands the hook one notice for the
/// account's address, naming the account and the client, with no password, token, code or
/// secret in it.
#[tokio::test]
async fn every_change_or_use_of_a_factor_tells_the_owner_without_a_secret() {
    use http::Method;

    use crate::support::{GOOD_PW, OTHER_PW, second_factor};

    let (mut site, mut resets) = noticing_site().await;
    let email = "bob@example.com";
    site.account(email).await;
    let bob = site.harness.user(email).await.id;
    let cookie = site.session(email).await;
    let localhost: IpAddr = "127.0.0.1".parse().expect("an address");

    let fields = [("current_password", GOOD_PW), ("new_password", OTHER_PW)];
    let res = site
        .send(Method::PUT, "/profile/password", &cookie, &fields)
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    match site.mail.next().await {
        Mail::Notice {
            to,
            kind,
            user_id,
            client,
            debug,
        } => {
            assert_eq!((to.as_str(), kind.as_str()), (email, "password changed"));
            assert_eq!((user_id, client), (bob, Some(localhost)));
            assert_no_secret(&debug, &[GOOD_PW, OTHER_PW, &cookie["session_id=".len()..]]);
        }
        other => panic!("expected a notice, got {other:?}"),
    }

    let res = site
        .send(Method::POST, "/reset_password", "", &[("email", email)])
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let (_, token) = resets.next().await;
    let fields = [
        ("email", email),
        ("reset_token", token.as_str()),
        ("new_password", GOOD_PW),
    ];
    let res = site.send(Method::PUT, "/reset_password", "", &fields).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let debug = site.mail.notice_for(email, "password reset").await;
    assert_no_secret(&debug, &[GOOD_PW, OTHER_PW, &token]);

    let cookie = site.session(email).await;
    let http = &site.server.http;
    let (secret, codes) = second_factor::enable(http, &cookie, step_of(&site)).await;
    let debug = site.mail.notice_for(email, "second factor enabled").await;
    let mut secrets = vec![GOOD_PW, secret.as_str()];
    secrets.extend(codes.iter().map(String::as_str));
    assert_no_secret(&debug, &secrets);

    let fields = [
        ("email", email),
        ("password", GOOD_PW),
        ("recovery_code", codes[0].as_str()),
    ];
    let res = site.send(Method::POST, "/sessions", "", &fields).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let debug = site
        .mail
        .notice_for(email, "recovery code used (9 left)")
        .await;
    assert_no_secret(&debug, &secrets);

    let fields = [
        ("current_password", GOOD_PW),
        ("recovery_code", codes[1].as_str()),
    ];
    let res = site
        .send(Method::DELETE, "/profile/totp", &cookie, &fields)
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    // Two notices, delivered detached: in either order.
    let mut kinds = Vec::new();
    for _ in 0..2 {
        match site.mail.next().await {
            Mail::Notice {
                to, kind, debug, ..
            } if to == email => {
                assert_no_secret(&debug, &secrets);
                kinds.push(kind);
            }
            other => panic!("expected a notice for {email}, got {other:?}"),
        }
    }
    kinds.sort();
    assert_eq!(
        kinds,
        ["recovery code used (8 left)", "second factor disabled"]
    );
    site.mail.assert_nothing_more().await;
}

/// Refused attempts tell nothing: a wrong current password, a wrong reset token, a wrong
/// code, a recovery code used up.
#[tokio::test]
async fn refused_attempts_send_no_notice() {
    use http::Method;

    use crate::support::{GOOD_PW, OTHER_PW, second_factor};

    let (mut site, _resets) = noticing_site().await;
    let email = "bob@example.com";
    site.account(email).await;
    let cookie = site.session(email).await;
    let fields = [("current_password", OTHER_PW), ("new_password", OTHER_PW)];
    let res = site
        .send(Method::PUT, "/profile/password", &cookie, &fields)
        .await;
    assert!(res.status.is_client_error(), "{}", res.text());
    let fields = [
        ("email", email),
        ("reset_token", "00000000-0000-4000-8000-000000000000"),
        ("new_password", OTHER_PW),
    ];
    let res = site.send(Method::PUT, "/reset_password", "", &fields).await;
    assert!(res.status.is_client_error(), "{}", res.text());
    let secret = second_factor::begin(&site.server.http, &cookie).await;
    let wrong = crate::support::browser::totp::code_at(&secret, step_of(&site) + 40);
    let res = second_factor::confirm(&site.server.http, &cookie, &wrong).await;
    assert!(res.status.is_client_error(), "{}", res.text());
    site.mail.assert_nothing_more().await;
    let code = crate::support::browser::totp::code_at(&secret, step_of(&site));
    let res = second_factor::confirm(&site.server.http, &cookie, &code).await;
    assert_eq!(res.status, 200, "{}", res.text());
    site.mail.notice_for(email, "second factor enabled").await;
    let codes = res.json()["recovery_codes"].clone();
    let used = codes[0].as_str().expect("a code");
    let fields = [
        ("email", email),
        ("password", GOOD_PW),
        ("recovery_code", used),
    ];
    let res = site.send(Method::POST, "/sessions", "", &fields).await;
    assert_eq!(res.status, 200, "{}", res.text());
    site.mail
        .notice_for(email, "recovery code used (9 left)")
        .await;
    let res = site.send(Method::POST, "/sessions", "", &fields).await;
    assert!(res.status.is_client_error(), "{}", res.text());
    site.mail.assert_nothing_more().await;
}

/// A mailer that takes 3 s and then fails: the password change and the reset are answered
/// at once, and succeed.
#[tokio::test]
async fn a_slow_failing_mailer_neither_slows_nor_fails_the_request() {
    use std::time::Instant;

    use crate::support::{GOOD_PW, Harness, OTHER_PW, hardened_config, serve_echo};

    let slow = |_: &str, _: &hook::Mail| -> Result<(), BoxError> {
        std::thread::sleep(Duration::from_secs(3));
        Err("the mail server is down".into())
    };
    let (resets_mailer, mut resets) = crate::support::Inbox::mailer();
    let config = hardened_config().with_mailer(crate::support::split_mail(resets_mailer, slow));
    let harness = Harness::new(config);
    let server = serve_echo(&harness.auth).await;
    let http = &server.http;
    let email = "bob@example.com";
    harness.registered(email, GOOD_PW).await;
    let login = harness.login(email, GOOD_PW).await;
    let cookie = login.session_cookie_header().expect("logged in");
    for round in 0..3 {
        let (from, to) = if round % 2 == 0 {
            (GOOD_PW, OTHER_PW)
        } else {
            (OTHER_PW, GOOD_PW)
        };
        let fields = [("current_password", from), ("new_password", to)];
        let started = Instant::now();
        let res = http
            .send_form(
                http::Method::PUT,
                "/profile/password",
                &cookie,
                &[],
                &fields,
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a password change waited for the mailer: {:?}",
            started.elapsed()
        );
    }
    let res = harness.request_reset(email).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let (_, token) = resets.next().await;
    let started = Instant::now();
    let res = harness.reset(email, &token, GOOD_PW).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a reset waited for the mailer: {:?}",
        started.elapsed()
    );
}
