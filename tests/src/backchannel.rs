//! A shop whose IdP can reach it: the real provider with back-channel logout on,
//! posting logout tokens to the gateway, and signing with a test key the tests can
//! sign with too (`tests/keys/idp-signing-key.pem`).
//!
//! Node here cannot resolve `*.localhost`, so the site is served on
//! `http://127.0.0.1:<port>` (its `public_url` and only host). One gateway on the
//! memory store, or two replicas on one Redis (the IdP posts to the second).

use crate::replicas::{unique_prefix, TestRedis};
use crate::{free_port, repo_root, Gateway, GatewayConfig, Idp, Storefront, CLIENT_ID, CLIENT_SECRET};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// The IdP's signing key (test-only, committed).
pub fn idp_key_file() -> PathBuf {
    repo_root().join("tests/keys/idp-signing-key.pem")
}

/// Another RSA key, of nobody the gateway trusts.
pub fn impostor_key_file() -> PathBuf {
    repo_root().join("tests/keys/impostor-key.pem")
}

pub struct LoopbackShop {
    pub origin: Storefront,
    pub idp: Idp,
    /// One gateway (memory store), or two replicas on one Redis.
    pub gateways: Vec<Gateway>,
    /// The Redis of the replicas (stopped on drop when it is the test's own).
    pub redis: Option<TestRedis>,
}

impl LoopbackShop {
    /// One gateway on the memory store; the IdP posts logout tokens to it.
    pub fn start() -> Result<LoopbackShop> {
        Self::start_on(None)
    }

    /// Two gateways on one Redis (the machine's on 6379 when it answers, else one of
    /// the test's own), sharing the `public_url` of the first; the IdP posts logout
    /// tokens to the second.
    pub fn start_replicas() -> Result<LoopbackShop> {
        Self::start_on(Some(TestRedis::shared()))
    }

    fn start_on(redis: Option<TestRedis>) -> Result<LoopbackShop> {
        let origin = Storefront::start()?;
        let configs = match &redis {
            Some(_) => vec![GatewayConfig::default(), GatewayConfig::default()],
            None => vec![GatewayConfig::default()],
        };
        let a_port = configs[0].port;
        let posts_to = configs.last().map_or(a_port, |c| c.port);
        let public = format!("http://127.0.0.1:{a_port}");
        let key = idp_key_file();
        let key = key.to_str().context("key path")?;
        let bcl_uri = format!("http://127.0.0.1:{posts_to}/_sso/backchannel-logout");
        let idp = Idp::start_with(
            free_port(),
            &[format!("{public}/login/sso/callback")],
            &[format!("{public}/")],
            &[("BACKCHANNEL_LOGOUT_URI", &bcl_uri), ("IDP_SIGNING_KEY_FILE", key)],
        )?;
        let site = format!(
            "name = \"shop\"\nhosts = [\"127.0.0.1\"]\nupstreams = [\"{origin}\"]\npublic_url = \"{public}\"\n\
             [sites.oidc]\nissuer = \"{issuer}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
             [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n",
            origin = origin.addr(),
            issuer = idp.issuer(),
        );
        let prefix = unique_prefix();
        let mut gateways = Vec::new();
        for config in configs {
            let config = match &redis {
                Some(r) => config.sessions(&format!(
                    "store = \"redis\"\nredis_url = \"{}\"\nredis_key_prefix = \"{prefix}\"",
                    r.url
                )),
                None => config,
            };
            gateways.push(config.site(&site).start()?);
        }
        Ok(LoopbackShop {
            origin,
            idp,
            gateways,
            redis,
        })
    }

    /// `path` on gateway `i` (0: the one shoppers sign in on).
    pub fn url(&self, i: usize, path: &str) -> String {
        self.gateways[i].url(path)
    }

    /// Where logout tokens go (the IdP posts there too).
    pub fn backchannel_url(&self) -> String {
        self.url(self.gateways.len() - 1, "/_sso/backchannel-logout")
    }

    /// Waits until every gateway is ready (IdP metadata loaded, Redis reachable).
    pub async fn ready(&self) -> Result<()> {
        for g in &self.gateways {
            g.ready().await?;
        }
        Ok(())
    }

    /// The logs of the IdP and every gateway, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = format!("--- idp\n{}", self.idp.proc.log());
        for (i, g) in self.gateways.iter().enumerate() {
            out.push_str(&format!("\n--- gateway {i}\n{}", g.log()));
        }
        out
    }
}
