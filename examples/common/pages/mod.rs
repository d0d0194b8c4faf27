//! The demo's pages: server-rendered HTML forms for a person in a browser, without
//! JavaScript but for the second factor's page (see [`TOTP_SCRIPT_PATH`]).
//!
//! Only a browser gets them: a request whose `Accept` prefers `text/html`
//! ([`prefers_html`]). Every other client keeps the JSON of [`super::app`]. The forms post to
//! the auth routes (the route prefix included), which answer a browser with `303 See Other`
//! back to these pages, with `?error=<code>` or `?notice=<code>` (the browser form-flow
//! contract of [`tower_user_auth::Pages`]).
//!
//! Where the pages are served comes from `auth.config().pages()`; `GET /` (and the
//! after-login page) is the home page and `GET /me` the profile page. A page that needs a
//! session sends a browser without one to the login page with `next` set to the page.
//!
//! Not declared in `examples/common/mod.rs`: the load benchmark's peer server includes that
//! module without this one's HTML dependencies. The demo declares it by path.

mod account;
mod text;
mod views;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tower_user_auth::{
    Auth, AuthenticatedUser, prefers_html, safe_next,
    store::{SecondFactorRecord, prelude::*},
};

/// The security headers of every page: no caching (account data), no sniffing, the origin
/// alone as referrer (the new-password page's URL holds a reset token; `no-referrer` would
/// also blank the `Origin` of the pages' own forms, which the layer's cross-site check
/// reads), and a policy that allows no script,
/// no resource from anywhere, only the inline style, and forms posting to this site only.
const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    ),
];

/// The second factor's page: the policy of the others, plus the demo's own script
/// ([`TOTP_SCRIPT_PATH`]) and its `fetch()` calls to this site. The layer answers
/// `POST /profile/totp` and `POST /profile/totp/confirm` with JSON even for a browser: a
/// secret and recovery codes are data that must not travel in a redirect's URL, so the page
/// calls them from this script and shows the answer.
const TOTP_PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
    style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Where the demo serves the second factor page's script.
pub const TOTP_SCRIPT_PATH: &str = "/static/totp.js";

/// The script itself: it posts the page's set-up and confirm forms with `fetch()` and shows
/// the secret, the `otpauth://` URI and the recovery codes (as text, never as HTML).
const TOTP_SCRIPT: &str = include_str!("totp.js");

/// What a query string component may hold as is: RFC 3986's unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The pages a browser can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Page {
    Home,
    Profile,
    Login,
    Register,
    Sessions,
    ChangePassword,
    ForgotPassword,
    NewPassword,
    ConfirmEmail,
    SecondFactor,
    ChangeEmail,
    DeleteAccount,
    Reauth,
}

impl Page {
    /// Whether the page is only for a logged-in user.
    fn needs_session(self) -> bool {
        matches!(
            self,
            Page::Profile
                | Page::Sessions
                | Page::ChangePassword
                | Page::SecondFactor
                | Page::DeleteAccount
                | Page::Reauth
        )
    }
}

/// The demo's static files, whatever the `Accept` (a script is not asked for as HTML):
/// [`TOTP_SCRIPT_PATH`]; `None` for any other request.
pub fn asset<B>(req: &Request<B>) -> Option<Response<Full<Bytes>>> {
    if req.uri().path() != TOTP_SCRIPT_PATH {
        return None;
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut res = Response::new(Full::new(Bytes::new()));
        *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(secure(res));
    }
    let mut res = Response::new(Full::new(Bytes::from_static(TOTP_SCRIPT.as_bytes())));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    Some(secure(res))
}

/// The page's answer to a browser's request; `None` for an API client, which the JSON app
/// answers.
pub async fn answer<S: Store, B>(
    auth: &Auth<S>,
    req: &Request<B>,
) -> Option<Response<Full<Bytes>>> {
    if !prefers_html(req.headers()) {
        return None;
    }
    let user = req.extensions().get::<AuthenticatedUser>();
    let site = views::Site::new(auth, user);
    let Some(page) = page_of(auth, req.uri().path()) else {
        let body = views::plain(&site, "Page not found", "There is no page here.");
        return Some(html(StatusCode::NOT_FOUND, &body));
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let body = views::plain(&site, "Not allowed", "This page can only be viewed.");
        let mut res = html(StatusCode::METHOD_NOT_ALLOWED, &body);
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(res);
    }
    if page.needs_session() && user.is_none() {
        let here = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let login = with_param(&auth.config().pages().login, "next", here);
        return Some(see_other(&login));
    }
    let query = Query::parse(req.uri().query());
    // The forms that ask for a code when the account's factor is on.
    let asks_for_code = matches!(
        page,
        Page::ChangePassword | Page::ChangeEmail | Page::Reauth
    );
    let factor_enabled =
        match user.filter(|_| asks_for_code && views::second_factor_possible(auth.config())) {
            Some(user) => match second_factor_of(auth, user).await {
                Ok(factor) => factor.is_some_and(|f| f.enabled),
                Err(res) => return Some(res),
            },
            None => false,
        };
    let body = match page {
        Page::Home => views::home(&site, &query),
        Page::Profile => views::profile(&site, &query),
        Page::Login => views::login(&site, &query),
        Page::Register => views::register(&site, &query),
        Page::ChangePassword => views::change_password(&site, &query, factor_enabled),
        Page::Reauth => views::reauth(&site, &query, factor_enabled),
        Page::ForgotPassword => views::forgot_password(&site, &query),
        Page::NewPassword => views::new_password(&site, &query),
        Page::ConfirmEmail => {
            let contested = confirmation_needs_new_password(auth, &query).await;
            account::confirm_email(&site, &query, contested)
        }
        Page::ChangeEmail => account::change_email(&site, &query, factor_enabled),
        Page::SecondFactor | Page::DeleteAccount => {
            let user = user.expect("checked above");
            // Read only where the page shows a form that depends on it.
            let config = auth.config();
            let offered = if page == Page::DeleteAccount {
                config.account_deletion()
            } else {
                config.totp()
            };
            let factor = if offered {
                match second_factor_of(auth, user).await {
                    Ok(factor) => factor,
                    Err(res) => return Some(res),
                }
            } else {
                None
            };
            let enabled = factor.as_ref().is_some_and(|f| f.enabled);
            if page == Page::DeleteAccount {
                account::delete_account(&site, &query, enabled)
            } else {
                let mut res = html(
                    StatusCode::OK,
                    &account::second_factor(&site, &query, factor.as_ref()),
                );
                res.headers_mut().insert(
                    "content-security-policy",
                    HeaderValue::from_static(TOTP_PAGE_POLICY),
                );
                return Some(res);
            }
        }
        Page::Sessions => {
            let user = user.expect("checked above");
            match auth.sessions_of(user.id).await {
                Ok(sessions) => views::sessions(&site, &query, &sessions),
                Err(e) => {
                    tracing::error!(error = %e, "cannot list the sessions");
                    return Some(went_wrong(&site));
                }
            }
        }
    };
    Some(html(StatusCode::OK, &body))
}

