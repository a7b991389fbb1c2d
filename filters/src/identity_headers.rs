//! Strip, then inject: the identity headers the origin trusts.
//!
//! Runs on every proxied request, on every route, before anything else touches the
//! upstream request. Any incoming header whose name matches one of the site's identity
//! header names — compared case-insensitively and with `_` read as `-`, so
//! `x-customer_id` and `X_CUSTOMER_ID` count — is removed. Only then does the gateway
//! set the verified values (when there is a session).

use http::{HeaderMap, HeaderName};
use sso_config::{IdentityHeaderNames, SiteConfig};

/// The normalised identity header names of one site, built at start-up.
#[derive(Debug, Clone)]
pub struct IdentityHeaderStrip {
    /// Lower-case, `_` replaced by `-`.
    normalised: Vec<String>,
}

impl IdentityHeaderStrip {
    pub fn from_config(names: &IdentityHeaderNames) -> Self {
        IdentityHeaderStrip {
            normalised: names.all().iter().map(|n| normalise(n)).collect(),
        }
    }

    /// The identity header names of every site plus the defaults: what is stripped
    /// from every request, whichever site it is for, so a header one site trusts can
    /// never be smuggled through another.
    pub fn for_sites(sites: &[SiteConfig]) -> Self {
        let defaults = IdentityHeaderNames::default();
        let mut normalised: Vec<String> = Vec::new();
        let all = defaults.all().map(normalise).into_iter();
        let named = sites.iter().flat_map(|s| s.identity_headers.all().map(normalise));
        for name in all.chain(named) {
            if !normalised.contains(&name) {
                normalised.push(name);
            }
        }
        IdentityHeaderStrip { normalised }
    }

    /// This set and every name of `earlier` (a previous configuration's): a header an
    /// origin was told to trust before a reload renamed it stays stripped for the
    /// life of the process, since origins change after the gateway.
    pub fn and_earlier(mut self, earlier: &IdentityHeaderStrip) -> Self {
        for name in &earlier.normalised {
            if !self.normalised.contains(name) {
                self.normalised.push(name.clone());
            }
        }
        self
    }

    /// The incoming headers that impersonate an identity header, to be removed.
    /// Allocates only when some header looks like one.
    pub fn spoofed(&self, headers: &HeaderMap) -> Vec<HeaderName> {
        let mut found = Vec::new();
        for name in headers.keys() {
            if self.is_identity(name.as_str()) && !found.contains(name) {
                found.push(name.clone());
            }
        }
        found
    }

    /// True when `name` (any case, `_` or `-`) is one of the identity headers.
    pub fn is_identity(&self, name: &str) -> bool {
        self.normalised.iter().any(|n| {
            n.len() == name.len()
                && n.bytes().zip(name.bytes()).all(|(a, b)| {
                    let b = b.to_ascii_lowercase();
                    a == b || (a == b'-' && b == b'_')
                })
        })
    }
}

fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn finds_every_case_and_underscore_variant() {
        let strip = IdentityHeaderStrip::from_config(&IdentityHeaderNames::default());
        let mut h = HeaderMap::new();
        for name in [
            "x-customer-id",
            "x-customer_email",
            "x_customer_name",
            "x-customer-token",
            "x-customer-groups",
            "x-customerid",
            "accept",
        ] {
            h.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_static("v"),
            );
        }
        let spoofed: Vec<_> = strip.spoofed(&h).iter().map(|n| n.as_str().to_string()).collect();
        assert_eq!(spoofed.len(), 5, "{spoofed:?}");
        assert!(!spoofed.iter().any(|n| n == "x-customerid" || n == "accept"));
    }

    #[test]
    fn custom_names_are_stripped_too() {
        let names = IdentityHeaderNames {
            id: "X-Shop-User".into(),
            ..IdentityHeaderNames::default()
        };
        let strip = IdentityHeaderStrip::from_config(&names);
        assert!(strip.is_identity("x_shop_user"));
        assert!(!strip.is_identity("x-customer-id"));
    }

    #[test]
    fn a_renamed_header_stays_stripped() {
        let site = |id: &str| IdentityHeaderNames {
            id: id.into(),
            ..IdentityHeaderNames::default()
        };
        let first = IdentityHeaderStrip::from_config(&site("X-Shop-Uid"));
        let second = IdentityHeaderStrip::from_config(&site("X-Shop-Uid2")).and_earlier(&first);
        assert!(second.is_identity("x-shop-uid") && second.is_identity("X_Shop_Uid2"));
        assert!(!second.is_identity("x-shop-other"));
    }
}
