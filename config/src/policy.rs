//! A route's policy as the configuration model holds it (`[[sites.routes]]`
//! `require_*`, `max_auth_age`, `acr_values`); its checks are in [`crate::route_policy`].

use std::time::Duration;

/// The login methods a route may require (`require_methods`).
pub const METHODS: [&str; 4] = ["oidc", "customer_login", "ott", "api_token"];

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
