//! The auth routes: a request → its [`Route`] → an [`Auth`] call → a response: JSON for an API
//! client, a redirect for a browser (`browser`).

mod accounts;
mod browser;
mod confirmation;
mod deletion;
mod email_change;
mod email_tokens;
mod matching;
mod reset;
mod second_factor;
mod sessions;

use std::net::IpAddr;

use http::{Method, Request, request::Parts};
use http_body::Body;

pub(crate) use self::matching::{Resource, Route, match_resource};
use super::{
    client,
    cookie::{self, SessionCookie},
    csrf,
    deadline::Deadline,
    extract::{self, Fields},
    negotiate::prefers_html,
    response::{OwnResponse, Rejection},
};
use crate::{BoxError, auth::Auth, store::Store};

/// What the layer was asked to answer.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    /// A route, by path and method.
    Route(Route),
    /// An HTML form's `POST` to a resource that serves `PUT` or `DELETE`: the route is known
    /// once the body's `_method` field is read.
    Form(Resource),
}

/// What every route is given.
pub(super) struct Call<'a, S> {
    pub(super) auth: &'a Auth<S>,
    pub(super) cookie: &'a SessionCookie,
    pub(super) client: Option<IpAddr>,
    pub(super) request: &'a Parts,
    pub(super) fields: &'a Fields,
}

/// A route's result: its JSON answer or its refusal.
type Answer = Result<OwnResponse, Rejection>;

/// Answers an auth route. Never fails: every refusal is a response.
pub(crate) async fn handle<S, B>(auth: Auth<S>, target: Target, req: Request<B>) -> OwnResponse
where
    S: Store,
    B: Body,
    B::Error: Into<BoxError>,
{
    let config = auth.config();
    let client = client::client_ip(&req, &config.trusted_proxies);
    if csrf::is_state_changing(req.method())
        && csrf::is_cross_site(req.headers(), req.uri(), &config.allowed_origins)
    {
        tracing::warn!(target: "tower_user_auth::audit", event = "cross_site_refused", client = %client.map_or_else(|| "-".to_owned(), |c| c.to_string()));
        return Rejection::cross_site().into_response();
    }
    let cookie = cookie::session_cookie(req.headers(), config.cookie_name());
    let (request, body) = req.into_parts();
    let body = Deadline::new(body, config.body_timeout);
    let (route, fields) = match target {
        Target::Route(route) => {
            let fields = match read_fields(&auth, route, &cookie, &request, body).await {
                Ok(fields) => fields,
                Err(refusal) => return answer(&auth, route, &request, None, Err(refusal)),
            };
            (route, fields)
        }
        Target::Form(resource) => {
            let fields = match extract::fields(&request.headers, body, config.body_limit).await {
                Ok(fields) => fields,
                Err(refusal) => {
                    let route = resource.form_route();
                    return answer(&auth, route, &request, None, Err(refusal));
                }
            };
            let method = match fields.method_override() {
                Ok(method) => method,
                Err(refusal) => {
                    let route = resource.form_route();
                    return answer(&auth, route, &request, None, Err(refusal));
                }
            };
            // `_method=PATCH` (no resource serves it): 405, as a PATCH itself would get.
            let unknown = |()| resource.route(&Method::PATCH).err().unwrap_or_default();
            match method.map_err(unknown).and_then(|m| resource.route(&m)) {
                Ok(route) => (route, fields),
                Err(allow) => return Rejection::method_not_allowed(allow).into_response(),
            }
        }
    };
    let call = Call {
        auth: &auth,
        cookie: &cookie,
        client,
        request: &request,
        fields: &fields,
    };
    // The profile read is the hot route: its future is awaited in place. The others read a
    // body and hash passwords; their larger futures are boxed, which keeps this one small.
    let result = match route {
        Route::Profile => accounts::profile(&call).await,
        Route::Register => Box::pin(accounts::register(&call)).await,
        Route::ChangePassword => Box::pin(accounts::change_password(&call)).await,
        Route::LogIn => Box::pin(sessions::log_in(&call)).await,
        Route::LogOut => Box::pin(sessions::log_out(&call)).await,
        Route::ListSessions => Box::pin(sessions::list(&call)).await,
        Route::EndAllSessions => Box::pin(sessions::end_all(&call)).await,
        Route::EndSession(id) => Box::pin(sessions::end_one(&call, id)).await,
        Route::RequestReset => Box::pin(reset::request(&call)).await,
        Route::Reset => Box::pin(reset::reset(&call)).await,
        Route::ConfirmEmail => Box::pin(confirmation::confirm_email(&call)).await,
        Route::ResendConfirmation => Box::pin(confirmation::resend_confirmation(&call)).await,
        Route::ChangeEmail => Box::pin(email_change::change_email(&call)).await,
        Route::ConfirmEmailChange => Box::pin(email_change::confirm_email_change(&call)).await,
        Route::DeleteAccount => Box::pin(deletion::delete_account(&call)).await,
        Route::BeginTotp => Box::pin(second_factor::begin(&call)).await,
        Route::ConfirmTotp => Box::pin(second_factor::confirm(&call)).await,
        Route::DisableTotp => Box::pin(second_factor::disable(&call)).await,
        Route::Reauthenticate => Box::pin(sessions::step_up(&call)).await,
    };
    answer(&auth, route, &request, Some(&fields), result)
}

