//! The client's address: the peer address the server put in the request extensions, or,
//! behind a trusted proxy, the address that proxy says it forwarded for.

use std::{
    net::{IpAddr, Ipv6Addr, SocketAddr},
    sync::atomic::{AtomicBool, Ordering},
};

use http::{HeaderMap, Request};
use ipnet::IpNet;
use sha2::{Digest, Sha256};

/// The address of the client's end of the connection. The server puts it in each request's
/// extensions (hyper does not do so by itself; `serve::Server` does); the layer reads it for
/// throttling and audit events. A `SocketAddr` in the extensions is read as well, and, with
/// the feature `axum`, the `ConnectInfo<SocketAddr>` that axum's
/// `into_make_service_with_connect_info::<SocketAddr>()` puts there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The client address of `req`: the peer address, unless the peer is a trusted proxy, in
/// which case the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy, or,
/// if there is none, [the address that stands for an unknown client behind that
/// proxy](unknown_behind).
///
/// Where the request carries no address at all, the first such request of the process logs a
/// warning naming the fix ([`warn_once_without_address`]).
pub(crate) fn client_ip<B>(req: &Request<B>, trusted: &[IpNet]) -> Option<IpAddr> {
    static WARNED: AtomicBool = AtomicBool::new(false);
    let Some(peer) = peer_ip(req) else {
        warn_once_without_address(&WARNED);
        return None;
    };
    if trusted.is_empty() || !is_trusted(peer, trusted) {
        return Some(peer);
    }
    Some(forwarded_for(req.headers(), trusted).unwrap_or_else(|| unknown_behind(peer)))
}

/// The peer address in the extensions: [`PeerAddr`], a `SocketAddr`, or axum's
/// `ConnectInfo<SocketAddr>`.
fn peer_ip<B>(req: &Request<B>) -> Option<IpAddr> {
    let extensions = req.extensions();
    let peer = extensions
        .get::<PeerAddr>()
        .map(|p| p.0)
        .or_else(|| extensions.get::<SocketAddr>().copied());
    #[cfg(feature = "axum")]
    let peer = peer.or_else(|| {
        extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0)
    });
    peer.map(|p| p.ip())
}

/// Logs, the first time `warned` is seen unset, that a request came without a client address:
/// every client then shares one throttling key (an account's backoff locks its owner out from
/// anywhere) and the per-client limits never apply. Once, not per request: the cause is how
/// the server is set up, not the request.
fn warn_once_without_address(warned: &AtomicBool) {
    if !warned.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "a request reached the auth layer without a client address: throttling cannot tell \
             clients apart. Serve through `tower_user_auth::serve::Server`, insert a \
             `tower_user_auth::PeerAddr` into each request's extensions, or, with axum, serve \
             `router.into_make_service_with_connect_info::<SocketAddr>()` (feature `axum`)"
        );
    }
}

/// `ip`, an IPv4-mapped IPv6 address as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = canonical(ip);
    trusted.iter().any(|net| net.contains(&ip))
}

/// Walks `X-Forwarded-For` from the right (the hop nearest to us) past trusted proxies to the
/// first entry that is not one. Several headers are one comma-separated list, in order;
/// empty elements are no entries (RFC 9110, section 5.6.1). An entry that is not an address
/// (the value may hold any bytes) ends the walk without a client: what lies left of it was
/// written by someone unknown. What lies left of the client is never read.
fn forwarded_for(headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let entries = headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .flat_map(|value| value.as_bytes().rsplit(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|entry| !entry.is_empty());
    for entry in entries {
        let ip = parse_entry(entry)?;
        if !is_trusted(ip, trusted) {
            return Some(ip);
        }
    }
    None
}

/// An entry of `X-Forwarded-For`: an address, with or without a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`, `[2001:db8::1]`).
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    let entry = std::str::from_utf8(entry).ok()?;
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .or_else(|| {
            let bracketed = entry.strip_prefix('[')?.strip_suffix(']')?;
            bracketed.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        })
}

/// The address that stands for "an unknown client behind `proxy`", for throttling and the
/// audit log: the request came from a trusted proxy that named no client we can read.
///
/// It lies in `0100::/8`, which IANA keeps reserved (only its `100::/64` is assigned, as a
/// discard-only prefix, RFC 6666), so no real client has it; its first 64 bits, which the
/// throttle counts by, name the proxy: `100:0:a00:1::` for `10.0.0.1`, and `101:` followed
/// by 48 bits of the SHA-256 of the /64 of an IPv6 proxy. Every such request through one
/// proxy shares one key, and never the key of the proxy's own address.
fn unknown_behind(proxy: IpAddr) -> IpAddr {
    let top: [u16; 4] = match canonical(proxy) {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            [
                0x0100,
                0,
                u16::from_be_bytes([a, b]),
                u16::from_be_bytes([c, d]),
            ]
        }
        IpAddr::V6(v6) => {
            let digest = Sha256::digest(&v6.octets()[..8]);
            let word = |i: usize| u16::from_be_bytes([digest[i], digest[i + 1]]);
            [0x0101, word(0), word(2), word(4)]
        }
    };
    let mut segments = [0u16; 8];
    segments[..4].copy_from_slice(&top);
    IpAddr::V6(Ipv6Addr::from(segments))
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
    fn every_kind_of_peer_address_is_read() {
        let mut r = Request::new(());
        r.extensions_mut()
            .insert("1.2.3.4:5".parse::<SocketAddr>().unwrap());
        assert_eq!(client_ip(&r, &[]), ip("1.2.3.4"));
        // PeerAddr comes first.
        r.extensions_mut()
            .insert(PeerAddr("5.6.7.8:9".parse().unwrap()));
        assert_eq!(client_ip(&r, &[]), ip("5.6.7.8"));
    }

    #[cfg(feature = "axum")]
    #[test]
    fn axum_connect_info_is_read() {
        let mut r = Request::new(());
        r.extensions_mut().insert(axum::extract::ConnectInfo(
            "127.0.0.2:4000".parse::<SocketAddr>().unwrap(),
        ));
        assert_eq!(client_ip(&r, &[]), ip("127.0.0.2"));
        // Behind a trusted proxy, as any other peer address.
        r.headers_mut()
            .insert("x-forwarded-for", HeaderValue::from_static("7.7.7.7"));
        assert_eq!(
            client_ip(&r, &["127.0.0.0/8".parse().unwrap()]),
            ip("7.7.7.7")
        );
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
        assert_eq!(v4[0], ip("100:0:a00:1::"));
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
