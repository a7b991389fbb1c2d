//! The request a proxy asks forward-auth about (`<sso_prefix>/auth`), read from its
//! forwarding headers. The caller believes them only from a trusted proxy.
//!
//! Two spellings are read, never mixed:
//! - `X-Forwarded-Method`, `-Proto`, `-Host` and `-Uri` (Traefik, Caddy): `-Uri` is the
//!   origin-form target (`/path?query`, or `*` with `OPTIONS`);
//! - `X-Forwarded-Method` and `X-Original-URL` (nginx, set to
//!   `$scheme://$http_host$request_uri`): an absolute http(s) URL.
//!
//! Refused: a header sent twice (which line would the proxy have meant?); both
//! `X-Original-URL` and `X-Forwarded-Uri` (a client adds one, the proxy sets the
//! other: believing either would let the client choose the URL that is checked);
//! a method that is not a token; a scheme other than http(s); a host that is no host
//! name (a list, userinfo, a bad port); a target of the wrong form. What the target's
//! path means is decided afterwards, exactly as for a request the gateway receives
//! ([`crate::request_path::RequestPath::canonical`]).

use crate::request_path::TargetForm;
use crate::site_router::host_without_port;
use http::{HeaderMap, Method};

/// Longest accepted method name (the registered ones are at most 7 letters).
const MAX_METHOD_LEN: usize = 32;

/// What a proxy asks about.
#[derive(Debug, PartialEq, Eq)]
pub struct ForwardedUrl<'a> {
    pub method: Method,
    /// `host[:port]` as forwarded (the original request's `Host`).
    pub authority: &'a str,
    /// The host of `authority`, lower case, without the port.
    pub host: String,
    /// The request-target: origin-form or `*` (`X-Forwarded-Uri`), absolute-form
    /// (`X-Original-URL`).
    pub form: TargetForm<'a>,
}

/// Why the forwarded request could not be read (a 400 for the proxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ForwardedUrlError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the {0} header is sent more than once or is not text")]
    Unreadable(&'static str),
    #[error("both X-Original-URL and X-Forwarded-Uri are sent")]
    Conflicting,
    #[error("X-Forwarded-Method is not a method")]
    BadMethod,
    #[error("the forwarded scheme is not http or https")]
    BadScheme,
    #[error("the forwarded host is not a host name")]
    BadHost,
    #[error("the forwarded URL is not a request-target")]
    BadTarget,
}

impl ForwardedUrlError {
    /// Stable word for metrics and answers.
    pub fn code(&self) -> &'static str {
        match self {
            ForwardedUrlError::Missing(_) => "forwarded_url_missing",
            ForwardedUrlError::Unreadable(_) => "forwarded_header_unreadable",
            ForwardedUrlError::Conflicting => "forwarded_url_conflicting",
            ForwardedUrlError::BadMethod => "forwarded_method_invalid",
            ForwardedUrlError::BadScheme => "forwarded_scheme_invalid",
            ForwardedUrlError::BadHost => "forwarded_host_invalid",
            ForwardedUrlError::BadTarget => "forwarded_url_invalid",
        }
    }
}

