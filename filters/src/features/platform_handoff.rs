//! The platform hand-off (`[sites.platform_login]`, docs/platform-login.md): after a
//! sign-in here the browser goes through the origin platform's customer-login
//! endpoint (`{path}{jwt}`, a token minted for that one redirect), which signs the
//! customer in at the platform too.
//!
//! A sign-in that started the group's SSO session goes through the auth host's
//! binding round first (so a global logout finds it) and comes back to
//! `GET <sso_prefix>/handoff?return_to=/p`, which mints the token for the session the
//! browser's cookie names. The platform's token never travels through the auth host.
//! `/handoff` redirects to `return_to` as it is for anything else: no session, an API
//! token, not a page load (a prefetch must not spend a token). It counts against
//! `server.rate_limits.token`.

use super::{Feature, GatewayPath, SitePipeline, SiteRequest};
use crate::auth::SiteAuth;
use crate::connectors::customer_login::mint;
use crate::rate_limit::Endpoint;
use crate::reply::Reply;
use crate::sessions::now_secs;
use sso_config::{PlatformLoginConfig, SiteConfig};
use std::net::IpAddr;

/// The path (after `sso_prefix`) a sign-in comes back to after the binding round.
pub const HANDOFF_PATH: &str = "/handoff";

/// Hands signed-in shoppers on to the platform origin.
pub struct PlatformHandoff {
    config: PlatformLoginConfig,
}

impl PlatformHandoff {
    pub fn from_config(site: &SiteConfig) -> Option<Self> {
        site.platform_login.clone().map(|config| PlatformHandoff { config })
    }

    /// The platform's customer-login URL for `customer_id`, landing on `return_to`
    /// (already checked); `None` when no token could be minted (the shopper then
    /// lands without it).
    fn target(&self, core: &SiteAuth, customer_id: &str, return_to: &str, client: Option<IpAddr>) -> Option<String> {
        match mint(&self.config, customer_id, return_to, client, now_secs()) {
            Ok(jwt) => Some(format!("{}{jwt}", self.config.path)),
            Err(e) => {
                tracing::error!(site = %core.site.name, error = %e, "platform login token not minted; the shopper lands without it");
                None
            }
        }
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
impl Feature for PlatformHandoff {
    fn name(&self) -> &'static str {
        "platform_handoff"
    }

    fn paths(&self) -> Vec<GatewayPath> {
        vec![GatewayPath::UnderPrefix(HANDOFF_PATH)]
    }

    fn hands_off(&self) -> bool {
        true
    }

    fn hand_off(
        &self,
        site: &SitePipeline,
        customer_id: &str,
        return_to: &str,
        client: Option<IpAddr>,
    ) -> Option<String> {
        self.target(&site.core, customer_id, return_to, client)
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
        let target = match r.browser() {
            Some(i) if crate::navigation::is_navigation(&r.req.method, &r.req.headers) => {
                site.landing(&i.customer().id, &return_to, r.client)
            }
            _ => return_to,
        };
        Reply::redirect(303, target)
            .header("cache-control", "no-store")
            .header("referrer-policy", "no-referrer")
    }
}
