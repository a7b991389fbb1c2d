//! CORS: preflights on `login` and `api` routes, and the CORS headers of the
//! gateway's own answers (docs/security.md, "CORS").
//!
//! **Preflights.** A browser asks before a cross-origin call it may not make
//! outright: an `OPTIONS` with `Origin` and `Access-Control-Request-Method` and,
//! by the Fetch standard, no credential. On a `login` or `api` route such a request
//! meets no gate ([`Feature::passes`]): no login starts, no 401, no rate-limit budget
//! is spent, no cookie is set; it goes to the origin, which owns its CORS policy,
//! without identity. With the route's `cors_preflight = "deny"` it gets a 403 JSON
//! instead, counted as `access_denied{reason="cors_preflight"}`. Only what a browser
//! sends is a preflight: exactly one well-formed `Origin` and one
//! `Access-Control-Request-Method`, and no credential the gateway accepted (a request
//! with a valid session cookie or API token goes through the gates like any other,
//! so it cannot carry an identity past a rule). `public` routes are untouched. The
//! feature's place in the registry is before every other gate, so a denied preflight
//! is answered 403 before the access rule would answer 401.
//!
//! **The gateway's own answers** (its endpoints, a gate's 401/403, an upstream
//! edit's refusal) to a request whose `Origin` is not the site's own public origin
//! carry `Vary: Origin`; when that `Origin` is, byte for byte, one of the site's
//! `cors_allow_origins`, they also carry `Access-Control-Allow-Origin: <it>`,
//! `Access-Control-Allow-Credentials: true` and, for the headers a script needs to
//! read (`WWW-Authenticate`, `Retry-After`), `Access-Control-Expose-Headers`. An
//! origin not listed is never reflected, and `*` is never sent.

use super::{Feature, Roles, SitePipeline, SiteRequest};
use crate::reply::Reply;
use crate::Flow;
use http::header::{HeaderMap, HeaderName, HeaderValue, ORIGIN};
use sso_config::{Access, CorsPreflight, SiteConfig};

/// The longest `Origin` a preflight may carry: a host name is at most 253 bytes, and
/// a browser sends nothing longer than scheme, host and port.
pub const MAX_ORIGIN_LEN: usize = 512;
/// The longest method name a preflight may ask about.
const MAX_METHOD_LEN: usize = 32;
const REQUEST_METHOD: HeaderName = HeaderName::from_static("access-control-request-method");
/// Response headers of the gateway's answers a script of an allowed origin may read
/// (the others it reads anyway are CORS-safelisted).
const EXPOSED: [&str; 2] = ["www-authenticate", "retry-after"];

/// The site's CORS rules.
pub struct Cors {
    /// The site's own origin (`public_url`), as a browser sends it.
    own: String,
    /// `cors_allow_origins`, as a browser sends them.
    allowed: Vec<String>,
}

impl Cors {
    /// Every site has it: preflights pass on `login` and `api` routes by default.
    pub fn from_config(site: &SiteConfig) -> Self {
        Cors {
            own: site.public_url.origin().ascii_serialization(),
            allowed: site.cors_allow_origins.clone(),
        }
    }

    /// What the route says of `r` when it is a preflight on a `login` or `api` route.
    fn preflight_rule(r: &SiteRequest<'_>) -> Option<CorsPreflight> {
        let rule = r.route.rule?;
        (r.route.access != Access::Public && is_preflight(&r.req.method, &r.req.headers)).then_some(rule.cors_preflight)
    }
}

#[async_trait::async_trait]
impl Feature for Cors {
    fn name(&self) -> &'static str {
        "cors"
    }

    fn roles(&self) -> Roles {
        Roles {
            gate: true,
            ..Roles::default()
        }
    }

    fn passes(&self, _site: &SitePipeline, r: &SiteRequest<'_>) -> bool {
        r.identity.is_none() && Self::preflight_rule(r) == Some(CorsPreflight::Origin)
    }

    fn wants_gate(&self, _site: &SitePipeline, r: &SiteRequest<'_>) -> bool {
        Self::preflight_rule(r) == Some(CorsPreflight::Deny)
    }

    async fn gate(&self, site: &SitePipeline, _r: &SiteRequest<'_>) -> Flow<Reply> {
        site.core.events.access_denied(&site.core.site.name, "cors_preflight");
        let body = serde_json::json!({
            "error": "access_denied",
            "reason": "cors_preflight",
            "message": "Cross-origin calls to this address are not allowed.",
        });
        Flow::Respond(Reply::json(403, &body))
    }

    fn answering(&self, _site: &SitePipeline, r: &SiteRequest<'_>, reply: Reply) -> Reply {
        decorate(reply, request_origin(&r.req.headers, &self.own, &self.allowed))
    }
}

