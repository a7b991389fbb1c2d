//! Everything built from one configuration, as one immutable value: the router, the
//! sites (auth, routes, upstreams, metric handles, HSTS), trusted proxies, the
//! identity headers to strip, the HTTPS redirect targets and the certificates by host.
//!
//! The running snapshot sits behind an [`ArcSwap`] ([`CurrentSnapshot`]). Each
//! storefront request loads it once and keeps that `Arc` in its context, so a reload
//! (build → swap, see [`crate::reload`]) never changes the configuration under a
//! request in flight. The HTTPS redirect listener and the TLS certificate resolver
//! read the same current snapshot: there is one host → site map.
//!
//! What must outlive a reload (the session store, the metrics, the IdP providers) is
//! not in here: it lives in [`Lasting`] and every build borrows it.

use crate::lasting::Lasting;
use crate::site::Site;
use crate::tls::CertStore;
use crate::upstreams::UpstreamPool;
use arc_swap::ArcSwap;
use pingora::tls::sign::CertifiedKey;
use sso_config::{Config, Secret};
use sso_filters::forwarded::TrustedProxies;
use sso_filters::identity_headers::IdentityHeaderStrip;
use sso_filters::oidc::{OidcProvider, StagedProviders};
use sso_filters::site_router::SiteRouter;
use std::sync::Arc;

/// The snapshot serving new requests, swapped whole by a reload.
pub type CurrentSnapshot = Arc<ArcSwap<Snapshot>>;

pub struct Snapshot {
    /// The sites, in configuration order (the router's indexes point here).
    pub sites: Vec<Site>,
    pub router: SiteRouter,
    pub trusted: TrustedProxies,
    /// Identity header names of every site, stripped from every request.
    pub strip: IdentityHeaderStrip,
    /// What the plain-HTTP → HTTPS listener answers (when it runs).
    pub redirect: RedirectTargets,
    /// Certificates of the TLS listeners, when the configuration has any.
    pub certs: Option<Arc<CertStore>>,
    /// `server.admin_token`: a reload may rotate it.
    pub admin_token: Option<Secret>,
    /// The group's auth host (`[sso]`), answered by the gateway itself.
    pub auth_host: Option<sso_filters::cross_site::auth_host::AuthHost>,
}

/// The HTTPS redirect listener's part of the configuration.
pub struct RedirectTargets {
    /// Per site: `https://host[:port]` without trailing slash.
    pub bases: Vec<String>,
    /// Where ACME HTTP-01 challenges are proxied (`server.acme_upstream`).
    pub acme: Option<Arc<UpstreamPool>>,
}

impl RedirectTargets {
    fn from_config(config: &Config) -> Result<Self, String> {
        // Only a redirect listener proxies challenges (as before reloads existed).
        let acme = match &config.server.acme_upstream {
            Some(u) if !config.server.redirect_listen.is_empty() => Some(UpstreamPool::from_config(
                std::slice::from_ref(u),
                &config.server,
                false,
            )?),
            _ => None,
        };
        let bases = config
            .sites
            .iter()
            .map(|s| {
                let mut url = s.public_url.clone();
                // A site served over plain http still gets https here: that listener exists to upgrade.
                let _ = url.set_scheme("https");
                url.as_str().trim_end_matches('/').to_string()
            })
            .collect();
        Ok(RedirectTargets { bases, acme })
    }
}

impl Snapshot {
    /// Warns about sites signing with a key generated in this process, once it serves:
    /// at start-up, or after a swap for sites that did not already have one in
    /// `previous` (a refused reload warns about nothing).
    pub fn warn_generated_keys(&self, previous: Option<&Snapshot>) {
        for site in &self.sites {
            let carried = previous.is_some_and(|p| {
                p.sites
                    .iter()
                    .any(|old| old.name == site.name && old.pipeline.core.signer.generated)
            });
            site.warn_generated_key(carried);
        }
    }

