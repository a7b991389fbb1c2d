//! Caching fields of responses to requests that carried an identity: such a page is
//! personal, so shared caches must not keep it.
//!
//! - `Cache-Control`: the origin's own `no-store` or `private` is left as it is;
//!   otherwise `public` and `s-maxage` are dropped and `private` is added in front of
//!   the remaining directives.
//! - Fields a CDN or surrogate honours *before* `Cache-Control` (RFC 9213):
//!   `CDN-Cache-Control` and every other targeted `…-Cache-Control`
//!   (`Cloudflare-CDN-Cache-Control`, `Akamai-Cache-Control`, …), `Surrogate-Control`
//!   and `Edge-Control` are removed: a CDN told `max-age=600` there would keep one
//!   shopper's page for the next.
//! - `Expires` (which an HTTP/1.0 cache reads instead of `Cache-Control`) becomes `0`,
//!   already expired (RFC 9111 §5.3); a browser still follows `max-age` when the origin
//!   gave one, since `max-age` takes precedence over `Expires`.

use http::{HeaderName, HeaderValue};

/// What `Expires` becomes on a response that carries an identity.
pub const EXPIRED: HeaderValue = HeaderValue::from_static("0");

/// The fields among `names` that tell a CDN or surrogate how long to keep a response,
/// which a response carrying an identity must lose.
pub fn cdn_cache_fields<'a>(names: impl IntoIterator<Item = &'a HeaderName>) -> Vec<HeaderName> {
    names
        .into_iter()
        .filter(|name| {
            // `HeaderName`s are lower case.
            let name = name.as_str();
            (name.ends_with("-cache-control") || name == "surrogate-control" || name == "edge-control")
                && name != "cache-control"
        })
        .cloned()
        .collect()
}

/// The header to set instead of `existing`, or `None` to leave it alone.
pub fn private_cache_control(existing: Option<&str>) -> Option<HeaderValue> {
    let Some(existing) = existing else {
        return Some(HeaderValue::from_static("private"));
    };
    let directives: Vec<&str> = existing.split(',').map(str::trim).filter(|d| !d.is_empty()).collect();
    let has = |name: &str| directives.iter().any(|d| d.eq_ignore_ascii_case(name));
    if has("no-store") || has("private") {
        return None;
    }
    let kept: Vec<&str> = directives
        .into_iter()
        .filter(|d| {
            let name = d.split('=').next().unwrap_or("").trim();
            !name.eq_ignore_ascii_case("public") && !name.eq_ignore_ascii_case("s-maxage")
        })
        .collect();
    if kept.is_empty() {
        return Some(HeaderValue::from_static("private"));
    }
    HeaderValue::from_str(&format!("private, {}", kept.join(", "))).ok()
}

#[cfg(test)]
mod tests {
    use super::{cdn_cache_fields, private_cache_control};
    use http::HeaderMap;

    fn text(existing: Option<&str>) -> Option<String> {
        private_cache_control(existing).map(|v| v.to_str().unwrap_or_default().to_string())
    }

    #[test]
    fn identity_responses_become_private() {
        assert_eq!(text(None).as_deref(), Some("private"));
        assert_eq!(
            text(Some("public, max-age=60, s-maxage=600")).as_deref(),
            Some("private, max-age=60")
        );
        assert_eq!(text(Some("public")).as_deref(), Some("private"));
        assert_eq!(text(Some("no-store")), None);
        assert_eq!(text(Some("Private, max-age=5")), None);
    }

    #[test]
    fn fields_a_cdn_honours_first_are_found_whatever_their_case() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("Cache-Control", "public, max-age=60"),
            ("CDN-Cache-Control", "max-age=600"),
            ("Cloudflare-CDN-Cache-Control", "max-age=600"),
            ("Akamai-Cache-Control", "max-age=600"),
            ("Surrogate-Control", "max-age=600"),
            ("Edge-Control", "cache-maxage=600s"),
            ("Expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
            ("Content-Type", "text/html"),
            ("X-Cache-Control-Note", "kept"),
        ] {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        let mut found: Vec<String> = cdn_cache_fields(headers.keys()).iter().map(|n| n.to_string()).collect();
        found.sort();
        assert_eq!(
            found,
            [
                "akamai-cache-control",
                "cdn-cache-control",
                "cloudflare-cdn-cache-control",
                "edge-control",
                "surrogate-control"
            ]
        );
        assert!(cdn_cache_fields(HeaderMap::new().keys()).is_empty());
    }
}
