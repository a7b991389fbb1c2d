//! `check --online`: what `check` cannot know without the network. For every IdP:
//! discovery and its keys (the issuer it names, the status and URL that failed, TLS
//! trust, DNS), then what the configuration needs of it (PKCE `S256`, the ID-token
//! algorithm, the client authentication method, a logout endpoint). Then the
//! sessions' Redis (with its credentials), every provisioning hook and every
//! upstream (a TCP connection). Each problem names its key path and, where one is
//! known, the fix. Nothing is kept: the process exits after.

use crate::server::Gateway;
use sso_config::{Config, SiteConfig};
use sso_filters::oidc::OidcProvider;
use std::time::Duration;

/// How long one TCP connection attempt may take.
const CONNECT: Duration = Duration::from_secs(5);

/// What the online check found: problems (exit 1) and warnings.
#[derive(Default)]
pub struct Findings {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// Runs every online check of `config` (built into `gateway` by the offline check).
pub fn run(config: &Config, gateway: &Gateway) -> Findings {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            return Findings {
                problems: vec![format!("cannot start the checks: {e}")],
                warnings: Vec::new(),
            }
        }
    };
    runtime.block_on(async {
        let mut found = Findings::default();
        for (i, site) in config.sites.iter().enumerate() {
            if let Some(built) = gateway.snapshot.sites.iter().find(|s| s.name == site.name) {
                for provider in built.pipeline.core.providers() {
                    idp(&mut found, &idp_key(i, site, provider), provider).await;
                }
            }
            reachable(&mut found, i, site).await;
        }
        if let Some(Err(e)) = crate::stores::probe_redis(config).await {
            let key = crate::stores::redis_key(config);
            found.problems.push(match crate::stores::is_auth_refusal(&e) {
                true => format!("{key}: Redis refused the credentials: {e} (check the password or user in the URL)"),
                false => format!("{key}: {e}"),
            });
        }
        found
    })
}

/// `sites[i].oidc` or `sites[i].idps[j]`: where `provider`'s settings are.
fn idp_key(i: usize, site: &SiteConfig, provider: &OidcProvider) -> String {
    match &provider.idp {
        None => format!("sites[{i}].oidc"),
        Some(name) => match site.idps.iter().position(|p| &p.name == name) {
            Some(j) => format!("sites[{i}].idps[{j}]"),
            None => format!("sites[{i}].idps.{name}"),
        },
    }
}

/// Discovery and keys of one IdP, then what the configuration needs of it.
async fn idp(found: &mut Findings, key: &str, provider: &OidcProvider) {
    if let Err(e) = provider.discover().await {
        return found.problems.push(e.at(key));
    }
    let Some(state) = provider.current() else { return };
    let metadata = &state.metadata;
    let extra = metadata.additional_metadata();
    if metadata.jwks().keys().is_empty() {
        found.problems.push(format!(
            "{key}.issuer: the provider publishes no signing key at its jwks_uri"
        ));
    }
    if let Some(methods) = &extra.code_challenge_methods_supported {
        if !methods.iter().any(|m| m == "S256") {
            found.problems.push(format!(
                "{key}.issuer: the provider does not offer PKCE S256 (code_challenge_methods_supported: {methods:?}); \
                 the gateway sends S256 on every sign-in: enable PKCE for the client"
            ));
        }
    }
    if let Some(alg) = &provider.config.id_token_signed_response_alg {
        let listed = metadata.id_token_signing_alg_values_supported();
        let names = names(listed.iter().filter_map(|a| serde_json::to_value(a).ok()).collect());
        if !names.iter().any(|n| n == alg) {
            found.problems.push(format!(
                "{key}.id_token_signed_response_alg: the provider signs ID tokens with {names:?}, not {alg}"
            ));
        }
    }
    if let (Some(method), Some(listed)) = (
        provider.config.token_endpoint_auth_method,
        metadata.token_endpoint_auth_methods_supported(),
    ) {
        let names = names(listed.iter().filter_map(|a| serde_json::to_value(a).ok()).collect());
        if !names.iter().any(|n| n == method.as_str()) {
            found.problems.push(format!(
                "{key}.token_endpoint_auth_method: the provider takes {names:?}, not {}",
                method.as_str()
            ));
        }
    }
    if provider.config.logout_url.is_none() && state.end_session_endpoint.is_none() {
        found.warnings.push(format!(
            "{key}: the provider has no end_session_endpoint: sign-out ends the shop's session only and the \
             provider's stays (the next sign-in may be silent); set {key}.logout_url if it has a logout URL \
             (Auth0: https://TENANT/v2/logout, see docs/idps/)"
        ));
    }
}

/// Metadata values as their JSON strings (`"ES256"`, `"client_secret_basic"`).
fn names(listed: Vec<serde_json::Value>) -> Vec<String> {
    listed.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

/// Whether a TCP connection to `address` (`host:port`) opens.
async fn connects(address: &str) -> Result<(), String> {
    match tokio::time::timeout(CONNECT, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("cannot connect to {address}: {e}")),
        Err(_) => Err(format!(
            "cannot connect to {address}: no answer within {}s",
            CONNECT.as_secs()
        )),
    }
}

/// The site's upstreams and provisioning hook accept connections.
async fn reachable(found: &mut Findings, i: usize, site: &SiteConfig) {
    for (k, upstream) in site.upstreams.iter().enumerate() {
        if let Err(e) = connects(&upstream.address).await {
            found.problems.push(format!("sites[{i}].upstreams[{k}]: {e}"));
        }
    }
    let hook = site.provisioning.as_ref().and_then(|p| p.url.as_ref());
    if let Some(url) = hook {
        let address = match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            _ => return,
        };
        if let Err(e) = connects(&address).await {
            found.problems.push(format!("sites[{i}].provisioning.url: {e}"));
        }
    }
}
