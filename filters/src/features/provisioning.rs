//! Provisioning (docs/provisioning.md): the step of every sign-in that decides which
//! shop customer the shopper is. With a hook (`[sites.provisioning] url`), the hook
//! maps the sign-in (IdP subject, or the SSO session's for a one-time token) to the
//! shop's customer id and groups; without one the IdP's subject is the id. Either way
//! the default group applies when nobody named one.
//!
//! Not on the request path of its own: the IdP sign-in and cross-site redemption ask
//! it through [`super::Features::provisioning`].

use super::SitePipeline;
use crate::auth::AuthSetupError;
use crate::connectors::provisioning::{HookRequest, HookTimer, ProvisionError, Provisioned, Provisioner};
use crate::events::AuthEvents;
use crate::oidc::flow::LoginDone;
use crate::sessions::LoginMethod;
use crate::store::Stores;
use sso_config::{Config, SiteConfig};
use std::sync::Arc;
use std::time::Duration;

/// The site's provisioning hook.
pub struct Provisioning {
    provisioner: Provisioner,
}

impl Provisioning {
    /// The hook of `site`, when it has one; `events` hear of every call.
    pub fn from_config(
        config: &Config,
        site: &SiteConfig,
        stores: &Stores,
        events: &Arc<dyn AuthEvents>,
    ) -> Result<Option<Self>, AuthSetupError> {
        let Some(p) = &site.provisioning else { return Ok(None) };
        let seal = crate::store::seal::Seal::from_config(&config.sessions);
        let (name, events) = (site.name.clone(), events.clone());
        let timer: HookTimer =
            Arc::new(move |took: Duration, outcome| events.provisioning_hook(&name, took.as_secs_f64(), outcome));
        let provisioner =
            Provisioner::new(p, stores.records.clone(), seal, timer).map_err(AuthSetupError::Connectors)?;
        Ok(provisioner.map(|provisioner| Provisioning { provisioner }))
    }

    /// The shop customer `who` is (cached per subject for `cache_ttl`).
    pub async fn map(&self, who: &HookRequest<'_>) -> Result<Provisioned, ProvisionError> {
        self.provisioner.provision(who).await
    }
}

/// The provisioning step of an IdP sign-in: the shop's customer id and groups from
/// the hook (when the site has one), else the IdP's; the default group when nobody
/// named one.
pub async fn provision(site: &SitePipeline, done: &mut LoginDone) -> Result<(), ProvisionError> {
    let config = &site.core.site;
    // With several IdPs, each run by an organisation that can put any groups in its
    // tokens, the IdP's groups grant nothing: only the hook's or the default.
    let idp_groups = match &done.idp {
        Some(_) => std::mem::take(&mut done.customer.groups),
        None => Vec::new(),
    };
    // Nor an address outside the domains its configuration lets it speak for.
    let idp_config = done
        .idp
        .as_deref()
        .and_then(|n| config.idps.iter().find(|i| i.name == n));
    if let (Some(idp), Some(email)) = (idp_config, done.customer.email.as_deref()) {
        if !idp.may_assert_email(email) {
            tracing::info!(site = %config.name, idp = %idp.name, "email outside the IdP's email_domains not passed on");
            done.customer.email = None;
        }
    }
    if let Some(hook) = &site.features.provisioning {
        let c = &done.customer;
        let who = HookRequest {
            site: &config.name,
            method: LoginMethod::Oidc.as_str(),
            issuer: &done.issuer,
            subject: &c.id,
            email: c.email.as_deref(),
            email_verified: done.email_verified,
            name: c.name.as_deref(),
            groups: if done.idp.is_some() { &idp_groups } else { &c.groups },
            idp: done.idp.as_deref(),
        };
        let found = hook.map(&who).await?;
        tracing::info!(site = %config.name, customer = %found.customer_id, created = found.created, "customer provisioned");
        done.customer.id = found.customer_id;
        if !found.groups.is_empty() {
            done.customer.groups = found.groups;
        }
    } else if let Some(idp) = &done.idp {
        // Several IdPs and no hook: each IdP names its own people (an organisation
        // running its own IdP can issue any subject), so the id says which IdP.
        done.customer.id = format!("{idp}:{}", done.customer.id);
    }
    if done.customer.groups.is_empty() {
        done.customer.groups = default_groups(config);
    }
    Ok(())
}

/// The groups of a customer nobody named a group for: `provisioning.default_group`.
pub fn default_groups(site: &SiteConfig) -> Vec<String> {
    site.provisioning
        .iter()
        .filter_map(|p| p.default_group.clone())
        .collect()
}
