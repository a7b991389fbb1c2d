//! Everything the gateway needs for one site, built from one configuration.

use crate::lasting::Lasting;
use crate::metrics::SiteMetrics;
use crate::upstreams::UpstreamPool;
use sso_config::{Config, SiteConfig};
use sso_filters::events::AuthEvents;
use sso_filters::features::SitePipeline;
use sso_filters::oidc::StagedProviders;
use std::sync::Arc;

pub struct Site {
    pub name: String,
    /// `Strict-Transport-Security` value, on https sites.
    pub hsts: Option<String>,
    /// How this site's request paths are read.
    pub paths: sso_config::PathPolicy,
    pub upstreams: Arc<UpstreamPool>,
    /// The site's core and features.
    pub pipeline: SitePipeline,
    /// Request metric handles, resolved once per build.
    pub metrics: SiteMetrics,
}

impl Site {
    /// Builds a site; errors name the config key they are about. Its IdP provider
    /// comes from `providers` (reused when its settings are unchanged).
    pub fn from_config(
        config: &Config,
        index: usize,
        site: &SiteConfig,
        lasting: &Lasting,
        providers: &mut StagedProviders,
    ) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        if site.upstream_insecure_skip_verify && site.upstreams.iter().any(|u| u.tls) {
            tracing::warn!(site = %site.name, "upstream_insecure_skip_verify: origin certificates are NOT verified");
        }
        let upstreams = UpstreamPool::from_config(&site.upstreams, &config.server, site.upstream_insecure_skip_verify)
            .map_err(|e| errors.push(format!("sites[{index}].upstreams: {e}")))
            .ok();
        // One provider per IdP: the single `[sites.oidc]`, or each `[[sites.idps]]`.
        let provider = site
            .identity_providers()
            .into_iter()
            .enumerate()
            .map(|(i, (idp, oidc))| {
                providers.get_or_create_idp(site, idp, oidc).map_err(|e| {
                    let at = match idp {
                        Some(_) => format!("sites[{index}].idps[{i}]"),
                        None => format!("sites[{index}].oidc"),
                    };
                    // A file error names its key: `sites[0].oidc.ca_file: ...`.
                    match e {
                        sso_filters::oidc::ProviderError::File { .. } => errors.push(format!("{at}.{e}")),
                        _ => errors.push(format!("{at}: {e}")),
                    }
                })
            })
            .collect::<Result<Vec<_>, ()>>()
            .ok();
        let events: Arc<dyn AuthEvents> = lasting.metrics.clone();
        let pipeline = match provider {
            Some(provider) => SitePipeline::from_config(config, site, &lasting.stores, provider, events)
                .map_err(|e| errors.push(format!("sites[{index}].{e}")))
                .ok(),
            None => None,
        };
        match (upstreams, pipeline) {
            (Some(upstreams), Some(pipeline)) if errors.is_empty() => Ok(Site {
                name: site.name.clone(),
                hsts: site.hsts_max_age.map(|d| format!("max-age={}", d.as_secs())),
                paths: site.paths,
                upstreams,
                pipeline,
                metrics: SiteMetrics::new(&lasting.metrics, &site.name),
            }),
            _ => Err(errors),
        }
    }

    /// Warns about a generated token signing key, unless it was carried over from
    /// the running configuration (it was warned about when it was made).
    pub fn warn_generated_key(&self, carried_over: bool) {
        if self.pipeline.core.signer.generated && !carried_over {
            tracing::warn!(site = %self.name, "{GENERATED_KEY}");
        }
    }
}

/// What a site without `token.signing_key_file` is warned about, by `run` (logged)
/// and `check` (printed).
pub const GENERATED_KEY: &str = "no token.signing_key_file: generated a signing key for X-Customer-Token; \
     replicas must share a configured key or origins will reject tokens from the others";