    /// What `check` prints for each site that signs with a generated key, as `run`
    /// logs it ([`Self::warn_generated_keys`]).
    pub fn generated_key_warnings(&self) -> Vec<String> {
        self.sites
            .iter()
            .enumerate()
            .filter(|(_, site)| site.pipeline.core.signer.generated)
            .map(|(i, site)| format!("sites[{i}] ({}): {}", site.name, crate::site::GENERATED_KEY))
            .collect()
    }

    /// Builds everything from `config`, or every error with its key path; nothing
    /// is half-built. `previous` is the running snapshot on a reload: a site of the
    /// same name takes over its generated signing key (sessions and pending
    /// logins are in the lasting stores). IdP providers come from `providers`, which the
    /// caller commits to the registry only once the new snapshot is in use.
    pub fn build(
        config: &Config,
        lasting: &Lasting,
        previous: Option<(&Snapshot, &Config)>,
        providers: &mut StagedProviders,
    ) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut sites = Vec::with_capacity(config.sites.len());
        for (i, site_config) in config.sites.iter().enumerate() {
            let running = previous.and_then(|(snap, _)| snap.sites.iter().find(|s| s.name == site_config.name));
            match Site::from_config(config, i, site_config, lasting, providers) {
                Ok(mut site) => {
                    if let Some(running) = running {
                        site.pipeline.carry_over(&running.pipeline);
                    }
                    sites.push(site);
                }
                Err(e) => errors.extend(e),
            }
        }
        let certs = CertStore::from_config(config)
            .map_err(|e| errors.extend(e))
            .ok()
            .flatten();
        let redirect = RedirectTargets::from_config(config)
            .map_err(|e| errors.push(format!("server.acme_upstream: {e}")))
            .ok();
        match redirect {
            Some(redirect) if errors.is_empty() => Ok(Snapshot {
                sites,
                router: SiteRouter::from_config(config),
                trusted: TrustedProxies::new(config.server.trusted_proxies.clone()),
                // Names a previous configuration used stay stripped (see `and_earlier`).
                strip: match previous {
                    Some((running, _)) => IdentityHeaderStrip::for_sites(&config.sites).and_earlier(&running.strip),
                    None => IdentityHeaderStrip::for_sites(&config.sites),
                },
                redirect,
                certs,
                admin_token: config.server.admin_token.clone(),
                auth_host: sso_filters::cross_site::auth_host::AuthHost::from_config(
                    config,
                    &lasting.stores,
                    lasting.metrics.clone(),
                ),
            }),
            _ => Err(errors),
        }
    }

    /// The site serving `authority` (a `Host` value or a TLS server name).
    pub fn route(&self, authority: &str) -> Option<usize> {
        self.router.route(authority)
    }

    /// The certificate for a handshake on TLS listener `listener` asking for
    /// `server_name`: the site's own, else the listener's default.
    pub fn certificate(&self, server_name: Option<&str>, listener: usize) -> Option<Arc<CertifiedKey>> {
        let site = server_name.and_then(|n| self.route(n));
        self.certs.as_ref()?.resolve(site, listener)
    }

    /// The IdP providers this snapshot's sites use (one per IdP), with their site names.
    pub fn providers(&self) -> impl Iterator<Item = (&str, &Arc<OidcProvider>)> {
        self.sites
            .iter()
            .flat_map(|s| s.pipeline.core.providers().map(move |p| (s.name.as_str(), p)))
    }

    /// Where `provider` is configured: `sites[0].oidc` or `sites[1].idps[2]` (sites
    /// are in the configuration's order); `None` when this snapshot does not use it.
    pub fn key_path_of(&self, provider: &Arc<OidcProvider>) -> Option<String> {
        self.sites.iter().enumerate().find_map(|(i, site)| {
            site.pipeline
                .core
                .providers()
                .position(|p| Arc::ptr_eq(p, provider))
                .map(|j| match provider.idp {
                    Some(_) => format!("sites[{i}].idps[{j}]"),
                    None => format!("sites[{i}].oidc"),
                })
        })
    }
}
