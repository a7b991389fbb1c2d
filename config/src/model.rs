//! The validated, typed configuration. Everything here has been checked; the
//! gateway builds its filters from it at start-up and never re-parses per request.

use crate::values::{CorsPreflight, Secret, Upstream};
use ipnet::IpNet;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub sessions: SessionsConfig,
    pub sites: Vec<SiteConfig>,
    /// `[sso]`: the group's auth host, when sites link their sign-ins.
    pub sso: Option<SsoConfig>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Storefront listeners.
    pub listen: Vec<String>,
    /// Admin listener for `/metrics`, `/healthz`, `/readyz`; none when unset.
    pub admin_listen: Option<String>,
    /// When set, the admin listener's actions (`POST /reload`) require
    /// `Authorization: Bearer <token>`.
    pub admin_token: Option<Secret>,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    pub threads: usize,
    /// One work-stealing runtime for all threads (true) or one runtime per thread.
    pub work_stealing: bool,
    /// Idle upstream connections kept for reuse (all origins together).
    pub upstream_keepalive_pool_size: usize,
    /// Accept HTTP/2 over cleartext (prior knowledge) from clients.
    pub h2c: bool,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Log lines that may wait for the writer thread before new ones are dropped.
    pub log_buffer_lines: usize,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub upstream_idle_timeout: Duration,
    /// How long an upstream that failed to connect is skipped.
    pub upstream_failure_cooldown: Duration,
    pub grace_period: Duration,
    pub graceful_shutdown_timeout: Duration,
    pub upgrade_sock: String,
    pub pid_file: String,
    /// TLS listeners.
    pub tls: Vec<TlsListener>,
    /// Plain-HTTP listeners that redirect to HTTPS.
    pub redirect_listen: Vec<String>,
    /// Upstream for ACME HTTP-01 challenges on the redirect listeners.
    pub acme_upstream: Option<Upstream>,
    /// CA bundle for `https://` upstreams; system roots when unset.
    pub upstream_ca_file: Option<PathBuf>,
    /// Per-client limits on the login endpoints.
    pub rate_limits: RateLimits,
}

/// Requests allowed per client address per minute on each gateway endpoint;
/// `None` = no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Login starts (`/_sso/login` and anonymous visits to `login` routes).
    pub login: Option<u32>,
    /// IdP callbacks.
    pub callback: Option<u32>,
    /// `/_sso/token`.
    pub token: Option<u32>,
    /// `/_sso/logout`.
    pub logout: Option<u32>,
    /// The auth host's `/_sso/link` answers that mint a one-time token, counted per
    /// client address and, separately, per SSO session.
    pub link: Option<u32>,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            login: Some(60),
            callback: Some(60),
            token: Some(120),
            logout: Some(60),
            link: Some(60),
        }
    }
}

