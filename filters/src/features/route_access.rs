//! Route access: the gate of `[[sites.routes]]` `access`, for requests no endpoint
//! answered. Runs after the other features' gates (an `auto` site's trip to the auth
//! host goes first).
//!
//! `public` routes always continue. On `login` routes an anonymous page load (a
//! top-level `GET` navigation, see [`crate::navigation`]) is sent straight to the
//! IdP — the flow starts here, returning to the same path — within the client's
//! login rate limit (on a site with several IdPs, to the chooser page, which starts
//! nothing and costs no budget; on a linked site, to the group's auth host first; on
//! a site with a merchant login page, there); anything else (images, scripts,
//! XHR/JSON, `HEAD`, prefetches) gets a 401 and starts nothing. On `api` routes
//! anonymous calls always get a 401 JSON with `WWW-Authenticate`, never a redirect.
//! When the session store cannot be reached, a non-public route answers 503: the
//! credential could not be checked, so neither let it through nor send a shopper who
//! may be signed in to log in again.

use super::{Feature, SitePipeline, SiteRequest};
use crate::navigation::{is_navigation, is_page_request};
use crate::rate_limit::Endpoint;
use crate::reply::{store_unavailable, Reply};
use crate::return_to::return_to_or_root;
use crate::Flow;
use sso_config::Access;

/// The access rule of the request's route.
pub struct RouteAccess;

#[async_trait::async_trait]
impl Feature for RouteAccess {
    fn name(&self) -> &'static str {
        "route_access"
    }

    fn roles(&self) -> super::Roles {
        super::Roles {
            gate: true,
            ..super::Roles::default()
        }
    }

    fn wants_gate(&self, _site: &SitePipeline, r: &SiteRequest<'_>) -> bool {
        r.route.access != Access::Public && r.identity.is_none()
    }

    async fn gate(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Flow<Reply> {
        if r.store_down {
            return Flow::Respond(store_unavailable(r.json));
        }
        Flow::Respond(Self::anonymous(site, r).await)
    }
}

impl RouteAccess {
    /// The answer to an anonymous request on a `login` or `api` route.
    async fn anonymous(site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        let (core, req) = (&site.core, r.req);
        if r.route.access == Access::Api {
            return core.login_required(true);
        }
        if !is_navigation(&req.method, &req.headers) {
            return core.login_required(!is_page_request(&req.headers));
        }
        let here = req.uri.path_and_query().map_or("/", |p| p.as_str());
        if let Some(moved) = core.to_public_host(req) {
            return moved;
        }
        let return_to = return_to_or_root(Some(here));
        let several = core.idps.only().is_none() && !core.idps.is_empty();
        if several && core.site.merchant_login.is_none() {
            // Several IdPs: to the chooser, which starts nothing (and costs no budget).
            return core.start_login(&req.headers, &return_to).await;
        }
        // A linked site asks the group's auth host first: no form with an SSO session.
        if let Some(cross_site) = &site.features.cross_site {
            if let Some(ask) = cross_site.login_via_auth_host(core, &req.headers, &return_to, None) {
                return ask;
            }
        }
        if let Some(limited) = core.over_limit(Endpoint::Login, r.client, false).await {
            return limited;
        }
        if let Some(merchant) = super::customer_login::merchant_login(&core.site, &return_to) {
            return merchant;
        }
        core.start_login(&req.headers, &return_to).await
    }
}
