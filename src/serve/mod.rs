//! [`Server`]: a hyper accept loop that slow or greedy clients cannot hold (feature `server`,
//! on by default).
//!
//! Any tower service can sit behind [`AuthLayer`](crate::AuthLayer); this loop is the one the
//! demo and the examples serve through, with the bounds a server exposed to the Internet
//! needs:
//!
//! | bound | default | what it ends |
//! | --- | --- | --- |
//! | [header read timeout](Server::with_header_read_timeout) | 20 s | a connection that does not send a request's headers whole within it (hyper's timer runs from the moment it waits for a request, so a kept-alive connection that sends nothing is closed after it too) |
//! | [idle timeout](Server::with_idle_timeout) | 60 s | a connection on which no byte moves, either way, for that long: between requests, in a body the client stopped sending, or on an answer it stopped reading |
//! | [connections per client](Server::with_max_connections_per_client) | 256 | further connections from an address that holds that many: accepted and closed at once |
//! | [connections in total](Server::with_max_connections) | 10,000 | nothing: further connections wait in the listen backlog until one ends |
//!
//! The body of a request to an auth route has a deadline of its own, set on the layer
//! ([`AuthConfig::with_body_timeout`](crate::AuthConfig::with_body_timeout), 30 s): 408.
//! Each request gets the connection's [`PeerAddr`] in its extensions, for throttling. Behind
//! a reverse proxy every connection comes from the proxy: raise the per-client cap to the
//! total there.
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use tower::{ServiceBuilder, service_fn};
//! use tower_user_auth::{Auth, AuthConfig, AuthLayer, serve::Server};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = Auth::open("auth.redb", AuthConfig::default())?;
//! let service = ServiceBuilder::new()
//!     .layer(AuthLayer::new(auth))
//!     .service(service_fn(|_req: Request<hyper::body::Incoming>| async {
//!         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
//!     }));
//! Server::bind("127.0.0.1:3000")
//!     .await?
//!     .with_max_connections_per_client(64)
//!     .serve(service, async { let _ = tokio::signal::ctrl_c().await; })
//!     .await;
//! # Ok(()) }
//! ```

mod idle;
mod limits;

use std::{future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use http::{Request, Response};
use http_body::Body;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::{
    net::{TcpListener, ToSocketAddrs},
    sync::Semaphore,
    task::JoinSet,
};
use tower::ServiceExt;
use tower_service::Service;

use self::{
    idle::{Activity, Tracked},
    limits::PerClient,
};
use crate::{BoxError, PeerAddr};

/// The default [`Server::with_header_read_timeout`]: 20 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(20);
/// The default [`Server::with_idle_timeout`]: 60 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default [`Server::with_max_connections`]: 10,000.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// The default [`Server::with_max_connections_per_client`]: 256.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 256;
/// The default [`Server::with_shutdown_timeout`]: 30 s.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP/1 server on a bound listener: configure it, then [`serve`](Server::serve).
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    max_connections_per_client: usize,
    shutdown_timeout: Duration,
}

