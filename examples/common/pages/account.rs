//! The account pages: confirm an email (and ask for a new code), the second
//! factor (set up, confirm, recovery codes, remove), change the email, delete the account.
//! A page whose feature is off says so instead of showing a form the layer would not serve.
//!
//! The ids and field names are the pages' contract with the auth routes (field names), the
//! second factor's script (`totp.js`: ids) and the browser tests (ids): change them together.

use maud::{Markup, html};
use tower_user_auth::store::SecondFactorRecord;

use super::{
    Query, TOTP_SCRIPT_PATH,
    views::{
        Site, code_unless_fresh, current_password_field, layout, layout_with, second_factor_fields,
    },
};

/// The paragraph of a page whose feature this site has turned off.
fn not_offered(what: &str) -> Markup {
    html! {
        p id="not-offered" { (what) " is not offered on this site. " a href="/" { "Go to the home page." } }
    }
}

/// `GET /confirm` (the confirm-email page): the form that confirms an email with the code
/// sent to it (prefilled from `?token=`), and the one that asks for a new code. For a
/// `contested` account (someone else tried to register the address) the form also asks for
/// a new password, which replaces the one chosen at registration.
pub fn confirm_email(site: &Site<'_>, query: &Query, contested: bool) -> String {
    let routes = site.config.routes();
    let pages = site.config.pages();
    let content = if site.config.email_confirmation() {
        html! {
            p { "Enter the confirmation code we sent to your email address." }
            @if contested {
                p id="contested-note" {
                    "Someone else also tried to register an account with this email address, so "
                    "the password chosen at registration may not be yours: choose a new password "
                    "to confirm the account. Only the new password will open it."
                }
            }
            form id="confirm-email-form" method="post" action=(site.action(&routes.confirm_email)) {
                label for="token" { "Confirmation code" }
                input id="token" type="text" name="token" autocomplete="one-time-code" required
                    value=(query.token.as_deref().unwrap_or_default());
                @if contested {
                    label for="new-password" { "New password" }
                    input id="new-password" type="password" name="new_password"
                        autocomplete="new-password" required;
                }
                button id="confirm-email-submit" type="submit" { "Confirm my email" }
            }
            h2 { "No code?" }
            form id="resend-form" method="post" action=(site.action(&routes.resend_confirmation)) {
                label for="resend-email" { "Email" }
                input id="resend-email" type="email" name="email" autocomplete="username" required;
                button id="resend-submit" type="submit" { "Send a new code" }
            }
            p { a id="login-link" href=(pages.login) { "Log in" } }
        }
    } else {
        not_offered("Email confirmation")
    };
    layout(site, "Confirm your email", query, content)
}

/// `GET /account/email`: the change-email form (for a logged-in user; with the code fields
/// when the account's second factor is on), and, when the change
/// waits for a code sent to the new address, the form that makes it (with or without a
/// session).
pub fn change_email(site: &Site<'_>, query: &Query, factor_enabled: bool) -> String {
    let routes = site.config.routes();
    let by_token = site.config.email_confirmation();
    let content = if site.config.email_change() {
        html! {
            @if let Some(user) = site.user {
                p { "Your email address is " span id="email" { (user.email) } "." }
                form id="email-form" method="post" action=(site.action(&routes.email)) {
                    input type="hidden" name="_method" value="PUT";
                    label for="new_email" { "New email" }
                    input id="new_email" type="email" name="new_email" autocomplete="email" required;
                    (current_password_field())
                    @if factor_enabled {
                        (code_unless_fresh(site))
                    }
                    @if by_token {
                        p class="hint" { "We will send a code to the new address: the change is made once you enter it." }
                    }
                    button id="email-submit" type="submit" { "Change my email" }
                }
            } @else {
                p { a href=(site.config.pages().login) { "Log in" } " to change your email address." }
            }
            @if by_token {
                h2 { "I have a code" }
                form id="email-confirm-form" method="post" action=(site.action(&routes.email_confirm)) {
                    label for="token" { "Code sent to the new address" }
                    input id="token" type="text" name="token" autocomplete="one-time-code" required
                        value=(query.token.as_deref().unwrap_or_default());
                    button id="email-confirm-submit" type="submit" { "Make the change" }
                }
            }
        }
    } else {
        not_offered("Changing your email")
    };
    layout(site, "Change your email", query, content)
}

