//! Step-up authentication: `max_auth_age` and `acr_values` on a `login` or `api`
//! route (checkout, payment details, the address book).
//!
//! A signed-in customer whose sign-in is older than `max_auth_age`, or whose `acr` is
//! not listed, does not get the page as they are:
//! - **a page load** (a top-level `GET` navigation) goes back to the session's IdP
//!   with `max_age` (and `prompt=login` when it is 0) and `acr_values`, returning to
//!   the same URL; the callback checks the returned `auth_time` and `acr`
//!   ([`crate::oidc::step_up`]) and that the same customer signed in, else the
//!   shopper gets a clear page and the old session is untouched;
//! - **anything else** (an XHR, an API token, a `HEAD`) gets 401 with
//!   `WWW-Authenticate: Bearer error="insufficient_user_authentication"`, its
//!   `max_age` and `acr_values` (RFC 9470), and starts nothing.
//!
//! A session's sign-in time is the IdP's `auth_time`; for a customer-login JWT, its
//! sign-in; for a one-time token, the sign-in of the SSO session it came from. The
//! IdP for a step-up is the one that signed the session in; for a session signed in
//! otherwise, the site's only IdP. A site with several IdPs cannot step up such a
//! session (it cannot know which IdP knows the customer), nor can an IdP whose
//! sign-in gives customer ids of another namespace than the session's (a
//! customer-login session, whose merchant id no IdP sign-in gives, not even through
//! the site's provisioning hook, another namespace): 403, reason
//! `step_up_idp`, counted, without a round trip that could only be refused.

use super::{Feature, Roles, SitePipeline, SiteRequest};
use crate::auth::Identity;
use crate::navigation::is_navigation;
use crate::oidc::step_up::{acr_accepted, fresh_enough, StepUpAsk};
use crate::rate_limit::Endpoint;
use crate::reply::Reply;
use crate::return_to::return_to_or_root;
use crate::sessions::{now_secs, LoginMethod};
use crate::Flow;
use sso_config::route_policy::RoutePolicy;

/// The gate of the routes' `max_auth_age` and `acr_values`.
pub struct StepUp;

impl StepUp {
    /// The feature, when some route of the site asks for a step-up.
    pub fn from_config(site: &sso_config::SiteConfig) -> Option<Self> {
        site.routes.iter().any(|r| r.policy.has_step_up()).then_some(StepUp)
    }
}

#[async_trait::async_trait]
impl Feature for StepUp {
    fn name(&self) -> &'static str {
        "step_up"
    }

    fn roles(&self) -> Roles {
        Roles {
            gate: true,
            ..Roles::default()
        }
    }

    fn wants_gate(&self, _site: &SitePipeline, r: &SiteRequest<'_>) -> bool {
        r.identity.is_some() && r.route.rule.is_some_and(|rule| rule.policy.has_step_up())
    }

    async fn gate(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Flow<Reply> {
        let (Some(identity), Some(rule)) = (r.identity, r.route.rule) else {
            return Flow::Continue;
        };
        if satisfied(&rule.policy, identity, now_secs()) {
            return Flow::Continue;
        }
        let req = r.req;
        if identity.via.is_bearer() || !is_navigation(&req.method, &req.headers) {
            return Flow::Respond(challenge(&rule.policy));
        }
        Flow::Respond(Self::step_up(site, r, identity, &rule.policy).await)
    }
}

