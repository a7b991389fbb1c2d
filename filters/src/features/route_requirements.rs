//! Route requirements: who may use a `login` or `api` route once signed in
//! (`require_groups`, `require_email_domains`, `require_idps`, `require_methods`,
//! `require_claims` on `[[sites.routes]]`, see `sso_config::route_policy`).
//!
//! Every listed requirement must hold; each list is "any of". A signed-in customer
//! who fails one gets a 403 — a page for a page load, JSON
//! `{"error":"access_denied","reason":…}` for anything else — never a login redirect
//! (signing in again would not change who they are, and a redirect could loop), and
//! `sso_gateway_access_denied_total{site,reason}` counts it. Anonymous requests are
//! not this feature's: `route_access` answers them as before.
//!
//! What is checked, and where it comes from:
//! - `method`: how the request proved the session — `api_token` for a gateway API
//!   token, else how the session was signed in (`oidc`, `customer_login`, `ott`);
//! - `idp`: the `[[sites.idps]]` name that signed the session in (a one-time-token
//!   session has none here: it was signed in on another site);
//! - `group`: the customer's groups (ID token and userinfo `groups`, or the
//!   provisioning hook's);
//! - `email_domain`: the customer's email, only when the IdP said it is verified;
//! - `claim`: the claims kept at sign-in (ID token and userinfo).

use super::{Feature, Roles, SitePipeline, SiteRequest};
use crate::auth::Identity;
use crate::navigation::is_page_request;
use crate::reply::Reply;
use crate::Flow;
use sso_config::route_policy::RoutePolicy;

/// The gate of the routes' `require_*` keys.
pub struct RouteRequirements;

impl RouteRequirements {
    /// The feature, when some route of the site has a requirement.
    pub fn from_config(site: &sso_config::SiteConfig) -> Option<Self> {
        site.routes
            .iter()
            .any(|r| r.policy.has_requirements())
            .then_some(RouteRequirements)
    }
}

#[async_trait::async_trait]
impl Feature for RouteRequirements {
    fn name(&self) -> &'static str {
        "route_requirements"
    }

    fn roles(&self) -> Roles {
        Roles {
            gate: true,
            ..Roles::default()
        }
    }

    fn wants_gate(&self, _site: &SitePipeline, r: &SiteRequest<'_>) -> bool {
        r.identity.is_some() && r.route.rule.is_some_and(|rule| rule.policy.has_requirements())
    }

    async fn gate(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Flow<Reply> {
        let (Some(identity), Some(rule)) = (r.identity, r.route.rule) else {
            return Flow::Continue;
        };
        match unmet(&rule.policy, identity) {
            None => Flow::Continue,
            Some(reason) => {
                let core = &site.core;
                core.events.access_denied(&core.site.name, reason);
                tracing::debug!(site = %core.site.name, route = %rule.prefix, reason, "access denied by the route's requirements");
                let json = r.json || r.route.access == sso_config::Access::Api || !is_page_request(&r.req.headers);
                Flow::Respond(denied(reason, json))
            }
        }
    }
}

/// The 403 of a failed requirement (JSON with its `reason` for API calls).
pub fn denied(reason: &'static str, json: bool) -> Reply {
    let message =
        "Your account cannot open this page. If you have another account with access, sign out and sign in with it.";
    Reply::error(403, "access_denied", message, json)
        .with_json_field("reason", reason)
        .header("cache-control", "no-store")
}

/// The first requirement of `policy` that `identity` does not meet, by its reason
/// (the metric label), or `None` when it meets them all.
pub fn unmet(policy: &RoutePolicy, identity: &Identity) -> Option<&'static str> {
    let login = &identity.session.login;
    let customer = identity.customer();
    let method = match identity.via.is_bearer() {
        true => "api_token",
        false => login.method.as_str(),
    };
    if !any_or_unset(&policy.require_methods, |m| m == method) {
        return Some("method");
    }
    let idp = login.idp.as_deref();
    if !any_or_unset(&policy.require_idps, |name| Some(name) == idp) {
        return Some("idp");
    }
    if !any_or_unset(&policy.require_groups, |g| customer.groups.iter().any(|have| have == g)) {
        return Some("group");
    }
    let verified = customer.email.as_deref().filter(|_| login.email_verified);
    if !any_or_unset(&policy.require_email_domains, |d| {
        verified.is_some_and(|e| at_domain(e, d))
    }) {
        return Some("email_domain");
    }
    let claims_met = policy.require_claims.iter().all(|(name, accepted)| {
        login
            .claims
            .iter()
            .find(|(have, _)| have == name)
            .is_some_and(|(_, values)| values.iter().any(|v| accepted.contains(v)))
    });
    if !claims_met {
        return Some("claim");
    }
    None
}

