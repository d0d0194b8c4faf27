//! The demo's own app and server (`examples/common`) with no `AuthLayer`: the baseline of the
//! pass-through scenario of `benches/load.sh`. Its `GET /me` answers 401, since no layer
//! injects a user: the figure is the cost of the same app and server, minus the layer.
//!
//! Reads `HOST` (127.0.0.1) and `PORT` (5000), as the demo does.

#[path = "../../../../examples/common/mod.rs"]
mod common;

use tokio::net::TcpListener;
use tower::service_fn;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5000);
    let listener = TcpListener::bind((host.as_str(), port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    common::serve(listener, service_fn(common::app), common::shutdown_signal()).await;
    Ok(())
}
