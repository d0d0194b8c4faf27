//! The README's snippet: any hyper/tower app behind `AuthLayer`.
use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::TokioIo;
use tower::{ServiceBuilder, ServiceExt};
use tower_user_auth::{Auth, AuthConfig, AuthLayer, AuthenticatedUser, PeerAddr};

async fn app(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let who = req
        .extensions()
        .get::<AuthenticatedUser>()
        .map_or("stranger".into(), |u| u.email.clone());
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello {who}"
    )))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth = Auth::open("auth.redb", AuthConfig::default())?; // the hardened profile
    let service = ServiceBuilder::new()
        .layer(AuthLayer::new(auth))
        .service_fn(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    loop {
        let (stream, peer) = listener.accept().await?;
        let service = service.clone();
        let per_request = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(PeerAddr(peer)); // client address, for throttling
            service.clone().oneshot(req)
        });
        tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), per_request));
    }
}
