//! Which access rule applies to a path.
//!
//! Routes come from `[[sites.routes]]`; the longest matching prefix wins and a path no
//! route matches is `public`. A prefix matches whole path segments: `/account` covers
//! `/account` and `/account/orders` but not `/accounts` (a prefix written `/account/`
//! is the same route). The path matched is the request's route key
//! ([`crate::request_path::RequestPath::route_key`]), never the raw URI; on a site
//! with case-insensitive paths, prefixes are lower-cased like the key.

use sso_config::{Access, PathPolicy, RouteConfig};

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// Longest prefix first.
    routes: Vec<RouteConfig>,
}

impl RouteTable {
    pub fn from_config(routes: &[RouteConfig], paths: PathPolicy) -> Self {
        let mut routes = routes.to_vec();
        for r in &mut routes {
            if paths.case_insensitive {
                r.prefix.make_ascii_lowercase();
            }
            if r.prefix.len() > 1 {
                r.prefix = r.prefix.trim_end_matches('/').to_string();
            }
        }
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        RouteTable { routes }
    }

    /// The rule of the route `path` is on (the longest matching prefix), if any: what
    /// every per-route feature reads its settings from.
    pub fn rule(&self, path: &str) -> Option<&RouteConfig> {
        self.routes.iter().find(|r| prefix_matches(&r.prefix, path))
    }

    /// The access rule for a request's route key.
    pub fn access(&self, path: &str) -> Access {
        self.rule(path).map_or(Access::Public, |r| r.access)
    }
}

/// Segment-wise prefix match.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || prefix == "/",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_on_segment_boundaries() {
        let table = RouteTable::from_config(
            &[
                RouteConfig {
                    prefix: "/account".into(),
                    access: Access::Login,
                    forward_idp_access_token: false,
                    policy: Default::default(),
                    cors_preflight: sso_config::CorsPreflight::Origin,
                },
                RouteConfig {
                    prefix: "/account/api".into(),
                    access: Access::Api,
                    forward_idp_access_token: false,
                    policy: Default::default(),
                    cors_preflight: sso_config::CorsPreflight::Origin,
                },
                RouteConfig {
                    prefix: "/".into(),
                    access: Access::Public,
                    forward_idp_access_token: false,
                    policy: Default::default(),
                    cors_preflight: sso_config::CorsPreflight::Origin,
                },
                RouteConfig {
                    prefix: "/Admin/".into(),
                    access: Access::Api,
                    forward_idp_access_token: false,
                    policy: Default::default(),
                    cors_preflight: sso_config::CorsPreflight::Origin,
                },
            ],
            PathPolicy::default(),
        );
        assert_eq!(table.access("/account"), Access::Login);
        assert_eq!(table.access("/account/orders"), Access::Login);
        assert_eq!(table.access("/account/api/cart"), Access::Api);
        assert_eq!(table.access("/accounts"), Access::Public);
        assert_eq!(table.access("/"), Access::Public);
        // `/Admin/` covers the bare `/admin` too, in any case (keys arrive lower-cased).
        assert_eq!(table.access("/admin"), Access::Api);
        assert_eq!(table.access("/admin/x"), Access::Api);
        assert_eq!(table.access("/administrator"), Access::Public);
    }
}
