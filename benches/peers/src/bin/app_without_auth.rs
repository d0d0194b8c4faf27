//! The demo's own app and server (`examples/common`, `tower_user_auth::serve::Server`) with no
//! `AuthLayer`: the baseline of the pass-through scenario of `benches/load.sh`. Its `GET /me`
//! answers 401, since no layer injects a user: the figure is the cost of the same app and
//! server, minus the layer.
//!
//! Reads `HOST` (127.0.0.1) and `PORT` (5000), as the demo does.

#[path = "../../../../examples/common/mod.rs"]
mod common;

use tower::service_fn;
use tower_user_auth::serve::Server;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5000);
    let server = Server::bind((host.as_str(), port)).await?;
    let shutdown = common::shutdown_signal();
    println!("listening on http://{}", server.local_addr()?);
    server.serve(service_fn(common::app), shutdown).await;
    Ok(())
}
