//! The identity provider as the gateway knows it: discovery metadata, signing keys,
//! and a configured client. Refreshed by a background service; request phases only
//! read the current snapshot (lock-free, `ArcSwap`). A token signed with a key the
//! snapshot does not know makes [`OidcProvider::refetch_jwks`] fetch the keys again:
//! single flight, at most once per [`JWKS_REFETCH_INTERVAL`].

use super::client_auth::{AssertionKey, ClientAuth};
use super::{diagnosis, discovered_issuer, idp_http};
use arc_swap::ArcSwapOption;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey,
    CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, ClientId, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, ProviderMetadata,
    RedirectUrl,
};
use serde::{Deserialize, Serialize};
use sso_config::{OidcConfig, SiteConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

/// Discovery fields the core metadata type does not carry.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    pub end_session_endpoint: Option<Url>,
    /// RFC 9207: the IdP puts `iss` in every authorization response, so a callback
    /// without it is refused.
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// RFC 7009: where logout revokes the session's refresh (or access) token.
    pub revocation_endpoint: Option<Url>,
    /// RFC 9126: where `pushed_authorization = true` sends the authorization request.
    pub pushed_authorization_request_endpoint: Option<Url>,
    /// RFC 8414: the PKCE methods the IdP takes (`check --online` wants `S256`).
    pub code_challenge_methods_supported: Option<Vec<String>>,
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

/// Least time between two fetches of the IdP's keys (discovery included). An unknown
/// `kid` arriving sooner waits for the rest of the interval, so a key rotation is
/// picked up within about this long while tokens with made-up key ids cannot make
/// the gateway ask the IdP more than once per interval.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(1);

/// A snapshot of what discovery returned, with a client built from it.
pub struct ProviderState {
    pub metadata: Metadata,
    pub client: Client,
    pub end_session_endpoint: Option<Url>,
    /// The IdP says it sends `iss` in every authorization response (RFC 9207
    /// `authorization_response_iss_parameter_supported`): a callback without it is refused.
    pub iss_parameter_required: bool,
    /// How this client authenticates to the token, revocation and PAR endpoints.
    pub client_auth: ClientAuth,
    pub revocation_endpoint: Option<Url>,
    /// Set only when `pushed_authorization = true` (discovery fails without it).
    pub par_endpoint: Option<Url>,
    /// The algorithms this IdP signs ID tokens with: `id_token_signed_response_alg`,
    /// else discovery's `id_token_signing_alg_values_supported` (asymmetric ones
    /// only). A logout token signed otherwise is refused.
    pub id_token_algs: Vec<CoreJwsSigningAlgorithm>,
    /// The JWKS's RSA signing keys, for ring's check of an ID token's signature
    /// ([`super::fast_signature`]).
    pub rsa_keys: super::fast_signature::RsaKeys,
    /// Counts installed snapshots: a caller that saw generation `n` and finds a
    /// higher one knows the keys were fetched again since.
    pub jwks_generation: u64,
}

impl ProviderState {
    /// The `aud` of a client assertion: the IdP's issuer, as one string, whichever
    /// endpoint it goes to. Not the token endpoint: an IdP among several that shares
    /// the client id and key could publish another IdP's token URL as its own and
    /// replay the assertion it receives there (the OpenID Foundation's 2025 advisory on
    /// `private_key_jwt` audiences; OIDC Core errata, RFC 7523bis).
    pub fn assertion_audience(&self) -> String {
        self.metadata.issuer().to_string()
    }

    /// The client-assertion parameters a token-endpoint call needs (none for the
    /// secret methods).
    pub fn token_assertion(&self, client_id: &str) -> Result<Vec<(&'static str, String)>, String> {
        self.client_auth.assertion_params(client_id, &self.assertion_audience())
    }
}

/// Why talking to the IdP failed.
#[derive(Clone, Debug, thiserror::Error)]
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
    /// A file of the configuration (`ca_file`, `client_assertion_key_file`, ...) is
    /// unreadable or not what the key asks for; `key` is the configuration key.
    #[error("{key}: {message}")]
    File { key: &'static str, message: String },
    /// Discovery names an issuer template (multi-tenant metadata, e.g. Entra ID's
    /// `/common/v2.0`), not an issuer ([`super::discovered_issuer`]).
    #[error(
        "issuer: the discovery document names the issuer template {advertised:?}: multi-tenant metadata, \
         which would accept sign-ins from any tenant; use the tenant-specific issuer {use_instead}"
    )]
    IssuerTemplate { advertised: String, use_instead: String },
}

