//! Picks the site for a request from its `Host` (or HTTP/2 `:authority`).
//!
//! Runs first for every storefront request. The port is ignored and the match is
//! exact and case-insensitive; a host no site lists gets no site, and the gateway
//! answers 421 without proxying.

use crate::request_path::{TargetError, TargetForm};
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
        // One trailing dot is the fully-qualified spelling of the same name; two are not.
        let lower = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
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

/// The authority of a request, checked: an absolute-form target's authority must name
/// the same host as `Host` (when both are present), and a request may carry one `Host`
/// only. `Ok(None)` when there is no authority at all.
pub fn checked_authority<'a>(
    req: &'a http::request::Parts,
    form: &TargetForm<'a>,
) -> Result<Option<&'a str>, TargetError> {
    let mut hosts = req.headers.get_all(http::header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(TargetError::AuthorityMismatch);
    }
    let host = match host {
        Some(v) => Some(v.to_str().map_err(|_| TargetError::AuthorityMismatch)?),
        None => None,
    };
    let target = match form {
        TargetForm::Absolute { authority, .. } => Some(*authority),
        _ => req.uri.authority().map(|a| a.as_str()),
    };
    match (target, host) {
        (Some(t), Some(h)) => {
            let same =
                matches!((host_without_port(t), host_without_port(h)), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
            if same {
                Ok(Some(t))
            } else {
                Err(TargetError::AuthorityMismatch)
            }
        }
        (t, h) => Ok(t.or(h)),
    }
}

/// `shop.example:8080` → `shop.example`; `[::1]:80` → `::1`. Refuses (`None`) an
/// empty name, a port that is not digits, anything after `]` but a port
/// (`[shop.example].evil.example`), and characters no host name has.
pub fn host_without_port(authority: &str) -> Option<&str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        // Brackets are for IPv6 literals only: `[shop.example]` is no host name.
        if !host.contains(':') {
            return None;
        }
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, port)) => (h, Some(port)),
            None => (authority, None),
        }
    };
    let port_ok = port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok());
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'));
    (port_ok && host_ok).then_some(host)
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
        for bad in [
            "[shop-a.localhost].evil.example",
            "[shop-a.localhost]x",
            "[shop-a.localhost]:80x",
            "shop-a.localhost:80:80",
            "shop-a.localhost:",
            "shop-a.localhost/x",
            "shop-a.localhost@evil",
            "shop-a.localhost ",
        ] {
            assert_eq!(r.route(bad), None, "{bad}");
        }
        for bad in [
            "[shop-a.localhost]",
            "[shop-a.localhost]:1",
            "shop-a.localhost:99999",
            "shop-a.localhost..",
        ] {
            assert_eq!(r.route(bad), None, "{bad}");
        }
        assert_eq!(host_without_port("[::1]:8080"), Some("::1"));
    }
}
