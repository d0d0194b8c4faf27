//! The browser form flow: an auth route's answer to a browser is a `303 See Other` to one of
//! the app's [`Pages`] instead of JSON: where the form succeeded to, or back to the form
//! with a short error code.

use http::{HeaderValue, header, request::Parts};

use super::Route;
use crate::{
    config::{AuthConfig, Pages},
    http::{
        redirect::{safe_next, see_other, with_query},
        response::{OwnResponse, Rejection},
    },
    token::ResetToken,
};

/// The code of a refusal for want of a live session: the browser is sent to log in.
pub(super) const NO_SESSION: &str = "no_session";

/// A reset token issued for the answer (where tokens go back in the answer), with the email
/// it was asked for: carried from the route to this module in the response's extensions.
#[derive(Clone, Debug)]
pub(super) struct IssuedReset {
    pub(super) email: String,
    pub(super) token: ResetToken,
}

/// The answer to a browser: `result` (the route's JSON answer, or its refusal) turned into a
/// redirect. `next` is where the form asked to go on success (checked here).
pub(super) fn answer(
    config: &AuthConfig,
    route: Route,
    request: &Parts,
    next: Option<&str>,
    result: Result<OwnResponse, Rejection>,
) -> OwnResponse {
    let next = next.and_then(safe_next);
    match result {
        // Data, not a form: the JSON answer stands.
        Ok(res) if route.answers_with_data() => res,
        Ok(res) => succeeded(config, route, next, res),
        Err(refusal) if refusal.code == NO_SESSION => to_log_in(config, request, refusal),
        Err(refusal) => failed(config.pages(), route, next, refusal),
    }
}

/// A form that succeeded: to `next`, or to the route's page, with the answer's cookies.
fn succeeded(
    config: &AuthConfig,
    route: Route,
    next: Option<&str>,
    mut res: OwnResponse,
) -> OwnResponse {
    let pages = config.pages();
    let issued = res.extensions_mut().remove::<IssuedReset>();
    let location = match (route, next) {
        // Not logged in yet: to the login form, `next` kept for it.
        (Route::Register, _) => query(&pages.login, &[("notice", "registered")], next),
        // The token goes back in the answer (compatibility profile): to the form that uses it.
        (Route::RequestReset, _) if issued.is_some() => {
            let issued = issued
                .as_ref()
                .map_or(("", ""), |i| (i.email.as_str(), i.token.expose()));
            with_query(
                &pages.new_password,
                &[("email", issued.0), ("token", issued.1)],
            )
        }
        (_, Some(next)) => next.to_owned(),
        (Route::LogIn | Route::Reauthenticate, None) => pages.after_login.clone(),
        (Route::LogOut | Route::EndAllSessions, None) => config.routes().after_logout.clone(),
        // Ending the session the browser came with logs it out.
        (Route::EndSession(_), None) if res.headers().contains_key(header::SET_COOKIE) => {
            config.routes().after_logout.clone()
        }
        (Route::EndSession(_), None) => with_query(&pages.sessions, &[("notice", "session_ended")]),
        (Route::ChangePassword, None) => {
            with_query(&pages.change_password, &[("notice", "password_changed")])
        }
        (Route::RequestReset, None) => {
            with_query(&pages.forgot_password, &[("notice", "reset_sent")])
        }
        (Route::Reset, None) => with_query(&pages.login, &[("notice", "password_reset")]),
        (Route::Profile | Route::ListSessions, None) => pages.after_login.clone(),
        (Route::ConfirmEmail, None) => with_query(&pages.login, &[("notice", "email_confirmed")]),
        (Route::ResendConfirmation, None) => {
            with_query(&pages.confirm_email, &[("notice", "confirmation_sent")])
        }
        (Route::BeginTotp | Route::ConfirmTotp, None) => pages.second_factor.clone(),
        (Route::DisableTotp, None) => {
            with_query(&pages.second_factor, &[("notice", "second_factor_removed")])
        }
        (Route::ChangeEmail, None) if config.email_confirmation() => {
            with_query(&pages.change_email, &[("notice", "email_change_sent")])
        }
        (Route::ChangeEmail | Route::ConfirmEmailChange, None) => {
            with_query(&pages.change_email, &[("notice", "email_changed")])
        }
        (Route::DeleteAccount, None) => config.routes().after_logout.clone(),
    };
    let mut redirect = see_other(location_header(location));
    for cookie in res.headers().get_all(header::SET_COOKIE) {
        redirect
            .headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    redirect
}

/// A form that failed: back to it, with the refusal's code (and, for the forms that lead to
/// a session, `next` kept).
fn failed(pages: &Pages, route: Route, next: Option<&str>, refusal: Rejection) -> OwnResponse {
    let (page, keeps_next) = match route {
        Route::Register => (&pages.register, true),
        Route::LogIn => (&pages.login, true),
        Route::EndSession(_) => (&pages.sessions, false),
        Route::ChangePassword => (&pages.change_password, false),
        Route::RequestReset => (&pages.forgot_password, false),
        Route::Reset => (&pages.new_password, false),
        Route::LogOut | Route::EndAllSessions | Route::Profile | Route::ListSessions => {
            (&pages.login, false)
        }
        Route::ConfirmEmail | Route::ResendConfirmation => (&pages.confirm_email, false),
        Route::BeginTotp | Route::ConfirmTotp | Route::DisableTotp => (&pages.second_factor, false),
        Route::ChangeEmail | Route::ConfirmEmailChange => (&pages.change_email, false),
        Route::DeleteAccount => (&pages.delete_account, false),
        Route::Reauthenticate => (&pages.reauth, true),
    };
    let next = next.filter(|_| keeps_next);
    let location = query(page, &[("error", refusal.code)], next);
    with_refusal_headers(see_other(location_header(location)), refusal)
}

/// No live session: to the login form; a `GET` asks to come back afterwards.
fn to_log_in(config: &AuthConfig, request: &Parts, refusal: Rejection) -> OwnResponse {
    let here = (request.method == http::Method::GET)
        .then(|| request.uri.path_and_query().map(|pq| pq.as_str()))
        .flatten()
        .and_then(safe_next);
    let location = query(&config.pages().login, &[], here);
    with_refusal_headers(see_other(location_header(location)), refusal)
}

/// `page` with `params`, then `next` if there is one.
fn query(page: &str, params: &[(&str, &str)], next: Option<&str>) -> String {
    let mut all = params.to_vec();
    all.extend(next.map(|next| ("next", next)));
    with_query(page, &all)
}

/// What of a refusal a redirect keeps: the cookie it clears, and that the connection closes.
fn with_refusal_headers(mut redirect: OwnResponse, refusal: Rejection) -> OwnResponse {
    if let Some(cookie) = refusal.set_cookie {
        redirect.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    if refusal.close {
        redirect
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    redirect
}

/// A `Location` value. Every part is visible ASCII (pages are checked by validation, `next` by
/// [`safe_next`], query values are percent-encoded); `/` should one ever not be.
fn location_header(location: String) -> HeaderValue {
    HeaderValue::try_from(location).unwrap_or_else(|_| HeaderValue::from_static("/"))
}