/// True when `list` is empty (no requirement) or one of its entries passes `test`.
fn any_or_unset(list: &[String], test: impl Fn(&str) -> bool) -> bool {
    list.is_empty() || list.iter().any(|entry| test(entry))
}

/// True when `email`'s domain is `domain` (lower-case) or a subdomain of it.
fn at_domain(email: &str, domain: &str) -> bool {
    let Some((_, at)) = email.rsplit_once('@') else {
        return false;
    };
    let at = at.to_ascii_lowercase();
    at == domain || at.strip_suffix(domain).is_some_and(|rest| rest.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Via;
    use crate::identity::Customer;
    use crate::secret::Sid;
    use crate::sessions::{LoginMethod, LoginSource, RefreshState, SessionData};
    use std::sync::Arc;
    use std::time::Duration;

    fn identity(groups: &[&str], email: Option<&str>, verified: bool, method: LoginMethod, via: Via) -> Identity {
        let customer = Customer {
            id: "c-1".into(),
            email: email.map(str::to_string),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Customer::default()
        };
        let login = LoginSource {
            method,
            idp: Some("acme".into()),
            email_verified: verified,
            claims: vec![("department".into(), vec!["sales".into()])],
            ..LoginSource::oidc("c-1")
        };
        let data = SessionData::new(
            "shop".into(),
            customer,
            None,
            RefreshState::new(None, None, Duration::ZERO),
            60,
        )
        .with_login(login);
        Identity {
            session: Arc::new(data),
            sid: Sid::of(&crate::secret::SessionId::random()),
            via,
            renewed_cookie: None,
        }
    }

    fn policy(f: impl FnOnce(&mut RoutePolicy)) -> RoutePolicy {
        let mut p = RoutePolicy::default();
        f(&mut p);
        p
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_requirement_refuses_with_its_reason() {
        let ann = identity(
            &["wholesale"],
            Some("ann@shop.acme.example"),
            true,
            LoginMethod::Oidc,
            Via::Cookie,
        );
        let groups = policy(|p| p.require_groups = strings(&["retail", "wholesale"]));
        assert_eq!(unmet(&groups, &ann), None);
        let staff = policy(|p| p.require_groups = strings(&["staff"]));
        assert_eq!(unmet(&staff, &ann), Some("group"));
        let domain = policy(|p| p.require_email_domains = strings(&["acme.example"]));
        assert_eq!(unmet(&domain, &ann), None, "a subdomain counts");
        let other = policy(|p| p.require_email_domains = strings(&["cme.example"]));
        assert_eq!(unmet(&other, &ann), Some("email_domain"), "a suffix is not a domain");
        let unverified = identity(&[], Some("ann@acme.example"), false, LoginMethod::Oidc, Via::Cookie);
        assert_eq!(unmet(&domain, &unverified), Some("email_domain"));
        let oidc = policy(|p| p.require_methods = strings(&["oidc"]));
        assert_eq!(unmet(&oidc, &ann), None);
        let jwt = identity(&[], None, false, LoginMethod::CustomerLogin, Via::Cookie);
        assert_eq!(unmet(&oidc, &jwt), Some("method"));
        let api = identity(&[], None, false, LoginMethod::Oidc, Via::Bearer);
        assert_eq!(unmet(&oidc, &api), Some("method"), "an API token is its own method");
        let idps = policy(|p| p.require_idps = strings(&["globex"]));
        assert_eq!(unmet(&idps, &ann), Some("idp"));
        let sales = policy(|p| p.require_claims = vec![("department".into(), strings(&["ops", "sales"]))]);
        assert_eq!(unmet(&sales, &ann), None);
        let ops = policy(|p| p.require_claims = vec![("department".into(), strings(&["ops"]))]);
        assert_eq!(unmet(&ops, &ann), Some("claim"));
        let missing = policy(|p| p.require_claims = vec![("level".into(), strings(&["3"]))]);
        assert_eq!(unmet(&missing, &ann), Some("claim"));
        let all = policy(|p| {
            p.require_groups = strings(&["wholesale"]);
            p.require_methods = strings(&["oidc"]);
            p.require_email_domains = strings(&["elsewhere.example"]);
        });
        assert_eq!(unmet(&all, &ann), Some("email_domain"), "every requirement must hold");
    }

    #[test]
    fn an_api_call_gets_json_with_the_reason() {
        let reply = denied("group", true);
        assert_eq!(reply.status, 403);
        let body: serde_json::Value = serde_json::from_slice(reply.body.as_bytes()).expect("json");
        assert_eq!(
            (body["error"].as_str(), body["reason"].as_str()),
            (Some("access_denied"), Some("group"))
        );
    }
}