impl Server {
    /// Binds `addr`, with the default bounds.
    ///
    /// # Errors
    /// Why the address cannot be bound.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Ok(Self::from_listener(TcpListener::bind(addr).await?))
    }

    /// Serves on a listener bound already, with the default bounds.
    #[must_use]
    pub fn from_listener(listener: TcpListener) -> Self {
        Self {
            listener,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// The address the listener is bound to (the port picked, for port 0).
    ///
    /// # Errors
    /// As [`TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A request's headers must arrive whole within this time, or the connection is closed
    /// (default 20 s).
    #[must_use]
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// The old name of [`with_header_read_timeout`](Self::with_header_read_timeout).
    #[deprecated(since = "0.2.0", note = "renamed to `with_header_read_timeout`")]
    #[must_use]
    pub fn header_read_timeout(self, timeout: Duration) -> Self {
        self.with_header_read_timeout(timeout)
    }

    /// A connection on which no byte moves, either way, for this long is closed (default
    /// 60 s). A handler that takes longer than this before its first byte of answer needs a
    /// longer one.
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The old name of [`with_idle_timeout`](Self::with_idle_timeout).
    #[deprecated(since = "0.2.0", note = "renamed to `with_idle_timeout`")]
    #[must_use]
    pub fn idle_timeout(self, timeout: Duration) -> Self {
        self.with_idle_timeout(timeout)
    }

    /// At most this many connections at once (default 10,000; at least 1): beyond, new
    /// connections wait in the listen backlog. Each takes a file descriptor: keep it below
    /// the process's open-file limit (`ulimit -n`).
    #[must_use]
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// The old name of [`with_max_connections`](Self::with_max_connections).
    #[deprecated(since = "0.2.0", note = "renamed to `with_max_connections`")]
    #[must_use]
    pub fn max_connections(self, max: usize) -> Self {
        self.with_max_connections(max)
    }

    /// At most this many connections at once from one client address (default 256; at least
    /// 1): a connection beyond is closed as soon as it is accepted.
    #[must_use]
    pub fn with_max_connections_per_client(mut self, max: usize) -> Self {
        self.max_connections_per_client = max.max(1);
        self
    }

    /// The old name of [`with_max_connections_per_client`](Self::with_max_connections_per_client).
    #[deprecated(since = "0.2.0", note = "renamed to `with_max_connections_per_client`")]
    #[must_use]
    pub fn max_connections_per_client(self, max: usize) -> Self {
        self.with_max_connections_per_client(max)
    }

    /// Once `shutdown` completes, requests in flight have this long to finish (default 30 s).
    #[must_use]
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The old name of [`with_shutdown_timeout`](Self::with_shutdown_timeout).
    #[deprecated(since = "0.2.0", note = "renamed to `with_shutdown_timeout`")]
    #[must_use]
    pub fn shutdown_timeout(self, timeout: Duration) -> Self {
        self.with_shutdown_timeout(timeout)
    }

    /// Serves `service`, one task per connection, until `shutdown` completes; then stops
    /// accepting, lets requests in flight finish
    /// ([`Server::with_shutdown_timeout`]) and returns.
    pub async fn serve<S, B>(self, service: S, shutdown: impl Future<Output = ()>)
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let graceful = GracefulShutdown::new();
        let total = Arc::new(Semaphore::new(self.max_connections));
        let per_client = PerClient::new(self.max_connections_per_client);
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        // Every connection's task, so that none outlives `serve` (with its clone of the
        // service, and so of the store) once the shutdown timeout has passed.
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        // Logged once each time the cap is reached, not once per connection.
        let mut at_cap = false;
        loop {
            while connections.try_join_next().is_some() {}
            let full = total.available_permits() == 0;
            if full && !at_cap {
                tracing::warn!(
                    max = self.max_connections,
                    "connection cap reached: new connections wait"
                );
            }
            at_cap = full;
            let permit = tokio::select! {
                permit = Arc::clone(&total).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_closed) => break,
                },
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, most often: wait for some to be freed.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Some(slot) = per_client.enter(peer.ip()) else {
                tracing::debug!(client = %peer.ip(), "per-client connection cap reached: closed");
                continue;
            };
            let activity = Activity::new();
            let io = TokioIo::new(Tracked::new(stream, Arc::clone(&activity)));
            let service = service.clone();
            let per_request = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(PeerAddr(peer));
                service.clone().oneshot(req)
            });
            let connection = graceful.watch(http.serve_connection(io, per_request));
            let idle = self.idle_timeout;
            connections.spawn(async move {
                let _held = (permit, slot);
                tokio::select! {
                    ended = connection => if let Err(e) = ended {
                        tracing::debug!(error = %e, "connection ended with an error");
                    },
                    () = activity.idle_for(idle) => {
                        tracing::debug!(client = %peer.ip(), "idle connection closed");
                    }
                }
            });
        }
        tracing::info!("shutting down: finishing in-flight requests");
        drop(self.listener);
        if tokio::time::timeout(self.shutdown_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                timeout = ?self.shutdown_timeout,
                "some connections did not finish in time: closing them"
            );
            connections.abort_all();
        }
        while connections.join_next().await.is_some() {}
    }
}
