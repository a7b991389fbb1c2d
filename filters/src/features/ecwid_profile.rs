//! The Ecwid widget profile: `GET <sso_prefix>/ecwid/sso-profile.js` on a site with
//! `[sites.ecwid]` (docs/ecwid.md). The signed profile of the session the browser's
//! cookie names; empty for anyone else (an anonymous visitor, an API token, a
//! cross-site request). The signing is `crate::connectors::ecwid`.

use super::{Feature, GatewayPath, SitePipeline, SiteRequest};
use crate::connectors::ecwid::{fresh_uniqueness, reply, script, sso_profile, PROFILE_PATH};
use crate::reply::Reply;
use sso_config::SiteConfig;

/// Serves the Ecwid SSO profile script.
pub struct EcwidProfile {
    config: sso_config::ecwid::EcwidConfig,
}

impl EcwidProfile {
    pub fn from_config(site: &SiteConfig) -> Option<Self> {
        site.ecwid.clone().map(|config| EcwidProfile { config })
    }
}

#[async_trait::async_trait]
impl Feature for EcwidProfile {
    fn name(&self) -> &'static str {
        "ecwid_profile"
    }

    fn paths(&self) -> Vec<GatewayPath> {
        vec![GatewayPath::UnderPrefix(PROFILE_PATH)]
    }

    async fn answer(&self, site: &SitePipeline, r: &SiteRequest<'_>) -> Reply {
        let core = &site.core;
        if !r.is_get() {
            return Reply::error(404, "not_found", "There is nothing here.", r.json);
        }
        let customer = r.browser().map(|i| i.customer());
        let profile = match customer {
            Some(_) if crate::navigation::from_another_site(&r.req.headers) => {
                core.events.rejected(&core.site.name, "ecwid_cross_site");
                tracing::info!(site = %core.site.name, "Ecwid profile refused to a cross-site request");
                String::new()
            }
            Some(c) => sso_profile(&self.config, c, crate::sessions::now_secs(), &fresh_uniqueness()),
            None => String::new(),
        };
        let base = format!(
            "{}{}",
            core.site.public_url.as_str().trim_end_matches('/'),
            core.site.sso_prefix
        );
        reply(script(&profile, &format!("{base}/login"), &format!("{base}/logout")))
    }
}