impl StepUp {
    /// Sends a page load back to the session's IdP for a fresh (or stronger) sign-in.
    async fn step_up(site: &SitePipeline, r: &SiteRequest<'_>, identity: &Identity, policy: &RoutePolicy) -> Reply {
        let core = &site.core;
        let session = &identity.session;
        let idp = match session.login.method {
            LoginMethod::Oidc => core.idps.of_session(session),
            _ => core.idps.only(),
        };
        // A sign-in there must be able to give this same customer: a customer-login
        // session never could (its id is of the merchant's namespace, an IdP
        // sign-in's of the IdP's or the hook's), so it is not sent round in vain.
        let could_match = |idp: &crate::auth::idps::Idp| {
            let issuer = idp.flow.provider.config.issuer.as_str();
            let namespace = core.idp_namespace(idp.name(), issuer);
            session.login.namespace.is_empty() || session.login.namespace == namespace
        };
        let Some(idp) = idp.filter(|i| could_match(i)) else {
            core.events.access_denied(&core.site.name, "step_up_idp");
            return super::route_requirements::denied("step_up_idp", r.json);
        };
        if let Some(moved) = core.to_public_host(r.req) {
            return moved;
        }
        if let Some(limited) = core.over_limit(Endpoint::Login, r.client, false).await {
            return limited;
        }
        let here = r.req.uri.path_and_query().map_or("/", |p| p.as_str());
        let ask = StepUpAsk {
            max_age: policy.max_auth_age.map(|d| d.as_secs()),
            acr_values: policy.acr_values.clone(),
            namespace: session.login.namespace.clone(),
            customer_id: session.customer.id.clone(),
        };
        tracing::debug!(site = %core.site.name, customer = %session.customer.id, "step-up: back to the IdP");
        core.start_flow(idp, &r.req.headers, &return_to_or_root(Some(here)), Some(ask))
            .await
    }
}

/// Whether a step-up's new sign-in (`namespace`, `customer_id`, after provisioning)
/// is the customer it was asked for; when it is, the SSO session the browser's
/// current session is linked to (the new one joins it).
pub fn same_customer(
    ask: &StepUpAsk,
    namespace: &str,
    customer_id: &str,
    current: Option<&Identity>,
) -> Result<Option<String>, crate::oidc::CallbackError> {
    // A session recorded before namespaces were kept is compared by id alone.
    let same_namespace = ask.namespace.is_empty() || ask.namespace == namespace;
    if !same_namespace || ask.customer_id != customer_id {
        return Err(crate::oidc::CallbackError::StepUpOtherCustomer);
    }
    let current = current.filter(|i| i.from_cookie() && i.customer().id == customer_id);
    Ok(current.and_then(|i| i.session.sso.clone()))
}

/// True when `identity`'s sign-in is fresh and strong enough for `policy` at `now`.
pub fn satisfied(policy: &RoutePolicy, identity: &Identity, now: u64) -> bool {
    let fresh = policy
        .max_auth_age
        .is_none_or(|age| fresh_enough(identity.session.signed_in_at(), age.as_secs(), now));
    fresh && acr_accepted(identity.session.login.acr.as_deref(), &policy.acr_values)
}

/// The RFC 9470 challenge of a request that cannot be sent to sign in again.
pub fn challenge(policy: &RoutePolicy) -> Reply {
    let description = "A more recent or stronger sign-in is required";
    let mut header = format!("Bearer error=\"insufficient_user_authentication\", error_description=\"{description}\"");
    if let Some(age) = policy.max_auth_age {
        header.push_str(&format!(", max_age={}", age.as_secs()));
    }
    if !policy.acr_values.is_empty() {
        // Values are printable without quotes or backslashes (checked at load).
        let values = policy.acr_values.join(" ").replace(['"', '\\'], "");
        header.push_str(&format!(", acr_values=\"{values}\""));
    }
    let body = serde_json::json!({
        "error": "insufficient_user_authentication",
        "message": format!("{description}: open this page in the browser to confirm your sign-in."),
    });
    Reply::json(401, &body)
        .header("www-authenticate", header)
        .header("cache-control", "no-store")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_challenge_says_what_is_missing_as_rfc_9470_writes_it() {
        let policy = RoutePolicy {
            max_auth_age: Some(Duration::from_secs(600)),
            acr_values: vec!["mfa".into(), "hwk".into()],
            ..RoutePolicy::default()
        };
        let reply = challenge(&policy);
        assert_eq!(reply.status, 401);
        let header = reply
            .headers
            .iter()
            .find(|(n, _)| *n == "www-authenticate")
            .map(|(_, v)| v.as_str());
        assert_eq!(
            header,
            Some("Bearer error=\"insufficient_user_authentication\", error_description=\"A more recent or stronger sign-in is required\", max_age=600, acr_values=\"mfa hwk\"")
        );
    }
}
