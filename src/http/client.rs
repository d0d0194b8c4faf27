//! The client's address: the peer address the server put in the request extensions, or,
//! behind a trusted proxy, the address that proxy says it forwarded for.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, Request};
use ipnet::IpNet;

/// The address of the client's end of the connection. The server puts it in each request's
/// extensions (hyper does not do so by itself; `serve::Server` does); the layer reads it for
/// throttling and audit events. A `SocketAddr` in the extensions is read as well.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The client address of `req`: the peer address, unless the peer is a trusted proxy, in
/// which case the rightmost `X-Forwarded-For` address that is not itself a trusted proxy.
pub(crate) fn client_ip<B>(req: &Request<B>, trusted: &[IpNet]) -> Option<IpAddr> {
    let extensions = req.extensions();
    let peer = extensions
        .get::<PeerAddr>()
        .map(|p| p.0.ip())
        .or_else(|| extensions.get::<SocketAddr>().map(SocketAddr::ip))?;
    if trusted.is_empty() || !is_trusted(peer, trusted) {
        return Some(peer);
    }
    Some(forwarded_for(req.headers(), trusted).unwrap_or(peer))
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    trusted.iter().any(|net| net.contains(&ip))
}

/// Walks `X-Forwarded-For` from the right (the hop nearest to us) past trusted proxies. An
/// entry that is not an address ends the walk: what lies left of it cannot be trusted.
fn forwarded_for(headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let mut hops: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        hops.extend(value.to_str().ok()?.split(',').map(str::trim));
    }
    for hop in hops.into_iter().rev() {
        let ip = hop.parse::<IpAddr>().ok()?;
        if !is_trusted(ip, trusted) {
            return Some(ip);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(peer: &str, xff: &[&str]) -> Request<()> {
        let mut r = Request::new(());
        r.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
        for v in xff {
            r.headers_mut()
                .append("x-forwarded-for", v.parse().unwrap());
        }
        r
    }

    #[test]
    fn the_peer_is_the_client_unless_trusted() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // No trusted proxy: the header is ignored.
        assert_eq!(
            client_ip(&req("1.2.3.4:5", &["9.9.9.9"]), &[]),
            ip("1.2.3.4")
        );
        // An untrusted peer cannot claim another address.
        assert_eq!(
            client_ip(&req("1.2.3.4:5", &["9.9.9.9"]), &trusted),
            ip("1.2.3.4")
        );
        // A trusted proxy: the rightmost untrusted hop.
        assert_eq!(
            client_ip(
                &req("10.0.0.1:5", &["6.6.6.6, 7.7.7.7", "10.0.0.2"]),
                &trusted
            ),
            ip("7.7.7.7")
        );
        // Garbage ends the walk; the proxy itself is the client then.
        assert_eq!(
            client_ip(&req("10.0.0.1:5", &["nonsense"]), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(client_ip(&Request::new(()), &trusted), None);
    }
}
