//! Small validated value types: secrets, durations, upstream addresses, URL paths,
//! the CORS preflight choice.

use crate::errors::Errors;
use std::fmt;
use std::time::Duration;

/// A secret from the configuration (cookie secret, client secret). Its `Debug` and
/// `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Parses `30m`, `12h`, `1h 30m`, `500ms`; a bare number is rejected so units are explicit.
pub fn parse_duration(errors: &mut Errors, path: &str, raw: Option<&str>, default: Duration) -> Duration {
    let Some(raw) = raw else { return default };
    match humantime::parse_duration(raw.trim()) {
        Ok(d) if d.is_zero() => {
            errors.push(path, format!("{raw:?} must be longer than zero"));
            default
        }
        Ok(d) => d,
        Err(_) => {
            errors.push(
                path,
                format!("{raw:?} is not a duration (write it like \"30s\", \"30m\", \"12h\")"),
            );
            default
        }
    }
}

/// `cors_preflight` on a `login` or `api` route: what a CORS preflight gets there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CorsPreflight {
    /// It goes to the origin, which owns its CORS policy.
    #[default]
    Origin,
    /// 403.
    Deny,
}

/// An upstream origin: where to connect and whether to speak TLS to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `host:port` as written (a host name is resolved at start-up).
    pub address: String,
    /// Speak TLS to the origin (written as `https://host:port`).
    pub tls: bool,
    /// Server name for TLS SNI and certificate verification.
    pub sni: String,
}

/// Accepts `host:port` (plain HTTP) or `https://host[:port]` (TLS, port 443 by default).
pub fn parse_upstream(raw: &str) -> Result<Upstream, String> {
    let (tls, rest) = match raw.strip_prefix("https://") {
        Some(rest) => (true, rest.trim_end_matches('/')),
        None => (false, raw.strip_prefix("http://").unwrap_or(raw).trim_end_matches('/')),
    };
    let bad = || format!("{raw:?} is not host:port (or https://host:port)");
    if rest.is_empty() || rest.contains('/') || rest.contains(char::is_whitespace) {
        return Err(bad());
    }
    let (host, port) = match split_host_port(rest) {
        Some((host, Some(port))) => (host, port),
        Some((host, None)) if tls => (host, 443),
        _ => return Err(bad()),
    };
    if host.is_empty() {
        return Err(bad());
    }
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(Upstream {
        address,
        tls,
        sni: host.to_string(),
    })
}

/// Splits `host:port`, `[v6]:port` or a bare host; `None` when the port is not a number.
fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port.parse().ok()?))),
        Some(_) => None,
        None => Some((s, None)),
    }
}

/// A listen address must be `ip:port` or `host:port`.
pub fn check_listen(raw: &str) -> Result<(), String> {
    match split_host_port(raw) {
        Some((host, Some(_))) if !host.is_empty() => Ok(()),
        _ => Err(format!("{raw:?} is not host:port")),
    }
}

/// A path the gateway owns or matches on: starts with `/`, no query, no spaces.
pub fn check_path(raw: &str) -> Result<(), String> {
    if !raw.starts_with('/') || raw.starts_with("//") {
        return Err(format!("{raw:?} must be a path starting with a single /"));
    }
    if raw.contains(['?', '#']) || raw.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(format!("{raw:?} must be a plain path (no query, fragment or spaces)"));
    }
    Ok(())
}

/// An HTTP header name as used for identity headers.
pub fn check_header_name(raw: &str) -> Result<(), String> {
    let ok = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!("{raw:?} is not a header name (letters, digits, - and _)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams() {
        assert_eq!(
            parse_upstream("127.0.0.1:3000").map(|u| u.address),
            Ok("127.0.0.1:3000".into())
        );
        let tls = parse_upstream("https://origin.example").expect("https upstream");
        assert_eq!(
            (tls.address.as_str(), tls.tls, tls.sni.as_str()),
            ("origin.example:443", true, "origin.example")
        );
        assert_eq!(parse_upstream("[::1]:8080").map(|u| u.address), Ok("[::1]:8080".into()));
        for bad in [
            "not a socket",
            "host",
            "host:port",
            ":80",
            "127.0.0.1:99999",
            "h:80/x",
            "",
        ] {
            assert!(parse_upstream(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn durations() {
        let mut e = Errors::default();
        assert_eq!(
            parse_duration(&mut e, "x", Some("30m"), Duration::ZERO),
            Duration::from_secs(1800)
        );
        assert_eq!(
            parse_duration(&mut e, "x", Some("1h 30m"), Duration::ZERO),
            Duration::from_secs(5400)
        );
        assert!(e.is_empty());
        parse_duration(&mut e, "x", Some("30"), Duration::ZERO);
        parse_duration(&mut e, "x", Some("0s"), Duration::ZERO);
        assert_eq!(e.into_result(()).map_err(|e| e.0.len()), Err(2));
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret([redacted])");
    }
}

/// `[sites.forward_auth] mode`: how `<sso_prefix>/auth` answers where the gateway
/// itself would redirect (a sign-in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardAuthMode {
    /// 401 with the address in `X-Sso-Redirect` (nginx: `error_page 401`).
    #[default]
    Status,
    /// The redirect itself (Traefik and Caddy pass it to the browser).
    Redirect,
}
