//! What of the shopper's credentials the origin gets: not the gateway's own.
//!
//! Runs in `request_filter` once a request is going to be proxied. The gateway's
//! session and login-flow cookies are removed from `Cookie`, and an
//! `Authorization: Bearer` token the gateway verified as its own API token is removed,
//! unless the site sets `forward_gateway_credentials = true`. The origin gets the
//! identity from the identity headers and `X-Customer-Token` instead: a cookie or
//! bearer token that reached the origin could be replayed by anyone who can read the
//! origin's logs.

use http::{HeaderMap, HeaderValue};

/// What to remove from a request before it is proxied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CredentialStrip {
    /// Drop `Authorization` (it carried the gateway API token that was used).
    pub authorization: bool,
    /// Replace every `Cookie` line with these (possibly none).
    pub cookies: Option<Vec<HeaderValue>>,
}

/// The `Cookie` header values with every cookie `is_ours` names removed, or `None`
/// when there is nothing to remove. Read on bytes, so a line with a non-ASCII value
/// is cleaned like any other; an emptied line is dropped.
pub fn cookies_without(headers: &HeaderMap, is_ours: impl Fn(&str) -> bool) -> Option<Vec<HeaderValue>> {
    let values = headers.get_all(http::header::COOKIE);
    let ours = |pair: &[u8]| {
        let name = pair.split(|b| *b == b'=').next().unwrap_or(pair);
        std::str::from_utf8(name).is_ok_and(|n| is_ours(n.trim()))
    };
    let any = values.iter().flat_map(|v| v.as_bytes().split(|b| *b == b';')).any(ours);
    if !any {
        return None;
    }
    let mut kept = Vec::new();
    for value in values.iter() {
        let rest: Vec<&[u8]> = value
            .as_bytes()
            .split(|b| *b == b';')
            .map(|p| p.trim_ascii())
            .filter(|p| !p.is_empty() && !ours(p))
            .collect();
        if !rest.is_empty() {
            if let Ok(v) = HeaderValue::from_bytes(&rest.join(&b"; "[..])) {
                kept.push(v);
            }
        }
    }
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_gateway_cookies_are_removed() {
        let mut h = HeaderMap::new();
        h.append(
            "cookie",
            HeaderValue::from_static("cart=1; sso_session=abc; sso_session_flow_x=1"),
        );
        h.append("cookie", HeaderValue::from_static("SSO_SESSION=zzz"));
        h.append("cookie", HeaderValue::from_static("lang=de"));
        let ours = |n: &str| n.eq_ignore_ascii_case("sso_session") || n.starts_with("sso_session_flow_");
        let kept = cookies_without(&h, ours).expect("something removed");
        let kept: Vec<&str> = kept.iter().filter_map(|v| v.to_str().ok()).collect();
        assert_eq!(kept, vec!["cart=1", "lang=de"]);
        let mut utf8 = HeaderMap::new();
        utf8.append(
            "cookie",
            HeaderValue::from_bytes(b"pref=caf\xe9; sso_session=abc").expect("value"),
        );
        let kept = cookies_without(&utf8, ours).expect("something removed");
        assert_eq!(kept[0].as_bytes(), b"pref=caf\xe9");
        let mut plain = HeaderMap::new();
        plain.append("cookie", HeaderValue::from_static("cart=1"));
        assert!(cookies_without(&plain, ours).is_none());
    }
}
