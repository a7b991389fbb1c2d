//! The Shopify Multipass hand-off (`[sites.multipass]`, docs/multipass.md): after
//! every sign-in here — IdP, customer-login JWT or one-time token — the browser goes
//! to `{store_url}/account/login/multipass/{token}`, a token minted for that one
//! redirect ([`crate::connectors::multipass`]), which signs the customer in at the
//! Shopify store. A sign-in that started the group's SSO session comes back to
//! `<sso_prefix>/handoff` after the auth host's binding round
//! ([`super::handoff_return`]) and is handed off there.
//!
//! Shopify keys its customers by e-mail address: a token for an address nobody
//! verified would sign the shopper in as whoever owns that address at the store.
//! Without a verified address there is no hand-off: the shopper stays signed in at
//! the gateway and gets a page saying why the shop did not sign them in, with a link
//! on to where they were going.
//!
//! The token is never cached or logged: the redirect carries it, no log line names
//! it (the access line of a request to the Multipass path shows
//! `/account/login/multipass/[redacted]`), and the metric counts outcomes only.

use super::{Feature, Handoff, Landing, SitePipeline};
use crate::connectors::multipass::{fresh_iv, sign_in_url, CustomerData};
use crate::reply::Reply;
use crate::sessions::LoginMethod;
use sso_config::multipass::MultipassConfig;
use sso_config::{Config, SiteConfig};

/// The `platform` label of `sso_gateway_handoffs_total`.
const PLATFORM: &str = "multipass";

/// The stable code of the page a shopper without a verified e-mail address gets.
pub const EMAIL_UNVERIFIED: &str = "handoff_email_unverified";

/// Hands signed-in shoppers on to a Shopify store.
pub struct MultipassHandoff {
    config: MultipassConfig,
    /// Whether tokens carry the customer id as Shopify's `identifier`: only when
    /// every sign-in handed to this store yields ids of one namespace.
    identifier: bool,
}

impl MultipassHandoff {
    pub fn from_config(config: &Config, site: &SiteConfig) -> Option<Self> {
        let multipass = site.multipass.clone()?;
        Some(MultipassHandoff {
            identifier: one_namespace(config, site, &multipass.store_url),
            config: multipass,
        })
    }
}

/// True when the ids of every sign-in handed to the store at `store_url` are of one
/// namespace: `site`'s sign-ins yield one, and every other site handing off to that
/// store yields the same. Otherwise an IdP subject `42` and a merchant's customer `42`
/// would be one `identifier`, and Shopify one customer.
fn one_namespace(config: &Config, site: &SiteConfig, store_url: &str) -> bool {
    let own = site.own_namespaces();
    own.len() == 1
        && config
            .sites
            .iter()
            .filter(|s| s.name != site.name)
            .filter(|s| s.multipass.as_ref().is_some_and(|m| m.store_url == store_url))
            .all(|s| s.own_namespaces() == own)
}

#[async_trait::async_trait]
impl Feature for MultipassHandoff {
    fn name(&self) -> &'static str {
        "multipass"
    }

    fn hands_off(&self, _method: LoginMethod) -> bool {
        true
    }

    fn hand_off(&self, site: &SitePipeline, landing: &Landing<'_>) -> Option<Handoff> {
        let core = &site.core;
        let email = match (landing.email_verified, landing.customer.email.as_deref()) {
            // A plain address only: the one the IdP verified is the one Shopify gets.
            (true, Some(email)) if crate::connectors::customer_login::is_email_address(email) => email,
            _ => {
                core.events.handoff(&core.site.name, PLATFORM, "no_verified_email");
                tracing::info!(site = %core.site.name, customer = %landing.customer.id, method = landing.method.as_str(), "no Multipass hand-off: no verified e-mail address");
                return Some(Handoff::Page(Reply::error_with_link(
                    403,
                    EMAIL_UNVERIFIED,
                    "You are signed in here, but the shop could not sign you in: your account has no verified e-mail address. Verify your e-mail address with your account provider, then sign in again.",
                    landing.json,
                    Some((landing.return_to, "continue_to_shop")),
                )));
            }
        };
        let data = CustomerData::new(
            landing.customer,
            email,
            &self.config.store_url,
            landing.return_to,
            landing.client,
            std::time::SystemTime::now(),
        );
        let data = if self.identifier {
            data
        } else {
            data.without_identifier()
        };
        match sign_in_url(&self.config.store_url, self.config.secret.expose(), &data, &fresh_iv()) {
            Ok(url) => {
                core.events.handoff(&core.site.name, PLATFORM, "handed_off");
                Some(Handoff::To(url))
            }
            Err(e) => {
                core.events.handoff(&core.site.name, PLATFORM, "not_minted");
                tracing::error!(site = %core.site.name, error = %e, "Multipass token not minted; the shopper lands without it");
                None
            }
        }
    }
}
