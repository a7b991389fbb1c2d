//! Validation of the settings that keep requests honest: per-client rate limits,
//! how paths are read, which header names may carry an identity, and the bounds on
//! in-memory login state. Split from `validate.rs` to keep that file readable.

use crate::errors::Errors;
use crate::model::{RateLimits, SiteConfig};
use crate::raw::RawRateLimits;
use crate::validator::Validator;

/// Header names that frame the request, are hop-by-hop, or carry credentials and
/// forwarding facts: an identity header by one of these names would be dropped,
/// rewritten or misread somewhere between the gateway and the origin.
pub const RESERVED_HEADER_NAMES: [&str; 22] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "cookie",
    "set-cookie",
    "authorization",
    "proxy-authorization",
    "proxy-authenticate",
    "www-authenticate",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "content-type",
    "content-encoding",
];

/// Most requests per minute a limit may be set to.
const MAX_PER_MINUTE: i64 = 1_000_000;

pub(crate) fn rate_limits(v: &mut Validator<'_>, raw: &RawRateLimits) -> RateLimits {
    let d = RateLimits::default();
    let mut one = |key: &str, value: Option<i64>, default: Option<u32>| match value {
        None => default,
        Some(0) => None,
        Some(n) if (1..=MAX_PER_MINUTE).contains(&n) => Some(n as u32),
        Some(n) => {
            v.errors.push(
                format!("server.rate_limits.{key}"),
                format!("{n} is not between 0 (off) and {MAX_PER_MINUTE} requests per minute"),
            );
            default
        }
    };
    RateLimits {
        login: one("login", raw.login, d.login),
        callback: one("callback", raw.callback, d.callback),
        token: one("token", raw.token, d.token),
        logout: one("logout", raw.logout, d.logout),
        link: one("link", raw.link, d.link),
    }
}

/// Checks that need the whole site: the public host is one of the site's hosts,
/// identity header names are usable, gateway paths are canonical.
pub(crate) fn site_safety(v: &mut Validator<'_>, p: &str, site: &SiteConfig) {
    if let Some(host) = site.public_url.host_str() {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        if host != "invalid.invalid" && !site.hosts.contains(&host) {
            v.errors.push(
                format!("{p}.public_url"),
                format!("the host {host:?} is not in {p}.hosts: logins run on this host, so the site must serve it"),
            );
        }
    }
    if site.sso_prefix.is_empty() {
        v.errors.push(
            format!("{p}.sso_prefix"),
            "must not be \"/\": the gateway's endpoints would shadow the whole shop (use e.g. \"/_sso\")",
        );
    }
    let names = site.identity_headers.all();
    let keys = ["id", "email", "name", "groups", "token"];
    for (i, (name, key)) in names.iter().zip(keys).enumerate() {
        let lower = name.to_ascii_lowercase().replace('_', "-");
        if RESERVED_HEADER_NAMES.contains(&lower.as_str()) {
            v.errors.push(
                format!("{p}.identity_headers.{key}"),
                format!("{name:?} is a framing, hop-by-hop or credential header; pick a name of your own (e.g. \"X-Customer-Id\")"),
            );
        }
        if names[..i]
            .iter()
            .any(|other| other.to_ascii_lowercase().replace('_', "-") == lower)
        {
            v.errors.push(
                format!("{p}.identity_headers.{key}"),
                format!("{name:?} is already used for another identity header"),
            );
        }
    }
}

/// A path the gateway matches on must already be in canonical form, or no request
/// could ever match it: no empty, `.` or `..` segments, no percent-encoding, no `;`
/// parameters, no backslash.
pub fn check_canonical_path(errors: &mut Errors, key: &str, path: &str) {
    let segments: Vec<&str> = path.get(1..).unwrap_or("").split('/').collect();
    let last = segments.len().saturating_sub(1);
    let bad_segment = segments
        .iter()
        .enumerate()
        .any(|(i, s)| *s == "." || *s == ".." || (s.is_empty() && i != last));
    if bad_segment || path.contains(['%', ';', '\\']) {
        errors.push(
            key,
            format!("{path:?} must be a plain path: no //, no . or .. segments, no %-escapes, no ; and no \\"),
        );
    }
}