/// The body of a route that reads one, after the refusals that come before reading it (a
/// closed registration, a password change without a session cookie): those keep their
/// answers whatever the body.
async fn read_fields<S: Store, B>(
    auth: &Auth<S>,
    route: Route,
    cookie: &SessionCookie,
    request: &Parts,
    body: B,
) -> Result<Fields, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    match route {
        Route::Register if !auth.config().registration => Err(accounts::registration_closed()),
        Route::ChangePassword if !matches!(cookie, SessionCookie::Token(_)) => {
            Err(sessions::no_session(auth, cookie))
        }
        Route::Register
        | Route::LogIn
        | Route::ChangePassword
        | Route::RequestReset
        | Route::Reset
        | Route::ConfirmEmail
        | Route::ResendConfirmation
        | Route::ChangeEmail
        | Route::ConfirmEmailChange
        | Route::DeleteAccount
        | Route::BeginTotp
        | Route::ConfirmTotp
        | Route::DisableTotp
        | Route::Reauthenticate => {
            extract::fields(&request.headers, body, auth.config().body_limit).await
        }
        Route::LogOut
        | Route::ListSessions
        | Route::EndAllSessions
        | Route::EndSession(_)
        | Route::Profile => Ok(Fields::default()),
    }
}

/// The answer to the client: JSON as the route gave it, or for a browser a redirect.
/// `fields` are the form's, when it was read.
fn answer<S: Store>(
    auth: &Auth<S>,
    route: Route,
    request: &Parts,
    fields: Option<&Fields>,
    result: Answer,
) -> OwnResponse {
    // The JSON answers of the data routes stand for every client: the browser check is
    // skipped on the hot path.
    let data = route.answers_with_data() && result.is_ok();
    if data || !prefers_html(&request.headers) {
        return match result {
            Ok(mut res) => {
                res.extensions_mut().remove::<browser::IssuedReset>();
                res
            }
            Err(refusal) => refusal.into_response(),
        };
    }
    // Where to go on success: the form's `next` field, else its action's `next` parameter.
    let next = match fields.map(|f| f.optional("next")) {
        Some(Ok(Some(next))) => Some(next.to_owned()),
        _ => query_next(request),
    };
    browser::answer(auth.config(), route, request, next.as_deref(), result)
}

/// The `next` query parameter of the request target (a form's `action="/sessions?next=..."`).
fn query_next(request: &Parts) -> Option<String> {
    let query = request.uri.query()?;
    query.split('&').find_map(|pair| {
        let value = pair.strip_prefix("next=")?;
        let value = value.replace('+', " ");
        percent_encoding::percent_decode_str(&value)
            .decode_utf8()
            .ok()
            .map(|v| v.into_owned())
    })
}