impl ProviderError {
    /// The error as a line naming where it is: `path` is the IdP's table
    /// (`sites[0].oidc`); an error about one key gives `sites[0].oidc.issuer: ...`.
    pub fn at(&self, path: &str) -> String {
        match self {
            ProviderError::File { .. } | ProviderError::IssuerTemplate { .. } => format!("{path}.{self}"),
            // What discovery found is about the issuer the configuration names.
            ProviderError::Discovery(why) => format!("{path}.issuer: {why}"),
            ProviderError::Jwks(why) => format!("{path}.issuer: the signing keys (jwks_uri) cannot be fetched: {why}"),
            _ => format!("{path}: {self}"),
        }
    }
}

pub struct OidcProvider {
    pub site: String,
    /// The `[[sites.idps]]` name; `None` for the site's single `[sites.oidc]`.
    pub idp: Option<String>,
    pub config: OidcConfig,
    pub redirect_uri: RedirectUrl,
    /// The absolute post-logout URL on this site.
    pub post_logout_url: Url,
    pub http: openidconnect::reqwest::Client,
    /// The `private_key_jwt` key (`client_assertion_key_file`), read once.
    assertion_key: Option<Arc<AssertionKey>>,
    state: ArcSwapOption<ProviderState>,
    /// Why the last discovery failed (cleared by one that succeeds), for `/readyz`.
    last_error: ArcSwapOption<ProviderError>,
    /// Held while the keys are being fetched (single flight); holds when the last
    /// fetch started (recorded before the request, so a cancelled fetch counts too).
    last_jwks_fetch: Mutex<Option<Instant>>,
    /// The generation given to the next installed snapshot.
    next_generation: AtomicU64,
}

impl OidcProvider {
    pub fn from_config(site: &SiteConfig, config: &OidcConfig) -> Result<Self, ProviderError> {
        Self::for_idp(site, None, config)
    }

    /// The provider of the site's IdP named `idp` (`None`: the single `[sites.oidc]`).
    pub fn for_idp(site: &SiteConfig, idp: Option<&str>, config: &OidcConfig) -> Result<Self, ProviderError> {
        let callback = site
            .public_url
            .join(&config.callback_path)
            .map_err(|e| ProviderError::Config(e.to_string()))?;
        let post_logout_url = site
            .public_url
            .join(&config.post_logout_path)
            .map_err(|e| ProviderError::Config(e.to_string()))?;
        let http = idp_http::client(config)?;
        let assertion_key = idp_http::assertion_key(config)?.map(Arc::new);
        Ok(OidcProvider {
            site: site.name.clone(),
            idp: idp.map(str::to_string),
            config: config.clone(),
            redirect_uri: RedirectUrl::from_url(callback),
            post_logout_url,
            http,
            assertion_key,
            state: ArcSwapOption::const_empty(),
            last_error: ArcSwapOption::const_empty(),
            last_jwks_fetch: Mutex::new(None),
            next_generation: AtomicU64::new(1),
        })
    }

    /// How readiness names this provider: `oidc:{site}`, or `oidc:{site}/{idp}` for
    /// one of several IdPs (bounded: both come from the configuration).
    pub fn label(&self) -> String {
        match &self.idp {
            Some(idp) => format!("oidc:{}/{idp}", self.site),
            None => format!("oidc:{}", self.site),
        }
    }

    /// The current snapshot; `None` until discovery has succeeded once.
    pub fn current(&self) -> Option<Arc<ProviderState>> {
        self.state.load_full()
    }

    /// Why the last discovery failed; `None` once one has succeeded.
    pub fn last_error(&self) -> Option<Arc<ProviderError>> {
        self.last_error.load_full()
    }

    /// Runs discovery (which fetches the JWKS too) and installs the result. Counts as
    /// a key fetch: key refetches wait for it and then use its keys. A failure is
    /// kept for [`Self::last_error`].
    pub async fn discover(&self) -> Result<(), ProviderError> {
        match self.discover_once().await {
            Ok(()) => {
                self.last_error.store(None);
                Ok(())
            }
            Err(e) => {
                self.last_error.store(Some(Arc::new(e.clone())));
                Err(e)
            }
        }
    }

