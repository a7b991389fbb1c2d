//! The identity provider as the gateway knows it: discovery metadata, signing keys,
//! and a configured client. Refreshed by a background service; request phases only
//! read the current snapshot (lock-free, `ArcSwap`).

use arc_swap::ArcSwapOption;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey,
    CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthType, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IssuerUrl, ProviderMetadata, RedirectUrl,
};
use serde::{Deserialize, Serialize};
use sso_config::{OidcConfig, SiteConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// Discovery fields the core metadata type does not carry.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    pub end_session_endpoint: Option<Url>,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

pub type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

pub type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// ID-token signature algorithms accepted: asymmetric only — never `none`, never HS*
/// (an HMAC "signed" with a public key would otherwise verify).
pub const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Least time between two JWKS fetches caused by an unknown `kid`, so tokens with
/// made-up key ids cannot make the gateway hammer the IdP.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// A snapshot of what discovery returned, with a client built from it.
pub struct ProviderState {
    pub metadata: Metadata,
    pub client: Client,
    pub end_session_endpoint: Option<Url>,
}

/// Why talking to the IdP failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// Discovery (`/.well-known/openid-configuration`) failed.
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// The JWKS could not be fetched.
    #[error("fetching the signing keys failed: {0}")]
    Jwks(String),
    /// The configuration cannot be turned into a client.
    #[error("bad OpenID configuration: {0}")]
    Config(String),
}

pub struct OidcProvider {
    pub site: String,
    pub config: OidcConfig,
    pub redirect_uri: RedirectUrl,
    /// The absolute post-logout URL on this site.
    pub post_logout_url: Url,
    pub http: openidconnect::reqwest::Client,
    state: ArcSwapOption<ProviderState>,
    epoch: Instant,
    /// Milliseconds since `epoch` of the last JWKS fetch.
    last_jwks_fetch_ms: AtomicU64,
}

impl OidcProvider {
    pub fn from_config(site: &SiteConfig, config: &OidcConfig) -> Result<Self, ProviderError> {
        let callback = site
            .public_url
            .join(&config.callback_path)
            .map_err(|e| ProviderError::Config(e.to_string()))?;
        let post_logout_url = site
            .public_url
            .join(&config.post_logout_path)
            .map_err(|e| ProviderError::Config(e.to_string()))?;
        let http = openidconnect::reqwest::Client::builder()
            // Following redirects from the IdP opens the gateway to SSRF.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .build()
            .map_err(|e| ProviderError::Config(e.to_string()))?;
        Ok(OidcProvider {
            site: site.name.clone(),
            config: config.clone(),
            redirect_uri: RedirectUrl::from_url(callback),
            post_logout_url,
            http,
            state: ArcSwapOption::const_empty(),
            epoch: Instant::now(),
            last_jwks_fetch_ms: AtomicU64::new(0),
        })
    }

    /// The current snapshot; `None` until discovery has succeeded once.
    pub fn current(&self) -> Option<Arc<ProviderState>> {
        self.state.load_full()
    }

    /// Runs discovery (which fetches the JWKS too) and installs the result.
    pub async fn discover(&self) -> Result<(), ProviderError> {
        let issuer = IssuerUrl::new(self.config.issuer.as_str().trim_end_matches('/').to_string())
            .map_err(|e| ProviderError::Config(e.to_string()))?;
        let metadata = Metadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| ProviderError::Discovery(error_chain(&e)))?;
        self.install(metadata);
        self.last_jwks_fetch_ms.store(self.now_ms(), Ordering::Relaxed);
        Ok(())
    }

    /// Fetches the JWKS again, at most once per [`JWKS_REFETCH_INTERVAL`]; returns
    /// whether new keys were installed. Old keys stay in use when the IdP errors.
    pub async fn refetch_jwks(&self) -> Result<bool, ProviderError> {
        let now = self.now_ms();
        let last = self.last_jwks_fetch_ms.load(Ordering::Relaxed);
        let interval = JWKS_REFETCH_INTERVAL.as_millis() as u64;
        if last != 0 && now.saturating_sub(last) < interval {
            return Ok(false);
        }
        if self
            .last_jwks_fetch_ms
            .compare_exchange(last, now.max(1), Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return Ok(false); // another request is already fetching
        }
        let Some(current) = self.current() else {
            return Ok(false);
        };
        let jwks = CoreJsonWebKeySet::fetch_async(current.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| ProviderError::Jwks(error_chain(&e)))?;
        let metadata = current.metadata.clone().set_jwks(jwks);
        self.install(metadata);
        Ok(true)
    }

    fn install(&self, metadata: Metadata) {
        let end_session_endpoint = metadata.additional_metadata().end_session_endpoint.clone();
        let secret = ClientSecret::new(self.config.client_secret.expose().to_string());
        let basic = metadata
            .token_endpoint_auth_methods_supported()
            .is_none_or(|m| m.contains(&CoreClientAuthMethod::ClientSecretBasic));
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(secret),
        )
        .set_redirect_uri(self.redirect_uri.clone())
        .set_auth_type(if basic {
            AuthType::BasicAuth
        } else {
            AuthType::RequestBody
        });
        self.state.store(Some(Arc::new(ProviderState {
            metadata,
            client,
            end_session_endpoint,
        })));
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }
}

/// An error with its causes, for logs and pages (never contains secrets: the
/// underlying errors describe HTTP and parsing failures).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}
