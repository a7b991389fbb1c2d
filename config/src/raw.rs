//! The raw serde mirror of `gateway.toml`.
//!
//! Every field a user may write is here, with `deny_unknown_fields` so a typo is an
//! error rather than a silently ignored key. Values stay close to what was written
//! (strings, lists); [`crate::validate`] turns them into the typed model and collects
//! every problem with its key path.

use crate::raw_forms as forms;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub sessions: RawSessions,
    #[serde(default)]
    pub sites: Vec<RawSite>,
    /// `[sso]`: cross-site sign-on for a group of shops.
    pub sso: Option<RawSso>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<Vec<String>>,
    pub admin_listen: Option<String>,
    /// Bearer token required by the admin listener's actions (`POST /reload`).
    pub admin_token: Option<String>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub threads: Option<i64>,
    pub work_stealing: Option<bool>,
    pub upstream_keepalive_pool_size: Option<i64>,
    pub h2c: Option<bool>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub log_buffer_lines: Option<i64>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub connect_timeout: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub read_timeout: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub write_timeout: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub upstream_idle_timeout: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub upstream_failure_cooldown: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub grace_period: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub graceful_shutdown_timeout: Option<String>,
    pub upgrade_sock: Option<String>,
    pub pid_file: Option<String>,
    /// `[[server.tls]]`: TLS listeners with their default certificate.
    #[serde(default)]
    pub tls: Vec<RawTlsListener>,
    /// Plain-HTTP listeners that only redirect to HTTPS (308).
    #[serde(default)]
    pub redirect_listen: Vec<String>,
    /// Where the redirect listener sends `/.well-known/acme-challenge/` requests.
    pub acme_upstream: Option<String>,
    /// CA bundle (PEM) for verifying `https://` upstreams instead of the system roots.
    pub upstream_ca_file: Option<String>,
    /// `[server.rate_limits]`: per-client limits on the login endpoints.
    #[serde(default)]
    pub rate_limits: RawRateLimits,
}

/// Requests per client address per minute; 0 turns a limit off.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimits {
    pub login: Option<i64>,
    pub callback: Option<i64>,
    pub token: Option<i64>,
    pub logout: Option<i64>,
    pub link: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTlsListener {
    pub listen: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSiteTls {
    pub cert: Option<String>,
    pub key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    pub store: Option<String>,
    pub redis_url: Option<String>,
    pub redis_cluster: Option<Vec<String>>,
    pub redis_key_prefix: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub l1_ttl: Option<String>,
    pub fail_closed: Option<bool>,
    pub cookie_secret: Option<String>,
    pub previous_cookie_secrets: Option<Vec<String>>,
    pub cookie_name: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub idle_timeout: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub absolute_timeout: Option<String>,
    pub max_entries: Option<i64>,
    pub max_per_customer: Option<i64>,
    pub max_pending_logins: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub name: Option<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub upstreams: Vec<String>,
    pub public_url: Option<String>,
    pub sso_prefix: Option<String>,
    /// `[sites.tls]`: this site's certificate, chosen by SNI.
    pub tls: Option<RawSiteTls>,
    /// `Strict-Transport-Security` max-age on https sites, or "off".
    #[serde(default, deserialize_with = "forms::duration_or_off")]
    pub hsts_max_age: Option<String>,
    /// Do not verify `https://` upstream certificates (logged at start-up).
    pub upstream_insecure_skip_verify: Option<bool>,
    /// Match routes case-insensitively (for origins that fold case).
    pub case_insensitive_paths: Option<bool>,
    /// Accept `%2F`, `%5C` and `\` in paths instead of answering 400.
    pub allow_encoded_slashes: Option<bool>,
    /// Forward the gateway's own cookies and a consumed bearer token to the origin.
    pub forward_gateway_credentials: Option<bool>,
    /// Origins whose scripts may read the gateway's own answers (CORS).
    #[serde(default)]
    pub cors_allow_origins: Vec<String>,
    #[serde(default)]
    pub identity_headers: RawIdentityHeaders,
    pub oidc: Option<RawOidc>,
    /// `[[sites.idps]]`: several IdPs, chosen by organisation (instead of `[sites.oidc]`).
    #[serde(default)]
    pub idps: Vec<RawIdp>,
    #[serde(default)]
    pub token: RawToken,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// `[sites.customer_login]`: the merchant's website signs customers in with a JWT.
    pub customer_login: Option<RawCustomerLogin>,
    /// `[sites.platform_login]`: after an IdP login, sign the customer in at the origin
    /// platform with a JWT too.
    pub platform_login: Option<RawPlatformLogin>,
    /// `[sites.login]`: sign-in links lead to the merchant's own login page.
    pub login: Option<RawMerchantLogin>,
    /// `[sites.provisioning]`: just-in-time customers and a default group.
    pub provisioning: Option<RawProvisioning>,
    /// `[sites.ecwid]`: a signed SSO profile for the Ecwid storefront widget.
    pub ecwid: Option<RawEcwid>,
    /// `[sites.multipass]`: after a sign-in, hand the customer to a Shopify store.
    pub multipass: Option<RawMultipass>,
    /// `[sites.sso]`: how the site takes part in the group's sign-on.
    pub sso: Option<RawSiteSso>,
    /// `[sites.session]`: this site's idle and absolute timeouts.
    pub session: Option<RawSiteSession>,
    /// `[sites.forward_auth]`: `<sso_prefix>/auth` for an existing proxy.
    pub forward_auth: Option<RawForwardAuth>,
    /// `[sites.pages]`: how the gateway's own pages look and speak.
    pub pages: Option<RawPages>,
}

/// `[sites.pages]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPages {
    pub shop_name: Option<String>,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub support_url: Option<String>,
    pub dir: Option<String>,
    pub default_language: Option<String>,
}

