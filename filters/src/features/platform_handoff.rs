//! The platform hand-off (`[sites.platform_login]`, docs/platform-login.md): after an
//! IdP sign-in here (or a one-time-token sign-in derived from one) the browser goes
//! through the origin platform's customer-login endpoint (`{path}{jwt}`, a token
//! minted for that one redirect), which signs the customer in at the platform too.
//!
//! A sign-in by the merchant's own customer-login JWT is not handed off: the
//! merchant's website signed that customer in, at the platform's own format. A
//! sign-in that started the group's SSO session comes back to
//! `<sso_prefix>/handoff` after the auth host's binding round
//! ([`super::handoff_return`]), which asks this feature then.

use super::{Feature, Handoff, Landing, SitePipeline};
use crate::connectors::customer_login::mint;
use crate::sessions::{now_secs, LoginMethod};
use sso_config::{PlatformLoginConfig, SiteConfig};

/// The `platform` label of `sso_gateway_handoffs_total`.
const PLATFORM: &str = "platform_login";

/// Hands signed-in shoppers on to the platform origin.
pub struct PlatformHandoff {
    config: PlatformLoginConfig,
}

impl PlatformHandoff {
    pub fn from_config(site: &SiteConfig) -> Option<Self> {
        site.platform_login.clone().map(|config| PlatformHandoff { config })
    }
}

#[async_trait::async_trait]
impl Feature for PlatformHandoff {
    fn name(&self) -> &'static str {
        "platform_handoff"
    }

    fn hands_off(&self, method: LoginMethod) -> bool {
        method != LoginMethod::CustomerLogin
    }

    /// The platform's customer-login URL for the customer, landing on `return_to`;
    /// `None` when no token could be minted (the shopper then lands without it).
    fn hand_off(&self, site: &SitePipeline, landing: &Landing<'_>) -> Option<Handoff> {
        if !self.hands_off(landing.method) {
            return None;
        }
        let core = &site.core;
        match mint(
            &self.config,
            &landing.customer.id,
            landing.return_to,
            landing.client,
            now_secs(),
        ) {
            Ok(jwt) => {
                core.events.handoff(&core.site.name, PLATFORM, "handed_off");
                Some(Handoff::To(format!("{}{jwt}", self.config.path)))
            }
            Err(e) => {
                core.events.handoff(&core.site.name, PLATFORM, "not_minted");
                tracing::error!(site = %core.site.name, error = %e, "platform login token not minted; the shopper lands without it");
                None
            }
        }
    }
}
