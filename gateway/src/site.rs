//! Everything the gateway needs for one site, built once at start-up.

use crate::upstreams::UpstreamPool;
use sso_config::{Config, SiteConfig};
use sso_filters::auth::{AuthEvents, SiteAuth};
use sso_filters::route_access::RouteTable;
use sso_filters::store::Stores;
use std::sync::Arc;

pub struct Site {
    pub name: String,
    /// `Strict-Transport-Security` value, on https sites.
    pub hsts: Option<String>,
    /// How this site's request paths are read.
    pub paths: sso_config::PathPolicy,
    pub routes: RouteTable,
    pub upstreams: Arc<UpstreamPool>,
    pub auth: SiteAuth,
}

impl Site {
    /// Builds a site; errors name the config key they are about.
    pub fn from_config(
        config: &Config,
        index: usize,
        site: &SiteConfig,
        stores: &Stores,
        events: Arc<dyn AuthEvents>,
    ) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        if site.upstream_insecure_skip_verify && site.upstreams.iter().any(|u| u.tls) {
            tracing::warn!(site = %site.name, "upstream_insecure_skip_verify: origin certificates are NOT verified");
        }
        let upstreams = UpstreamPool::from_config(&site.upstreams, &config.server, site.upstream_insecure_skip_verify)
            .map_err(|e| errors.push(format!("sites[{index}].upstreams: {e}")))
            .ok();
        let auth = SiteAuth::from_config(config, site, stores, events)
            .map_err(|e| errors.push(format!("sites[{index}].{e}")))
            .ok();
        match (upstreams, auth) {
            (Some(upstreams), Some(auth)) if errors.is_empty() => {
                if auth.signer.generated {
                    tracing::warn!(
                        site = %site.name,
                        "no token.signing_key_file: generated a signing key for X-Customer-Token; \
                         replicas must share a configured key or origins will reject tokens from the others"
                    );
                }
                Ok(Site {
                    name: site.name.clone(),
                    hsts: site.hsts_max_age.map(|d| format!("max-age={}", d.as_secs())),
                    paths: site.paths,
                    routes: RouteTable::from_config(&site.routes, site.paths),
                    upstreams,
                    auth,
                })
            }
            _ => Err(errors),
        }
    }
}
