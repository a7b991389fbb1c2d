//! The validated settings of one IdP client: `[sites.oidc]` and each `[[sites.idps]]`
//! entry (part of the model layer, re-exported by [`crate::model`]).

use crate::values::Secret;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// `[[sites.idps]]`: one of several IdPs of a site, chosen by organisation name
/// (`/_sso/login?org=NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpConfig {
    /// The organisation name shoppers type: lower-case letters, digits and `-`.
    pub name: String,
    /// What the chooser page shows (HTML-escaped there); the name when unset.
    pub display_name: String,
    /// The IdP's settings; `callback_path` defaults to `/login/sso/callback/{name}`.
    pub oidc: OidcConfig,
    /// The email domains this IdP may assert (each also covers its subdomains);
    /// `None` = any (`["*"]`). By default none: an organisation that runs its own IdP
    /// could otherwise claim any address.
    pub email_domains: Option<Vec<String>>,
}

impl IdpConfig {
    /// True when this IdP may assert `email` (its domain, or a subdomain of it, is
    /// listed; or every domain is allowed).
    pub fn may_assert_email(&self, email: &str) -> bool {
        let Some(domains) = &self.email_domains else {
            return true;
        };
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        let domain = domain.to_ascii_lowercase();
        domains
            .iter()
            .any(|d| domain == *d || domain.strip_suffix(d.as_str()).is_some_and(|rest| rest.ends_with('.')))
    }
}

/// Equality tells the gateway whether a reload changed a site's IdP settings (an
/// unchanged provider keeps its metadata and keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    pub issuer: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: Vec<String>,
    pub callback_path: String,
    /// Explicit logout URL, used instead of the IdP's `end_session_endpoint`.
    pub logout_url: Option<Url>,
    pub logout_params: Vec<(String, String)>,
    /// Where the browser lands after logout.
    pub post_logout_path: String,
    pub use_userinfo: bool,
    /// Bound on each call to the IdP (discovery, JWKS, token, userinfo).
    pub request_timeout: Duration,
    /// How often discovery and JWKS are refreshed.
    pub discovery_refresh: Duration,
    /// `X-Customer-Email` only when the IdP says `email_verified: true`.
    pub require_verified_email: bool,
    /// Keep the IdP's ID token with each session and send it as `id_token_hint` at
    /// logout (costs ~1 KiB per session); otherwise logout sends `client_id`.
    pub logout_id_token_hint: bool,
    /// A session holding a refresh token whose access token had no `expires_in` is
    /// refreshed (revalidated with the IdP) this often.
    pub revalidate_interval: Duration,
    /// How the gateway authenticates to the token, revocation and PAR endpoints.
    /// `None` (unset): `client_secret_basic`, or `client_secret_post` when discovery
    /// lists only that.
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// PKCS#8 PEM private key (RSA or P-256) signing `private_key_jwt` assertions.
    pub client_assertion_key_file: Option<PathBuf>,
    /// PEM bundle trusted for this IdP's TLS instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM chain, leaf first) and its key for mutual TLS (RFC 8705).
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// The JWS algorithm this IdP signs ID tokens (and logout tokens) with; unset:
    /// whatever discovery's `id_token_signing_alg_values_supported` lists.
    pub id_token_signed_response_alg: Option<String>,
    /// Send the authorization request by PAR (RFC 9126).
    pub pushed_authorization: bool,
}

/// `token_endpoint_auth_method` of an IdP client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEndpointAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
}

impl TokenEndpointAuthMethod {
    /// The configuration (and OAuth registration) name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
            TokenEndpointAuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }
}