    async fn discover_once(&self) -> Result<(), ProviderError> {
        let configured = self.config.issuer.as_str().trim_end_matches('/');
        let issuer = IssuerUrl::new(configured.to_string()).map_err(|e| ProviderError::Config(e.to_string()))?;
        let mut last_fetch = self.last_jwks_fetch.lock().await;
        *last_fetch = Some(Instant::now());
        let metadata = match Metadata::discover_async(issuer, &self.http).await {
            Ok(metadata) => metadata,
            Err(e) => self.second_look(configured, error_chain(&e)).await?,
        };
        // `check` cannot know what the IdP offers: a PAR-only client whose IdP has no
        // PAR endpoint fails here, closed (no login starts), and readiness says why.
        if self.config.pushed_authorization
            && metadata
                .additional_metadata()
                .pushed_authorization_request_endpoint
                .is_none()
        {
            return Err(ProviderError::Discovery(
                "pushed_authorization = true but discovery lists no pushed_authorization_request_endpoint".into(),
            ));
        }
        self.install(metadata)
    }

    /// Discovery failed with `error`: a second look ([`diagnosis`]) says why. An
    /// issuer that is the configured URL plus a trailing `/` (Auth0, Azure AD B2C) is
    /// discovered again in that spelling, which ID tokens must then carry
    /// ([`discovered_issuer`]); an issuer template (multi-tenant metadata) is refused.
    async fn second_look(&self, configured: &str, error: String) -> Result<Metadata, ProviderError> {
        match diagnosis::why_discovery_fails(&self.http, configured).await {
            diagnosis::Finding::IssuerWithSlash(named) => {
                let issuer = IssuerUrl::new(named).map_err(|e| ProviderError::Config(e.to_string()))?;
                Metadata::discover_async(issuer, &self.http)
                    .await
                    .map_err(|e| ProviderError::Discovery(error_chain(&e)))
            }
            diagnosis::Finding::IssuerTemplate(named) => Err(discovered_issuer::refused(&named)),
            diagnosis::Finding::Problem(problem) => Err(ProviderError::Discovery(problem)),
            diagnosis::Finding::Nothing => Err(ProviderError::Discovery(error)),
        }
    }

    /// Fetches the JWKS again for a caller whose snapshot (generation `seen`) has no
    /// key for its token; returns whether keys newer than that snapshot are now
    /// installed. Single flight: concurrent callers wait for the fetch in progress
    /// and use its result instead of fetching again. Fetches are at least
    /// [`JWKS_REFETCH_INTERVAL`] apart: a caller that comes sooner waits for the rest
    /// of the interval. Old keys stay in use when the IdP errors.
    pub async fn refetch_jwks(&self, seen: u64) -> Result<bool, ProviderError> {
        let mut last_fetch = self.last_jwks_fetch.lock().await;
        let Some(current) = self.current() else {
            return Ok(false);
        };
        if current.jwks_generation != seen {
            return Ok(true); // fetched while this caller waited for the lock
        }
        if let Some(at) = *last_fetch {
            tokio::time::sleep_until((at + JWKS_REFETCH_INTERVAL).into()).await;
        }
        *last_fetch = Some(Instant::now());
        let jwks = CoreJsonWebKeySet::fetch_async(current.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| ProviderError::Jwks(error_chain(&e)))?;
        self.install(current.metadata.clone().set_jwks(jwks))?;
        Ok(true)
    }