/// What the `Origin` of a request is to the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOrigin<'a> {
    /// No `Origin` (a navigation, a same-origin `GET`, a client that is no browser).
    Absent,
    /// Exactly the site's own origin.
    Own,
    /// Anything else: another origin, `null`, several `Origin` lines, garbage.
    /// `listed` is the allowed origin it is, when it is exactly one of them.
    Foreign { listed: Option<&'a str> },
}

/// Reads the `Origin` of a request against the site's own origin and its allowed
/// ones. Only exactly one `Origin` line, byte for byte equal to an entry, is listed.
pub fn request_origin<'a>(headers: &HeaderMap, own: &str, allowed: &'a [String]) -> RequestOrigin<'a> {
    let mut all = headers.get_all(ORIGIN).iter();
    let Some(first) = all.next() else {
        return RequestOrigin::Absent;
    };
    if all.next().is_some() {
        return RequestOrigin::Foreign { listed: None };
    }
    let value = first.as_bytes();
    if value == own.as_bytes() {
        return RequestOrigin::Own;
    }
    RequestOrigin::Foreign {
        listed: allowed.iter().find(|a| a.as_bytes() == value).map(String::as_str),
    }
}

/// `reply` with the CORS headers `origin` calls for.
pub fn decorate(reply: Reply, origin: RequestOrigin<'_>) -> Reply {
    let RequestOrigin::Foreign { listed } = origin else {
        return reply;
    };
    let reply = reply.header("vary", "Origin");
    let Some(listed) = listed else {
        return reply;
    };
    let exposed: Vec<&str> = EXPOSED
        .into_iter()
        .filter(|name| reply.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
        .collect();
    let reply = reply
        .header("access-control-allow-origin", listed)
        .header("access-control-allow-credentials", "true");
    match exposed.is_empty() {
        true => reply,
        false => reply.header("access-control-expose-headers", exposed.join(", ")),
    }
}

/// True when the request is a CORS preflight as a browser sends it: `OPTIONS` with
/// exactly one `Origin` that is a serialised origin (or `null`) and exactly one
/// `Access-Control-Request-Method` that is a method name, and nothing a browser never
/// puts on a preflight (Fetch standard, "CORS-preflight fetch"): no credentials
/// (`Cookie`, `Authorization`) and no body (`Content-Length` other than 0,
/// `Transfer-Encoding`). Anything else is an ordinary `OPTIONS` and meets the gates:
/// it must never carry a client's credentials or a body past them to the origin.
pub fn is_preflight(method: &http::Method, headers: &HeaderMap) -> bool {
    let bodiless = headers.get(http::header::TRANSFER_ENCODING).is_none()
        && headers
            .get_all(http::header::CONTENT_LENGTH)
            .iter()
            .all(|v| v.as_bytes() == b"0");
    *method == http::Method::OPTIONS
        && !headers.contains_key(http::header::COOKIE)
        && !headers.contains_key(http::header::AUTHORIZATION)
        && bodiless
        && single(headers, &ORIGIN).is_some_and(|v| is_serialized_origin(v.as_bytes()))
        && single(headers, &REQUEST_METHOD).is_some_and(|v| is_method(v.as_bytes()))
}

/// The value of `name` when the request has exactly one such line.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    let mut all = headers.get_all(name).iter();
    let first = all.next()?;
    all.next().is_none().then_some(first)
}

/// `null`, or `scheme "://" host [":" port]` as the URL standard serialises an
/// origin: a scheme of letters, digits, `+`, `-`, `.` starting with a letter; a host
/// of letters, digits, `-`, `.`, `_`, or an IPv6 address in brackets; a port of 1–5
/// digits. Nothing else, and at most [`MAX_ORIGIN_LEN`] bytes.
pub fn is_serialized_origin(value: &[u8]) -> bool {
    if value == b"null" {
        return true;
    }
    if value.len() > MAX_ORIGIN_LEN {
        return false;
    }
    let Some(at) = value.windows(3).position(|w| w == b"://") else {
        return false;
    };
    let (scheme, rest) = (&value[..at], &value[at + 3..]);
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let (host, port) = match rest.strip_prefix(b"[") {
        Some(v6) => match v6.iter().position(|b| *b == b']') {
            Some(end) => (&v6[..end], &v6[end + 1..]),
            None => return false,
        },
        None => match rest.iter().position(|b| *b == b':') {
            Some(colon) => (&rest[..colon], &rest[colon..]),
            None => (rest, &rest[rest.len()..]),
        },
    };
    let v6 = rest.first() == Some(&b'[');
    let host_ok = !host.is_empty()
        && host.iter().all(|b| match v6 {
            true => b.is_ascii_hexdigit() || matches!(b, b':' | b'.'),
            false => b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'),
        });
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => (1..=5).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    scheme_ok && host_ok && port_ok
}

/// An HTTP method name (RFC 9110 `token`), at most [`MAX_METHOD_LEN`] bytes.
fn is_method(value: &[u8]) -> bool {
    (1..=MAX_METHOD_LEN).contains(&value.len())
        && value.iter().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

#[cfg(test)]
#[path = "cors_tests.rs"]
mod tests;