/// Reads the forwarded request from `headers` (see the module documentation).
pub fn forwarded_url(headers: &HeaderMap) -> Result<ForwardedUrl<'_>, ForwardedUrlError> {
    use ForwardedUrlError as E;
    let method = one(headers, "x-forwarded-method", "X-Forwarded-Method")?.ok_or(E::Missing("X-Forwarded-Method"))?;
    let method = method_of(method).ok_or(E::BadMethod)?;
    let is_options = method == Method::OPTIONS;
    let original = one(headers, "x-original-url", "X-Original-URL")?;
    let uri = one(headers, "x-forwarded-uri", "X-Forwarded-Uri")?;
    let (form, authority) = match (original, uri) {
        (Some(_), Some(_)) => return Err(E::Conflicting),
        (None, None) => return Err(E::Missing("X-Forwarded-Uri (or X-Original-URL)")),
        (Some(url), None) => match TargetForm::classify(url.as_bytes(), false) {
            Ok(form @ TargetForm::Absolute { authority, .. }) => (form, authority),
            Ok(_) => return Err(E::BadTarget),
            // `classify` reads only http(s) URLs: anything else is another scheme or none.
            Err(_) if !has_http_scheme(url) => return Err(E::BadScheme),
            Err(_) => return Err(E::BadTarget),
        },
        (None, Some(target)) => {
            let proto =
                one(headers, "x-forwarded-proto", "X-Forwarded-Proto")?.ok_or(E::Missing("X-Forwarded-Proto"))?;
            if !proto.eq_ignore_ascii_case("http") && !proto.eq_ignore_ascii_case("https") {
                return Err(E::BadScheme);
            }
            let host = one(headers, "x-forwarded-host", "X-Forwarded-Host")?.ok_or(E::Missing("X-Forwarded-Host"))?;
            match TargetForm::classify(target.as_bytes(), is_options) {
                Ok(form @ (TargetForm::Origin(_) | TargetForm::Asterisk)) => (form, host),
                Ok(TargetForm::Absolute { .. }) | Err(_) => return Err(E::BadTarget),
            }
        }
    };
    let host = host_without_port(authority).ok_or(E::BadHost)?;
    Ok(ForwardedUrl {
        method,
        authority,
        host: host.to_ascii_lowercase(),
        form,
    })
}

/// The one line of header `name`, trimmed; `None` when absent or empty (nginx sends
/// no header for an empty value). Twice, or not visible ASCII: refused.
fn one<'a>(headers: &'a HeaderMap, name: &str, shown: &'static str) -> Result<Option<&'a str>, ForwardedUrlError> {
    let mut lines = headers.get_all(name).iter();
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    if lines.next().is_some() {
        return Err(ForwardedUrlError::Unreadable(shown));
    }
    let text = first.to_str().map_err(|_| ForwardedUrlError::Unreadable(shown))?.trim();
    Ok((!text.is_empty()).then_some(text))
}

/// A method token of letters (as proxies forward them: `GET`, `PROPFIND`).
fn method_of(text: &str) -> Option<Method> {
    let plain = !text.is_empty()
        && text.len() <= MAX_METHOD_LEN
        && text.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_');
    plain.then(|| Method::from_bytes(text.as_bytes()).ok()).flatten()
}

