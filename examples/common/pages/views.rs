//! The pages' HTML, as maud templates: every value interpolated is escaped.
//!
//! The ids and field names are the pages' contract with the auth routes (field names) and with
//! the browser tests (ids): change them with both.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use tower_user_auth::{
    Auth, AuthConfig, AuthenticatedUser, Profile, auth::SessionInfo, store::prelude::*,
};

use super::{
    Query,
    text::{error_message, notice_message, utc},
    with_param,
};

/// A small, plain style sheet, inline (the only thing the pages' policy allows).
const STYLE: &str = "
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #234; color: #fff; padding: .5rem 1rem; display: flex; gap: 1rem;
  align-items: center; flex-wrap: wrap; }
header a { color: #fff; }
header form { margin: 0 0 0 auto; }
main { max-width: 36rem; margin: 1.5rem auto; padding: 0 1rem; }
label { display: block; margin-top: .8rem; font-weight: 600; }
input { font: inherit; width: 100%; box-sizing: border-box; padding: .4rem; }
button { font: inherit; margin-top: 1rem; padding: .4rem 1rem; cursor: pointer; }
header button, li button { margin-top: 0; }
#error { background: #fde8e8; border-left: 4px solid #c00; padding: .5rem 1rem; }
#notice { background: #e8f5e9; border-left: 4px solid #2e7d32; padding: .5rem 1rem; }
ul#sessions { list-style: none; padding: 0; }
li.session { background: #fff; border: 1px solid #ddd; padding: .5rem 1rem; margin: .5rem 0; }
li.session[data-current=true] { border-color: #2e7d32; }
.hint { color: #555; font-size: .9rem; }
";

/// What every page needs: the configuration (routes, prefix, pages) and the logged-in user.
pub struct Site<'a> {
    pub(super) config: &'a AuthConfig,
    pub(super) user: Option<&'a AuthenticatedUser>,
}

impl<'a> Site<'a> {
    pub fn new<S: Store>(auth: &'a Auth<S>, user: Option<&'a AuthenticatedUser>) -> Self {
        Self {
            config: auth.config(),
            user,
        }
    }

    /// The full path of the auth route `route` (a path relative to the route prefix).
    pub(super) fn action(&self, route: &str) -> String {
        format!("{}{route}", self.config.route_prefix())
    }
}

/// A page: the header (navigation, logout), the title, the error and notice, `content`.
pub(super) fn layout(site: &Site<'_>, title: &str, query: &Query, content: Markup) -> String {
    layout_with(site, title, query, content, None)
}

/// [`layout`], with the page's script (a same-origin path) when it has one.
pub(super) fn layout_with(
    site: &Site<'_>,
    title: &str,
    query: &Query,
    content: Markup,
    script: Option<&str>,
) -> String {
    let pages = site.config.pages();
    let notice = query
        .notice
        .as_deref()
        .and_then(|code| notice_message(code, site.config.email_confirmation()));
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – tower-user-auth demo" }
                style { (PreEscaped(STYLE)) }
                @if let Some(src) = script {
                    script src=(src) defer {}
                }
            }
            body {
                header {
                    a href="/" { "Home" }
                    @if site.user.is_some() {
                        a href="/me" { "Profile" }
                        a href=(pages.sessions) { "Sessions" }
                        a href=(pages.change_password) { "Change password" }
                        @if site.config.totp() {
                            a href=(pages.second_factor) { "Second factor" }
                        }
                        @if site.config.email_change() {
                            a href=(pages.change_email) { "Change email" }
                        }
                        @if site.config.account_deletion() {
                            a href=(pages.delete_account) { "Delete account" }
                        }
                        (logout_form(site))
                    } @else {
                        a href=(pages.login) { "Log in" }
                        a href=(pages.register) { "Register" }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(code) = &query.error {
                        p id="error" role="alert" { (error_message(code)) }
                    }
                    @if let Some(notice) = notice {
                        p id="notice" role="status" { (notice) }
                    }
                    (content)
                }
            }
        }
    }
    .into_string()
}

/// The logout form: `POST {prefix}/sessions` with `_method=DELETE`.
fn logout_form(site: &Site<'_>) -> Markup {
    html! {
        form id="logout-form" method="post" action=(site.action(&site.config.routes().sessions)) {
            input type="hidden" name="_method" value="DELETE";
            button id="logout" type="submit" { "Log out" }
        }
    }
}

/// A hidden `next` field, when the page was given a safe one.
fn next_field(query: &Query) -> Markup {
    html! {
        @if let Some(next) = &query.next {
            input type="hidden" name="next" value=(next);
        }
    }
}

/// `page` with the page's `next` carried along, for the links between log in and register.
fn keeping_next(page: &str, query: &Query) -> String {
    match &query.next {
        Some(next) => with_param(page, "next", next),
        None => page.to_owned(),
    }
}

pub fn home(site: &Site<'_>, query: &Query) -> String {
    let pages = site.config.pages();
    let content = html! {
        @if let Some(user) = site.user {
            p { "Logged in as " span id="email" { (user.email) } }
            ul {
                li { a href="/me" { "Your profile" } }
                li { a href=(pages.sessions) { "Your sessions" } }
                li { a href=(pages.change_password) { "Change your password" } }
            }
        } @else {
            p { "You are not logged in." }
            ul {
                li { a id="login-link" href=(pages.login) { "Log in" } }
                li { a id="register-link" href=(pages.register) { "Create an account" } }
            }
        }
    };
    layout(site, "Welcome", query, content)
}

pub fn profile(site: &Site<'_>, query: &Query) -> String {
    let pages = site.config.pages();
    let content = html! {
        @if let Some(user) = site.user {
            dl {
                dt { "Email" }
                dd { span id="email" { (user.email) } }
                dt { "Account number" }
                dd { span id="user-id" { (user.id) } }
            }
            ul {
                li { a href=(pages.sessions) { "Your sessions" } }
                li { a href=(pages.change_password) { "Change your password" } }
                @if site.config.totp() {
                    li { a id="second-factor-link" href=(pages.second_factor) { "Your second factor" } }
                }
                @if site.config.email_change() {
                    li { a id="change-email-link" href=(pages.change_email) { "Change your email" } }
                }
                @if site.config.account_deletion() {
                    li { a id="delete-account-link" href=(pages.delete_account) { "Delete your account" } }
                }
            }
        }
    };
    layout(site, "Your profile", query, content)
}

pub fn login(site: &Site<'_>, query: &Query) -> String {
    let pages = site.config.pages();
    let content = html! {
        @if let Some(user) = site.user {
            p class="hint" { "You are already logged in as " (user.email) "." }
        }
        form id="login-form" method="post" action=(site.action(&site.config.routes().sessions)) {
            label for="email" { "Email" }
            input id="email" type="email" name="email" autocomplete="username" required;
            label for="password" { "Password" }
            input id="password" type="password" name="password" autocomplete="current-password" required;
            @if second_factor_possible(site.config) {
                (second_factor_fields(site.config.totp()))
            }
            (next_field(query))
            button id="login-submit" type="submit" { "Log in" }
        }
        p {
            a id="register-link" href=(keeping_next(&pages.register, query)) { "Create an account" }
            " · "
            a id="forgot-link" href=(pages.forgot_password) { "Forgot your password?" }
            @if site.config.email_confirmation() {
                " · "
                a id="confirm-link" href=(pages.confirm_email) { "Confirm your email" }
            }
        }
    };
    layout(site, "Log in", query, content)
}

/// Whether an account may have a second factor here: TOTP is on, or the hardened profile
/// runs without the key (TOTP off, but a factor set up earlier still asks for a recovery
/// code).
pub(super) fn second_factor_possible(config: &AuthConfig) -> bool {
    config.totp() || config.profile() == Profile::Hardened
}

/// The optional fields of a second factor: the current one-time code (when TOTP is on) or a
/// recovery code.
pub(super) fn second_factor_fields(totp: bool) -> Markup {
    html! {
        @if totp {
            label for="otp" { "One-time code " span class="hint" { "(if you set up a second factor)" } }
            input id="otp" type="text" name="otp" inputmode="numeric" autocomplete="one-time-code"
                pattern="[0-9]{6}" maxlength="6";
        }
        label for="recovery_code" { "Or a recovery code " span class="hint" { "(instead of the one-time code)" } }
        input id="recovery_code" type="text" name="recovery_code" autocomplete="off";
    }
}

/// The current password's label and field, which every form that changes the account asks for.
pub(super) fn current_password_field() -> Markup {
    html! {
        label for="current_password" { "Current password" }
        input id="current_password" type="password" name="current_password" autocomplete="current-password" required;
    }
}

/// The second factor's fields of a form that needs them unless the session is fresh, with
/// a hint saying so.
pub(super) fn code_unless_fresh(site: &Site<'_>) -> Markup {
    html! {
        p class="hint" id="code-hint" { "Your account has a second factor: give a code, unless you logged in or re-authenticated in the last few minutes." }
        (second_factor_fields(site.config.totp()))
    }
}

/// `GET /account/reauth`: re-authenticate (step up) with every factor of the account, then
/// go on to `next`, the page that asked for it.
pub fn reauth(site: &Site<'_>, query: &Query, factor_enabled: bool) -> String {
    let content = html! {
        p { "This page needs you to confirm it is you: enter your password again." }
        form id="reauth-form" method="post" action=(site.action(&site.config.routes().reauth)) {
            (current_password_field())
            @if factor_enabled {
                (second_factor_fields(site.config.totp()))
            }
            (next_field(query))
            button id="reauth-submit" type="submit" { "Confirm it is me" }
        }
    };
    layout(site, "Confirm it is you", query, content)
}

pub fn register(site: &Site<'_>, query: &Query) -> String {
    let pages = site.config.pages();
    let min = site.config.password_policy().min_chars();
    let content = html! {
        form id="register-form" method="post" action=(site.action(&site.config.routes().register)) {
            label for="email" { "Email" }
            input id="email" type="email" name="email" autocomplete="username" required;
            label for="password" { "Password" }
            input id="password" type="password" name="password" autocomplete="new-password" required;
            @if min > 1 {
                p class="hint" { "At least " (min) " characters; not a common password." }
            }
            (next_field(query))
            button id="register-submit" type="submit" { "Create the account" }
        }
        p { "Already have an account? " a id="login-link" href=(keeping_next(&pages.login, query)) { "Log in" } }
    };
    layout(site, "Create an account", query, content)
}

pub fn sessions(site: &Site<'_>, query: &Query, sessions: &[SessionInfo]) -> String {
    let routes = site.config.routes();
    let current = site.user.map(|u| u.session);
    let content = html! {
        p { "Where your account is logged in. End any session you do not recognise." }
        ul id="sessions" {
            @for s in sessions {
                @let this = Some(s.id) == current;
                @let (created, created_at) = utc(s.record.created);
                @let (seen, seen_at) = utc(s.record.last_seen);
                @let (expires, expires_at) = utc(s.record.expires);
                li class="session" data-session-id=(s.id) data-current=(this) {
                    @if this { strong class="this-device" { "This device" } }
                    dl {
                        dt { "Started" } dd { time datetime=(created_at) { (created) } }
                        dt { "Last seen" } dd { time datetime=(seen_at) { (seen) } }
                        dt { "Expires" } dd { time datetime=(expires_at) { (expires) } }
                    }
                    form method="post" action=(site.action(&format!("{}/{}", routes.sessions, s.id))) {
                        input type="hidden" name="_method" value="DELETE";
                        button class="end-session" type="submit" { "End" }
                    }
                }
            }
        }
        form id="end-all-form" method="post" action=(site.action(&routes.all_sessions)) {
            input type="hidden" name="_method" value="DELETE";
            button id="end-all" type="submit" { "End every session, this one too" }
        }
    };
    layout(site, "Your sessions", query, content)
}

/// The change-password form; with the account's second factor on, its code fields (needed
/// unless the session was authenticated within the re-authentication window).
pub fn change_password(site: &Site<'_>, query: &Query, factor_enabled: bool) -> String {
    let content = html! {
        form id="password-form" method="post" action=(site.action(&site.config.routes().password)) {
            input type="hidden" name="_method" value="PUT";
            (current_password_field())
            label for="new_password" { "New password" }
            input id="new_password" type="password" name="new_password" autocomplete="new-password" required;
            @if factor_enabled {
                (code_unless_fresh(site))
            }
            p class="hint" { "Your other sessions will be ended." }
            button id="password-submit" type="submit" { "Change the password" }
        }
    };
    layout(site, "Change your password", query, content)
}

pub fn forgot_password(site: &Site<'_>, query: &Query) -> String {
    let pages = site.config.pages();
    let content = html! {
        p { "Enter your account's email address to receive a password reset code." }
        form id="forgot-form" method="post" action=(site.action(&site.config.routes().reset_password)) {
            label for="email" { "Email" }
            input id="email" type="email" name="email" autocomplete="username" required;
            button id="forgot-submit" type="submit" { "Send a reset code" }
        }
        p { a id="new-password-link" href=(pages.new_password) { "I have a reset code" } }
    };
    layout(site, "Forgot your password?", query, content)
}

pub fn new_password(site: &Site<'_>, query: &Query) -> String {
    let content = html! {
        form id="new-password-form" method="post" action=(site.action(&site.config.routes().reset_password)) {
            input type="hidden" name="_method" value="PUT";
            label for="email" { "Email" }
            input id="email" type="email" name="email" autocomplete="username" required
                value=(query.email.as_deref().unwrap_or_default());
            label for="reset_token" { "Reset code" }
            input id="reset_token" type="text" name="reset_token" autocomplete="one-time-code" required
                value=(query.token.as_deref().unwrap_or_default());
            label for="new_password" { "New password" }
            input id="new_password" type="password" name="new_password" autocomplete="new-password" required;
            button id="new-password-submit" type="submit" { "Set the new password" }
        }
    };
    layout(site, "Choose a new password", query, content)
}

/// A page that only says something: no such page, a method pages do not answer, a failure.
pub fn plain(site: &Site<'_>, title: &str, text: &str) -> String {
    let content = html! {
        p { (text) " " a href="/" { "Go to the home page." } }
    };
    layout(site, title, &Query::default(), content)
}
