//! Picks the site for a request from its `Host` (or HTTP/2 `:authority`).
//!
//! Runs first for every storefront request. The port is ignored and the match is
//! exact and case-insensitive; a host no site lists gets no site, and the gateway
//! answers 421 without proxying.

use sso_config::Config;
use std::collections::HashMap;

/// Host name → index into `Config::sites`, built once at start-up.
#[derive(Debug, Clone)]
pub struct SiteRouter {
    by_host: HashMap<String, usize>,
}

impl SiteRouter {
    pub fn from_config(config: &Config) -> Self {
        let by_host = config
            .sites
            .iter()
            .enumerate()
            .flat_map(|(i, site)| site.hosts.iter().map(move |h| (h.clone(), i)))
            .collect();
        SiteRouter { by_host }
    }

    /// The site serving `authority` (`Host` header value, `host[:port]`).
    pub fn route(&self, authority: &str) -> Option<usize> {
        let host = host_without_port(authority)?;
        if let Some(i) = self.by_host.get(host) {
            return Some(*i);
        }
        // Hosts are stored lower-case; only allocate for the rare mixed-case request.
        let lower = host.trim_end_matches('.').to_ascii_lowercase();
        self.by_host.get(&lower).copied()
    }
}

/// The authority a request asked for: the absolute-form URI or HTTP/2 `:authority`
/// first, then the `Host` header.
pub fn request_authority(req: &http::request::Parts) -> Option<&str> {
    req.uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| req.headers.get(http::header::HOST).and_then(|v| v.to_str().ok()))
}

/// `shop.example:8080` → `shop.example`; `[::1]:80` → `::1`; rejects empty names.
pub fn host_without_port(authority: &str) -> Option<&str> {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split_once(']')?.0
    } else {
        match authority.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => authority,
        }
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> SiteRouter {
        let cfg = sso_config::parse(
            r#"
[sessions]
cookie_secret = "0123456789abcdef0123456789abcdef"
[[sites]]
name = "a"
hosts = ["shop-a.localhost"]
upstreams = ["127.0.0.1:1"]
public_url = "http://shop-a.localhost"
[[sites]]
name = "b"
hosts = ["shop-b.localhost", "www.shop-b.localhost"]
upstreams = ["127.0.0.1:2"]
public_url = "http://shop-b.localhost"
"#,
            &|_| None,
        )
        .expect("config");
        SiteRouter::from_config(&cfg)
    }

    #[test]
    fn routes_by_host_ignoring_port_and_case() {
        let r = router();
        assert_eq!(r.route("shop-a.localhost"), Some(0));
        assert_eq!(r.route("shop-a.localhost:8080"), Some(0));
        assert_eq!(r.route("WWW.Shop-B.localhost:1"), Some(1));
        assert_eq!(r.route("shop-b.localhost."), Some(1));
        assert_eq!(r.route("evil.localhost"), None);
        assert_eq!(r.route(""), None);
        assert_eq!(r.route(":8080"), None);
        assert_eq!(r.route("shop-a.localhost.evil.localhost"), None);
    }
}
