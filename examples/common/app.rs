//! The demo's wrapped app, in its own file so that the tests serve the very same app
//! (`tests/it/support/app.rs` includes this file by path).

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use tower_user_auth::AuthenticatedUser;

/// Which routes [`answer`] serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routes {
    /// The demo's: `GET /` and `GET /me` (the injected user's id and email).
    Demo,
    /// The demo's, with `GET /me` also naming the session's public id, plus `POST /echo`
    /// (a state-changing app route answering as `GET /me`): what the tests check through.
    Test,
}

/// The wrapped app: the seed's `GET /`, and `GET /me`, which reads the injected user.
pub async fn app<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(answer(&req, Routes::Demo))
}

/// The app's answer to `req` on `routes`.
pub fn answer<B>(req: &Request<B>, routes: Routes) -> Response<Full<Bytes>> {
    let test = routes == Routes::Test;
    let mut res = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/") => json(
            StatusCode::OK,
            &serde_json::json!({ "message": "Bienvenue" }),
        ),
        ("GET", "/me") => me(req, test),
        ("POST", "/echo") if test => me(req, test),
        _ => json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({ "message": "not found" }),
        ),
    };
    if req.uri().path() == "/me" {
        // Account data: not for shared caches.
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    res
}

/// The injected user's id and email (and, with `with_session`, its session's public id), or
/// 401 without one.
fn me<B>(req: &Request<B>, with_session: bool) -> Response<Full<Bytes>> {
    match req.extensions().get::<AuthenticatedUser>() {
        Some(user) => {
            let mut body = serde_json::json!({ "id": user.id, "email": user.email });
            if with_session {
                body["session"] = user.session.to_string().into();
            }
            json(StatusCode::OK, &body)
        }
        None => json(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({ "message": "not logged in" }),
        ),
    }
}

/// A JSON answer.
fn json(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body.to_string())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    res
}