/// The user's second factor (pending or enabled), or the error page.
async fn second_factor_of<S: Store>(
    auth: &Auth<S>,
    user: &AuthenticatedUser,
) -> Result<Option<SecondFactorRecord>, Response<Full<Bytes>>> {
    auth.store().second_factor(user.id).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read the second factor");
        went_wrong(&views::Site::new(auth, Some(user)))
    })
}

/// The page of a failure on the demo's side (500).
fn went_wrong(site: &views::Site<'_>) -> Response<Full<Bytes>> {
    let body = views::plain(
        site,
        "Something went wrong",
        "Something went wrong on our side. Please try again later.",
    );
    html(StatusCode::INTERNAL_SERVER_ERROR, &body)
}

/// The page served at `path`: the configured pages (their path, without a query), `/` and
/// `/me`.
fn page_of<S: Store>(auth: &Auth<S>, path: &str) -> Option<Page> {
    let pages = auth.config().pages();
    let configured = [
        (&pages.login, Page::Login),
        (&pages.register, Page::Register),
        (&pages.sessions, Page::Sessions),
        (&pages.change_password, Page::ChangePassword),
        (&pages.forgot_password, Page::ForgotPassword),
        (&pages.new_password, Page::NewPassword),
        (&pages.confirm_email, Page::ConfirmEmail),
        (&pages.second_factor, Page::SecondFactor),
        (&pages.change_email, Page::ChangeEmail),
        (&pages.delete_account, Page::DeleteAccount),
        (&pages.reauth, Page::Reauth),
        (&pages.after_login, Page::Home),
    ];
    let same = |page: &str| {
        // A page configured as an absolute URL is another site's: not served here.
        let page_path = page.split('?').next().unwrap_or_default();
        page_path.starts_with('/') && page_path == path
    };
    configured
        .into_iter()
        .find(|(page, _)| same(page))
        .map(|(_, page)| page)
        .or(match path {
            "/" => Some(Page::Home),
            "/me" => Some(Page::Profile),
            _ => None,
        })
}

/// Whether the confirm page asks for a new password: its token (from the mail's link) is a
/// contested account's, or the confirmation it posted came back asking for one. A failed
/// look-up is logged and asks for nothing (the confirmation itself will say).
async fn confirmation_needs_new_password<S: Store>(auth: &Auth<S>, query: &Query) -> bool {
    if query.error.as_deref() == Some("new_password_required") {
        return true;
    }
    let Some(token) = query.token.as_deref() else {
        return false;
    };
    auth.confirmation_needs_new_password(token)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read a confirmation token");
            false
        })
}

/// The query parameters the pages read. Repeated parameters: the first counts.
#[derive(Debug, Default)]
pub struct Query {
    /// An error code, shown as a message (never as it is).
    pub error: Option<String>,
    /// A notice code, shown as a message (never as it is).
    pub notice: Option<String>,
    /// Where to go after logging in or registering, kept only if `safe_next` accepts it.
    pub next: Option<String>,
    /// The new-password page's prefilled email.
    pub email: Option<String>,
    /// The new-password page's prefilled reset token; the confirm-email page's token.
    pub token: Option<String>,
}

impl Query {
    fn parse(query: Option<&str>) -> Self {
        let mut q = Self::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match key.as_ref() {
                "error" => &mut q.error,
                "notice" => &mut q.notice,
                "next" => &mut q.next,
                "email" => &mut q.email,
                "token" => &mut q.token,
                _ => continue,
            };
            if slot.is_none() && !value.is_empty() {
                *slot = Some(value.into_owned());
            }
        }
        q.next = q.next.filter(|next| safe_next(next).is_some());
        q
    }
}

/// `base` with the query parameter `key=value` added (percent-encoded).
pub fn with_param(base: &str, key: &str, value: &str) -> String {
    let join = if base.contains('?') { '&' } else { '?' };
    format!(
        "{base}{join}{key}={}",
        utf8_percent_encode(value, COMPONENT)
    )
}

/// A page: HTML, with the security headers.
fn html(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body.to_owned())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(res)
}

/// `303 See Other` to `location`, with the security headers.
fn see_other(location: &str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::SEE_OTHER;
    // The configured page is visible ASCII (validated) and the `next` percent-encoded.
    if let Ok(value) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    secure(res)
}

fn secure(mut res: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    for (name, value) in SECURITY_HEADERS {
        res.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    res
}