/// A TLS listener and its default certificate (served when SNI names no site).
#[derive(Debug, Clone)]
pub struct TlsListener {
    pub listen: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A site's own certificate.
#[derive(Debug, Clone)]
pub struct SiteTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct SessionsConfig {
    pub store: SessionStoreKind,
    /// The shared store: `redis://` or `rediss://` (TLS) URL of one server, or
    /// `redis+sentinel://` / `rediss+sentinel://` of the sentinels watching a primary
    /// ([`crate::redis_sentinel`]). With `store = "redis"`, this or `redis_cluster`.
    pub redis_url: Option<String>,
    /// The seed nodes of a Redis Cluster (`redis://node1:7000`, …), instead of
    /// `redis_url`; empty otherwise.
    pub redis_cluster: Vec<String>,
    /// First part of every Redis key (`<prefix>:<kind>:<id>`), so gateways of different
    /// deployments can share one Redis.
    pub redis_key_prefix: String,
    /// How long a replica serves a session from its own memory (L1) before asking Redis again.
    pub l1_ttl: Duration,
    /// While Redis is unreachable, refuse sessions held in L1 too (instead of serving
    /// them until `l1_ttl`).
    pub fail_closed: bool,
    /// Signs session and login-flow cookies. At least 32 bytes.
    pub cookie_secret: Secret,
    /// Secrets `cookie_secret` had before, newest first: what they signed or encrypted
    /// is still accepted (and made again with `cookie_secret`), nothing new is made
    /// with them. The key ring's history, for rotation without sign-outs.
    pub previous_cookie_secrets: Vec<Secret>,
    /// Cookie name; `__Host-` is prefixed on https sites.
    pub cookie_name: String,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    /// Most sessions held in memory; the least recently used go first.
    pub max_entries: usize,
    /// Most sessions one customer may hold on one site; the oldest ends first.
    pub max_per_customer: usize,
    /// Most logins waiting for their callback (per site); the oldest go first.
    pub max_pending_logins: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStoreKind {
    Memory,
    Redis,
}

#[derive(Debug, Clone)]
pub struct SiteConfig {
    pub name: String,
    /// Lower-case host names without port.
    pub hosts: Vec<String>,
    pub upstreams: Vec<Upstream>,
    /// Base for redirect_uri and absolute redirects.
    pub public_url: Url,
    /// Prefix of the gateway-owned paths (`/_sso`).
    pub sso_prefix: String,
    pub tls: Option<SiteTls>,
    /// `Strict-Transport-Security` max-age; `None` = not sent.
    pub hsts_max_age: Option<Duration>,
    pub upstream_insecure_skip_verify: bool,
    /// How request paths are read for routing.
    pub paths: PathPolicy,
    /// Forward the gateway's session and flow cookies, and a bearer token the gateway
    /// consumed, to the origin (off by default).
    pub forward_gateway_credentials: bool,
    /// Origins whose scripts may read the gateway's own answers (`cors_allow_origins`),
    /// each `scheme://host[:port]` as browsers send it (lower case, no default port).
    pub cors_allow_origins: Vec<String>,
    pub identity_headers: IdentityHeaderNames,
    pub oidc: Option<OidcConfig>,
    /// Several IdPs chosen by organisation (`[[sites.idps]]`); empty when the site has
    /// one `[sites.oidc]` or none. Never both.
    pub idps: Vec<IdpConfig>,
    pub token: TokenConfig,
    /// Routes, longest prefix first.
    pub routes: Vec<RouteConfig>,
    /// Customer-login JWTs from the merchant's website (`[sites.customer_login]`).
    pub customer_login: Option<CustomerLoginConfig>,
    /// Customer-login JWTs minted for the origin platform (`[sites.platform_login]`).
    pub platform_login: Option<PlatformLoginConfig>,
    /// The merchant's own login page (`[sites.login]`).
    pub merchant_login: Option<MerchantLoginConfig>,
    /// Just-in-time customers and a default group (`[sites.provisioning]`).
    pub provisioning: Option<ProvisioningConfig>,
    /// The signed SSO profile for the Ecwid widget (`[sites.ecwid]`).
    pub ecwid: Option<EcwidConfig>,
    /// The Shopify Multipass hand-off after a sign-in (`[sites.multipass]`).
    pub multipass: Option<MultipassConfig>,
    /// `[sites.sso]`: cross-site sign-on (disabled by default).
    pub sso: SiteSsoConfig,
    /// `[sites.session]`: the site's own session timeouts (`None`: `[sessions]`'s).
    pub session: SiteSessionConfig,
    /// `[sites.forward_auth]`: its `mode` when `enabled = true` (docs/forward-auth.md).
    pub forward_auth: Option<crate::values::ForwardAuthMode>,
    /// `[sites.pages]`: the look and languages of the gateway's own pages.
    pub pages: crate::pages_model::PagesConfig,
}

/// `[sites.customer_login]`: `GET {path}{jwt}` signs a customer in with an HS256 JWT
/// signed by the merchant's website (BigCommerce's Customer Login API format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerLoginConfig {
    /// The token's `iss`.
    pub client_id: String,
    /// The HS256 key (at least 32 bytes).
    pub client_secret: Secret,
    /// The token's `store_hash`.
    pub store_hash: String,
    /// The token's `channel_id`, when set.
    pub channel_id: Option<u64>,
    /// Where tokens arrive; ends with `/` (default `/login/token/`).
    pub path: String,
    /// Oldest `iat` accepted (default 30 s, at most 5 min).
    pub max_age: Duration,
    /// Where a token without `redirect_to` lands (default `/account`).
    pub default_redirect: String,
    /// A `redirect_to` equal to this signs the customer out (default
    /// `/login.php?action=logout`).
    pub logout_redirect: String,
}

/// `[sites.platform_login]`: after an IdP login the browser passes through the
/// origin's `{path}{jwt}` so the platform's own session is created too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformLoginConfig {
    pub client_id: String,
    pub client_secret: Secret,
    pub store_hash: String,
    pub channel_id: Option<u64>,
    /// The origin's customer-login path (default `/login/token/`).
    pub path: String,
    /// The origin's logout page, where a gateway logout ends (default
    /// `/login.php?action=logout`).
    pub logout_path: String,
}

