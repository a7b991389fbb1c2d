//! CORS: `cors_preflight` on a route, `cors_allow_origins` on a site
//! (docs/configuration.md, docs/security.md "CORS").
//!
//! - `cors_preflight` (`"origin"`, the default, or `"deny"`) says what a CORS
//!   preflight on a `login` or `api` route gets; a `public` route passes every
//!   request, preflights included, so the key is refused there.
//! - `cors_allow_origins` lists the origins whose scripts may read the gateway's own
//!   answers with the shopper's cookies. Each entry is exactly one origin,
//!   `http(s)://host[:port]`: no path (not even `/`), no user, no `*`, never `null`.
//!   The entry is stored the way a browser sends `Origin` (lower case, IDN as
//!   punycode, no default port), so a request matches it byte for byte.

use crate::model::Access;
use crate::raw::{RawRoute, RawSite};
use crate::validator::Validator;
use crate::values::CorsPreflight;
use url::Url;

/// The route's `cors_preflight`, checked against its access.
pub(crate) fn cors_preflight(v: &mut Validator<'_>, rp: &str, raw: &RawRoute, access: Access) -> CorsPreflight {
    let key = format!("{rp}.cors_preflight");
    let value = match raw.cors_preflight.as_deref() {
        None => return CorsPreflight::Origin,
        Some("origin") => CorsPreflight::Origin,
        Some("deny") => CorsPreflight::Deny,
        Some(other) => {
            v.errors.push(&key, format!("{other:?} is not \"origin\" or \"deny\""));
            return CorsPreflight::Origin;
        }
    };
    if access == Access::Public {
        v.errors.push(
            &key,
            "only on a \"login\" or \"api\" route: a public route passes every request, preflights included, to the origin",
        );
    }
    value
}

/// The site's `cors_allow_origins`, each as a browser would send it.
pub(crate) fn allow_origins(v: &mut Validator<'_>, p: &str, raw: &RawSite, public_url: &Url) -> Vec<String> {
    let own = public_url.origin().ascii_serialization();
    let mut origins: Vec<String> = Vec::new();
    for (i, entry) in raw.cors_allow_origins.iter().enumerate() {
        let path = format!("{p}.cors_allow_origins[{i}]");
        let Some(text) = v.text(&path, entry) else {
            continue;
        };
        let origin = match allowed_origin(&text) {
            Ok(origin) => origin,
            Err(m) => {
                v.errors.push(&path, m);
                continue;
            }
        };
        if origin == own {
            v.errors.push(
                &path,
                format!("{text:?} is this site's own public_url: a same-origin call needs no CORS"),
            );
        } else if public_url.scheme() == "https" && origin.starts_with("http://") {
            v.errors.push(
                &path,
                format!(
                    "{text:?} is plain http on an https site: anyone on the shopper's network can change \
                     that page, and it would read this site's answers with the shopper's cookies"
                ),
            );
        } else if origins.contains(&origin) {
            v.errors
                .push(&path, format!("{text:?} is listed twice (as {origin:?})"));
        } else {
            origins.push(origin);
        }
    }
    origins
}

/// One entry of `cors_allow_origins`: the origin as a browser serialises it, or why
/// it is not one.
pub fn allowed_origin(text: &str) -> Result<String, String> {
    let shape = "must be one origin, scheme://host[:port], e.g. \"https://app.shop.example\"";
    if text.eq_ignore_ascii_case("null") {
        return Err(format!(
            "{text:?} is never allowed: sandboxed frames, local files and redirected requests all send it, \
             so it names nobody"
        ));
    }
    if text.contains('*') {
        return Err(format!("{text:?}: no wildcards, list each origin ({shape})"));
    }
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{text:?} {shape}, with no spaces"));
    }
    let Some((scheme, authority)) = text.split_once("://") else {
        return Err(format!("{text:?} {shape}"));
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(format!(
            "{text:?}: only http and https origins (another scheme, such as an app's web view, \
             can be claimed by any app)"
        ));
    }
    if let Some(at) = authority.find(['/', '?', '#']) {
        let bare = &text[..text.len() - authority.len() + at];
        return Err(format!("{text:?} {shape}, with no path (not even /): write {bare:?}"));
    }
    if authority.contains('@') {
        return Err(format!("{text:?} {shape}, with no user name"));
    }
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not an origin: {e}"))?;
    match url.host_str() {
        Some(host) if !host.is_empty() => Ok(url.origin().ascii_serialization()),
        _ => Err(format!("{text:?} {shape}")),
    }
}

#[cfg(test)]
mod tests {
    use super::allowed_origin;

    #[test]
    fn an_entry_is_one_origin_as_a_browser_sends_it() {
        for (text, want) in [
            ("https://app.shop.example", "https://app.shop.example"),
            ("HTTPS://App.Shop.Example", "https://app.shop.example"),
            ("https://app.shop.example:443", "https://app.shop.example"),
            ("http://localhost:80", "http://localhost"),
            ("https://app.shop.example:8443", "https://app.shop.example:8443"),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("http://[::1]:3000", "http://[::1]:3000"),
            ("https://bücher.example", "https://xn--bcher-kva.example"),
        ] {
            assert_eq!(allowed_origin(text).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        for (text, says) in [
            ("*", "no wildcards"),
            ("https://*.shop.example", "no wildcards"),
            ("null", "never allowed"),
            ("NULL", "never allowed"),
            ("", "must be one origin"),
            ("app.shop.example", "must be one origin"),
            ("https://app.shop.example/", "write \"https://app.shop.example\""),
            ("https://app.shop.example/path", "no path"),
            ("https://app.shop.example?x", "no path"),
            ("https://app.shop.example#x", "no path"),
            ("https://user@app.shop.example", "no user name"),
            (" https://app.shop.example", "no spaces"),
            ("https://app.shop.example\n", "no spaces"),
            ("capacitor://localhost", "only http and https"),
            ("file://", "only http and https"),
            ("https://", "is not an origin"),
            ("https://app.shop.example:99999", "is not an origin"),
            ("https://exa%20mple.com", "is not an origin"),
        ] {
            let e = allowed_origin(text).expect_err(text);
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
