//! Customer namespaces: what a customer id means. An id is only ever compared with,
//! or handed on as, an id of the same namespace.
//!
//! - `oidc:<issuer>`: the subject an IdP names (a site without a provisioning hook);
//! - `oidc:<issuer>#<name>`: `<name>:<subject>`, the ids a named IdP of
//!   `[[sites.idps]]` gives on a site without a hook;
//! - `customer_login:<client_id>/<store_hash>`: the customer id a merchant's
//!   customer-login JWT names;
//! - `hook:<url>`: the shop customer a provisioning hook maps a sign-in to.
//!
//! A site's own sign-ins give ids of [`SiteConfig::own_namespaces`]. A site with a
//! hook maps every sign-in, one-time tokens included, into its hook's namespace, so it
//! may take a shopper from any namespace; a site without one may only take ids of a
//! namespace it knows ([`SiteConfig::accepts`]). Cross-site sign-on checks this at
//! `check` (the group) and again at every redemption.

use crate::model::SiteConfig;

/// The namespace of the ids an IdP with `issuer` names.
pub fn oidc(issuer: &str) -> String {
    format!("oidc:{issuer}")
}

/// The namespace of the ids a named IdP of `[[sites.idps]]` gives on a site without a
/// hook: `<name>:<subject>` (the name says which organisation's IdP), so they are
/// not the subjects of the same IdP configured as a site's single `[sites.oidc]`.
pub fn named_idp(name: &str, issuer: &str) -> String {
    format!("oidc:{issuer}#{name}")
}

/// The namespace of the ids a customer-login JWT of `client_id` / `store_hash` names.
pub fn customer_login(client_id: &str, store_hash: &str) -> String {
    format!("customer_login:{client_id}/{store_hash}")
}

/// What an operator reads for a namespace in an error (a hook URL may carry a
/// secret in its query: only its host and path are shown).
pub fn describe(namespace: &str) -> String {
    if let Some(issuer) = namespace.strip_prefix("oidc:") {
        return match issuer.split_once('#') {
            Some((issuer, name)) => {
                format!("ids \"{name}:<subject>\" of the IdP {issuer} ([[sites.idps]] name {name})")
            }
            None => format!("subjects of the IdP {issuer}"),
        };
    }
    if let Some(rest) = namespace.strip_prefix("customer_login:") {
        return format!("customer-login ids of {rest} (client_id/store_hash)");
    }
    if let Some(url) = namespace.strip_prefix("hook:") {
        let shown = url::Url::parse(url).map_or_else(
            |_| "a provisioning hook".to_string(),
            |u| format!("{}{}", u.host_str().unwrap_or_default(), u.path()),
        );
        return format!("customers of the provisioning hook {shown}");
    }
    namespace.to_string()
}

impl SiteConfig {
    /// The provisioning hook's namespace, when the site maps sign-ins with a hook.
    pub fn hook_namespace(&self) -> Option<String> {
        let url = self.provisioning.as_ref()?.url.as_ref()?;
        Some(format!("hook:{url}"))
    }

    /// The namespaces of the ids this site's own sign-ins yield, sorted: for IdP
    /// sign-ins its hook's when it has one, else one per IdP; one for its
    /// customer-login JWTs. Empty for a site that signs nobody in itself.
    pub fn own_namespaces(&self) -> Vec<String> {
        // A hook maps IdP sign-ins; customer-login JWTs name the shop's id themselves.
        let idps: Vec<String> = match self.hook_namespace() {
            Some(hook) if self.has_idp() => vec![hook],
            Some(_) => Vec::new(),
            None => self
                .identity_providers()
                .iter()
                .map(|(name, o)| match name {
                    Some(name) => named_idp(name, o.issuer.as_str()),
                    None => oidc(o.issuer.as_str()),
                })
                .collect(),
        };
        let mut all: Vec<String> = idps
            .into_iter()
            .chain(
                self.customer_login
                    .iter()
                    .map(|c| customer_login(&c.client_id, &c.store_hash)),
            )
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// True when a customer id of `namespace` may be this site's customer id as it is
    /// (a site with a hook maps every sign-in instead, and says true). `group` is every
    /// namespace the linked sites yield: a site that signs nobody in itself takes those.
    pub fn accepts(&self, namespace: &str, group: &[String]) -> bool {
        if self.hook_namespace().is_some() {
            return true;
        }
        let own = self.own_namespaces();
        match own.is_empty() {
            true => group.iter().any(|n| n == namespace),
            false => own.iter().any(|n| n == namespace),
        }
    }
}