    fn install(&self, metadata: Metadata) -> Result<(), ProviderError> {
        let extra = metadata.additional_metadata().clone();
        let iss_parameter_required = extra.authorization_response_iss_parameter_supported == Some(true);
        let post_only = metadata.token_endpoint_auth_methods_supported().is_some_and(|m| {
            !m.contains(&CoreClientAuthMethod::ClientSecretBasic) && m.contains(&CoreClientAuthMethod::ClientSecretPost)
        });
        let client_auth = ClientAuth::resolve(
            self.config.token_endpoint_auth_method,
            &self.config.client_secret,
            self.assertion_key.as_ref(),
            post_only,
        )
        .map_err(ProviderError::Config)?;
        let id_token_algs = id_token_algs(self.config.id_token_signed_response_alg.as_deref(), &metadata);
        let (secret, auth_type) = client_auth.openid_client_parts();
        let client =
            CoreClient::from_provider_metadata(metadata.clone(), ClientId::new(self.config.client_id.clone()), secret)
                .set_redirect_uri(self.redirect_uri.clone())
                .set_auth_type(auth_type);
        let rsa_keys = super::fast_signature::rsa_keys(metadata.jwks());
        self.state.store(Some(Arc::new(ProviderState {
            rsa_keys,
            metadata,
            client,
            end_session_endpoint: extra.end_session_endpoint,
            iss_parameter_required,
            client_auth,
            revocation_endpoint: extra.revocation_endpoint,
            par_endpoint: extra
                .pushed_authorization_request_endpoint
                .filter(|_| self.config.pushed_authorization),
            id_token_algs,
            jwks_generation: self.next_generation.fetch_add(1, Ordering::Relaxed),
        })));
        Ok(())
    }
}

/// The ID-token algorithms of an IdP: the configured one, else the asymmetric ones
/// its discovery lists (never `none` or HS*, whatever it lists).
fn id_token_algs(configured: Option<&str>, metadata: &Metadata) -> Vec<CoreJwsSigningAlgorithm> {
    let listed: Vec<CoreJwsSigningAlgorithm> = match configured {
        Some(alg) => serde_json::from_value(serde_json::Value::String(alg.to_string()))
            .map(|a| vec![a])
            .unwrap_or_default(),
        None => metadata.id_token_signing_alg_values_supported().clone(),
    };
    listed.into_iter().filter(|a| ALLOWED_ALGS.contains(a)).collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A loopback IdP answering discovery and an empty JWKS (slowly, so concurrent
    /// callers overlap with the fetch); records when each JWKS request arrived.
    async fn fake_idp() -> (String, Arc<StdMutex<Vec<Instant>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(StdMutex::new(Vec::new()));
        let discovery = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
        .to_string();
        let seen = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (discovery, seen) = (discovery.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body = if request.starts_with(b"GET /jwks ") {
                        seen.lock().expect("hits").push(Instant::now());
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        r#"{"keys":[]}"#.to_string()
                    } else {
                        discovery
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(response.as_bytes()).await;
                });
            }
        });
        (issuer, hits)
    }

    fn provider(issuer: &str) -> OidcProvider {
        let config = sso_config::parse(
            &format!(
                "[server]\n[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n[[sites]]\nname = \"s\"\n\
                 hosts = [\"s.localhost\"]\nupstreams = [\"127.0.0.1:1\"]\npublic_url = \"http://s.localhost\"\n\
                 [sites.oidc]\nissuer = \"{issuer}\"\nclient_id = \"c\"\nclient_secret = \"client-secret-0123456789\"\n"
            ),
            &|_| None,
        )
        .expect("config");
        let site = &config.sites[0];
        OidcProvider::from_config(site, site.oidc.as_ref().expect("oidc")).expect("provider")
    }

    #[tokio::test]
    async fn concurrent_refetches_share_one_spaced_fetch() {
        let (issuer, hits) = fake_idp().await;
        let provider = Arc::new(provider(&issuer));
        let discovery_started = Instant::now();
        provider.discover().await.expect("discovery");
        let seen = provider.current().expect("state").jwks_generation;
        assert_eq!(hits.lock().expect("hits").len(), 1, "discovery fetched the keys");

        // Eight requests with an unknown kid at once: one fetch, all use its result.
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let provider = provider.clone();
                tokio::spawn(async move { provider.refetch_jwks(seen).await })
            })
            .collect();
        for caller in callers {
            assert!(caller.await.expect("join").expect("refetch"), "newer keys installed");
        }
        let hits_now = hits.lock().expect("hits").clone();
        assert_eq!(hits_now.len(), 2, "one refetch for eight callers");
        assert!(
            hits_now[1] >= discovery_started + JWKS_REFETCH_INTERVAL,
            "the refetch waited for the interval since discovery"
        );
        let latest = provider.current().expect("state").jwks_generation;
        assert!(latest > seen);

        // A caller whose snapshot is already outdated does not fetch again.
        assert!(provider.refetch_jwks(seen).await.expect("refetch"));
        assert_eq!(hits.lock().expect("hits").len(), 2);
    }
}
