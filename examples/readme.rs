//! The README's tower snippet: any hyper/tower app behind `AuthLayer`, served by the crate's
//! hardened accept loop (`tower_user_auth::serve`: header (20 s) and idle (60 s) timeouts,
//! connection caps (256 per client, 10,000 in all), each request's client address for
//! throttling, graceful shutdown on Ctrl-C).
//!
//! Try it:
//!
//! ```text
//! cargo run --example readme                      # on http://127.0.0.1:3000, file auth.redb
//! curl localhost:3000/                            # hello stranger
//! curl -d email=ann@example.com -d password='correct horse battery staple' localhost:3000/users
//! curl -c jar -d email=ann@example.com -d password='correct horse battery staple' localhost:3000/sessions
//! curl -b jar localhost:3000/                     # hello ann@example.com
//! curl -b jar -X DELETE localhost:3000/sessions   # log out
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use tower::ServiceBuilder;
use tower_user_auth::{Auth, AuthConfig, AuthLayer, AuthenticatedUser, serve::Server};

async fn app(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let user = req.extensions().get::<AuthenticatedUser>();
    let who = user.map_or("stranger", |user| user.email.as_str());
    let body = format!("hello {who}");
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth = Auth::open("auth.redb", AuthConfig::default())?; // the hardened profile
    let service = ServiceBuilder::new()
        .layer(AuthLayer::new(auth))
        .service_fn(app);
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    Server::bind("127.0.0.1:3000")
        .await?
        .serve(service, ctrl_c)
        .await;
    Ok(())
}