/// `GET /account/totp`: the second factor's state, and what can be done in it. Setting up and
/// confirming go through the page's script (`totp.js`), which posts the forms with `fetch()`
/// and shows the JSON answers (the secret, the `otpauth://` URI, the recovery codes) in the
/// sections it reveals; removing is a plain form.
pub fn second_factor(
    site: &Site<'_>,
    query: &Query,
    factor: Option<&SecondFactorRecord>,
) -> String {
    if !site.config.totp() {
        return layout(
            site,
            "Second factor",
            query,
            not_offered("A second factor (TOTP)"),
        );
    }
    let routes = site.config.routes();
    let (state, said) = match factor {
        Some(f) if f.enabled => (
            "on",
            "Your second factor is on: logging in asks for a one-time code.",
        ),
        Some(_) => (
            "pending",
            "A set-up was started but never confirmed with a code: start again below.",
        ),
        None => ("off", "Your account has no second factor."),
    };
    let enabled = factor.is_some_and(|f| f.enabled);
    let content = html! {
        p id="totp-status" data-state=(state) { (said) }
        @if enabled {
            @let left = factor.map_or(0, |f| f.recovery_codes.len());
            p class="hint" { "Recovery codes left: " span id="recovery-left" { (left) } }
            form id="totp-remove-form" method="post" action=(site.action(&routes.totp)) {
                input type="hidden" name="_method" value="DELETE";
                (current_password_field())
                (second_factor_fields(true))
                button id="totp-remove-submit" type="submit" { "Remove the second factor" }
            }
        } @else {
            noscript { p { "Setting up a second factor needs JavaScript on this page." } }
            p id="totp-error" role="alert" hidden {}
            form id="totp-setup-form" method="post" action=(site.action(&routes.totp)) {
                (current_password_field())
                button id="totp-setup-submit" type="submit" { "Set up a second factor" }
            }
            section id="totp-pending" hidden {
                h2 { "Add it to your authenticator app" }
                p { "Enter this key in your authenticator app (or open the link on the device that has the app):" }
                p { code id="totp-secret" {} }
                p { a id="totp-uri" href="#" { code id="totp-uri-text" {} } }
                form id="totp-confirm-form" method="post" action=(site.action(&routes.totp_confirm)) {
                    label for="code" { "The code your app shows now" }
                    input id="code" type="text" name="code" inputmode="numeric" autocomplete="one-time-code"
                        pattern="[0-9]{6}" maxlength="6" required;
                    button id="totp-confirm-submit" type="submit" { "Turn the second factor on" }
                }
            }
            section id="totp-enabled" hidden {
                h2 { "Your recovery codes" }
                p { "Your second factor is on. Keep these codes somewhere safe: each logs you in once without your app. They are shown only now." }
                ol id="recovery-codes" {}
                p { a id="totp-done" href=(site.config.pages().second_factor) { "Done" } }
            }
        }
    };
    layout_with(
        site,
        "Second factor",
        query,
        content,
        (!enabled).then_some(TOTP_SCRIPT_PATH),
    )
}

/// `GET /account/delete`: deleting the account, with the current password and, when the
/// factor is on, a code.
pub fn delete_account(site: &Site<'_>, query: &Query, factor_enabled: bool) -> String {
    let content = if site.config.account_deletion() {
        html! {
            p { "Deleting your account removes it with every session, token and second factor, at once. It cannot be undone." }
            form id="delete-form" method="post" action=(site.action(&site.config.routes().profile)) {
                input type="hidden" name="_method" value="DELETE";
                (current_password_field())
                @if factor_enabled {
                    (second_factor_fields(site.config.totp()))
                }
                button id="delete-submit" type="submit" { "Delete my account" }
            }
        }
    } else {
        not_offered("Deleting your account")
    };
    layout(site, "Delete your account", query, content)
}
