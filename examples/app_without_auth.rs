//! The demo's app and server without `AuthLayer`: the baseline of the pass-through benchmark
//! (`PASS_PATH=/me ../shared/bench/bench.sh`). Reads `HOST` and `PORT` as the demo does.

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
