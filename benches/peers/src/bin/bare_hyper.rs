//! Upper bound of the load benchmark: hyper 1 on tokio answering every route with a fixed JSON
//! body, with no authentication work at all. `POST /sessions` hands out a fixed `session_id`
//! cookie so that `benches/load/scenarios.sh` can drive it like the other servers.
//!
//! Reads `PORT` (5000); listens on 127.0.0.1 only.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The fixed answer for each path: what the seed would say for the bench user.
async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    let body: &'static str = match path {
        "/" => r#"{"message":"Bienvenue"}"#,
        "/profile" => r#"{"email":"bench@example.com"}"#,
        _ => r#"{"email":"bench@example.com","message":"ok"}"#,
    };
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if path == "/sessions" {
        res.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_static("session_id=00000000-0000-4000-8000-000000000000; Path=/"),
        );
    }
    Ok(res)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5000);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            // A connection error ends that connection only.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
