//! `[sites.multipass]`: after a sign-in, the gateway hands the customer to a Shopify
//! Plus store with a Multipass token (`{store_url}/account/login/multipass/{token}`,
//! docs/multipass.md).
//!
//! This file checks the section and what it needs of the rest of the site;
//! [`MultipassConfig`] belongs to the model layer ([`crate::model`], which
//! `SiteConfig` names) and is re-exported here.

use crate::raw::RawMultipass;
use crate::validator::Validator;
use crate::values::Secret;
use std::net::IpAddr;
use url::Url;

pub use crate::model::MultipassConfig;

/// Shortest accepted `multipass.secret`, in bytes. Shopify shows the store's
/// Multipass secret as 32 characters; anything shorter is a paste error.
pub const MIN_MULTIPASS_SECRET_LEN: usize = 32;

pub(crate) fn multipass(v: &mut Validator<'_>, p: &str, raw: &RawMultipass) -> MultipassConfig {
    let secret_key = format!("{p}.secret");
    let secret = match v.opt_text(&secret_key, raw.secret.as_ref()) {
        Some(s) if s.len() >= MIN_MULTIPASS_SECRET_LEN => Secret::new(s),
        other => {
            if other.is_some() || raw.secret.is_none() {
                v.errors.push(
                    &secret_key,
                    format!(
                        "is required, at least {MIN_MULTIPASS_SECRET_LEN} bytes: the store's Multipass secret (write it as \"${{SHOPIFY_MULTIPASS_SECRET}}\")"
                    ),
                );
            }
            Secret::new(String::new())
        }
    };
    let url_key = format!("{p}.store_url");
    let store_url = match v.opt_text(&url_key, raw.store_url.as_ref()) {
        Some(text) => match store_url(&text) {
            Ok(origin) => origin,
            Err(message) => {
                v.errors.push(&url_key, message);
                String::new()
            }
        },
        None => {
            if raw.store_url.is_none() {
                v.errors.push(
                    &url_key,
                    "is required: the Shopify storefront's origin, e.g. \"https://shop.example\"",
                );
            }
            String::new()
        }
    };
    MultipassConfig { store_url, secret }
}

/// The store's origin (`scheme://host[:port]`, no trailing slash) from `text`: an
/// https URL with a host and nothing after it (a `/` at most); http only for a
/// loopback host, as a test or a local demo has.
fn store_url(text: &str) -> Result<String, String> {
    let url = Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    // A password in the URL is never repeated back (the report may be shared).
    let shown = if url.password().is_some() || !url.username().is_empty() {
        let mut u = url.clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        format!("{} (with a user name or password)", u.as_str())
    } else {
        text.to_string()
    };
    let text = shown.as_str();
    let host = url.host_str().unwrap_or_default();
    let bare = url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if host.is_empty() || !bare || !matches!(url.scheme(), "https" | "http") {
        return Err(format!(
            "{text:?} must be the store's origin: https, a host, no path (e.g. \"https://shop.example\")"
        ));
    }
    if url.scheme() == "http" && !is_loopback_host(host) {
        return Err(format!(
            "{text:?} is not https: the Multipass token signs the customer in, so it only travels encrypted (http is accepted for localhost and loopback addresses)"
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// `localhost`, a name under `.localhost` (RFC 6761: resolved to loopback), or a
/// loopback address.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let lower = host.to_ascii_lowercase();
    lower == "localhost" || lower.ends_with(".localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// What `[sites.multipass]` needs of the rest of the site: a way to sign in, and no
/// second hand-off.
pub(crate) fn multipass_checks(v: &mut Validator<'_>, p: &str, site: &crate::model::SiteConfig) {
    if site.multipass.is_none() {
        return;
    }
    if site.platform_login.is_some() {
        v.errors.push(
            format!("{p}.multipass"),
            "a sign-in hands the shopper to one platform: [sites.platform_login] and [sites.multipass] cannot both be set",
        );
    }
    if !site.has_idp() && site.customer_login.is_none() && !site.sso.linked() {
        v.errors.push(
            format!("{p}.multipass"),
            "hands a sign-in to the Shopify store, and this site has none: add [sites.oidc], [[sites.idps]], [sites.customer_login] or [sites.sso]",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_url_is_an_https_origin_or_a_loopback_one() {
        for (text, origin) in [
            ("https://shop.example", "https://shop.example"),
            ("https://shop.example/", "https://shop.example"),
            ("https://Shop.Example:8443", "https://shop.example:8443"),
            ("http://shop.localhost:8080", "http://shop.localhost:8080"),
            ("http://localhost", "http://localhost"),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("http://[::1]:3000/", "http://[::1]:3000"),
        ] {
            assert_eq!(store_url(text).as_deref(), Ok(origin), "{text}");
        }
        for text in [
            "http://shop.example",
            "http://10.0.0.1",
            "http://localhost.example",
            "https://shop.example/account",
            "https://shop.example/?x=1",
            "https://shop.example/#x",
            "https://user:pw@shop.example",
            "ftp://shop.example",
            "shop.example",
            "https://",
            "",
        ] {
            assert!(store_url(text).is_err(), "{text} accepted");
        }
    }
}
