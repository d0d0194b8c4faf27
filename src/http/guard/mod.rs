//! [`RequireAuth`]: lets only logged-in requests through to the wrapped service;
//! [`RequireRecentAuth`]: only those whose session was authenticated recently (the rules are
//! in their docs).

/// Implements `Service` for a guard's service, a struct `$service<S>` with the wrapped service
/// in `inner` and the guard in `guard`: a request for which the guard's
/// `refusal(&Request<B>) -> Option<OwnResponse>` is `None` goes to `inner`, any other gets the
/// refusal.
macro_rules! guard_service {
    ($service:ident) => {
        impl<S, ReqBody, ResBody> ::tower_service::Service<::http::Request<ReqBody>> for $service<S>
        where
            S: ::tower_service::Service<
                    ::http::Request<ReqBody>,
                    Response = ::http::Response<ResBody>,
                >,
        {
            type Response = ::http::Response<$crate::http::body::AuthBody<ResBody>>;
            type Error = S::Error;
            type Future = $crate::http::guard::RequireAuthFuture<S::Future>;

            fn poll_ready(
                &mut self,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Result<(), Self::Error>> {
                self.inner.poll_ready(cx)
            }

            fn call(&mut self, req: ::http::Request<ReqBody>) -> Self::Future {
                match self.guard.refusal(&req) {
                    None => $crate::http::guard::RequireAuthFuture::inner(self.inner.call(req)),
                    Some(response) => $crate::http::guard::RequireAuthFuture::refused(response),
                }
            }
        }
    };
}

mod future;
mod layer;
mod recent;
mod service;

pub use self::{
    future::RequireAuthFuture,
    layer::RequireAuth,
    recent::{RequireRecentAuth, RequireRecentAuthService},
    service::RequireAuthService,
};
