//! `X-Forwarded-For`, `-Proto` and `-Host` for the origin.
//!
//! Runs on every proxied request. Incoming values are believed only when the peer is in
//! `server.trusted_proxies`; otherwise they are replaced by what the gateway itself saw.

use ipnet::IpNet;
use std::net::IpAddr;

/// The forwarded headers to set on the upstream request.
#[derive(Debug, PartialEq, Eq)]
pub struct Forwarded {
    pub for_chain: String,
    pub proto: String,
    pub host: String,
    /// The shopper's address as the gateway believes it (first trusted hop's client).
    pub client_ip: Option<IpAddr>,
    /// The peer is a trusted proxy (its other forwarding headers may stay).
    pub peer_trusted: bool,
}

/// Forwarding facts the gateway does not rewrite: from an untrusted peer they are
/// removed, or an origin that reads them (Spring prefers `Forwarded`) would believe a
/// client's claim about its address, host or scheme.
const FORWARDING_HEADERS: [&str; 10] = [
    "forwarded",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-forwarded-scheme",
    "x-forwarded-ssl",
    "x-original-host",
];

/// Path overrides some stacks honour (IIS, older Symfony and Zend): always removed, as
/// they would let a request name another path than the one the gateway decided on.
const PATH_OVERRIDE_HEADERS: [&str; 2] = ["x-original-url", "x-rewrite-url"];

/// The incoming headers to remove before proxying: path overrides always, other
/// forwarding facts unless the peer is trusted. One pass over the names; allocates
/// only when something is found.
///
/// `answered_here`: the request is one the gateway answers itself and never proxies
/// (under `sso_prefix`). There a trusted proxy's `X-Original-URL` is kept: it is how
/// nginx names the URL a forward-auth subrequest asks about.
pub fn unbelieved_headers(headers: &http::HeaderMap, peer_trusted: bool, answered_here: bool) -> Vec<http::HeaderName> {
    let keep_overrides = peer_trusted && answered_here;
    let mut found = Vec::new();
    for name in headers.keys() {
        let n = name.as_str();
        let drop = (!keep_overrides && PATH_OVERRIDE_HEADERS.contains(&n))
            || (!peer_trusted && FORWARDING_HEADERS.contains(&n));
        if drop && !found.contains(name) {
            found.push(name.clone());
        }
    }
    found
}

/// Trusted proxy ranges, built at start-up.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// What arrived with the request.
#[derive(Debug, Default)]
pub struct Incoming<'a> {
    pub peer: Option<IpAddr>,
    pub x_forwarded_for: Option<&'a str>,
    pub x_forwarded_proto: Option<&'a str>,
    pub x_forwarded_host: Option<&'a str>,
    pub host: Option<&'a str>,
    /// Scheme of the connection to the gateway.
    pub scheme: &'a str,
}

impl TrustedProxies {
    pub fn new(ranges: Vec<IpNet>) -> Self {
        TrustedProxies(ranges)
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// [`Self::decide`] from a request's headers: every line of `X-Forwarded-For`,
    /// the first of `-Proto` and `-Host`.
    pub fn decide_for(
        &self,
        headers: &http::HeaderMap,
        peer: Option<IpAddr>,
        host: Option<&str>,
        scheme: &str,
    ) -> Forwarded {
        if !peer.is_some_and(|p| self.trusts(p)) {
            // An untrusted peer's forwarding headers are not read at all (this is
            // every request of a gateway no proxy stands in front of).
            return self.decide(&Incoming {
                peer,
                host,
                scheme,
                ..Incoming::default()
            });
        }
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let chain = joined(headers, "x-forwarded-for");
        self.decide(&Incoming {
            peer,
            x_forwarded_for: chain.as_deref(),
            x_forwarded_proto: get("x-forwarded-proto"),
            x_forwarded_host: get("x-forwarded-host"),
            host,
            scheme,
        })
    }

    pub fn decide(&self, req: &Incoming<'_>) -> Forwarded {
        let peer = req.peer.map(canonical);
        let trusted = peer.is_some_and(|p| self.trusts(p));
        let peer_text = peer.map(address_text).unwrap_or_default();
        if trusted {
            let for_chain = match clean(req.x_forwarded_for) {
                Some(chain) => format!("{chain}, {peer_text}"),
                None => peer_text,
            };
            Forwarded {
                client_ip: self.client_ip(&for_chain),
                peer_trusted: true,
                for_chain,
                proto: clean(req.x_forwarded_proto).unwrap_or(req.scheme).to_string(),
                host: clean(req.x_forwarded_host).or(req.host).unwrap_or_default().to_string(),
            }
        } else {
            Forwarded {
                for_chain: peer_text,
                proto: req.scheme.to_string(),
                host: req.host.unwrap_or_default().to_string(),
                client_ip: peer,
                peer_trusted: false,
            }
        }
    }

    /// The right-most address in the chain that is not a trusted proxy.
    fn client_ip(&self, chain: &str) -> Option<IpAddr> {
        let mut last = None;
        for hop in chain.rsplit(',') {
            // A hop that is not an address ends the walk: the nearest one that was is kept.
            let Ok(ip) = hop.trim().parse::<IpAddr>() else { break };
            last = Some(canonical(ip));
            if !self.trusts(ip) {
                break;
            }
        }
        last
    }
}

/// Every line of a header joined with `, ` (a list header may be split across
/// lines, and the right-most entry of the last line is the nearest hop).
pub fn joined<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    let mut values = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
    let first = values.next()?;
    match values.next() {
        None => Some(std::borrow::Cow::Borrowed(first)),
        Some(second) => {
            let mut all = format!("{first}, {second}");
            for v in values {
                all.push_str(", ");
                all.push_str(v);
            }
            Some(std::borrow::Cow::Owned(all))
        }
    }
}