fn has_http_scheme(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ForwardedUrlError as E;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, http::HeaderValue::from_str(value).expect("value"));
        }
        h
    }

    fn traefik(uri: &str) -> HeaderMap {
        headers(&[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "Shop.Example:8443"),
            ("x-forwarded-uri", uri),
        ])
    }

    #[test]
    fn reads_both_spellings() {
        let h = traefik("/account/orders?page=2");
        let f = forwarded_url(&h).expect("read");
        assert_eq!(f.method, Method::GET);
        assert_eq!((f.authority, f.host.as_str()), ("Shop.Example:8443", "shop.example"));
        assert_eq!(f.form, TargetForm::Origin("/account/orders?page=2"));
        let h = headers(&[
            ("x-forwarded-method", "POST"),
            ("x-original-url", "HTTP://shop.example/cart?x=1"),
        ]);
        let f = forwarded_url(&h).expect("read");
        assert_eq!(f.method, Method::POST);
        assert_eq!(f.host, "shop.example");
        assert_eq!(
            f.form,
            TargetForm::Absolute {
                authority: "shop.example",
                rest: "/cart?x=1"
            }
        );
        // `OPTIONS *` is a target too.
        let mut h = traefik("*");
        h.insert("x-forwarded-method", http::HeaderValue::from_static("OPTIONS"));
        assert_eq!(forwarded_url(&h).expect("read").form, TargetForm::Asterisk);
    }

    #[test]
    fn refuses_hostile_and_half_written_requests() {
        let cases: Vec<(HeaderMap, ForwardedUrlError)> = vec![
            (HeaderMap::new(), E::Missing("X-Forwarded-Method")),
            (
                headers(&[("x-forwarded-method", "GET")]),
                E::Missing("X-Forwarded-Uri (or X-Original-URL)"),
            ),
            (
                headers(&[
                    ("x-forwarded-method", "GET"),
                    ("x-forwarded-uri", "/a"),
                    ("x-forwarded-host", "a"),
                ]),
                E::Missing("X-Forwarded-Proto"),
            ),
            (
                headers(&[
                    ("x-forwarded-method", "GET"),
                    ("x-forwarded-uri", "/a"),
                    ("x-forwarded-proto", "http"),
                ]),
                E::Missing("X-Forwarded-Host"),
            ),
            // A client's X-Original-URL beside the proxy's X-Forwarded-Uri.
            (
                {
                    let mut h = traefik("/account");
                    h.insert("x-original-url", http::HeaderValue::from_static("http://shop.example/"));
                    h
                },
                E::Conflicting,
            ),
            (
                {
                    let mut h = traefik("/account");
                    h.append("x-forwarded-uri", http::HeaderValue::from_static("/"));
                    h
                },
                E::Unreadable("X-Forwarded-Uri"),
            ),
            (
                {
                    let mut h = traefik("/");
                    h.append("x-forwarded-host", http::HeaderValue::from_static("evil.example"));
                    h
                },
                E::Unreadable("X-Forwarded-Host"),
            ),
            (
                {
                    let mut h = traefik("/");
                    h.insert("x-forwarded-method", http::HeaderValue::from_static("G ET"));
                    h
                },
                E::BadMethod,
            ),
            (
                {
                    let mut h = traefik("/");
                    h.insert("x-forwarded-proto", http::HeaderValue::from_static("javascript"));
                    h
                },
                E::BadScheme,
            ),
            (
                {
                    let mut h = traefik("/");
                    h.insert(
                        "x-forwarded-host",
                        http::HeaderValue::from_static("shop.example, evil.example"),
                    );
                    h
                },
                E::BadHost,
            ),
            (
                {
                    let mut h = traefik("/");
                    h.insert("x-forwarded-host", http::HeaderValue::from_static("shop.example:99999"));
                    h
                },
                E::BadHost,
            ),
            (traefik("http://evil.example/account"), E::BadTarget),
            (traefik("account"), E::BadTarget),
            (traefik("*"), E::BadTarget),
            // nginx's spelling is an absolute URL.
            (
                headers(&[("x-forwarded-method", "GET"), ("x-original-url", "/account")]),
                E::BadTarget,
            ),
            (
                headers(&[("x-forwarded-method", "GET"), ("x-original-url", "ftp://shop.example/")]),
                E::BadScheme,
            ),
            (
                headers(&[
                    ("x-forwarded-method", "GET"),
                    ("x-original-url", "http://user@shop.example/"),
                ]),
                E::BadTarget,
            ),
            (
                headers(&[("x-forwarded-method", "GET"), ("x-original-url", "http:///account")]),
                E::BadTarget,
            ),
            (
                headers(&[
                    ("x-forwarded-method", "GET"),
                    ("x-original-url", "http://[shop.example]/"),
                ]),
                E::BadHost,
            ),
        ];
        for (h, want) in cases {
            assert_eq!(forwarded_url(&h).map(|f| f.host), Err(want), "{h:?}");
        }
        // Bytes that are not visible ASCII.
        let mut h = traefik("/");
        h.insert(
            "x-forwarded-uri",
            http::HeaderValue::from_bytes(b"/caf\xc3\xa9").expect("value"),
        );
        assert_eq!(forwarded_url(&h).map(|f| f.host), Err(E::Unreadable("X-Forwarded-Uri")));
    }
}
