//! `GET <sso_prefix>/handoff?return_to=/p`: where a sign-in comes back to after the
//! auth host's binding round (cross-site sign-on) on a site that hands shoppers on to
//! a platform (`[sites.platform_login]`, `[sites.multipass]`): the hand-off for the
//! session the browser's cookie names ([`SitePipeline::landing`]). The platform's
//! token is minted here, so it never travels through the auth host.
//!
//! It redirects to `return_to` as it is for anything else: no session, an API token,
//! not a page load (a prefetch must not spend a token). It counts against
//! `server.rate_limits.token`.

use super::{Feature, GatewayPath, Landing, SitePipeline, SiteRequest};
use crate::rate_limit::Endpoint;
use crate::reply::Reply;
use sso_config::SiteConfig;

/// The path (after `sso_prefix`) a sign-in comes back to after the binding round.
pub const HANDOFF_PATH: &str = "/handoff";

/// Answers `<sso_prefix>/handoff` on a site with a platform hand-off.
pub struct HandoffReturn;

impl HandoffReturn {
    pub fn from_config(site: &SiteConfig) -> Option<Self> {
        (site.platform_login.is_some() || site.multipass.is_some()).then_some(HandoffReturn)
    }

    /// `<sso_prefix>/handoff?return_to=…` for `return_to` (already checked): where a
    /// sign-in that goes through the auth host comes back to.
    pub fn after_binding(sso_prefix: &str, return_to: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", return_to)
            .finish();
        format!("{sso_prefix}{HANDOFF_PATH}?{query}")
    }
}

#[async_trait::async_trait]
impl Feature for HandoffReturn {
    fn name(&self) -> &'static str {
        "handoff_return"
    }

    fn paths(&self) -> Vec<GatewayPath> {
        vec![GatewayPath::UnderPrefix(HANDOFF_PATH)]
    }

    async fn answer(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        let core = &site.core;
        if !r.is_get() {
            return Reply::error(404, "not_found", "There is nothing here.", r.json);
        }
        if let Some(limited) = core.over_limit(Endpoint::Token, r.client, r.json).await {
            return limited;
        }
        let return_to = crate::request_parts::query_param(r.query(), "return_to")
            .and_then(|t| crate::return_to::safe_return_to(&t).map(str::to_string))
            .unwrap_or_else(|| "/".to_string());
        let reply = match r.browser() {
            // A page of another site must not re-sign the shopper in at the platform
            // (as a logout from elsewhere ends only this site's session).
            Some(i)
                if crate::navigation::is_navigation(&r.req.method, &r.req.headers)
                    && !crate::navigation::from_another_site(&r.req.headers) =>
            {
                let login = &i.session.login;
                site.landing(&Landing {
                    customer: i.customer(),
                    email_verified: login.email_verified,
                    method: login.method,
                    return_to: &return_to,
                    client: r.client,
                    json: r.json,
                })
            }
            _ => Reply::redirect(303, return_to),
        };
        // The binding round's URL said where the shopper goes: no `Referer` on from it.
        match reply.headers.iter().any(|(name, _)| *name == "referrer-policy") {
            true => reply,
            false => reply.set_header("referrer-policy", "no-referrer"),
        }
    }
}