/// `[sites.forward_auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForwardAuth {
    pub enabled: Option<bool>,
    pub mode: Option<String>,
}

/// `[sites.session]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSiteSession {
    #[serde(default, deserialize_with = "forms::duration")]
    pub idle_timeout: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub absolute_timeout: Option<String>,
}

/// `[sso]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSso {
    pub auth_host: Option<String>,
    pub cookie_name: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub session_ttl: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub ott_ttl: Option<String>,
}

/// `[sites.sso]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSiteSso {
    pub mode: Option<String>,
    pub logout_scope: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEcwid {
    pub store_id: Option<i64>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub signature: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMultipass {
    pub store_url: Option<String>,
    pub secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomerLogin {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub store_hash: Option<String>,
    pub channel_id: Option<i64>,
    pub path: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub max_age: Option<String>,
    pub default_redirect: Option<String>,
    pub logout_redirect: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlatformLogin {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub store_hash: Option<String>,
    pub channel_id: Option<i64>,
    pub path: Option<String>,
    pub logout_path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMerchantLogin {
    pub url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvisioning {
    pub url: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub timeout: Option<String>,
    #[serde(default, deserialize_with = "forms::duration_or_off")]
    pub cache_ttl: Option<String>,
    pub default_group: Option<String>,
    pub secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentityHeaders {
    pub id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Option<String>,
    pub token: Option<String>,
    pub auth_time: Option<String>,
    pub acr: Option<String>,
    pub login_method: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidc {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub callback_path: Option<String>,
    pub logout_url: Option<String>,
    #[serde(default)]
    pub logout_params: BTreeMap<String, String>,
    pub post_logout_path: Option<String>,
    pub use_userinfo: Option<bool>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub request_timeout: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub discovery_refresh: Option<String>,
    pub require_verified_email: Option<bool>,
    pub logout_id_token_hint: Option<bool>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub revalidate_interval: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub client_assertion_key_file: Option<String>,
    pub ca_file: Option<String>,
    pub client_cert_file: Option<String>,
    pub client_key_file: Option<String>,
    pub id_token_signed_response_alg: Option<String>,
    pub pushed_authorization: Option<bool>,
}

/// One of several IdPs of a site: a name, a display name and every `[sites.oidc]`
/// key. The keys are repeated rather than flattened: serde cannot combine `flatten`
/// with `deny_unknown_fields`, and a typo must stay an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdp {
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub callback_path: Option<String>,
    pub logout_url: Option<String>,
    #[serde(default)]
    pub logout_params: BTreeMap<String, String>,
    pub post_logout_path: Option<String>,
    pub use_userinfo: Option<bool>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub request_timeout: Option<String>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub discovery_refresh: Option<String>,
    pub require_verified_email: Option<bool>,
    pub logout_id_token_hint: Option<bool>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub revalidate_interval: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub client_assertion_key_file: Option<String>,
    pub ca_file: Option<String>,
    pub client_cert_file: Option<String>,
    pub client_key_file: Option<String>,
    pub id_token_signed_response_alg: Option<String>,
    pub pushed_authorization: Option<bool>,
    /// Email domains this IdP may assert (`"*"`: any); none by default.
    pub email_domains: Option<Vec<String>>,
}

impl RawIdp {
    /// The `[sites.oidc]` keys of this IdP, to be validated like a single IdP's.
    pub fn oidc(&self) -> RawOidc {
        RawOidc {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            scopes: self.scopes.clone(),
            callback_path: self.callback_path.clone(),
            logout_url: self.logout_url.clone(),
            logout_params: self.logout_params.clone(),
            post_logout_path: self.post_logout_path.clone(),
            use_userinfo: self.use_userinfo,
            request_timeout: self.request_timeout.clone(),
            discovery_refresh: self.discovery_refresh.clone(),
            require_verified_email: self.require_verified_email,
            logout_id_token_hint: self.logout_id_token_hint,
            revalidate_interval: self.revalidate_interval.clone(),
            token_endpoint_auth_method: self.token_endpoint_auth_method.clone(),
            client_assertion_key_file: self.client_assertion_key_file.clone(),
            ca_file: self.ca_file.clone(),
            client_cert_file: self.client_cert_file.clone(),
            client_key_file: self.client_key_file.clone(),
            id_token_signed_response_alg: self.id_token_signed_response_alg.clone(),
            pushed_authorization: self.pushed_authorization,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    pub signing_key_file: Option<String>,
    pub previous_signing_key_files: Option<Vec<String>>,
    #[serde(default, deserialize_with = "forms::duration")]
    pub ttl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub prefix: Option<String>,
    pub access: Option<String>,
    /// Send the IdP's access token to the origin as `Authorization: Bearer`.
    pub forward_idp_access_token: Option<bool>,
    /// The route policy (`config::route_policy`): any of these groups, ...
    pub require_groups: Option<Vec<String>>,
    pub require_email_domains: Option<Vec<String>>,
    pub require_idps: Option<Vec<String>>,
    pub require_methods: Option<Vec<String>>,
    pub require_claims: Option<BTreeMap<String, Vec<String>>>,
    /// Step-up: the sign-in at most this old, at one of these `acr` levels.
    #[serde(default, deserialize_with = "forms::duration")]
    pub max_auth_age: Option<String>,
    pub acr_values: Option<Vec<String>>,
    /// What a CORS preflight on the route gets: `"origin"` or `"deny"`.
    pub cors_preflight: Option<String>,
}