/// A header value worth believing: trimmed, non-empty, ASCII.
fn clean(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty() && v.is_ascii())
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
/// An address as text: IPv4 written octet by octet (this runs on every request;
/// `Display` goes through the formatter once per octet), IPv6 by `Display`.
pub fn address_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text.push('.');
                }
                if octet >= 100 {
                    text.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    text.push(char::from(b'0' + octet / 10 % 10));
                }
                text.push(char::from(b'0' + octet % 10));
            }
            text
        }
        IpAddr::V6(v6) => v6.to_string(),
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "9.10.99.100",
            "127.0.0.1",
            "255.255.255.255",
            "10.1.20.200",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = text.parse().expect("address");
            assert_eq!(address_text(ip), ip.to_string());
        }
        for octet in 0..=255u8 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::new(octet, 0, octet, 1));
            assert_eq!(address_text(ip), ip.to_string());
        }
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(vec!["10.0.0.0/8".parse().expect("cidr")])
    }

    #[test]
    fn untrusted_peers_cannot_forge_forwarded_headers() {
        let f = proxies().decide(&Incoming {
            peer: Some("203.0.113.9".parse().expect("ip")),
            x_forwarded_for: Some("1.2.3.4"),
            x_forwarded_proto: Some("https"),
            x_forwarded_host: Some("evil.example"),
            host: Some("shop.localhost:8080"),
            scheme: "http",
        });
        assert_eq!(f.for_chain, "203.0.113.9");
        assert_eq!(f.proto, "http");
        assert_eq!(f.host, "shop.localhost:8080");
        assert_eq!(f.client_ip, Some("203.0.113.9".parse().expect("ip")));
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop_across_every_line() {
        let mut h = http::HeaderMap::new();
        h.append("x-forwarded-for", http::HeaderValue::from_static("6.6.6.6"));
        h.append(
            "x-forwarded-for",
            http::HeaderValue::from_static("198.51.100.7, 10.0.0.2"),
        );
        let chain = joined(&h, "x-forwarded-for").expect("joined");
        assert_eq!(chain, "6.6.6.6, 198.51.100.7, 10.0.0.2");
        let f = proxies().decide(&Incoming {
            peer: Some("10.0.0.1".parse().expect("ip")),
            x_forwarded_for: Some(&chain),
            ..Incoming::default()
        });
        assert_eq!(f.client_ip, Some("198.51.100.7".parse().expect("ip")));
        // Garbage to the left of the trusted hops does not hide the client.
        let f = proxies().decide(&Incoming {
            peer: Some("10.0.0.1".parse().expect("ip")),
            x_forwarded_for: Some("unknown, 10.0.0.2"),
            ..Incoming::default()
        });
        assert_eq!(f.client_ip, Some("10.0.0.2".parse().expect("ip")));
    }

    #[test]
    fn forwarding_claims_of_untrusted_peers_are_dropped() {
        let mut h = http::HeaderMap::new();
        for name in ["forwarded", "x-real-ip", "x-original-url", "accept"] {
            h.insert(http::HeaderName::from_static(name), http::HeaderValue::from_static("v"));
        }
        let names = |v: Vec<http::HeaderName>| v.iter().map(|n| n.as_str().to_string()).collect::<Vec<_>>();
        assert_eq!(
            names(unbelieved_headers(&h, false, false)),
            vec!["forwarded", "x-real-ip", "x-original-url"]
        );
        assert_eq!(names(unbelieved_headers(&h, true, false)), vec!["x-original-url"]);
        // A request the gateway answers itself keeps a trusted proxy's X-Original-URL
        // (forward-auth), and only a trusted proxy's.
        assert!(unbelieved_headers(&h, true, true).is_empty());
        assert_eq!(
            names(unbelieved_headers(&h, false, true)),
            vec!["forwarded", "x-real-ip", "x-original-url"]
        );
    }

    #[test]
    fn trusted_peers_extend_the_chain() {
        let f = proxies().decide(&Incoming {
            peer: Some("::ffff:10.1.2.3".parse().expect("ip")),
            x_forwarded_for: Some("198.51.100.7, 10.9.9.9"),
            x_forwarded_proto: Some("https"),
            x_forwarded_host: Some("shop.example"),
            host: Some("internal:8080"),
            scheme: "http",
        });
        assert_eq!(f.for_chain, "198.51.100.7, 10.9.9.9, 10.1.2.3");
        assert_eq!(f.proto, "https");
        assert_eq!(f.host, "shop.example");
        assert_eq!(f.client_ip, Some("198.51.100.7".parse().expect("ip")));
    }
}
