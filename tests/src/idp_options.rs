//! A shop whose IdP (the real `oidc-provider`, `deploy/demo/idp.mjs`) is configured
//! the way an enterprise's is: another client authentication method, HTTPS by a
//! private CA, mutual TLS, PAR required, revocation and introspection on. The test
//! chooses the IdP's environment and the `[sites.oidc]` keys.

use crate::tls_certs::TestCa;
use crate::{free_port, gateway_bin, Gateway, GatewayConfig, Idp, Shopper, Storefront, CLIENT_ID, CLIENT_SECRET};
use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;

pub struct IdpShop {
    pub origin: Storefront,
    pub idp: Idp,
    pub gateway: Gateway,
    /// The IdP's issuer (`https://` when it serves TLS).
    pub issuer: String,
    /// Trusts the test CA when the IdP serves TLS.
    pub shopper: Shopper,
}

/// The IdP's TLS: its certificate authority, and whether it asks for client certificates.
pub struct IdpTls<'a> {
    pub ca: &'a TestCa,
    pub mutual: bool,
}

impl IdpShop {
    /// Starts the IdP with `idp_env` (and TLS when `tls` is given), then a gateway whose
    /// `[sites.oidc]` has the issuer, the client id, and `oidc_keys` (which carries
    /// `client_secret` when the method wants one: see [`secret_line`]). `extra_site`
    /// is appended to the site (routes).
    pub fn start(
        idp_env: &[(&str, &str)],
        tls: Option<IdpTls<'_>>,
        oidc_keys: &str,
        extra_site: &str,
    ) -> Result<IdpShop> {
        Self::start_tls(idp_env, tls, "", oidc_keys, extra_site)
    }

    /// [`Self::start`] over plain HTTP with `issuer_suffix` after the issuer in
    /// `[sites.oidc]` (e.g. `/`: the IdP's issuer is written with a trailing slash).
    pub fn start_issued(
        idp_env: &[(&str, &str)],
        issuer_suffix: &str,
        oidc_keys: &str,
        extra_site: &str,
    ) -> Result<IdpShop> {
        Self::start_tls(idp_env, None, issuer_suffix, oidc_keys, extra_site)
    }

    fn start_tls(
        idp_env: &[(&str, &str)],
        tls: Option<IdpTls<'_>>,
        issuer_suffix: &str,
        oidc_keys: &str,
        extra_site: &str,
    ) -> Result<IdpShop> {
        let origin = Storefront::start()?;
        let config = GatewayConfig::default();
        let callback = format!("http://shop.localhost:{}/login/sso/callback", config.port);
        let post_logout = format!("http://shop.localhost:{}/", config.port);
        let port = free_port();
        let mut env: Vec<(&str, String)> = idp_env.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let mut shopper = Shopper::new(&["shop"])?;
        let mut scheme = "http";
        if let Some(tls) = &tls {
            let server = tls.ca.issue(&format!("idp-{port}"), &["127.0.0.1"])?;
            env.push(("TLS_CERT", server.cert_path.to_string_lossy().into_owned()));
            env.push(("TLS_KEY", server.key_path.to_string_lossy().into_owned()));
            if tls.mutual {
                env.push(("MTLS", "1".into()));
            }
            shopper = Shopper::with_ca(&["shop"], &tls.ca.pem)?;
            scheme = "https";
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let idp = Idp::start_with(port, &[callback], &[post_logout], &env)?;
        let issuer = format!("{scheme}://127.0.0.1:{port}");
        let site = format!(
            "name = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"{origin}\"]\n\
             public_url = \"http://shop.localhost:{{port}}\"\n\
             [sites.oidc]\nissuer = \"{issuer}{issuer_suffix}\"\nclient_id = \"{CLIENT_ID}\"\nrequest_timeout = \"3s\"\n{oidc_keys}\n\
             [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n\
             [[sites.routes]]\nprefix = \"/api\"\naccess = \"api\"\n{extra_site}",
            origin = origin.addr(),
        );
        let gateway = config.site(&site).start()?;
        Ok(IdpShop {
            origin,
            idp,
            gateway,
            issuer,
            shopper,
        })
    }

    pub fn url(&self, path: &str) -> String {
        self.gateway.site_url("shop", path)
    }

    /// Signs `login` in through `/account`: where the browser landed.
    pub async fn sign_in(&self, login: &str) -> Result<crate::client::Landing> {
        self.gateway.ready().await?;
        let start = self.shopper.page(&self.url("/account")).await?;
        self.shopper.walk(start, login).await
    }

    /// The IdP's and the gateway's logs, for failure messages.
    pub fn logs(&self) -> String {
        format!("--- idp\n{}\n--- gateway\n{}", self.idp.proc.log(), self.gateway.log())
    }

    /// Waits (at most 20 s) until the gateway's log contains `text`.
    pub async fn log_shows(&self, text: &str) -> bool {
        self.gateway.log_shows(text).await
    }
}

/// The `client_secret` line of the shop's client.
pub fn secret_line() -> String {
    format!("client_secret = \"{CLIENT_SECRET}\"")
}

/// `sso-gateway client-jwks --key <key>`: the public JWKS to register with the IdP.
pub fn client_jwks(key: &Path) -> Result<String> {
    let out = Command::new(gateway_bin())
        .arg("client-jwks")
        .arg("--key")
        .arg(key)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "client-jwks failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).context("utf-8")
}

/// What the IdP's introspection endpoint (RFC 7662) says of `token`, asked with the
/// shop's client (`client_secret_basic` or `_post`, as the IdP wants).
pub async fn introspect(issuer: &str, ca: Option<&TestCa>, token: &str, post: bool) -> Result<serde_json::Value> {
    let mut http = reqwest::Client::builder();
    if let Some(ca) = ca {
        http = http
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes())?);
    }
    let http = http.build()?;
    let meta: serde_json::Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await?
        .json()
        .await?;
    let endpoint = meta["introspection_endpoint"]
        .as_str()
        .context("no introspection_endpoint")?;
    let mut form = vec![("token", token)];
    let request = if post {
        form.push(("client_id", CLIENT_ID));
        form.push(("client_secret", CLIENT_SECRET));
        http.post(endpoint)
    } else {
        http.post(endpoint).basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
    };
    Ok(request.form(&form).send().await?.json().await?)
}
