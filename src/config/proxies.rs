//! The proxies whose `X-Forwarded-For` is believed, for the client's address.

use std::net::IpAddr;

use ipnet::IpNet;

use super::AuthConfig;

impl AuthConfig {
    /// Proxies whose `X-Forwarded-For` is believed: when the peer address is one of these
    /// (an address or a network such as `10.0.0.0/8`), the client address is the rightmost
    /// entry of `X-Forwarded-For` (all its headers, as one list; ports allowed) that is not
    /// a trusted proxy. When there is no such entry (no header, only trusted hops, or an
    /// entry that is not an address before one is found) the request counts as "an unknown
    /// client behind that proxy", with a throttling key of its own, never the proxy's. By
    /// default none is trusted and the peer address is the client. Replaces any earlier
    /// list; validation refuses a value that is neither an address nor a network, and a
    /// network of every address (`0.0.0.0/0`, `::/0`), behind which no client could be found.
    pub fn with_trusted_proxies<I, T>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.trusted_proxies.clear();
        self.rejected_proxies.clear();
        for proxy in proxies {
            let proxy = proxy.as_ref().trim();
            match proxy
                .parse::<IpNet>()
                .or_else(|_| proxy.parse::<IpAddr>().map(IpNet::from))
            {
                Ok(net) => self.trusted_proxies.push(net),
                Err(_) => self.rejected_proxies.push(proxy.to_owned()),
            }
        }
        self
    }

    /// The trusted proxies, as networks (an address is a network of one: `10.0.0.1/32`);
    /// values that are neither are left out (and refused by [`validate`](Self::validate)).
    ///
    /// ```
    /// use tower_user_auth::AuthConfig;
    ///
    /// let config = AuthConfig::hardened().with_trusted_proxies(["10.0.0.0/8", "::1"]);
    /// assert_eq!(config.trusted_proxies().collect::<Vec<_>>(), ["10.0.0.0/8", "::1/128"]);
    /// ```
    pub fn trusted_proxies(&self) -> impl ExactSizeIterator<Item = String> + '_ {
        self.trusted_proxies.iter().map(ToString::to_string)
    }
}