/// `[sites.login]`: the merchant's own login page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantLoginConfig {
    /// An http(s) URL; `{return_to}` is replaced by the URL-encoded return path.
    pub url: String,
}

/// `[sites.provisioning]`: a hook that finds or creates the shop's customer at
/// sign-in, and the group customers get when nobody names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningConfig {
    /// The hook (POST JSON); none = only `default_group` applies.
    pub url: Option<Url>,
    /// Bound on each call to the hook (default 3 s).
    pub timeout: Duration,
    /// How long a subject's customer id and groups are reused without asking the
    /// hook again (default 10 min; 0 = always ask).
    pub cache_ttl: Duration,
    /// `X-Customer-Groups` when the IdP and the hook name no group.
    pub default_group: Option<String>,
    /// Sent to the hook as `Authorization: Bearer`.
    pub secret: Option<Secret>,
}

/// The hash of the profile's HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EcwidSignature {
    /// HMAC-SHA256, as Ecwid's "Add SSO to the website" page and its changelog of
    /// 2025-03-20 ("SHA1 replaced with SHA256") state it (the default).
    #[default]
    Sha256,
    /// HMAC-SHA1, Ecwid's signature before March 2025 (stores not yet moved).
    Sha1,
    /// HMAC-SHA512, which an earlier version of that changelog entry named.
    Sha512,
}

/// `[sites.ecwid]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcwidConfig {
    /// The Ecwid store whose widget the site embeds (`script.js?{store_id}`).
    pub store_id: u64,
    /// The Ecwid application's client id: the profile's `appClientId`.
    pub client_id: String,
    /// The application's client secret: the HMAC key.
    pub client_secret: Secret,
    /// The HMAC hash (`signature = "sha256"` (default), `"sha1"` or `"sha512"`).
    pub signature: EcwidSignature,
}

/// `[sites.multipass]`: a Shopify Plus store that signs customers in with Multipass
/// tokens the gateway mints after a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipassConfig {
    /// The storefront's origin (`https://shop.example`, no trailing slash): the browser
    /// goes to `{store_url}/account/login/multipass/{token}`.
    pub store_url: String,
    /// The store's Multipass secret: SHA-256 of it gives the encryption and signing keys.
    pub secret: Secret,
}

/// `[sso]`: the group's auth host and its SSO session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoConfig {
    /// Where browsers reach the auth host: scheme, host and port, no path
    /// (`auth_host = "auth.shops.example"` means `https://auth.shops.example`).
    pub auth_url: Url,
    /// The auth host's cookie name; `__Host-` is put in front on https.
    pub cookie_name: String,
    /// How long an SSO session lives after the sign-in that started it.
    pub session_ttl: Duration,
    /// How long a one-time token may wait to be redeemed (default 60 s, at most 5 min).
    pub ott_ttl: Duration,
}

