//! What every site helper of the flow tests shares (the email flows' `email::Site`, the
//! second factor's `second_factor::site::Site`): the form requests sent to the site's socket
//! with a session cookie, an API client's or a browser's.

use http::Method;

use super::{AS_BROWSER, Answer, Client};

/// A site under test, served on a socket, that takes form requests.
pub trait FormSite {
    /// The client of the site's socket.
    fn http(&self) -> &Client;

    /// `method path` with the form `fields` and the `Cookie` header `cookie` (none if empty).
    async fn send(
        &self,
        method: Method,
        path: &str,
        cookie: &str,
        fields: &[(&str, &str)],
    ) -> Answer {
        self.http()
            .send_form(method, path, cookie, &[], fields)
            .await
    }

    /// A browser's HTML form submission (always a `POST`, `Accept` preferring HTML) to `path`
    /// with the form `fields` and the `Cookie` header `cookie` (none if empty).
    async fn post_as_browser(&self, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Answer {
        self.http()
            .send_form(Method::POST, path, cookie, AS_BROWSER, fields)
            .await
    }
}
