//! A route's policy: who may use a `login` or `api` route once signed in
//! (`require_groups`, `require_email_domains`, `require_idps`, `require_methods`,
//! `require_claims`), and how fresh and strong their sign-in must be (`max_auth_age`,
//! `acr_values`, step-up). Read by the features `route_requirements` and `step_up`.
//!
//! `check` refuses a policy that could never be met or would silently not apply: any
//! requirement on a `public` route (anonymous requests pass it), an IdP name the site
//! does not have, claims or step-up on a site without an IdP, an empty list (which
//! would refuse everyone), an unknown login method.

use crate::model::Access;
use crate::raw::RawRoute;
use crate::validator::Validator;
use std::time::Duration;

/// The login methods a route may require (`require_methods`).
pub const METHODS: [&str; 4] = ["oidc", "customer_login", "ott", "api_token"];

/// Longest accepted `max_auth_age` (a step-up older than a day is no step-up).
const MAX_AUTH_AGE: Duration = Duration::from_secs(24 * 3600);

/// What a signed-in customer must meet on a route. Every list is "any of"; every
/// requirement set must hold. The default requires nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePolicy {
    pub require_groups: Vec<String>,
    /// Lower-case domains; the customer's verified email is at one of them (or a
    /// subdomain).
    pub require_email_domains: Vec<String>,
    /// `[[sites.idps]]` names.
    pub require_idps: Vec<String>,
    /// Of [`METHODS`].
    pub require_methods: Vec<String>,
    /// `(claim, accepted values)`, sorted by claim.
    pub require_claims: Vec<(String, Vec<String>)>,
    /// The sign-in must be at most this old (step-up); zero asks for a fresh one.
    pub max_auth_age: Option<Duration>,
    /// The sign-in's `acr` must be one of these (step-up).
    pub acr_values: Vec<String>,
}

impl RoutePolicy {
    /// True when a signed-in customer must meet something beyond being signed in.
    pub fn requires_anything(&self) -> bool {
        self.has_requirements() || self.has_step_up()
    }

    /// True when some `require_*` key is set.
    pub fn has_requirements(&self) -> bool {
        !(self.require_groups.is_empty()
            && self.require_email_domains.is_empty()
            && self.require_idps.is_empty()
            && self.require_methods.is_empty()
            && self.require_claims.is_empty())
    }

    /// True when `max_auth_age` or `acr_values` is set.
    pub fn has_step_up(&self) -> bool {
        self.max_auth_age.is_some() || !self.acr_values.is_empty()
    }
}

/// What the route policy checks need to know of its site.
pub(crate) struct SiteFacts<'a> {
    /// The names of `[[sites.idps]]`.
    pub idp_names: Vec<&'a str>,
    /// The site signs in with an IdP (`[sites.oidc]` or `[[sites.idps]]`).
    pub has_idp: bool,
}

/// The policy keys of route `rp`, checked against its access and its site.
pub(crate) fn route_policy(
    v: &mut Validator<'_>,
    rp: &str,
    raw: &RawRoute,
    access: Access,
    site: &SiteFacts<'_>,
) -> RoutePolicy {
    let mut list = |key: &str, raw: &Option<Vec<String>>, lower: bool| -> Vec<String> {
        let Some(values) = raw else { return Vec::new() };
        let path = format!("{rp}.{key}");
        if values.is_empty() {
            v.errors.push(
                &path,
                "is empty, which would refuse everyone: remove the key or list values",
            );
        }
        let mut out = Vec::with_capacity(values.len());
        for value in values {
            let value = value.trim();
            if value.is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
                v.errors
                    .push(&path, format!("{value:?} must be 1 to 256 printable characters"));
                continue;
            }
            out.push(if lower {
                value.to_ascii_lowercase()
            } else {
                value.to_string()
            });
        }
        out
    };
    let require_groups = list("require_groups", &raw.require_groups, false);
    let require_email_domains = list("require_email_domains", &raw.require_email_domains, true);
    let require_idps = list("require_idps", &raw.require_idps, false);
    let require_methods = list("require_methods", &raw.require_methods, false);
    let acr_values = list("acr_values", &raw.acr_values, false);
    let mut require_claims = Vec::new();
    for (claim, values) in raw.require_claims.iter().flatten() {
        let values = list(&format!("require_claims.{claim}"), &Some(values.clone()), false);
        require_claims.push((claim.clone(), values));
    }
    for acr in &acr_values {
        if acr.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
            v.errors.push(
                format!("{rp}.acr_values"),
                format!("{acr:?} cannot hold spaces, quotes or backslashes (acr_values is a space-separated list)"),
            );
        }
    }
    for domain in &require_email_domains {
        let valid = domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !domain.starts_with('.')
            && domain.contains('.');
        if !valid {
            v.errors.push(
                format!("{rp}.require_email_domains"),
                format!("{domain:?} is not a domain name (like \"acme.example\", no @)"),
            );
        }
    }
    for idp in &require_idps {
        if !site.idp_names.contains(&idp.as_str()) {
            let known = match site.idp_names.is_empty() {
                true => "the site has no [[sites.idps]]".to_string(),
                false => format!("the site's IdPs are {:?}", site.idp_names),
            };
            v.errors.push(
                format!("{rp}.require_idps"),
                format!("{idp:?} is not the name of one of this site's [[sites.idps]]: {known}"),
            );
        }
    }
    for method in &require_methods {
        if !METHODS.contains(&method.as_str()) {
            v.errors.push(
                format!("{rp}.require_methods"),
                format!("{method:?} is not one of {METHODS:?}"),
            );
        }
    }
    if !require_claims.is_empty() && !site.has_idp {
        v.errors.push(
            format!("{rp}.require_claims"),
            "needs an IdP that sends claims ([sites.oidc] or [[sites.idps]]): customer-login JWTs carry none",
        );
    }
    let max_auth_age = raw.max_auth_age.as_deref().and_then(|text| {
        let path = format!("{rp}.max_auth_age");
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d > MAX_AUTH_AGE => {
                v.errors.push(&path, "must be at most 24h");
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                v.errors.push(
                    &path,
                    format!("{text:?} is not a duration (write it like \"0s\", \"10m\", \"1h\")"),
                );
                None
            }
        }
    });
    let policy = RoutePolicy {
        require_groups,
        require_email_domains,
        require_idps,
        require_methods,
        require_claims,
        max_auth_age,
        acr_values,
    };
    if policy.has_step_up() && !site.has_idp {
        v.errors.push(
            format!("{rp}.max_auth_age"),
            "step-up (max_auth_age, acr_values) needs an IdP that can sign the customer in again: add [sites.oidc] or [[sites.idps]]",
        );
    }
    if policy.requires_anything() && access == Access::Public {
        v.errors.push(
            format!("{rp}.access"),
            "a route with require_*, max_auth_age or acr_values must be \"login\" or \"api\": a public route lets anonymous requests through",
        );
    }
    policy
}