impl SsoConfig {
    /// The `Host` value (lower case, with a port when the URL names one) the auth
    /// host is reached by.
    pub fn authority(&self) -> String {
        let host = self.auth_url.host_str().unwrap_or_default().to_ascii_lowercase();
        match self.auth_url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }
    }

    pub fn is_https(&self) -> bool {
        self.auth_url.scheme() == "https"
    }
}

/// How a site takes part in the group's sign-on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SsoMode {
    /// An anonymous page load first asks the auth host, and comes back signed in
    /// when the shopper has an SSO session.
    Auto,
    /// No automatic redirect; the site's sign-in asks the auth host first.
    OptIn,
    /// The site never links (the default).
    #[default]
    Disabled,
}

/// What a logout on the site ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutScope {
    /// The SSO session and every session linked to it, on every site (the default).
    #[default]
    Global,
    /// Only this site's session.
    Site,
}

/// `[sites.sso]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SiteSsoConfig {
    pub mode: SsoMode,
    pub logout_scope: LogoutScope,
}

/// `[sites.session]`; resolved against `[sessions]` by its methods (`site_session.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SiteSessionConfig {
    pub idle_timeout: Option<Duration>,
    pub absolute_timeout: Option<Duration>,
}

impl SiteSsoConfig {
    /// True when the site links to the group's SSO session.
    pub fn linked(&self) -> bool {
        self.mode != SsoMode::Disabled
    }
}

impl SiteConfig {
    /// True when the site is served over https (cookies get `Secure` and `__Host-`).
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// Every IdP of the site with its name: the single `[sites.oidc]` (no name), or
    /// each `[[sites.idps]]` entry.
    pub fn identity_providers(&self) -> Vec<(Option<&str>, &OidcConfig)> {
        match &self.oidc {
            Some(oidc) => vec![(None, oidc)],
            None => self.idps.iter().map(|i| (Some(i.name.as_str()), &i.oidc)).collect(),
        }
    }

    /// True when the site signs shoppers in through at least one IdP.
    pub fn has_idp(&self) -> bool {
        self.oidc.is_some() || !self.idps.is_empty()
    }
}

/// How a site's request paths are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathPolicy {
    /// Routes match whatever the case (the origin folds case).
    pub case_insensitive: bool,
    /// `%2F`, `%5C` and a raw `\` are accepted (and read as `/` for routing) instead
    /// of refused with 400.
    pub allow_encoded_slashes: bool,
}

impl Default for PathPolicy {
    fn default() -> Self {
        PathPolicy {
            case_insensitive: true,
            allow_encoded_slashes: false,
        }
    }
}

pub use crate::identity_header_names::IdentityHeaderNames;
pub use crate::idp_model::{IdpConfig, OidcConfig, TokenEndpointAuthMethod};

#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// PEM (PKCS#8) P-256 private key; generated at start when unset.
    pub signing_key_file: Option<PathBuf>,
    /// Keys that sign nothing but are published in the JWKS and verify the gateway's
    /// own tokens: the keys `signing_key_file` replaced, or the next one announced.
    pub previous_signing_key_files: Vec<PathBuf>,
    pub ttl: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    pub prefix: String,
    pub access: Access,
    /// Send the session's IdP access token upstream as `Authorization: Bearer`
    /// (only on a non-public route of a site with `[sites.oidc]`).
    pub forward_idp_access_token: bool,
    /// Who may use the route once signed in, and how fresh their sign-in must be.
    pub policy: crate::policy::RoutePolicy,
    /// What a CORS preflight on the route gets (`cors_preflight`).
    pub cors_preflight: CorsPreflight,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Pass through; identity injected when a session exists.
    Public,
    /// Anonymous browsers are sent to log in; API calls get 401.
    Login,
    /// Anonymous calls get 401 JSON, never a redirect.
    Api,
}
