//! The client's address: the peer address the server put in the request extensions, or,
//! behind a trusted proxy, the address that proxy says it forwarded for.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, Request};
use ipnet::IpNet;

/// The address of the client's end of the connection. The server puts it in each request's
/// extensions (hyper does not do so by itself; see the demo); the layer reads it for
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
    use http::HeaderValue;

    use super::*;

    fn req(peer: &str, xff: &[&[u8]]) -> Request<()> {
        let mut r = Request::new(());
        r.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
        for v in xff {
            r.headers_mut()
                .append("x-forwarded-for", HeaderValue::from_bytes(v).unwrap());
        }
        r
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn trusted() -> Vec<IpNet> {
        ["10.0.0.0/8", "2001:db8:ffff:1::1/128"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect()
    }

    #[test]
    fn the_peer_is_the_client_unless_trusted() {
        // No trusted proxy: the header is ignored.
        assert_eq!(
            client_ip(&req("1.2.3.4:5", &[b"9.9.9.9"]), &[]),
            ip("1.2.3.4")
        );
        // An untrusted peer cannot claim another address.
        assert_eq!(
            client_ip(&req("1.2.3.4:5", &[b"9.9.9.9"]), &trusted()),
            ip("1.2.3.4")
        );
        // A trusted proxy: the rightmost untrusted hop.
        assert_eq!(
            client_ip(
                &req("10.0.0.1:5", &[b"6.6.6.6, 7.7.7.7", b"10.0.0.2"]),
                &trusted()
            ),
            ip("7.7.7.7")
        );
        assert_eq!(client_ip(&Request::new(()), &trusted()), None);
    }

    #[test]
    fn entries_with_ports_parse() {
        let t = trusted();
        for (xff, client) in [
            (&b"1.2.3.4:5678"[..], "1.2.3.4"),
            (b"[2001:db8::1]:443", "2001:db8::1"),
            (b"[2001:db8::1]", "2001:db8::1"),
            (b" 2001:db8::2 ", "2001:db8::2"),
            (b"1.2.3.4:5678, 10.0.0.2:80", "1.2.3.4"),
            (b"7.7.7.7, [2001:db8:ffff:1::1]:8443", "7.7.7.7"),
        ] {
            assert_eq!(
                client_ip(&req("10.0.0.1:5", &[xff]), &t),
                ip(client),
                "{}",
                String::from_utf8_lossy(xff)
            );
        }
    }

    #[test]
    fn garbage_left_of_the_client_changes_nothing() {
        let t = trusted();
        for xff in [
            &[&b"nonsense, 7.7.7.7"[..]][..],
            &[b"\xff\xfe, 7.7.7.7"],
            &[b"caf\xc3\xa9, 7.7.7.7, 10.0.0.2"],
            &[b"\xff", b"7.7.7.7"],
            &[b"1.2.3.4:99999, unknown, 7.7.7.7:1"],
            &[b",, 7.7.7.7"],
        ] {
            assert_eq!(
                client_ip(&req("10.0.0.1:5", xff), &t),
                ip("7.7.7.7"),
                "{xff:?}"
            );
        }
        // Empty list elements are no entries (RFC 9110, section 5.6.1).
        assert_eq!(
            client_ip(&req("10.0.0.1:5", &[b"7.7.7.7", b"", b" , 10.0.0.3,"]), &t),
            ip("7.7.7.7")
        );
        // Several headers are one list, in order.
        assert_eq!(
            client_ip(&req("10.0.0.1:5", &[b"7.7.7.7", b"8.8.8.8, 10.0.0.3"]), &t),
            ip("8.8.8.8")
        );
    }

    /// Without a parseable untrusted entry the client is "unknown behind this proxy": the
    /// same for every such request through one proxy, another for another proxy, and never
    /// the proxy itself (nor, for IPv6, an address of the proxy's /64, which the throttle
    /// counts as one client).
    #[test]
    fn without_an_untrusted_entry_the_client_is_unknown_behind_the_proxy() {
        let t = trusted();
        let cases: [&[&[u8]]; 6] = [
            &[],
            &[b"nonsense"],
            &[b"10.0.0.2"],
            &[b"7.7.7.7, garbage"],
            &[b"\xff"],
            &[b"[2001:db8::1"],
        ];
        let behind = |peer: &str| -> Vec<Option<IpAddr>> {
            cases
                .iter()
                .map(|xff| client_ip(&req(peer, xff), &t))
                .collect()
        };
        let v4 = behind("10.0.0.1:5");
        assert!(v4.iter().all(|c| *c == v4[0]), "{v4:?}");
        assert_ne!(v4[0], ip("10.0.0.1"));
        assert_ne!(v4[0], behind("10.0.0.2:5")[0]);
        let v6 = behind("[2001:db8:ffff:1::1]:5");
        assert!(v6.iter().all(|c| *c == v6[0]), "{v6:?}");
        let Some(IpAddr::V6(unknown)) = v6[0] else {
            panic!("{v6:?}")
        };
        assert_ne!(unknown.segments()[..4], [0x2001, 0xdb8, 0xffff, 1]);
        assert_ne!(v6[0], v4[0]);
    }
}
